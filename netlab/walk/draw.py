"""Pictures of a packet walk: the topology with the path numbered, and a packet's header stack.

Both are plain matplotlib Figures, laid out from data only (the topology's declaration order,
the packet's bytes), so the same topology gives the same picture on every run::

    walk.draw()                          # or netlab.draw_walk(walk)
    netlab.header_stack(walk.hops[4].packet)

Layout of :func:`draw_walk`: nodes (network namespaces) are columns ordered by their distance
over veth links from the first leaf node declared; each node is a box with its interfaces inside
(interfaces cabled to an earlier column on the left, to a later one on the right, bridges,
VXLAN and TUN devices in the middle). Veth pairs are solid lines, bridge ports thin grey lines
to their bridge, VXLAN devices sharing a VNI a dashed "tunnel" line. The request's hops are red
numbered discs, the reply's blue ones.

matplotlib and scapy are imported inside the functions (the documented lazy imports): the engine and
the daemons import netlab without them.
"""

from __future__ import annotations

import io

from .headers import layers


def figure_png(fig) -> bytes:
    """A Figure as PNG bytes with fixed metadata (no software version or date): same figure, same bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _figure(**kw):
    """A matplotlib Figure that shows itself as a PNG when it is a notebook cell's value.

    These figures are made without pyplot (no global figure list to leak or to display twice), so
    IPython's matplotlib formatter is not set up for them; ``_repr_png_`` is.
    """
    from matplotlib.figure import Figure

    class ShownFigure(Figure):
        def _repr_png_(self):
            return figure_png(self)

    return ShownFigure(**kw)

REQUEST_COLOUR = "#c0392b"
REPLY_COLOUR = "#1f5fa8"
_NODE_W, _IF_W, _IF_H, _ROW, _COL = 3.2, 0.86, 0.34, 0.62, 4.3


def _columns(topo) -> dict[str, int]:
    """node -> column: breadth-first distance over veth links from the first leaf declared."""
    adj = {n: [] for n in topo.nodes}
    for a, b in topo.links:
        if b.node not in adj[a.node]:
            adj[a.node].append(b.node)
        if a.node not in adj[b.node]:
            adj[b.node].append(a.node)
    col: dict[str, int] = {}
    for start in sorted(topo.nodes, key=lambda n: (len(adj[n]) != 1, list(topo.nodes).index(n))):
        if start in col:
            continue
        base = max(col.values(), default=-1) + 1
        col[start] = base
        queue = [start]
        while queue:
            n = queue.pop(0)
            for m in adj[n]:
                if m not in col:
                    col[m] = col[n] + 1
                    queue.append(m)
    return col


def layout(topo) -> dict:
    """Positions: {"nodes": {node: (x, y, w, h)}, "ifaces": {(node, if): (cx, cy)}} (deterministic)."""
    col = _columns(topo)
    nodes, ifaces, ytop = {}, {}, {}
    for n, node in topo.nodes.items():
        c = col[n]
        left, mid, right = [], [], []
        for i in node.interfaces.values():
            if i.peer and col[i.peer[0]] < c:
                left.append(i.name)
            elif i.peer and col[i.peer[0]] > c:
                right.append(i.name)
            else:
                mid.append(i.name)
        # the middle column (bridges, tunnels) starts one row below the cabled interfaces
        rows = max(len(left), len(right), len(mid) + bool(mid and (left or right)), 1)
        h = rows * _ROW + 0.55
        x = c * _COL
        y = ytop.get(c, 0.0) - h
        ytop[c] = y - 0.5
        nodes[n] = (x, y, _NODE_W, h)
        for k, names in enumerate((left, mid, right)):
            cx = x + 0.05 + _IF_W / 2 + k * (_NODE_W - 0.1 - _IF_W) / 2
            for r, name in enumerate(names):
                ifaces[(n, name)] = (cx, y + h - 0.55 - (r + (k == 1 and bool(left or right))) * _ROW)
    return {"nodes": nodes, "ifaces": ifaces}


def draw_walk(walk, width: float = 9.5, reply: bool = True):
    """The world's topology with ``walk``'s path highlighted and numbered; returns a Figure."""
    topo = walk.topology
    pos = layout(topo)
    fig, ax, (x0, y0) = _canvas(pos, width)
    _nodes(ax, pos)
    _interfaces(ax, topo, pos)
    _cables(ax, topo, pos)
    _tunnels(ax, topo, pos)
    walks = [(walk, REQUEST_COLOUR, -1)]
    if reply and walk.reply is not None:
        walks.append((walk.reply, REPLY_COLOUR, 1))
    for w, colour, side in walks:
        _path(ax, pos, w, colour, side)
    _legend(ax, walk, x0, y0, len(walks) > 1)
    return fig


def _canvas(pos, width):
    """A Figure and its axes, scaled to the layout's extent; returns them and the lower-left corner."""
    xs = [x for x, y, w, h in pos["nodes"].values()] + [x + w for x, y, w, h in pos["nodes"].values()]
    ys = [y for x, y, w, h in pos["nodes"].values()] + [y + h for x, y, w, h in pos["nodes"].values()]
    x0, x1, y0, y1 = min(xs) - 0.3, max(xs) + 0.3, min(ys) - 0.9, max(ys) + 0.3
    scale = width / (x1 - x0)
    fig = _figure(figsize=(width, max(2.2, (y1 - y0) * scale)), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax, (x0, y0)


def _nodes(ax, pos):
    from matplotlib.patches import FancyBboxPatch  # matplotlib is imported lazily: only drawings need it
    for n, (x, y, w, h) in pos["nodes"].items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc="#f4f4f4", ec="#555555", lw=1.0, zorder=1))
        ax.text(x + w / 2, y + h - 0.17, n, ha="center", va="center", fontsize=8.5, weight="bold",
                zorder=5, gid=f"node:{n}")


