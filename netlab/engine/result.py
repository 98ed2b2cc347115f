"""What a world gives back and what it raises: :class:`CommandResult` (one command's transcript) and
the errors, each a sentence that names what was wrong and what to do next.

A leaf module: every other part of the engine (the backends, captures, recordings) imports these,
and it imports nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..inputs import one_line


class WorldError(RuntimeError):
    """The world could not start, or was used after it was closed."""


class WorldInputError(WorldError, ValueError):
    """A bad argument to a world method (node, command, timeout, input, name); one sentence.

    Raised before anything reaches the world, so nothing is left running.
    """


class BuildError(WorldError):
    """Building a topology failed; the message has the failing command and the kernel's words."""

    def __init__(self, message: str, command: str = "", error: str = ""):
        super().__init__(message)
        self.command = command
        self.error = error


class ReplayError(LookupError):
    """A replayed world was asked for something that was not recorded."""


@dataclass
class CommandResult:
    """What one command printed; its repr is the transcript a learner would see."""

    node: str | None
    command: str
    stdout: str
    stderr: str
    returncode: int
    recorded: bool = field(default=False, compare=False)

    @property
    def display(self) -> str:
        """The command line as typed on the host: ``ip netns exec NODE COMMAND``."""
        return f"ip netns exec {self.node} {self.command}" if self.node else self.command

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def transcript(self) -> str:
        text = f"$ {self.display}\n"
        for part in (self.stdout, self.stderr):
            if part:
                text += part if part.endswith("\n") else part + "\n"
        return text

    def __str__(self) -> str:
        return self.transcript.rstrip("\n")

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def as_dict(self) -> dict:
        return {"node": self.node, "command": self.command, "stdout": self.stdout,
                "stderr": self.stderr, "returncode": self.returncode}


class CommandError(RuntimeError):
    """A command exited non-zero; ``.result`` holds its :class:`CommandResult`.

    The message names the node, the command, the code and the end of its output, and nothing
    else: a learner whose own command failed should read the kernel's error, not be invited to
    silence it. Code that expects a failure (a lab showing "Network is unreachable") passes
    ``check=False`` to ``World.run``.
    """

    def __init__(self, result: CommandResult):
        self.result = result
        output = result.stderr.strip() or result.stdout.strip()
        tail = " | ".join(output[-2000:].splitlines()[-3:]) or "no output"
        where = f"in node {result.node}" if result.node else "in the world's top namespace"
        # A command or its output can be huge (a 200 KB argument): quote bounded excerpts.
        super().__init__(f"`{one_line(result.display, 200)}` {where} exited with code {result.returncode}:"
                         f" {one_line(tail, 300)}")
