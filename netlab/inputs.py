"""Checking what a reader types: one number parser, one bounded quote, one name rule.

Every calculator, table reader, topology call and world method that takes a number, echoes a
value in an error message, or turns a name into a file name goes through these three, so a
Unicode digit ('²' passes ``str.isdigit()`` but not ``int()``), a 5,000-digit number (Python
refuses to convert more than 4,300 digits) or a name like ``../x`` is answered the same way
everywhere: the caller's own error class and one sentence.
"""

from __future__ import annotations

import math
import re

__all__ = ["InputError", "whole_number", "quote", "one_line", "check_name", "NAME_RULE"]

#: Longest excerpt of a value an error message quotes (characters of its repr).
QUOTE_LIMIT = 80


class InputError(ValueError):
    """Bad input to a netlab function that has no error family of its own; one sentence."""


def quote(value, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to about ``limit`` characters, always one line.

    repr escapes newlines and control characters, so user text cannot break an error message
    into several lines; a huge int is described by its size (its repr would raise past 4,300
    digits); anything longer than ``limit`` ends with how much was left out.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"a number of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    if isinstance(value, (str, bytes)) and len(value) > 4 * limit:
        value = value[:limit]  # repr of a 10 MB string is 10 MB: cut before, say so after
        cut = True
    else:
        cut = False
    text = repr(value)
    if len(text) > limit:
        text, cut = text[:limit], True
    return text + "…" if cut else text


def one_line(message, limit: int = 400) -> str:
    """``message`` as one bounded line for a terminal: line breaks and other control characters
    are shown escaped (``\\n``), never printed raw, and a long message is cut with a '…'."""
    text = "".join(ch if ch == " " or ch.isprintable() else repr(ch)[1:-1] for ch in str(message)[:4 * limit])
    return text if len(text) <= limit else text[:limit] + "…"


def _shown(bound: int) -> str:
    """A bound as a reader would write it: 2**128 rather than 39 digits."""
    for k in (0, 1):
        if bound > 10 ** 12 and (bound + k) & (bound + k - 1) == 0:
            return f"2**{(bound + k).bit_length() - 1}" + (" - 1" if k else "")
    return str(bound)


def whole_number(value, what: str, *, lo: int = 0, hi: int | None = None, error=InputError) -> int:
    """``value`` as an int in ``lo..hi``: an int (not a bool) or a string of ASCII digits.

    The one parser for numbers a reader types: ``str.isdigit()`` accepts '²', '١' and '⑦',
    ``int()`` accepts '١٠' and ' 1_0 ', and neither bounds the length; this accepts only
    ``[0-9]+`` (surrounding blanks allowed) and checks the range before converting, so a
    5,000-digit string costs nothing. ``what`` names the value in the message ("the metric");
    ``error`` is the caller's exception class.
    """
    span = f"{lo} to {_shown(hi)}" if hi is not None else f"{lo} or more"
    if isinstance(value, bool):
        raise error(f"{what} must be a whole number ({span}), not {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[0-9]+", text):
            raise error(f"{what} {quote(value)} is not a whole number: use the digits 0-9 ({span})")
        # Converting is what costs (and fails past 4,300 digits); anything 20 digits longer than
        # the bound is out of range without converting it.
        if len(text.lstrip("0")) > len(str(hi if hi is not None else 0)) + 20:
            raise error(f"{what} has {len(text):,} digits; it must be {span}")
        value = int(text)
    elif not isinstance(value, int):
        raise error(f"{what} must be a whole number ({span}), not {type(value).__name__} {quote(value)}")
    if value < lo or (hi is not None and value > hi):
        raise error(f"{what} {quote(value)} is out of range: it must be {span}")
    return value


#: What a world, a recording or a background process may be called: these become file names.
NAME_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(name, what: str, error=InputError) -> str:
    """``name`` if it is a safe file-name part (letters, digits, '_', '.', '-'; at most 64; no '..').

    World names become ``<recordings>/<name>.json`` and background-process names the agent's
    ``bg-<name>.out``: a '/', a '..' or a newline there would write outside the folder.
    """
    if not isinstance(name, str):
        raise error(f"{what} must be a string, not {type(name).__name__} {quote(name)}")
    if not NAME_RULE.fullmatch(name) or ".." in name:
        raise error(f"{what} {quote(name)} must start with a letter or digit and use only letters, digits,"
                    f" '_', '.' or '-' (at most 64, no '..'), because it becomes a file name")
    return name