def _interfaces(ax, topo, pos):
    """Each interface a box with its name and first address; a bridge port tied to its bridge."""
    from matplotlib.patches import Rectangle
    for n, node in topo.nodes.items():
        for i in node.interfaces.values():
            cx, cy = pos["ifaces"][(n, i.name)]
            fc = {"bridge": "#fdebd0", "vxlan": "#e8daef", "tun": "#d5f5e3"}.get(i.kind, "white")
            ax.add_patch(Rectangle((cx - _IF_W / 2, cy - _IF_H / 2), _IF_W, _IF_H, fc=fc, ec="#333333",
                                   lw=0.8, zorder=3))
            ax.text(cx, cy, i.name, ha="center", va="center", fontsize=6.5, zorder=5, gid=f"iface:{n}:{i.name}")
            if i.addresses:
                ax.text(cx, cy - _IF_H / 2 - 0.02, i.addresses[0], ha="center", va="top", fontsize=5, color="#444444",
                        zorder=5)
            if i.master:
                bx, by = pos["ifaces"][(n, i.master)]
                ax.plot([cx, bx], [cy, by], color="#999999", lw=0.8, zorder=2)


def _cables(ax, topo, pos):
    for a, b in topo.links:
        (ax_, ay), (bx, by) = pos["ifaces"][(a.node, a.ifname)], pos["ifaces"][(b.node, b.ifname)]
        ax.plot([ax_, bx], [ay, by], color="#333333", lw=1.4, zorder=2)


def _tunnels(ax, topo, pos):
    """A dashed line between VXLAN devices of different nodes that share a VNI."""
    vxlans = [(n, i) for n, node in topo.nodes.items() for i in node.interfaces.values() if i.kind == "vxlan"]
    for k, (n, i) in enumerate(vxlans):
        for m, j in vxlans[k + 1:]:
            if m != n and i.options["vni"] == j.options["vni"]:
                (px, py), (qx, qy) = pos["ifaces"][(n, i.name)], pos["ifaces"][(m, j.name)]
                ax.plot([px, qx], [py, qy], ls="--", color="#7d3c98", lw=1.2, zorder=2)
                ax.text((px + qx) / 2, (py + qy) / 2 - 0.3, f"VXLAN vni {i.options['vni']}"
                        f" (UDP {i.options['dstport']})", ha="center", fontsize=6, color="#7d3c98", zorder=5)


