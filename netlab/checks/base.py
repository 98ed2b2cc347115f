"""A lab check's verdict: ✓ or ✗ and one sentence saying what is right or what to try.

Grading mode: nbgrader scores a test cell zero only when its outputs hold an error or any stderr
stream (``nbgrader.utils.determine_grade``), and a check returns its verdict rather than raise, so
that a learner reads ✗ and a sentence, not a traceback. With ``NETLAB_GRADING=1`` in the kernel's
environment (deploy/nbgrader/nbgrader_config.py sets it for autograde), a failing check shown (a
cell's value or ``print(check)``) also writes one line to stderr, and its cell scores zero. Without
it (the learner's own notebook) nothing changes. Subclasses with their own text (the Docker
diagnosis) override :meth:`Check.text` and are graded the same way.

Standard library only, so the lab engine and the daemons stay importable on a bare Python.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass

#: The environment variable that turns grading mode on ("1"); nbgrader's config sets it.
GRADING_ENV = "NETLAB_GRADING"
#: The line a failing check writes to stderr in grading mode.
GRADING_LINE = "(a check failed: this test cell scores no points)"


def grading() -> bool:
    """Whether checks are being graded (``NETLAB_GRADING`` set and not "0"), read at each display."""
    return os.environ.get(GRADING_ENV, "") not in ("", "0")


def _shown(text):
    """TEXT (a ``__repr__``), writing the grading line to stderr first when a failing check is shown."""
    def shown(check) -> str:
        if not check.ok and grading():
            print(GRADING_LINE, file=sys.stderr)
        return text(check)
    shown.graded = True
    return shown


@dataclass(frozen=True)
class Check:
    """One checked answer.  ``bool(check)`` is ``check.ok``."""

    ok: bool
    message: str
    expected: object = None
    given: object = None

    def __bool__(self) -> bool:
        return self.ok

    def text(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.message}"

    def __repr__(self) -> str:
        return self.text()

    def __init_subclass__(cls, **kwargs) -> None:
        """A subclass's own ``__repr__`` is graded too (print(check) and a cell's value both come there)."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__repr__")
        if own is not None and not getattr(own, "graded", False):
            cls.__repr__ = cls.__str__ = _shown(own)

    def _repr_html_(self) -> str:
        colour, mark, cls = (
            ("#1b5e20", "✓", "netlab-check-ok") if self.ok else ("#8b0000", "✗", "netlab-check-fail")
        )
        return (
            f"<div class='netlab-check {cls}' style='color:{colour};font-family:sans-serif;"
            f"font-weight:bold'>{mark} {html.escape(self.message)}</div>"
        )


Check.__repr__ = Check.__str__ = _shown(Check.__repr__)
