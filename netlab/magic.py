"""``%%node NODE`` and ``%node NODE COMMAND``: type a node's commands as in a terminal.

::

    %%node node3
    ip link add flannel.1 type vxlan id 1 local 10.168.0.4 \\
        dev eth0 nolearning dstport 8472
    ip link set flannel.1 up        # a comment here is dropped, as a shell drops it

Each line is one command, run with ``world.run(NODE, line)`` in the notebook's current world, so it
prints exactly what ``world.run`` prints (``$ ip netns exec node3 ...`` and the kernel's output), in
live worlds of every backend and in replayed ones, and the recordings and checks see the same
commands. Blank lines and ``#`` comments are skipped; a line ending in ``\\`` continues on the next.

The current world is the one opened last in this kernel and not closed yet (``--world NAME`` picks
another open one). The first command that fails stops the cell: its own error is in its transcript,
and the cell fails with one line, no traceback, so "run all" stops there; ``--no-check`` runs on
through failures, as ``world.run(..., check=False)`` does, for a lab that shows a failure.

Loaded by ``%load_ext netlab``, and by ``import netlab`` inside IPython. Nothing here imports
IPython: it registers these plain functions with the shell it is given.
"""

from __future__ import annotations

from .engine.result import ReplayError, WorldError
from .engine.world import World, open_worlds

USAGE = "%%node NODE [--world NAME] [--no-check]  (commands in the cell), or %node NODE COMMAND"


class NodeError(Exception):
    """A %%node cell failed; shown as one line without a traceback (IPython's _render_traceback_)."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class NodeUsageError(NodeError):
    """The magic's line named no node, an unknown node or world, or an unknown option."""


class NodeCommandFailed(NodeError):
    """A command exited non-zero (or could not be replayed); its transcript is printed above."""


def parse_line(line: str) -> tuple[str, str | None, bool, str]:
    """``[options] NODE [COMMAND]`` -> (node, world name or None, check, command text as typed)."""
    rest, world, check = line.strip(), None, True
    while rest:
        word, _, after = rest.partition(" ")
        after = after.lstrip()
        if word == "--no-check":
            check = False
        elif word == "--world" or word.startswith("--world="):
            if word == "--world":
                word, _, after = after.partition(" ")
                after = after.lstrip()
            else:
                word = word[len("--world="):]
            if not word:
                raise NodeUsageError(f"--world needs a world's name; usage: {USAGE}")
            world = word
        elif word.startswith("-"):
            raise NodeUsageError(f"unknown option {word!r}; usage: {USAGE}")
        else:
            return word, world, check, after
        rest = after
    raise NodeUsageError(f"name a node; usage: {USAGE}")


def strip_comment(command: str) -> str:
    """Drop a trailing ``# comment`` as a shell would: a # that starts a word, outside quotes."""
    quote, escaped = None, False
    for i, c in enumerate(command):
        if escaped:
            escaped = False
        elif c == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or command[i - 1].isspace()):
            return command[:i].rstrip()
    return command


def commands(cell: str) -> list[str]:
    """The cell's commands: one a line, ``\\`` continuing a line, blank lines and comments skipped."""
    out, pending = [], None
    for raw in cell.splitlines():
        if pending is None:
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            line = raw.strip()
        elif pending[-1:].isspace() or raw[:1].isspace():
            line = pending.rstrip() + " " + raw.strip()  # one space where the line was broken
        else:
            line = pending + raw.rstrip()  # `ab\` + `cd` is `abcd` to a shell
        continued = len(line) - len(line.rstrip("\\"))
        if continued % 2:  # an odd number of trailing backslashes: the last one escapes the newline
            pending = line[:-1]
            continue
        pending = None
        line = strip_comment(line)
        if line:
            out.append(line)
    if pending is not None and strip_comment(pending).strip():
        out.append(strip_comment(pending).strip())
    return out


def current_world(name: str | None = None) -> World:
    """The world ``%%node`` runs in: the last opened and not closed, or the last open one named NAME."""
    worlds = open_worlds()
    if name is not None:
        named = [w for w in worlds if w.name == name]
        if not named:
            raise NodeUsageError(f"no open world named {name!r}; open: {', '.join(w.name for w in worlds) or 'none'}")
        return named[-1]
    if not worlds:
        raise NodeUsageError("no world is open in this notebook: open one first, e.g."
                             " world = netlab.World(netlab.pc_pair())")
    return worlds[-1]


def run_commands(world: World, node: str, lines: list[str], check: bool = True) -> None:
    """Run and print each command as ``world.run`` does; stop at the first failure when checking."""
    if node not in world.nodes:
        raise NodeUsageError(f"no node named {node!r} in world {world.name!r}; its nodes are {', '.join(world.nodes)}")
    for line in lines:
        try:
            result = world.run(node, line, check=False)
        except ReplayError as e:
            raise NodeCommandFailed(str(e)) from None
        except (WorldError, ValueError) as e:
            raise NodeUsageError(str(e)) from None
        print(result)
        if check and not result.ok:
            raise NodeCommandFailed(f"`{line}` exited with code {result.returncode} in {node}, so the cell"
                                    f" stopped there (after the node, --no-check runs on through failures)")


def node(line: str, cell: str | None = None) -> None:
    """The ``%node`` line magic and ``%%node`` cell magic (see the module's docstring)."""
    name, world, check, command = parse_line(line)
    if cell is None:
        if not command:
            raise NodeUsageError(f"give a command after the node, e.g. %node {name} ip route")
        lines = commands(command)
    else:
        if command:
            raise NodeUsageError(f"%%node takes the node and options only; put {command!r} on a line of the cell")
        lines = commands(cell)
        if not lines:
            raise NodeUsageError(f"the cell has no command for {name}; write one a line under %%node {name}")
    run_commands(current_world(world), name, lines, check)


def load_ipython_extension(ipython) -> None:
    """Register ``%node`` / ``%%node`` with an IPython shell."""
    ipython.register_magic_function(node, magic_kind="line_cell", magic_name="node")
    ipython.set_custom_exc((NotImplementedError, NameError), first_things_first)


def first_what(error: BaseException) -> str:
    """The one line a learner reads when a cell runs before what it needs: an answer not written
    yet (a blank lab's ``raise NotImplementedError()``) or a name no cell has defined yet."""
    if isinstance(error, NotImplementedError):
        return ("NotImplementedError: this cell waits for your answer: write it in place of"
                " `raise NotImplementedError()`, then run the cell again")
    name = getattr(error, "name", None) or str(error).split("'")[1 if "'" in str(error) else 0]
    if name in ("world", "topology"):
        return f"NameError: `{name}` is not defined yet: run the cell above that builds the world first"
    return (f"NameError: `{name}` is not defined yet: run the cell above that sets it (your answer)"
            f" first, then this one")


def raised_by_the_cell(tb) -> bool:
    """Whether the error was raised by the cell's own code (its last frame is the cell), not deeper
    in a library, where the full traceback is what a reader needs."""
    while tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_code.co_filename
    return "ipykernel_" in name or name.startswith("<ipython-input")


def first_things_first(shell, etype, value, tb, tb_offset=None) -> list[str] | None:
    """IPython's handler for those two errors: one line, shown as the cell's error (so nbgrader
    still scores the cell zero), instead of a traceback; the usual traceback when a library
    raised them."""
    if not raised_by_the_cell(tb):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    stb = [first_what(value)]
    shell._showtraceback(etype, value, stb)
    return stb
