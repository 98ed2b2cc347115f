"""A topology as a picture: nodes as boxes, their interfaces with names and addresses, the cables
between them, bridges with their ports, and VXLAN and TUN tunnels, laid out from data only.

The seed's figures (a host with its containers, ``docker0``, ``flannel0`` or ``flannel.1`` and
``eth0``, two hosts joined by their tunnel) are missing from it; :func:`draw_topology` draws the
book's topologies in that spirit, from a :class:`~netlab.engine.topology.Topology` alone (no
kernel) or from a :class:`~netlab.World`, which adds the devices a daemon made at run time
(flanneld's ``flannel0`` and ``flannel.1``) as the world's kernels report them::

    netlab.draw_topology(netlab.flannel_udp())      # declared: no flannel0 yet
    netlab.draw_topology(world)                     # after flanneld started: flannel0 too

:mod:`netlab.walk.draw` draws a walk's path on the same picture.

Layout: nodes (network namespaces) are columns ordered by their distance over veth cables from the
first leaf node declared, nodes in one column stacked in declaration order. Inside a node, an
interface cabled to an earlier column sits on the left, one cabled to a later column on the right,
and bridges, VXLAN and TUN devices below them in the middle. Nothing depends on time, the machine or
a random seed, and :func:`~netlab.walk.figure.figure_png` writes no date: the same topology gives the
same PNG bytes on every run.

matplotlib is imported inside the drawing functions (a documented lazy import): the engine and the
daemons import netlab without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..engine.topology import Interface, Topology
from .figure import new_figure

NODE_W, IF_W, IF_H, ROW, COL = 3.7, 1.5, 0.4, 0.85, 4.6
MAX_SCALE = 0.5  # inches per layout unit: a small topology is not blown up to the page's width
FILL = {"bridge": "#fdebd0", "vxlan": "#e8daef", "tun": "#d5f5e3"}
TUNNEL_COLOUR = "#7d3c98"


@dataclass
class Scene:
    """What a picture shows: each node's interfaces in order, the veth cables, and which interfaces
    were made at run time (not declared in the topology)."""

    name: str
    nodes: dict[str, dict[str, Interface]]
    cables: list[tuple[tuple[str, str], tuple[str, str]]]
    run_time: set[tuple[str, str]] = field(default_factory=set)


def scene(topology: Topology, devices=()) -> Scene:
    """The topology's nodes, interfaces and cables, plus DEVICES (interfaces made at run time)."""
    nodes = {n: dict(node.interfaces) for n, node in topology.nodes.items()}
    run_time = set()
    for i in devices:
        if i.node in nodes and i.name not in nodes[i.node]:
            nodes[i.node][i.name] = i
            run_time.add((i.node, i.name))
    cables = [((a.node, a.ifname), (b.node, b.ifname)) for a, b in topology.links]
    return Scene(topology.name, nodes, cables, run_time)


# ----------------------------------------------------------------- devices made at run time
def kernel_interface(node: str, link: dict) -> Interface:
    """An interface from one object of ``ip -j -d addr show``: kind, MAC, MTU, master, IPv4
    addresses, and a VXLAN device's VNI, UDP port and local address."""
    info = link.get("linkinfo", {})
    kind = info.get("info_kind") or "device"
    data = info.get("info_data", {})
    opts = {"vni": data["id"], "dstport": data.get("port"), "local": data.get("local"), "dev": link.get("link")} \
        if kind == "vxlan" and "id" in data else {}
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet"]
    return Interface(node, link["ifname"], kind, addrs, mac=link.get("address") if kind != "tun" else None,
                     mtu=link.get("mtu"), master=link.get("master"), options=opts)


def world_devices(world) -> list[Interface]:
    """The interfaces the world's kernels have that its topology does not declare, node by node.

    One ``ip -j -d addr show`` per node through ``world.run``: a replayed world answers it from
    its recording like any other command.
    """
    out = []
    for n, node in world.topology.nodes.items():
        r = world.run(n, "ip -j -d addr show", check=False)
        try:
            links = json.loads(r.stdout) if r.ok and r.stdout.strip() else []
        except ValueError:
            links = []
        out += [kernel_interface(n, l) for l in links
                if l.get("ifname") not in (None, "lo") and l["ifname"] not in node.interfaces]
    return out


