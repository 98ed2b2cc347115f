"""A packet walk as data: its hops in order, each with the kernel's decisions, and how it ended.

``text()`` and ``html()`` render it (``str()`` and a notebook's display use them); ``draw()`` puts it on
the topology (:mod:`netlab.walk.draw`).
"""

from __future__ import annotations

import html as _html
from dataclasses import dataclass, field

from .decisions import Decision
from .draw import draw_walk


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

    def text(self) -> str:
        """Plain text, no timestamps: the same topology gives the same text."""
        lines = [f"{self.kind}: {self.proto} {self.src} -> {self.dst}"]
        for i, h in enumerate(self.hops, 1):
            lines.append(f"{i:>2} {h.node} {h.interface} {h.direction}: {h.headers}")
            lines += [f"     {d}" for d in h.lines()]
        if self.delivered:
            lines.append(f"delivered to {self.hops[-1].node}" if self.hops else
                         f"delivered inside {self.src} through lo (it never reached a wire)")
        else:
            lines.append(f"dropped at {self.dropped_at}: {self.reason}")
        if self.no_reply:
            lines.append(self.no_reply)
        if self.reply is not None:
            lines.append("")
            lines.append(self.reply.text())
        return "\n".join(lines)

    def html(self) -> str:
        """The walk and its reply as HTML tables, one row a hop."""
        out = []
        for w in (self, self.reply):
            if w is None:
                continue
            rows, end = w._rows_html()
            out.append(f"<p><b>{w.kind}: {w.proto} {_html.escape(w.src)} &rarr; {_html.escape(w.dst)}</b></p>"
                       "<table class='netlab-walk'><thead><tr><th>hop</th><th>node</th><th>interface</th>"
                       f"<th>headers</th><th>decision</th></tr></thead><tbody>{rows}</tbody></table>"
                       f"<p><i>{end}</i></p>")
        return "".join(out)

    def _rows_html(self) -> tuple[str, str]:
        rows = []
        for i, h in enumerate(self.hops, 1):
            dec = "<br>".join(_html.escape(d) for d in h.lines())
            hdr = "<br>".join(_html.escape(p) for p in h.headers.split(" | "))
            rows.append(f"<tr><td>{i}</td><td>{_html.escape(h.node)}</td><td>{_html.escape(h.interface)}"
                        f" {h.direction}</td><td style='font-family:monospace;font-size:85%'>{hdr}</td>"
                        f"<td style='font-size:85%'>{dec}</td></tr>")
        end = (f"delivered to {self.hops[-1].node}" if self.delivered and self.hops else
               "delivered" if self.delivered else f"dropped at {self.dropped_at}: {self.reason}")
        if self.no_reply:
            end += f"; {self.no_reply}"
        return "".join(rows), _html.escape(end)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return self.html()

    def draw(self, **kw):
        """The topology with this walk's path highlighted and numbered (a matplotlib Figure)."""
        return draw_walk(self, **kw)