def _path(ax, pos, w, colour, side):
    """Walk W's hops joined by a line, each numbered on its interface (SIDE -1: request, 1: reply)."""
    pts = [pos["ifaces"][(h.node, h.interface)] for h in w.hops if (h.node, h.interface) in pos["ifaces"]]
    off = side * -0.05
    if len(pts) > 1:
        ax.plot([p[0] for p in pts], [p[1] + off for p in pts], color=colour, lw=2.2, alpha=0.55, zorder=4)
    for k, h in enumerate(w.hops, 1):
        if (h.node, h.interface) not in pos["ifaces"]:
            continue
        cx, cy = pos["ifaces"][(h.node, h.interface)]
        # request numbers on the box's top-left corner, reply numbers on its top-right;
        # two hops on one interface (in, then out) sit side by side
        same = [j for j, g in enumerate(w.hops, 1) if (g.node, g.interface) == (h.node, h.interface)]
        px = (cx - _IF_W / 2 + 0.08 if side < 0 else cx + _IF_W / 2 - 0.08) - side * 0.22 * same.index(k)
        py = cy + _IF_H / 2
        ax.add_patch(_disc(px, py, colour))
        ax.text(px, py, str(k), ha="center", va="center", fontsize=6, color="white", weight="bold",
                zorder=7, gid=f"hop:{w.kind}:{k}")


def _legend(ax, walk, x0, y0, with_reply):
    end = ("delivered" if walk.delivered else f"dropped at {walk.dropped_at}")
    legend = f"{walk.kind} {walk.src} \u2192 {walk.dst} ({walk.proto}): {end}"
    ax.text(x0 + 0.1, y0 + 0.45, legend, fontsize=7.5, color=REQUEST_COLOUR, va="center")
    if with_reply:
        r = walk.reply
        ax.text(x0 + 0.1, y0 + 0.17, f"{r.kind} {r.src} \u2192 {r.dst}: "
                f"{'delivered' if r.delivered else 'dropped at ' + str(r.dropped_at)}",
                fontsize=7.5, color=REPLY_COLOUR, va="center")


def _disc(x, y, colour):
    from matplotlib.patches import Circle
    return Circle((x, y), 0.1, fc=colour, ec="white", lw=0.6, zorder=6)


# ----------------------------------------------------------------- header stack
def stack(pkt) -> list[dict]:
    """The packet's headers, outer first: name, byte offset, size and the fields that matter.

    Offsets count from the first byte of the outermost header (the Ethernet destination MAC).
    """
    from scapy.layers.inet import IP, UDP  # scapy is imported lazily (see netlab.walk.headers)
    from scapy.layers.vxlan import VXLAN
    total = len(bytes(pkt))
    ls = layers(pkt)
    out = []
    tun = next((k for k, l in enumerate(ls) if isinstance(l, VXLAN) or (
        isinstance(l, UDP) and k + 1 < len(ls) and isinstance(ls[k + 1], IP))), None)
    for k, l in enumerate(ls):
        below = ls[k + 1] if k + 1 < len(ls) else None
        name, info = _name_info(l, below)
        prefix = "" if tun is None else "outer " if k < tun or (k == tun and name == "UDP") else \
            "inner " if k > tun else ""
        out.append({"name": prefix + name, "offset": total - len(bytes(l)), "size": _size(l, below), "info": info,
                    "inner": tun is not None and k > tun})
    end = out[-1]["offset"] + out[-1]["size"] if out else 0
    if end < total:
        out.append({"name": "payload", "offset": end, "size": total - end, "info": "", "inner": tun is not None})
    return out