# ----------------------------------------------------------------- layout
def _columns(sc: Scene) -> dict[str, int]:
    """node -> column: breadth-first distance over veth cables from the first leaf declared."""
    adj = {n: [] for n in sc.nodes}
    for a, b in sc.cables:
        if b[0] not in adj[a[0]]:
            adj[a[0]].append(b[0])
        if a[0] not in adj[b[0]]:
            adj[b[0]].append(a[0])
    order = list(sc.nodes)
    col: dict[str, int] = {}
    for start in sorted(order, key=lambda n: (len(adj[n]) != 1, order.index(n))):
        if start in col:
            continue
        col[start] = max(col.values(), default=-1) + 1
        queue = [start]
        while queue:
            n = queue.pop(0)
            for m in adj[n]:
                if m not in col:
                    col[m] = col[n] + 1
                    queue.append(m)
    return col


def _sides(interfaces, col, c) -> tuple[list[str], list[str], list[str]]:
    """A node's interfaces split: cabled to an earlier column, to a later one, and the rest."""
    left, right, mid = [], [], []
    for i in interfaces.values():
        other = col.get(i.peer[0]) if i.peer else None
        (left if other is not None and other < c else right if other is not None and other > c else mid).append(i.name)
    return left, right, mid


def layout(sc: Scene) -> dict:
    """Positions: {"nodes": {node: (x, y, w, h)}, "ifaces": {(node, if): (cx, cy)}} (deterministic)."""
    col = _columns(sc)
    nodes, ifaces, ytop = {}, {}, {}
    for n, interfaces in sc.nodes.items():
        c = col[n]
        left, right, mid = _sides(interfaces, col, c)
        cabled = max(len(left), len(right))
        h = max(cabled + len(mid), 1) * ROW + 0.6
        x, y = c * COL, ytop.get(c, 0.0) - h
        ytop[c] = y - 0.55
        nodes[n] = (x, y, NODE_W, h)
        top = y + h - 0.62
        for r, name in enumerate(left):
            ifaces[(n, name)] = (x + 0.08 + IF_W / 2, top - r * ROW)
        for r, name in enumerate(right):
            ifaces[(n, name)] = (x + NODE_W - 0.08 - IF_W / 2, top - r * ROW)
        for r, name in enumerate(mid):  # bridges and tunnels under the cabled interfaces, in the middle
            ifaces[(n, name)] = (x + NODE_W / 2, top - (cabled + r) * ROW)
    return {"nodes": nodes, "ifaces": ifaces}


# ----------------------------------------------------------------- drawing
def canvas(pos, width: float, legend_lines: int = 1):
    """A Figure and its axes scaled to the layout, with LEGEND_LINES free below; returns them and the
    lower-left corner."""
    boxes = pos["nodes"].values()
    x0, x1 = min(x for x, y, w, h in boxes) - 0.3, max(x + w for x, y, w, h in boxes) + 0.3
    y0, y1 = min(y for x, y, w, h in boxes) - 0.3 - 0.3 * legend_lines, max(y + h for x, y, w, h in boxes) + 0.3
    scale = min(MAX_SCALE, width / (x1 - x0))
    fig = new_figure(figsize=((x1 - x0) * scale, max(1.0, (y1 - y0) * scale)), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax, (x0, y0)


def draw_nodes(ax, pos):
    """Each node a rounded grey box with its name on top."""
    from matplotlib.patches import FancyBboxPatch  # lazy: only drawings need matplotlib
    for n, (x, y, w, h) in pos["nodes"].items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc="#f4f4f4", ec="#555555", lw=1.0, zorder=1))
        ax.text(x + w / 2, y + h - 0.2, n, ha="center", va="center", fontsize=9, weight="bold",
                zorder=5, gid=f"node:{n}")


def _fit(text: str, size: float, room: float, ax) -> float:
    """A font size at most SIZE at which TEXT fits ROOM layout units (DejaVu Sans: about 0.62 em a character)."""
    points_per_unit = ax.figure.get_figwidth() * 72 / (ax.get_xlim()[1] - ax.get_xlim()[0])
    return min(size, room * points_per_unit / (0.62 * max(len(text), 1)))


def draw_interfaces(ax, sc: Scene, pos):
    """Each interface a box with its name and first address (or its kind); a bridge port tied to its
    bridge; a device made at run time outlined with dashes."""
    from matplotlib.patches import Rectangle
    for n, interfaces in sc.nodes.items():
        for i in interfaces.values():
            cx, cy = pos["ifaces"][(n, i.name)]
            dashed = (n, i.name) in sc.run_time
            ax.add_patch(Rectangle((cx - IF_W / 2, cy - IF_H / 2), IF_W, IF_H, fc=FILL.get(i.kind, "white"),
                                   ec="#333333", lw=0.9, ls="--" if dashed else "-", zorder=3))
            ax.text(cx, cy, i.name, ha="center", va="center", fontsize=_fit(i.name, 7.5, IF_W - 0.1, ax),
                    zorder=5, gid=f"iface:{n}:{i.name}")
            note = _note(i)
            if note:
                ax.text(cx, cy - IF_H / 2 - 0.03, note, ha="center", va="top", fontsize=_fit(note, 6, IF_W + 0.5, ax),
                        color="#444444", zorder=5, gid=f"note:{n}:{i.name}")
            if i.master and (n, i.master) in pos["ifaces"]:
                bx, by = pos["ifaces"][(n, i.master)]
                ax.plot([cx, bx], [cy, by], color="#999999", lw=0.9, zorder=2)


