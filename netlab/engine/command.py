"""A command as a world runs it: the argv to execute and the text to show, from what the caller
typed (a string, as in a terminal, or a list of arguments); and the one rule for timeouts.

Both refuse bad input with :class:`~.result.WorldInputError` before anything reaches the world.
"""

from __future__ import annotations

import math
import shlex

from ..inputs import quote
from .result import WorldInputError

_SHELL_CHARS = set("|&;<>()$`*?[]~\n'\"\\")
_EXAMPLE = "e.g. 'ip route' or ['ping', '-c', '1', '10.0.0.2']"


def sh_join(words) -> str:
    """Words as one shell command line, quoted only where the shell needs it (iptables' lone ``!`` is safe)."""
    return " ".join(w if w == "!" else shlex.quote(w) for w in words)


def command_argv(node: str | None, command) -> tuple[list[str], str]:
    """(argv to execute, command text to show) for a command run in a node.

    Raises :class:`WorldInputError` for a command that cannot run: not a string or a list of
    strings and numbers, empty, or holding a NUL (execve ends an argument at NUL).
    """
    if isinstance(command, (list, tuple)):
        bad = [a for a in command if isinstance(a, bool) or not isinstance(a, (str, int))]
        if bad:
            bad = bad[0]
            raise WorldInputError(f"each argument of a command must be a string (or a number), not "
                                  f"{type(bad).__name__} {quote(bad)}; {_EXAMPLE}")
        argv = [str(a) for a in command]
        text = sh_join(argv)
    elif isinstance(command, str):
        text = command.strip()
        try:
            argv = ["sh", "-c", text] if any(c in _SHELL_CHARS for c in text) else shlex.split(text)
        except ValueError as exc:  # cannot happen: quotes send the text to sh -c; kept for safety
            raise WorldInputError(f"cannot split the command {quote(text)}: {exc}") from None
    else:
        raise WorldInputError(f"a command must be a string or a list of arguments, not "
                              f"{type(command).__name__} {quote(command)}; {_EXAMPLE}")
    if not argv or not "".join(argv).strip():
        raise WorldInputError(f"the command is empty; give the command to run, {_EXAMPLE}")
    if any("\0" in a for a in argv):
        raise WorldInputError(f"the command {quote(text)} contains a NUL character, which no program can"
                              f" receive in its arguments; remove it")
    if node:
        argv = ["ip", "netns", "exec", node] + argv
    return argv, text


def seconds(value, what: str) -> float:
    """A timeout: a finite number of seconds above 0 (at most a day)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not (isinstance(value, int) or math.isfinite(value)) or not 0 < value <= 86400:
        raise WorldInputError(f"{what} must be a number of seconds above 0 and at most 86400, not "
                              f"{type(value).__name__} {quote(value)}")
    return value
