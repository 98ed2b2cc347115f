"""The bridge explorer for chapter 3 (the seed's "Docker 容器之间的通信原理（单节点）").

A Linux bridge (网桥) is a learning switch: it learns a source MAC on the port a frame came in
by, sends a frame for a learned MAC out of that one port, and floods a broadcast or a frame for
an unknown MAC out of every other port (and up to the host, since the bridge device docker0 is
itself a port with an address). :func:`bridge_walk` applies those rules to a
:class:`BridgeSnapshot` (the bridge's ports, the containers behind them and the FDB), read from a
live world by :func:`bridge_snapshot` or loaded from a recorded dict; :func:`bridge_explorer`
shows the result for a chosen source and destination in a ``widgets.HTML``.
:func:`observe_ports` runs the same ping on the live kernel with tcpdump on every port, so the
chapter can check the model against what the kernel really did.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

import ipywidgets as widgets

from .. import kernel

__all__ = ["BridgeSnapshot", "Hop", "bridge_snapshot", "bridge_walk", "render_bridge_walk",
           "bridge_explorer", "observe_ports"]

BROADCAST = "ff:ff:ff:ff:ff:ff"


class BridgeError(ValueError):
    """A bridge snapshot or a choice of endpoints that cannot be explored; one sentence."""


@dataclass
class BridgeSnapshot:
    """A bridge's state: ``ports`` maps port name -> {"endpoint", "ip", "mac"}; ``fdb`` maps learned MAC -> port.

    The bridge device itself is the endpoint ``host`` (port name = the bridge's name).
    """

    node: str
    bridge: str
    bridge_ip: str
    bridge_mac: str
    ports: dict
    fdb: dict = field(default_factory=dict)

    def endpoints(self) -> dict:
        """endpoint name -> (port, ip, mac), the host (the bridge device) last."""
        out = {p["endpoint"]: (name, p["ip"], p["mac"]) for name, p in sorted(self.ports.items(),
                                                                              key=lambda kv: kv[1]["endpoint"])}
        out[f"{self.node} ({self.bridge})"] = (self.bridge, self.bridge_ip, self.bridge_mac)
        return out

    def to_dict(self) -> dict:
        return {"node": self.node, "bridge": self.bridge, "bridge_ip": self.bridge_ip,
                "bridge_mac": self.bridge_mac, "ports": self.ports, "fdb": self.fdb}

    @classmethod
    def from_dict(cls, data: dict | str) -> "BridgeSnapshot":
        """A snapshot from :meth:`to_dict`'s dict (or its JSON); a wrong shape raises BridgeError."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise BridgeError(f"the bridge snapshot is not valid JSON ({exc})") from None
        keys = {"node", "bridge", "bridge_ip", "bridge_mac", "ports"}
        if not isinstance(data, dict) or not keys <= set(data) or not set(data) <= keys | {"fdb"}:
            raise BridgeError("a bridge snapshot is a dict with the keys node, bridge, bridge_ip, bridge_mac,"
                              " ports and fdb, as BridgeSnapshot.to_dict() writes it")
        ports, fdb = data["ports"], data.get("fdb", {})
        if not isinstance(ports, dict) or not all(
                isinstance(p, dict) and {"endpoint", "ip", "mac"} <= set(p) for p in ports.values()):
            raise BridgeError("the snapshot's ports must map each port name to {'endpoint', 'ip', 'mac'}")
        if not isinstance(fdb, dict):
            raise BridgeError("the snapshot's fdb must map MAC addresses to port names")
        return cls(**data)


def bridge_snapshot(world, node: str = "node1", bridge: str = "docker0") -> BridgeSnapshot:
    """Read BRIDGE's ports, the container behind each, and the learned FDB from a live (or replayed) world.

    Which container is behind a port comes from the world's topology (the veth's other end);
    its address and MAC from the container's kernel (``ip -j addr show eth0``); the FDB from
    ``bridge -j fdb show br BRIDGE``.
    """
    peers = {}
    for ea, eb in world.topology.links:
        for a, b in ((ea, eb), (eb, ea)):
            if a.node == node:
                peers[a.ifname] = (b.node, b.ifname)
    ports = {}
    for p in kernel.links(world, node, f"master {bridge}"):
        peer = peers.get(p.ifname)
        if peer is None:
            continue
        info = kernel.links(world, peer[0], f"dev {peer[1]}", addresses=True)[0]
        ports[p.ifname] = {"endpoint": peer[0], "ip": _inet(info), "mac": info.mac}
    br = kernel.links(world, node, f"dev {bridge}", addresses=True)[0]
    fdb = {e.mac: e.ifname for e in kernel.fdb(world, node, f"br {bridge}") if e.learned}
    return BridgeSnapshot(node, bridge, _inet(br), br.mac, ports, fdb)


def _inet(link: kernel.Link) -> str | None:
    """LINK's first IPv4 address, without its prefix."""
    return next((a.local for a in link.addresses if a.family == "inet"), None)


@dataclass
class Hop:
    """One frame through the bridge: what it is, where it came in, what was learned, where it left."""

    frame: str
    eth_src: str
    eth_dst: str
    in_port: str
    learned: str | None
    out_ports: list
    why: str


def bridge_walk(snap: BridgeSnapshot, src: str, dst: str, arp_cached: bool = False) -> tuple[list[Hop], dict]:
    """The frames of one ping from endpoint SRC to endpoint DST, as a learning bridge forwards them.

    Starts from ``snap.fdb``; ``arp_cached`` means SRC already has DST's MAC in its neighbour table
    (so no ARP request is sent). Returns the hops and the FDB afterwards. Raises ValueError with a
    specific message for an unknown endpoint or SRC == DST.
    """
    eps = snap.endpoints()
    for name in (src, dst):
        if name not in eps:
            raise ValueError(f"{name!r} is not on {snap.bridge}; pick one of {', '.join(eps)}")
    if src == dst:
        raise ValueError(f"source and destination are both {src}: a ping to yourself never reaches the bridge")
    if eps[src][1] is None or eps[dst][1] is None:
        missing = src if eps[src][1] is None else dst
        raise ValueError(f"{missing} has no IPv4 address, so there is nothing to ping")
    fdb = dict(snap.fdb)
    all_ports = [p for p in snap.ports] + [snap.bridge]
    hops = []

    def send(frame, sender, receiver_mac, eth_dst):
        port, _, mac = eps[sender]
        learned = None
        if port != snap.bridge:  # the bridge learns source MACs of frames arriving on its ports
            if fdb.get(mac) != port:
                learned = f"{mac} on {port}"
            fdb[mac] = port
        if eth_dst == BROADCAST:
            out = [p for p in all_ports if p != port]
            why = "broadcast: flooded out of every other port"
        elif eth_dst == snap.bridge_mac or eth_dst in (eps[e][2] for e in eps if eps[e][0] == snap.bridge):
            out = [snap.bridge]
            why = f"{eth_dst} is the bridge's own MAC: delivered up to {snap.node}"
        elif eth_dst in fdb:
            out = [fdb[eth_dst]]
            why = f"{eth_dst} is in the FDB on {fdb[eth_dst]}: sent out of that port only"
        else:
            out = [p for p in all_ports if p != port]
            why = f"{eth_dst} is not in the FDB (unknown unicast): flooded out of every other port"
        hops.append(Hop(frame, mac, eth_dst, port, learned, out, why))

    s_port, s_ip, s_mac = eps[src]
    d_port, d_ip, d_mac = eps[dst]
    if not arp_cached:
        send(f"ARP who-has {d_ip} tell {s_ip}", src, None, BROADCAST)
        send(f"ARP {d_ip} is-at {d_mac}", dst, s_mac, s_mac)
    send(f"ICMP echo request {s_ip} > {d_ip}", src, d_mac, d_mac)
    send(f"ICMP echo reply {d_ip} > {s_ip}", dst, s_mac, s_mac)
    return hops, fdb


def _fdb_table(snap: BridgeSnapshot, fdb: dict, title: str) -> str:
    owners = {v[2]: k for k, v in snap.endpoints().items()}
    rows = "".join(f"<tr><td><code>{html.escape(m)}</code></td><td><code>{html.escape(p)}</code></td>"
                   f"<td>{html.escape(owners.get(m, '?'))}</td></tr>" for m, p in sorted(fdb.items()))
    rows = rows or "<tr><td colspan='3'><i>empty: nothing learned yet</i></td></tr>"
    return (f"<p><b>{html.escape(title)}</b></p><table class='netlab-fdb'><tr><th>MAC</th><th>port</th>"
            f"<th>whose</th></tr>{rows}</table>")


def render_bridge_walk(snap: BridgeSnapshot, src: str, dst: str, arp_cached: bool = False,
                       fdb_empty: bool = False) -> str:
    """The explorer's HTML; a bad choice becomes a specific message, never a traceback."""
    start = BridgeSnapshot(snap.node, snap.bridge, snap.bridge_ip, snap.bridge_mac, snap.ports,
                           {} if fdb_empty else dict(snap.fdb))
    try:
        hops, after = bridge_walk(start, src, dst, arp_cached)
    except ValueError as exc:
        return f"<div class='netlab-error' style='color:#b00020'><b>Pick again.</b> {html.escape(str(exc))}</div>"
    rows = []
    for i, h in enumerate(hops, 1):
        rows.append(f"<tr><td>{i}</td><td>{html.escape(h.frame)}</td>"
                    f"<td><code>{html.escape(h.eth_src)}</code> &rarr; <code>{html.escape(h.eth_dst)}</code></td>"
                    f"<td><code>{html.escape(h.in_port)}</code></td>"
                    f"<td>{html.escape(h.learned or '(already known)' if h.in_port != snap.bridge else '(bridge device: no learning)')}</td>"
                    f"<td>{', '.join(f'<code>{html.escape(p)}</code>' for p in h.out_ports)}</td>"
                    f"<td>{html.escape(h.why)}</td></tr>")
    table = ("<table class='netlab-bridge-walk'><tr><th>#</th><th>frame</th><th>Ethernet src &rarr; dst</th>"
             "<th>in port</th><th>learned</th><th>out ports</th><th>why</th></tr>" + "".join(rows) + "</table>")
    return (f"<div class='netlab-bridge'><p>{html.escape(src)} pings {html.escape(dst)} across "
            f"<code>{html.escape(snap.bridge)}</code> on {html.escape(snap.node)}"
            f"{' (ARP already cached)' if arp_cached else ''}.</p>"
            + _fdb_table(snap, start.fdb, "FDB before (bridge fdb show, learned entries)") + table
            + _fdb_table(snap, after, "FDB after") + "</div>")


def bridge_explorer(source, src: str | None = None, dst: str | None = None) -> widgets.VBox:
    """Pick a source and a destination on the bridge; see ARP, the FDB and the ports each frame leaves by.

    SOURCE is a live world (read with :func:`bridge_snapshot`), a :class:`BridgeSnapshot`, or its dict.
    """
    snap = source if isinstance(source, BridgeSnapshot) else (
        BridgeSnapshot.from_dict(source) if isinstance(source, (dict, str)) else bridge_snapshot(source))
    names = list(snap.endpoints())
    if len(names) < 2:  # only the bridge device itself: nothing to ping across it
        box = widgets.VBox([widgets.HTML(
            f"<div class='netlab-error' style='color:#b00020'><b>Nothing to explore yet.</b> "
            f"{html.escape(snap.bridge)} on {html.escape(snap.node)} has no ports: attach a container (a veth"
            f" with master {html.escape(snap.bridge)}) and build the explorer again.</div>")])
        box.snapshot = snap
        return box
    for role, name in (("src", src), ("dst", dst)):
        if name is not None and name not in names:
            raise BridgeError(f"{role}={name!r} is not on {snap.bridge}; pick one of {', '.join(names)}")
    src = src or names[0]
    dst = dst or names[1]
    s = widgets.Dropdown(options=names, value=src, description="source")
    d = widgets.Dropdown(options=names, value=dst, description="destination")
    cached = widgets.Checkbox(value=False, description="source already knows the MAC (no ARP)")
    empty = widgets.Checkbox(value=False, description="start with an empty FDB")
    out = widgets.HTML(render_bridge_walk(snap, src, dst))

    def update(_=None):
        out.value = render_bridge_walk(snap, s.value, d.value, cached.value, empty.value)

    for w in (s, d, cached, empty):
        w.observe(update, names="value")
    box = widgets.VBox([widgets.HBox([s, d]), widgets.HBox([cached, empty]), out])
    box.snapshot = snap
    return box


def observe_ports(world, src: str, dst_ip: str, node: str = "node1", bridge: str = "docker0",
                  ping: str = "ping -c 1 -W 1") -> list[tuple[str, list[str]]]:
    """Ping DST_IP from container SRC with tcpdump on every port of BRIDGE; which ports saw which frame.

    Returns [(frame summary, [ports it was seen on, in port-name order]), ...] in the order the
    frames were first seen. IGMP and other background traffic are filtered out (``arp or icmp``).
    """
    ports = sorted(p.ifname for p in kernel.links(world, node, f"master {bridge}"))
    caps = {p: world.capture(node, p, "arp or icmp") for p in ports}
    try:
        world.run(src, f"{ping} {dst_ip}", check=False)
    finally:
        seen: dict[str, list] = {}
        for p, cap in caps.items():
            for pkt in cap.stop():
                entry = seen.setdefault(pkt.summary(), [float(pkt.time), set()])
                entry[0] = min(entry[0], float(pkt.time))
                entry[1].add(p)
    return [(k, sorted(v[1])) for k, v in sorted(seen.items(), key=lambda kv: kv[1][0])]
