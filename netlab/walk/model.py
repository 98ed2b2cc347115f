"""A packet walk as data: its hops in order, each with the kernel's decisions, and how it ended.

``text()`` renders it as plain text (``str()`` and ``print`` use it); ``html()``, a notebook's display,
is its drawing (:mod:`netlab.walk.draw`), a short table a hop a row (:mod:`netlab.walk.summary`) and the
full text folded in a ``<details>`` element, so a static page shows the picture and keeps the long
lines one click away.
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass, field

from .decisions import Decision
from .draw import draw_walk
from .figure import png_img
from .summary import table_html


class WalkError(ValueError):
    """A walk was asked for something that cannot be sent (unknown node, protocol, address)."""


@dataclass
class Hop:
    """One sighting of the packet: where, which way, the headers there, and why it moved on."""

    node: str
    interface: str
    direction: str  # "in" or "out"
    headers: str
    ttl: int | None
    decisions: list[Decision] = field(default_factory=list)
    packet: object = field(default=None, repr=False, compare=False)
    drop: str | None = field(default=None, repr=False, compare=False)  # why the kernel dropped it here

    @property
    def decision(self) -> str:
        return "; ".join(self.lines())

    def lines(self) -> list[str]:
        """Each decision's text, in order."""
        return [str(d) for d in self.decisions]


@dataclass
class Walk:
    """The journey of one packet. ``hops`` in order; ``delivered`` or ``dropped_at`` + ``reason``."""

    src: str
    dst: str
    proto: str
    hops: list[Hop]
    delivered: bool
    dropped_at: str | None = None
    reason: str | None = None
    reply: "Walk | None" = None
    topology: object = field(default=None, repr=False, compare=False)
    kind: str = "request"
    no_reply: str | None = None  # delivered, an answer was due, none was seen: the kernel's reason
    # interfaces the walk's kernels reported that the topology does not declare: devices a daemon made
    # at run time (flanneld's flannel0, flannel.1), so the drawing shows the hops through them
    devices: tuple = field(default=(), repr=False, compare=False)

    def text(self) -> str:
        """Plain text, no timestamps: the same topology gives the same text."""
        lines = [f"{self.kind}: {self.proto} {self.src} -> {self.dst}"]
        for i, h in enumerate(self.hops, 1):
            lines.append(f"{i:>2} {h.node} {h.interface} {h.direction}: {h.headers}")
            lines += [f"     {d}" for d in h.lines()]
        lines.append(self.outcome())
        if self.no_reply:
            lines.append(self.no_reply)
        if self.reply is not None:
            lines.append("")
            lines.append(self.reply.text())
        return "\n".join(lines)

    def outcome(self) -> str:
        """Where the packet ended: delivered to a node, or dropped where and why."""
        if self.delivered:
            return (f"delivered to {self.hops[-1].node}" if self.hops else
                    f"delivered inside {self.src} through lo (it never reached a wire)")
        return f"dropped at {self.dropped_at}: {self.reason}"

    def ending(self) -> str:
        """The outcome, and why no answer came when one was due."""
        return self.outcome() + (f"; {self.no_reply}" if self.no_reply else "")

    def html(self) -> str:
        """The drawing, a summary table for the walk and its reply, and the full text folded away."""
        alt = f"packet walk: {self.proto} {self.src} to {self.dst}"
        tables = "".join(table_html(w) for w in (self, self.reply) if w is not None)
        text = self.text()
        return (f"<div class='netlab-walk'>{png_img(self.draw(), alt) if self.topology is not None else ''}"
                f"{tables}<details><summary>the full walk: every hop's headers and the kernel's decisions"
                f" ({len(text.splitlines())} lines)</summary><pre style='font-size:80%;overflow-x:auto'>"
                f"{_html.escape(text)}</pre></details></div>")

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return self.html()

    def draw(self, **kw):
        """The topology with this walk's path highlighted and numbered (a matplotlib Figure)."""
        return draw_walk(self, **kw)