def _note(i: Interface) -> str:
    """What is written under an interface: its first address, else what kind of device it is."""
    if i.addresses:
        return i.addresses[0]
    return {"tun": "TUN", "vxlan": "VXLAN", "bridge": "bridge"}.get(i.kind, "")


def draw_cables(ax, sc: Scene, pos):
    """Each veth pair a solid black line between its two ends."""
    for a, b in sc.cables:
        (ax_, ay), (bx, by) = pos["ifaces"][a], pos["ifaces"][b]
        ax.plot([ax_, bx], [ay, by], color="#333333", lw=1.4, zorder=2)


def tunnels(sc: Scene) -> list[tuple[tuple[str, str], tuple[str, str], str]]:
    """(end, end, label) for VXLAN devices of different nodes that share a VNI, and for TUN devices
    of one name in different nodes (flannel0: a daemon carries their packets over UDP)."""
    devs = [(n, i) for n, interfaces in sc.nodes.items() for i in interfaces.values() if i.kind in ("vxlan", "tun")]
    out = []
    for k, (n, i) in enumerate(devs):
        for m, j in devs[k + 1:]:
            if m == n or i.kind != j.kind:
                continue
            if i.kind == "vxlan" and i.options.get("vni") is not None and i.options.get("vni") == j.options.get("vni"):
                port = f" (UDP {i.options['dstport']})" if i.options.get("dstport") else ""
                out.append(((n, i.name), (m, j.name), f"VXLAN vni {i.options['vni']}{port}"))
            elif i.kind == "tun" and i.name == j.name:
                out.append(((n, i.name), (m, j.name), "UDP tunnel: a daemon reads and writes both TUN devices"))
    return out


def draw_tunnels(ax, sc: Scene, pos):
    """Each tunnel a dashed purple line between its two ends, labelled."""
    for a, b, label in tunnels(sc):
        (px, py), (qx, qy) = pos["ifaces"][a], pos["ifaces"][b]
        ax.plot([px, qx], [py, qy], ls="--", color=TUNNEL_COLOUR, lw=1.3, zorder=2)
        ax.text((px + qx) / 2, (py + qy) / 2 - 0.3, label, ha="center", fontsize=6.5, color=TUNNEL_COLOUR,
                zorder=5, gid=f"tunnel:{a[0]}:{b[0]}", bbox={"fc": "white", "ec": "none", "pad": 0.8})


def draw_scene(sc: Scene, width: float, legend_lines: int = 1):
    """The scene drawn; returns the Figure, its axes, the layout and the lower-left corner."""
    pos = layout(sc)
    fig, ax, corner = canvas(pos, width, legend_lines)
    draw_nodes(ax, pos)
    draw_interfaces(ax, sc, pos)
    draw_cables(ax, sc, pos)
    draw_tunnels(ax, sc, pos)
    return fig, ax, pos, corner


def key(sc: Scene) -> str:
    """The legend line: what the lines and colours mean, naming only what this picture has."""
    kinds = {i.kind for interfaces in sc.nodes.values() for i in interfaces.values()}
    parts = ["solid line: veth cable"] if sc.cables else []
    if "bridge" in kinds:
        parts.append("orange: bridge (grey lines to its ports)")
    if "vxlan" in kinds:
        parts.append("purple: VXLAN device")
    if "tun" in kinds:
        parts.append("green: TUN device")
    if tunnels(sc):
        parts.append("dashed line: tunnel")
    if sc.run_time:
        parts.append("dashed box: made at run time by a daemon")
    return "; ".join(parts)


def draw_topology(topology_or_world, width: float = 9.5):
    """The topology drawn (a matplotlib Figure; same topology, same PNG bytes).

    Give a :class:`~netlab.engine.topology.Topology` (no kernel needed) or a world, whose kernels
    add the devices made at run time (:func:`world_devices`).
    """
    if isinstance(topology_or_world, Topology):
        sc = scene(topology_or_world)
    else:
        sc = scene(topology_or_world.topology, world_devices(topology_or_world))
    fig, ax, _, (x0, y0) = draw_scene(sc, width)
    ax.text(x0 + 0.1, y0 + 0.2, f"{sc.name}: {key(sc)}", fontsize=7, color="#333333", va="center", gid="key")
    return fig