def _size(l, below) -> int:
    """A header's size in bytes: up to the layer BELOW it, or its own fixed header length."""
    from scapy.layers.inet import ICMP, TCP, UDP
    if below is not None:
        return len(bytes(l)) - len(bytes(below))
    if isinstance(l, (ICMP, UDP)):
        return 8
    if isinstance(l, TCP):
        return l.dataofs * 4 if l.dataofs else 20
    return len(bytes(l))


def _name_info(l, below) -> tuple[str, str]:
    """A header's name and the fields shown for it."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    if isinstance(l, Ether):
        return "Ethernet", f"{l.src} > {l.dst}"
    if isinstance(l, IP):
        return "IPv4", f"{l.src} > {l.dst} ttl {l.ttl} proto {l.proto}"
    if isinstance(l, UDP):
        # VXLAN's outer source port is a hash of the inner flow seeded at boot: named, not printed
        # (as in the walk's text), so the figure is the same on every boot and every machine
        return "UDP", f"port {'<flow-hash>' if isinstance(below, VXLAN) else l.sport} > {l.dport}"
    if isinstance(l, TCP):
        return "TCP", f"port {l.sport} > {l.dport} [{l.sprintf('%TCP.flags%')}]"
    if isinstance(l, VXLAN):
        return "VXLAN", f"vni {l.vni}"
    if isinstance(l, ICMP):
        return "ICMP", l.sprintf("%ICMP.type%")
    return l.__class__.__name__, ""


def header_stack(pkt, width: float = 9.5):
    """A packet's headers as a bar of boxes with byte offsets and sizes, and a table of their fields."""
    rows = stack(pkt)
    total = len(bytes(pkt))
    widths = [max(r["size"], 12) for r in rows]
    span = sum(widths)
    fig = _figure(figsize=(width, 1.5 + 0.22 * len(rows)), dpi=100)
    ax = fig.add_axes([0.01, 0.0, 0.98, 1.0])
    ax.set_xlim(0, span)
    ax.set_ylim(-0.22 * len(rows) - 0.2, 1.3)
    ax.axis("off")
    x = _bar(ax, rows, widths)
    ax.text(x, 0.28, str(total), ha="right", va="top", fontsize=5.5, color="#555555")
    ax.text(0, 1.12, f"{total} bytes on the wire; byte offsets below each header", fontsize=7, va="center")
    for k, r in enumerate(rows):
        y = -0.05 - 0.22 * k
        ax.text(0, y, f"{r['offset']:>4}\u2013{r['offset'] + r['size'] - 1:<4}", fontsize=6.5, family="monospace",
                va="center")
        ax.text(span * 0.1, y, f"{r['name']} ({r['size']} B)", fontsize=6.5, va="center")
        ax.text(span * 0.32, y, r["info"], fontsize=6.5, va="center", family="monospace")
    return fig


def _bar(ax, rows, widths) -> float:
    """The headers side by side, each a box with its name, size and offset; returns where the bar ends."""
    from matplotlib.patches import Rectangle  # matplotlib is imported lazily: only drawings need it
    x = 0
    for r, w in zip(rows, widths):
        colour = "#d6eaf8" if r["inner"] else "#fdebd0"
        if r["name"] == "VXLAN":
            colour = "#e8daef"
        if r["name"] == "payload":
            colour = "#eeeeee"
        ax.add_patch(Rectangle((x, 0.35), w, 0.6, fc=colour, ec="#333333", lw=0.8))
        ax.text(x + w / 2, 0.76, r["name"].replace(" ", "\n", 1) if w < 30 else r["name"], ha="center",
                va="center", fontsize=6.5, weight="bold", gid=f"layer:{r['name']}")
        ax.text(x + w / 2, 0.45, f"{r['size']} B", ha="center", va="center", fontsize=6)
        ax.text(x, 0.28, str(r["offset"]), ha="left", va="top", fontsize=5.5, color="#555555")
        x += w
    return x
