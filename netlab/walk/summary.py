"""A walk in short: one row a hop (node, interface and direction, what the kernel decided in a word or
two, TTL), for the table shown under a walk's drawing; the full text stays one click away.

The words come from the decisions' data (:mod:`netlab.walk.decisions`), never from their text.
"""

from __future__ import annotations

import html

from .decisions import (BridgeFdb, BridgeForward, IptablesHit, KernelVxlan, Neighbour, Rewrite, Route, TunHandoff,
                        UserSocket, VxlanFdb)


def word(d) -> str:
    """One decision in a word or two."""
    if isinstance(d, Route):
        return "no route" if d.failed else "local delivery" if d.local else "route"
    if isinstance(d, Neighbour):
        return {"none": "no neighbour", "failed": "no ARP answer"}.get(d.state, "ARP")
    if isinstance(d, BridgeFdb):
        return "up to the host" if d.own else "bridge FDB" if d.entry is not None else "flooded"
    if isinstance(d, BridgeForward):
        return "bridged"
    if isinstance(d, VxlanFdb):
        return "no VTEP" if d.missing else "VXLAN FDB"
    if isinstance(d, IptablesHit):
        return "iptables DROP" if d.drops else "DNAT rule" if d.dnat else "iptables"
    if isinstance(d, Rewrite):  # conntrack undoing a NAT on the way back is not a new NAT
        return "NAT undone" if "reverse" in d.how else "SNAT" if d.header == "source" else "DNAT"
    if isinstance(d, TunHandoff):
        return "TUN: no reader" if not d.processes else "TUN write" if d.wrote else "TUN read"
    if isinstance(d, KernelVxlan):
        return "VXLAN decap" if d.device is not None else "unknown VNI"
    if isinstance(d, UserSocket):
        return "daemon decap" if d.owners else "no socket"
    return type(d).__name__


def words(hop) -> str:
    """A hop's decisions in a few words, each once, in order ("route, ARP"); "dropped" where it was."""
    out = []
    for w in [word(d) for d in hop.decisions] + (["dropped"] if hop.drop else []):
        if w not in out:
            out.append(w)
    return ", ".join(out) or "\u2014"


def rows(walk) -> list[tuple[int, str, str, str, str]]:
    """(hop number, node, "interface in|out", decision words, TTL) for each hop."""
    return [(k, h.node, f"{h.interface} {h.direction}", words(h), "" if h.ttl is None else str(h.ttl))
            for k, h in enumerate(walk.hops, 1)]


def table_html(walk) -> str:
    """The walk's heading, its summary table and how it ended."""
    esc = html.escape
    body = "".join(f"<tr><td>{k}</td><td>{esc(n)}</td><td><code>{esc(i)}</code></td><td>{esc(w)}</td>"
                   f"<td>{t}</td></tr>" for k, n, i, w, t in rows(walk))
    return (f"<p><b>{walk.kind}: {walk.proto} {esc(walk.src)} &rarr; {esc(walk.dst)}</b></p>"
            "<table class='netlab-walk-summary'><thead><tr><th>hop</th><th>node</th><th>interface</th>"
            f"<th>decision</th><th>TTL</th></tr></thead><tbody>{body}</tbody></table>"
            f"<p><i>{esc(walk.ending())}</i></p>")
