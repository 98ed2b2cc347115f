"""A lab check's verdict: ✓ or ✗ and one sentence saying what is right or what to try.

Standard library only, so the lab engine and the daemons stay importable on a bare Python.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One checked answer.  ``bool(check)`` is ``check.ok``."""

    ok: bool
    message: str
    expected: object = None
    given: object = None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.message}"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour, mark, cls = (
            ("#1b5e20", "✓", "netlab-check-ok") if self.ok else ("#8b0000", "✗", "netlab-check-fail")
        )
        return (
            f"<div class='netlab-check {cls}' style='color:{colour};font-family:sans-serif;"
            f"font-weight:bold'>{mark} {html.escape(self.message)}</div>"
        )
