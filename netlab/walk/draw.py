"""Pictures of a packet walk: the topology with the path numbered, and a packet's header stack.

Both are plain matplotlib Figures, laid out from data only (the topology's declaration order,
the packet's bytes), so the same walk gives the same picture on every run::

    walk.draw()                          # or netlab.draw_walk(walk)
    netlab.header_stack(walk.hops[4].packet)

:func:`draw_walk` draws the walk's world as :mod:`netlab.walk.scene` does (the topology, plus the
devices a daemon made at run time that the walk's kernels reported, such as ``flannel0`` and
``flannel.1``), then the request's hops as red numbered discs and the reply's as blue ones.

matplotlib and scapy are imported inside the functions (the documented lazy imports): the engine and
the daemons import netlab without them.
"""

from __future__ import annotations

from .figure import new_figure
from .headers import layers
from .scene import IF_H, IF_W, draw_scene, key, scene

REQUEST_COLOUR = "#c0392b"
REPLY_COLOUR = "#1f5fa8"


def draw_walk(walk, width: float = 9.5, reply: bool = True):
    """The world's topology with ``walk``'s path highlighted and numbered; returns a Figure."""
    sc = scene(walk.topology, walk.devices)
    walks = [(walk, REQUEST_COLOUR, -1)]
    if reply and walk.reply is not None:
        walks.append((walk.reply, REPLY_COLOUR, 1))
    fig, ax, pos, (x0, y0) = draw_scene(sc, width, legend_lines=len(walks) + 1)
    for w, colour, side in walks:
        _path(ax, pos, w, colour, side)
    _legend(ax, walk, x0, y0, len(walks) > 1)
    ax.text(x0 + 0.1, y0 + 0.2, key(sc), fontsize=7, color="#333333", va="center", gid="key")
    return fig


def _path(ax, pos, w, colour, side):
    """Walk W's hops joined by a line, each numbered on its interface (SIDE -1: request, 1: reply)."""
    pts = [pos["ifaces"][(h.node, h.interface)] for h in w.hops if (h.node, h.interface) in pos["ifaces"]]
    off = side * -0.07
    if len(pts) > 1:
        ax.plot([p[0] for p in pts], [p[1] + off for p in pts], color=colour, lw=2.2, alpha=0.55, zorder=4)
    for k, h in enumerate(w.hops, 1):
        if (h.node, h.interface) not in pos["ifaces"]:
            continue
        cx, cy = pos["ifaces"][(h.node, h.interface)]
        # request numbers on the box's top-left corner, reply numbers on its top-right;
        # two hops on one interface (in, then out) sit side by side
        same = [j for j, g in enumerate(w.hops, 1) if (g.node, g.interface) == (h.node, h.interface)]
        px = (cx - IF_W / 2 + 0.1 if side < 0 else cx + IF_W / 2 - 0.1) - side * 0.3 * same.index(k)
        py = cy + IF_H / 2
        ax.add_patch(_disc(px, py, colour))
        ax.text(px, py, str(k), ha="center", va="center", fontsize=7, color="white", weight="bold",
                zorder=7, gid=f"hop:{w.kind}:{k}")


def _end(w) -> str:
    """How a walk ended, in a few words."""
    return "delivered" if w.delivered else f"dropped at {w.dropped_at}"


def _legend(ax, walk, x0, y0, with_reply):
    """One line for the request (and one for the reply) above the key."""
    lines = [(walk, REQUEST_COLOUR)] + ([(walk.reply, REPLY_COLOUR)] if with_reply else [])
    for k, (w, colour) in enumerate(lines):
        y = y0 + 0.2 + 0.3 * (len(lines) - k)
        ax.text(x0 + 0.1, y, f"{w.kind} {w.src} \u2192 {w.dst} ({w.proto}): {_end(w)}", fontsize=7.5,
                color=colour, va="center", gid=f"legend:{w.kind}")


def _disc(x, y, colour):
    from matplotlib.patches import Circle  # lazy: only drawings need matplotlib
    return Circle((x, y), 0.14, fc=colour, ec="white", lw=0.6, zorder=6)


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
    fig = new_figure(figsize=(width, 1.5 + 0.22 * len(rows)), dpi=100)
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
