"""Follow one packet hop by hop through a lab world, with the kernel's reason for every move.

::

    walk = netlab.trace(w, src="container-1", dst="10.1.16.2", proto="icmp")
    walk            # a table: hop, node, interface, headers, decision
    print(walk.text())
    walk.draw()     # the topology with the path numbered (netlab.walk.draw)

How it works, with nothing guessed:

1. ``iptables-save -c`` in every involved node (the counters before).
2. tcpdump (``world.capture``) on every interface of every involved node.
3. One packet is sent from ``src``: ``ping -c 1`` for ICMP, a few lines of Python for UDP or TCP
   (fixed source port 40000, so the text is the same on every run).
4. The captures are merged by their (nanosecond) timestamps, and the order is then made causal:
   from the node that made the packet, along each cable it left by, by time only within one
   namespace (timestamps of different namespaces can disagree by a few microseconds). A bridge's
   promiscuous copy of a frame it forwards is placed right after the port it came in by.
   The packet is recognised at every
   sighting by its payload (ICMP, UDP) or its sequence number (TCP), also inside a VXLAN or
   Flannel-UDP tunnel, so the inner and outer headers of one sighting are shown together.
5. For each hop the kernel is asked what it decided: ``ip route get DST from SRC iif IIF``,
   ``ip neigh show NEXTHOP dev DEV``, ``bridge fdb show br BR`` (the port),
   ``bridge fdb show dev VXLAN`` (the remote VTEP), and the ``iptables-save -c`` counters after,
   whose difference names the rules the packet hit.

Every kernel read and every capture goes through ``world.run`` / ``world.capture``, so a
walk is in the world's transcript and is re-derived, unchanged, from a recording in replay mode.
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import re
import shlex
from dataclasses import dataclass, field

SPORT = 40000  # the UDP/TCP sender's fixed source port
UDP_MARK = b"netlab packet walk"
VXLAN_PORTS = (8472, 4789)  # Linux/flannel's VXLAN port and the IANA one
FLANNEL_UDP_PORT = 8285  # flannel's UDP backend: the inner IP packet is the UDP payload
PROTOS = ("icmp", "udp", "tcp")


class WalkError(ValueError):
    """A walk was asked for something that cannot be sent (unknown node, protocol, address)."""


# ------------------------------------------------------------------ dissection
def layers(pkt) -> list:
    """The packet as a list of scapy layers, outer first, with tunnels opened.

    scapy already decodes UDP 8472 as VXLAN (its vxlan module binds the Linux port). Flannel's UDP
    backend (port 8285) carries a bare IP packet; it is decoded here, for this packet only, rather
    than with a global ``bind_layers`` that would change how every other UDP packet is dissected.
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import Raw
    out, layer = [], pkt
    while layer is not None and layer.__class__.__name__ not in ("NoPayload",):
        if isinstance(layer, Raw) or layer.__class__.__name__ == "Padding":
            break
        out.append(layer)
        if layer.__class__.__name__ == "ICMP" and layer.type not in (0, 8):
            break  # an ICMP error quotes the packet that caused it: not a header of this one
        if isinstance(layer, UDP) and isinstance(layer.payload, Raw):
            data = bytes(layer.payload)
            if layer.dport == FLANNEL_UDP_PORT or layer.sport == FLANNEL_UDP_PORT:
                layer = IP(data)
                continue
            if layer.dport in VXLAN_PORTS and not isinstance(layer.payload, VXLAN):
                layer = VXLAN(data)
                continue
        layer = layer.payload
    return out


def _tunnelled(pkt) -> bool:
    """Does this sighting carry a packet inside another (VXLAN, Flannel UDP)?"""
    return sum(1 for l in layers(pkt) if l.__class__.__name__ == "IP") > 1


def _endpoint(ip, which: str) -> str:
    """``10.168.0.2:8080`` for a TCP/UDP packet's source or destination, the bare address otherwise."""
    from scapy.layers.inet import TCP, UDP
    addr = getattr(ip, which)
    l4 = ip.payload
    if isinstance(l4, (TCP, UDP)):
        return f"{addr}:{l4.dport if which == 'dst' else l4.sport}"
    return addr


def _inner_ip(pkt):
    from scapy.layers.inet import IP
    ips = [l for l in layers(pkt) if isinstance(l, IP)]
    return ips[-1] if ips else None


def header_summary(pkt) -> str:
    """Every layer's addresses, outer to inner: ``eth A > B | ip S > D ttl 64 | icmp echo-request seq 1``."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    parts = []
    stack = layers(pkt)
    for k, l in enumerate(stack):
        if isinstance(l, Ether):
            parts.append(f"eth {l.src} > {l.dst}")
        elif isinstance(l, IP):
            parts.append(f"ip {l.src} > {l.dst} ttl {l.ttl}")
        elif isinstance(l, UDP):
            # The outer source port of a VXLAN datagram is not a fixed number: the kernel takes it from
            # a hash of the inner flow (udp_flow_src_port), seeded at boot, so it changes from boot to
            # boot (and from world to world); the text names it rather than printing it.
            tunnel = k + 1 < len(stack) and isinstance(stack[k + 1], VXLAN)
            sport = "<flow-hash>" if tunnel else l.sport
            parts.append(f"udp {sport} > {l.dport}")
        elif isinstance(l, TCP):
            parts.append(f"tcp {l.sport} > {l.dport} [{l.sprintf('%TCP.flags%')}]")
        elif isinstance(l, VXLAN):
            parts.append(f"vxlan vni {l.vni}")
        elif isinstance(l, ICMP):
            kind = l.sprintf("%ICMP.type%")
            if l.type in (0, 8):
                parts.append(f"icmp {kind} seq {l.seq}")
            else:
                parts.append(f"icmp {kind} code {l.code}")
                break  # the quoted packet inside an ICMP error is not a header of this one
    return " | ".join(parts)


# ------------------------------------------------------------------ data
@dataclass
class Hop:
    """One sighting of the packet: where, which way, the headers there, and why it moved on."""

    node: str
    interface: str
    direction: str  # "in" or "out"
    headers: str
    ttl: int | None
    decisions: list[str] = field(default_factory=list)
    packet: object = field(default=None, repr=False, compare=False)
    drop: str | None = field(default=None, repr=False, compare=False)  # why the kernel dropped it here

    @property
    def decision(self) -> str:
        return "; ".join(self.decisions)


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
            lines += [f"     {d}" for d in h.decisions]
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

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _rows_html(self) -> str:
        rows = []
        for i, h in enumerate(self.hops, 1):
            dec = "<br>".join(html.escape(d) for d in h.decisions)
            hdr = "<br>".join(html.escape(p) for p in h.headers.split(" | "))
            rows.append(f"<tr><td>{i}</td><td>{html.escape(h.node)}</td><td>{html.escape(h.interface)}"
                        f" {h.direction}</td><td style='font-family:monospace;font-size:85%'>{hdr}</td>"
                        f"<td style='font-size:85%'>{dec}</td></tr>")
        end = (f"delivered to {self.hops[-1].node}" if self.delivered and self.hops else
               "delivered" if self.delivered else f"dropped at {self.dropped_at}: {self.reason}")
        if self.no_reply:
            end += f"; {self.no_reply}"
        return "".join(rows), html.escape(end)

    def _repr_html_(self) -> str:
        out = []
        for w in (self, self.reply):
            if w is None:
                continue
            rows, end = w._rows_html()
            out.append(f"<p><b>{w.kind}: {w.proto} {html.escape(w.src)} &rarr; {html.escape(w.dst)}</b></p>"
                       "<table class='netlab-walk'><thead><tr><th>hop</th><th>node</th><th>interface</th>"
                       f"<th>headers</th><th>decision</th></tr></thead><tbody>{rows}</tbody></table>"
                       f"<p><i>{end}</i></p>")
        return "".join(out)

    def draw(self, **kw):
        """The topology with this walk's path highlighted and numbered (a matplotlib Figure)."""
        from .draw import draw_walk
        return draw_walk(self, **kw)


# ------------------------------------------------------------------ the trace
def _node_addresses(topo) -> dict[str, list[str]]:
    return {n: [a.split("/")[0] for i in node.interfaces.values() for a in i.addresses]
            for n, node in topo.nodes.items()}


def _resolve_dst(topo, dst: str) -> str:
    if dst in topo.nodes:
        addrs = _node_addresses(topo)[dst]
        if not addrs:
            raise WalkError(f"node {dst!r} has no address to send to; give an IP address instead")
        return addrs[0]
    try:
        return str(ipaddress.ip_address(dst))
    except ValueError:
        raise WalkError(f"destination {dst!r} is neither a node of this world ({', '.join(topo.nodes)})"
                        f" nor an IP address") from None


def _sender(proto: str, dst: str, port: int, ttl: int | None, size: int | None = None) -> str:
    if proto == "icmp":
        return f"ping -c 1 -W 1 {'-t %d ' % ttl if ttl else ''}{'-s %d ' % size if size else ''}{dst}"
    ttl_opt = f"s.setsockopt(0,2,{ttl});" if ttl else ""
    if proto == "udp":
        pad = f"+b'.'*{size - len(UDP_MARK)}" if size and size > len(UDP_MARK) else ""
        return (f"python3 -c \"import socket;s=socket.socket(2,2);s.bind(('',{SPORT}));{ttl_opt}"
                f"s.sendto({UDP_MARK!r}{pad},('{dst}',{port}))\"")
    return (f"python3 -c \"import socket;s=socket.socket(2,1);s.setsockopt(1,2,1);s.bind(('',{SPORT}));{ttl_opt}s.settimeout(1)\n"
            f"try: s.connect(('{dst}',{port}))\nexcept OSError as e: print(e)\"")


def _ipt_parse(text: str) -> dict:
    """iptables-save -c -> {(table, chain-or-rule text, n): (packets, bytes)}."""
    out, table, seen = {}, None, {}
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            m = re.match(r":(\S+) (\S+) \[(\d+):(\d+)\]", line)
            if m and m.group(2) != "-":
                out[(table, f"{m.group(1)} policy {m.group(2)}", 0)] = (int(m.group(3)), int(m.group(4)))
        elif line.startswith("["):
            m = re.match(r"\[(\d+):(\d+)\] (.*)", line)
            if m:
                rule = m.group(3).strip()
                n = seen[(table, rule)] = seen.get((table, rule), 0) + 1
                out[(table, rule, n)] = (int(m.group(1)), int(m.group(2)))
    return out


def _chain(rule: str) -> str:
    m = re.match(r"-A (\S+)", rule)
    return m.group(1) if m else rule.split()[0]


def _target(rule: str) -> str | None:
    """The chain a rule jumps (``-j``) or goes (``-g``) to, or its target (ACCEPT, DNAT, ...)."""
    m = re.search(r"\s-[jg] (\S+)", rule)
    return m.group(1) if m else None


def _user_chains(text: str) -> set[tuple[str, str]]:
    """(table, chain) of every user-defined chain in an ``iptables-save`` dump (``:NAME - [0:0]``)."""
    out, table = set(), None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            m = re.match(r":(\S+) - ", line)
            if m:
                out.add((table, m.group(1)))
    return out


IPTABLES_SAVE = "iptables-save -c | grep -v '^#'"


class _Tracer:
    def __init__(self, world, src, dst, proto, port, ttl, nodes, size=None):
        self.w, self.topo = world, world.topology
        if src not in self.topo.nodes:
            raise WalkError(f"source {src!r} is not a node of this world; its nodes are {', '.join(self.topo.nodes)}")
        if proto not in PROTOS:
            raise WalkError(f"protocol {proto!r} is not one of {', '.join(PROTOS)}")
        self.src, self.dst_given, self.proto, self.port, self.ttl = src, dst, proto, port, ttl
        if size is not None and (proto == "tcp" or not 0 < int(size) <= 65000):
            raise WalkError(f"size={size!r}: a payload size in bytes (1-65000) for icmp or udp; a TCP SYN carries none")
        self.size = size
        self.dst = _resolve_dst(self.topo, dst)
        self.nodes = list(nodes) if nodes else list(self.topo.nodes)
        self.addrs = _node_addresses(self.topo)
        self._cache: dict = {}
        self.links: dict[str, dict[str, dict]] = {}  # node -> ifname -> `ip -j -d link` object
        self.ifaces: dict[str, dict] = {n: dict(node.interfaces) for n, node in self.topo.nodes.items()}

    # kernel reads (cached per command: one read per walk)
    def run(self, node, cmd):
        key = (node, cmd)
        if key not in self._cache:
            self._cache[key] = self.w.run(node, cmd, check=False)
        return self._cache[key]

    def iface(self, node, name):
        return self.ifaces.get(node, {}).get(name)

    def read_links(self, node) -> list[str]:
        """Read NODE's links from the kernel (``ip -j -d link show``); return the names of those that are up.

        The topology declares the interfaces the world was built with, but daemons make more at run
        time (flanneld's ``flannel0`` TUN and ``flannel.1`` VXLAN device): they are added here, with
        their kind (``info_kind``), MAC, master and VXLAN VNI/port (``info_data.id``/``port``) as the
        kernel reports them, so they are captured and explained like declared ones.
        """
        import json
        from ..engine.topology import Interface
        r = self.w.run(node, "ip -j -d link show", check=False)
        try:
            links = json.loads(r.stdout) if r.ok and r.stdout.strip() else []
        except ValueError:
            links = []
        self.links[node] = {l["ifname"]: l for l in links if "ifname" in l}
        up = []
        for name, l in self.links[node].items():
            if name == "lo":
                continue
            info = l.get("linkinfo", {})
            kind = info.get("info_kind") or "device"
            declared = self.ifaces[node].get(name)
            if declared is not None:
                # the kernel, not the declaration, says which bridge a port is in (``ip link set X master
                # docker0`` at run time, or ``nomaster``) and what MAC a device has
                mac = l.get("address") if declared.kind != "tun" else declared.mac
                self.ifaces[node][name] = dataclasses.replace(declared, master=l.get("master"),
                                                              mac=mac or declared.mac)
            else:
                data = info.get("info_data", {})
                opts = {"vni": data["id"], "dstport": data.get("port"), "local": data.get("local"),
                        "dev": l.get("link")} if kind == "vxlan" and "id" in data else {}
                self.ifaces[node][name] = Interface(node, name, kind, mac=l.get("address") if kind != "tun" else None,
                                                    mtu=l.get("mtu"), master=l.get("master"), options=opts)
            if "UP" in l.get("flags", []):
                up.append(name)
        return up

    def vxlan_devices(self, node) -> list[tuple[str, int, int]]:
        """(name, VNI, UDP port) of every VXLAN device in NODE, as the kernel reports them."""
        out = []
        for name, l in self.links.get(node, {}).items():
            info = l.get("linkinfo", {})
            if info.get("info_kind") == "vxlan" and "id" in info.get("info_data", {}):
                out.append((name, info["info_data"]["id"], info["info_data"].get("port", 8472)))
        return sorted(out)

    def go(self) -> Walk:
        before = {n: self.w.run(n, IPTABLES_SAVE, check=False).stdout for n in self.nodes}
        caps = []
        for n in self.nodes:  # tcpdump needs the interface up; the kernel says which are
            up = self.read_links(n)
            # declared interfaces first, then those made at run time, in the kernel's order: with equal
            # timestamps (a received skb keeps its stamp through decapsulation) the order is causal
            for name in [i for i in self.topo.nodes[n].interfaces if i in up] + \
                        [i for i in up if i not in self.topo.nodes[n].interfaces]:
                caps.append(self.w.capture(n, name, "ip"))
        try:
            self.sent = self.w.run(self.src, _sender(self.proto, self.dst, self.port, self.ttl, self.size), check=False)
        finally:
            sightings = []
            for k, c in enumerate(caps):
                # tcpdump may lag on a busy machine: the first capture waits longer for output to settle,
                # which gives every other capture the same time before it is stopped
                for p in c.stop(settle=0.15 if k == 0 else 0.03):
                    sightings.append((p.time, c.node, c.iface, p))  # exact (pcap nanoseconds), not float
        # Within one namespace a received skb keeps its timestamp, so the bridge port and the bridge
        # device can show the same nanosecond: the causal rank breaks such ties.
        sightings.sort(key=lambda s: (s[0], self.rank(s[1], s[2], s[3])))
        after = {n: self.w.run(n, IPTABLES_SAVE, check=False).stdout for n in self.nodes}
        self.moved, self.user_chains, self.named = {}, {}, set()
        for n in self.nodes:
            b, a = _ipt_parse(before[n]), _ipt_parse(after[n])
            self.moved[n] = [(k, b.get(k, (0, 0)), v) for k, v in a.items() if v[0] > b.get(k, (0, 0))[0]]
            self.user_chains[n] = _user_chains(after[n])
        return self.build(sightings)

    # ---- recognising the packet
    def classify(self, sightings):
        """Split sightings into request, reply and ICMP-error lists."""
        from scapy.layers.inet import ICMP, TCP, UDP, ICMPerror, IPerror, TCPerror, UDPerror
        req, rep, err = [], [], []
        sig = None  # the request's identity: payload bytes, or the TCP sequence number
        sig_ids = None  # an echo request's (id, seq): an error may quote only its first 8 bytes
        for s in sightings:
            ip = _inner_ip(s[3])
            if ip is None:
                continue
            l4 = ip.payload
            if self.proto == "icmp" and isinstance(l4, ICMP) and l4.type in (0, 8):
                load = bytes(l4.payload)
                if l4.type == 8 and sig is None and s[1] == self.src:
                    sig, sig_ids = load, (l4.id, l4.seq)
                if sig is not None and load == sig:
                    (req if l4.type == 8 else rep).append(s)
                    continue
            if self.proto == "udp" and isinstance(l4, UDP) and bytes(l4.payload).startswith(UDP_MARK):
                (rep if l4.dport == SPORT else req).append(s)
                continue
            if self.proto == "tcp" and isinstance(l4, TCP):
                if l4.flags.S and not l4.flags.A and l4.sport == SPORT:
                    sig = sig if sig is not None else l4.seq
                    if l4.seq == sig:
                        req.append(s)
                        continue
                if sig is not None and l4.flags.A and l4.ack == (sig + 1) % 2 ** 32 and l4.dport == SPORT:
                    rep.append(s)
                    continue
            if isinstance(l4, ICMP) and l4.type in (3, 11) and isinstance(l4.payload, IPerror):
                q = l4.payload.payload
                if ((self.proto == "icmp" and isinstance(q, ICMPerror) and sig is not None
                     and (bytes(q.payload) == sig or (not bytes(q.payload) and (q.id, q.seq) == sig_ids)))
                        or (self.proto == "udp" and isinstance(q, UDPerror)
                            and (bytes(q.payload).startswith(UDP_MARK)  # a kernel quotes up to 576 bytes,
                                 or (not bytes(q.payload) and (q.sport, q.dport) == (SPORT, self.port))))  # flannel 8
                        or (self.proto == "tcp" and isinstance(q, TCPerror) and q.seq == sig)):
                    err.append(s)
        return req, rep, err

    def rank(self, node, ifname, pkt) -> float:
        """Causal order of sightings with equal timestamps in one node: cable in, bridge, routed, out."""
        from scapy.layers.l2 import Ether
        i, eth = self.iface(node, ifname), pkt.getlayer(Ether)
        if i is None or eth is None:
            return 1.5
        own = {x.mac for x in self.ifaces[node].values()}
        if i.master:
            peer = self.iface(*i.peer) if i.peer else None
            return 0 if peer is not None and eth.src == peer.mac else 3 if eth.src in own else 2
        if i.kind == "bridge":
            return 2.5 if eth.src == i.mac else 1
        if eth.src != i.mac and _tunnelled(pkt):
            return 0.4  # received and decapsulated: the outer sighting keeps its stamp, and comes first
        return 2.5 if eth.src == i.mac else 0.5

    # ---- direction of one sighting
    def direction(self, node, ifname, pkt, seen_in_node, prev_in_node=None) -> str:
        from scapy.layers.l2 import Ether
        i = self.iface(node, ifname)
        eth = pkt.getlayer(Ether)
        if i is None or eth is None:  # TUN (raw IP): out if the node sent it or routed it there,
            ip = _inner_ip(pkt)      # in if a daemon wrote it after a tunnelled datagram arrived
            if ip is not None and ip.src in self.addrs.get(node, []):
                return "out"
            if prev_in_node is not None and _tunnelled(prev_in_node[3]):
                return "in"
            return "out" if seen_in_node else "in"
        if eth.src == i.mac:
            return "out"
        if i.kind == "veth" and eth.src in {x.mac for x in self.ifaces[node].values() if x.mac}:
            return "out"  # sent with one of this node's MACs (a bridge's, through its port): leaving
        if i.kind in ("bridge", "vxlan") or (i.kind == "veth" and not i.master):
            return "in"  # a routed interface sends with its own MAC
        if i.kind == "veth" and i.peer:
            peer = self.iface(*i.peer)
            if peer and eth.src == peer.mac:
                return "in"
            if i.master:  # a bridge port: in from the cable if the bridge has not had it yet
                return "out" if seen_in_node else "in"
        return "out" if seen_in_node else "in"

    def canonical(self, sightings) -> list:
        """Put a bridge's promiscuous copy of a frame it forwards right after the port it came in by.

        The bridge forwards the frame before it passes the copy up to its own device, and the two
        may or may not get distinct timestamps; the bridge's decision belongs before the port out.
        """
        from scapy.layers.l2 import Ether
        out = list(sightings)
        for s in list(out):
            i, eth = self.iface(s[1], s[2]), s[3].getlayer(Ether)
            if i is None or i.kind != "bridge" or eth is None or i.mac in (eth.src, eth.dst):
                continue
            k = out.index(s)
            ports = [j for j in range(k) if out[j][1] == s[1] and
                     getattr(self.iface(out[j][1], out[j][2]), "master", None) == i.name]
            if ports:
                out.insert(ports[0] + 1, out.pop(k))
        return out

    def causal(self, sightings, origin: str | None = None) -> list:
        """Order sightings along the cables, using time only inside one namespace.

        Timestamps from different namespaces are not strictly causal (a transmit tap and the
        receive on the other end of a veth can be stamped in either order), so the walk starts
        where the packet was made (its source address is local to that node), goes from an
        interface it left by to the other end of that cable, and otherwise takes the earliest
        remaining sighting in the same node; only when a node has nothing left does global time decide.
        """
        rest = list(sightings)
        if not rest:
            return []

        def made_here(s):
            ip = _inner_ip(s[3])
            return ip is not None and ip.src in self.addrs.get(s[1], [])
        start = next((s for s in rest if s[1] == origin), None) if origin else None
        start = start or next((s for s in rest if made_here(s)), rest[0])
        order, seen, cur = [], {}, start
        while cur is not None:
            rest.remove(cur)
            d = self.direction(cur[1], cur[2], cur[3], cur[1] in seen, seen.get(cur[1]))
            seen[cur[1]] = cur
            order.append((cur, d))
            i = self.iface(cur[1], cur[2])
            nxt = None
            if d == "out" and i is not None and i.peer:
                nxt = next((s for s in rest if (s[1], s[2]) == i.peer), None)
            if nxt is None:
                nxt = next((s for s in rest if s[1] == cur[1]), None)
            cur = nxt if nxt is not None else (rest[0] if rest else None)
        return order

    def hops_of(self, sightings, origin: str | None = None) -> list[Hop]:
        hops = []
        for (t, node, ifname, pkt), d in self.causal(self.canonical(sightings), origin):
            ip = _inner_ip(pkt)
            hops.append(Hop(node, ifname, d, header_summary(pkt), ip.ttl if ip is not None else None, packet=pkt))
        return hops

    # ---- decisions
    def route_get(self, node, dst, src=None, iif=None) -> tuple[bool, str]:
        cmd = f"ip route get {dst}" + (f" from {src} iif {iif}" if iif else "")
        r = self.run(node, cmd)
        out = " ".join((r.stdout if r.ok else r.stderr).split())
        # a cached path MTU (learned from an ICMP "fragmentation needed") carries a countdown:
        # the number depends on when the walk ran, so the text names it instead
        out = re.sub(r"\bexpires -?\d+sec\b", "expires <timer>", out)
        return r.ok, out

    def neighbour(self, node, dev, ip) -> str:
        r = self.run(node, f"ip neigh show {ip} dev {dev}")
        line = r.stdout.strip()
        if not line:
            return f"neighbour {ip} on {dev}: no entry (`ip neigh show {ip} dev {dev}` is empty)"
        parts = line.split()
        state = parts[-1]
        if state in ("FAILED", "INCOMPLETE"):
            # which of the two the entry is in when read depends on timing (INCOMPLETE while the
            # kernel retries, FAILED after its last try): the text names both, so it does not vary
            return f"neighbour {ip} on {dev}: ARP got no answer (INCOMPLETE, then FAILED)"
        mac = parts[parts.index("lladdr") + 1] if "lladdr" in parts else "?"
        how = "PERMANENT" if state == "PERMANENT" else "learned by ARP"
        return f"neighbour {ip} lladdr {mac} dev {dev} ({how})"

    def fdb(self, node, bridge, mac) -> str:
        br = self.iface(node, bridge)
        if br is not None and br.mac == mac:
            return f"bridge {bridge}: {mac} is the bridge's own MAC, so the frame goes up to {node}'s IP stack"
        r = self.run(node, f"bridge fdb show br {bridge}")
        for line in r.stdout.splitlines():
            p = line.split()
            if p and p[0] == mac and "master" in p:
                return f"bridge {bridge} FDB: {' '.join(p[:p.index('master') + 2])} (port {p[2]})"
        return f"bridge {bridge} FDB: no entry for {mac}: flooded to every port"

    def vxlan_fdb(self, node, dev, mac) -> str:
        r = self.run(node, f"bridge fdb show dev {dev}")
        for line in r.stdout.splitlines():
            p = line.split()
            if p and p[0] == mac and "dst" in p:
                return f"VXLAN FDB: {' '.join(p)} (remote VTEP {p[p.index('dst') + 1]})"
        default = [l.split() for l in r.stdout.splitlines() if l.startswith("00:00:00:00:00:00") and " dst " in l]
        if default:
            dsts = ", ".join(p[p.index("dst") + 1] for p in default)
            return f"VXLAN FDB on {dev}: no entry for {mac}; the default entry sends it to {dsts}"
        return f"VXLAN FDB on {dev}: no entry for {mac} (and no default 00:00:00:00:00:00 entry)"

    def iptables(self, node, chains, once: bool = True) -> list[str]:
        """The rules of CHAINS whose counters moved, each followed by the moved rules of the user-defined
        chain it jumps to (``-j DOCKER`` then ``-A DOCKER ... -j DNAT``), in ``iptables-save`` order.

        With ``once`` a rule is named at the first hop that asks for its chain only (a packet crosses
        a chain once per node; later hops in the same node do not repeat it).
        """
        moved = self.moved.get(node, [])
        user = self.user_chains.get(node, set())
        out = []

        def emit(table, chain, depth):
            for key, b, a in moved:
                t, rule = key[0], key[1]
                c = rule.split()[0] if " policy " in rule else _chain(rule)
                if t != table or c != chain or (once and (node, key) in self.named):
                    continue
                if once:
                    self.named.add((node, key))
                out.append(f"iptables -t {t}: {rule} [{b[0]}:{b[1]} -> {a[0]}:{a[1]}]")
                target = _target(rule)
                if target is not None and (t, target) in user and depth < 16:
                    emit(t, target, depth + 1)

        for table in dict.fromkeys(k[0] for k, _, _ in moved):
            for chain in chains:
                emit(table, chain, 0)
        return out

    def process(self, pid) -> str:
        """A process named by its command line, stably: ``python -m netlab.flannel udp`` (no path, no pid)."""
        argv = [a for a in self.run(None, f"cat /proc/{pid}/cmdline").stdout.split("\0") if a]
        if not argv:
            return self.run(None, f"cat /proc/{pid}/comm").stdout.strip() or "?"
        words = [argv[0].rsplit("/", 1)[-1]]
        if len(argv) > 2 and argv[1] == "-m":
            words += argv[1:4]
        return " ".join(words)

    def tun_pids(self, node, dev) -> list[str]:
        """The processes in NODE holding TUN device DEV open."""
        r = self.run(None, f"grep -l '^iff:[[:space:]]*{dev}$' /proc/[0-9]*/fdinfo/*")
        pids = sorted({p.split("/")[2] for p in r.stdout.split()}, key=int)
        # every node's daemon may call its device flannel0: keep the processes in this node's netns
        here = self.run(node, "readlink /proc/self/ns/net").stdout.strip()
        return [p for p in pids if self.run(None, f"readlink /proc/{p}/ns/net").stdout.strip() == here]

    def process_log(self, node, dev, dst) -> str | None:
        """The last line about DST in the log of the process reading TUN DEV (its ``--log FILE``), if any."""
        for pid in self.tun_pids(node, dev):
            argv = self.run(None, f"cat /proc/{pid}/cmdline").stdout.split("\0")
            if "--log" in argv[:-1]:
                log = self.run(node, f"cat {shlex.quote(argv[argv.index('--log') + 1])}").stdout
                lines = [l for l in log.splitlines() if re.search(rf"\b{re.escape(dst)}\b", l)]
                if lines:
                    return lines[-1]
        return None

    def tun_reader(self, node, dev) -> str:
        pids = self.tun_pids(node, dev)
        if not pids:
            return f"user space: no process has TUN {dev} open; the packet waits in its queue and is lost"
        names = sorted({self.process(pid) for pid in pids})
        return f"user space: {', '.join(names)} read it from TUN {dev}"

    def decide(self, hops: list[Hop], src_node: str):
        """Fill in each hop's decisions from the kernel."""
        from scapy.layers.l2 import Ether
        for k, h in enumerate(hops):
            i = self.iface(h.node, h.interface)
            ip = _inner_ip(h.packet)
            outer = [l for l in layers(h.packet) if l.__class__.__name__ == "IP"]
            tunnelled = len(outer) > 1
            eth = h.packet.getlayer(Ether)
            nxt = hops[k + 1] if k + 1 < len(hops) else None
            prev = hops[k - 1] if k else None
            if h.direction == "out":
                if i is not None and i.master:  # leaving by a bridge port
                    continue
                first_out = prev is None or prev.node != h.node
                if tunnelled:  # the encapsulated packet leaves by the underlay
                    ok, r = self.route_get(h.node, outer[0].dst)
                    h.decisions.append(f"route: {r}")
                    nh = re.search(r" via (\S+)", r)
                    h.decisions.append(self.neighbour(h.node, h.interface, nh.group(1) if nh else outer[0].dst))
                    continue
                if first_out and h.node == src_node:
                    ok, r = self.route_get(h.node, ip.dst)
                    h.decisions.append(f"route: {r}")
                    h.decisions += self.iptables(h.node, ("OUTPUT", "POSTROUTING"))
                elif self.attribute_rules:
                    h.decisions += self.iptables(h.node, ("POSTROUTING",))
                pip = _inner_ip(prev.packet) if prev is not None and prev.node == h.node else None
                if pip is not None and pip.src != ip.src:
                    how = "SNAT/MASQUERADE" if self.attribute_rules else "conntrack: the reverse of the DNAT"
                    h.decisions.append(f"source rewritten: {pip.src} -> {ip.src} ({how})")
                if i is not None and i.kind == "tun":
                    h.decisions.append(self.tun_reader(h.node, h.interface))
                    continue
                route = self._last_route(hops, k)
                nh = re.search(r" via (\S+)", route or "")
                target = nh.group(1) if nh else ip.dst
                if eth is not None:
                    h.decisions.append(self.neighbour(h.node, h.interface, target))
                if i is not None and i.kind == "bridge" and eth is not None:
                    h.decisions.append(self.fdb(h.node, h.interface, eth.dst))
                if i is not None and i.kind == "vxlan" and eth is not None:
                    h.decisions.append(self.vxlan_fdb(h.node, h.interface, eth.dst))
                continue
            # direction "in"
            if i is not None and i.master:
                h.decisions.append(self.fdb(h.node, i.master, eth.dst) if eth is not None else "")
                continue
            if i is not None and i.kind == "bridge" and eth is not None and eth.dst != i.mac:
                h.decisions.append(f"bridge {h.interface} forwards it between its ports"
                                   f" (seen on the bridge device in promiscuous mode)")
                continue
            if tunnelled:
                ok, r = self.route_get(h.node, outer[0].dst, outer[0].src, h.interface)
                if ok and r.startswith("local "):  # the outer packet is for this node: who opens it?
                    h.decisions.append(self.decapsulation(h, nxt))
                else:
                    h.decisions.append(f"route: {r}")
                continue
            dst = ip.dst
            pre = self.iptables(h.node, ("PREROUTING",)) if self.attribute_rules else []
            h.decisions += pre  # PREROUTING runs before the routing decision (nat: DNAT)
            if nxt is not None and nxt.node == h.node and _inner_ip(nxt.packet) is not None \
                    and _inner_ip(nxt.packet).dst != ip.dst:
                dst = _inner_ip(nxt.packet).dst
                if any(re.search(r"\s-j DNAT\b", d) for d in pre):
                    h.decisions.append(f"destination rewritten: {_endpoint(ip, 'dst')} ->"
                                       f" {_endpoint(_inner_ip(nxt.packet), 'dst')} (DNAT)")
                else:
                    h.decisions.append(f"destination rewritten before routing: {ip.dst} -> {dst}"
                                       f" (conntrack: {'DNAT' if self.attribute_rules else 'the reverse of the NAT'})")
            ok, r = self.route_get(h.node, dst, ip.src, h.interface)
            h.decisions.append(f"route: {r}")
            if self.attribute_rules:
                h.decisions += self.iptables(h.node, ("INPUT", "FORWARD"))
            if i is not None and i.kind == "tun":
                h.decisions.insert(0, self.tun_reader(h.node, h.interface).replace("read it from", "wrote it to"))

    def socket_owners(self, node, port) -> list[str] | None:
        """Processes holding a UDP socket on PORT in NODE (``ss -Hulpn``); [] for a kernel socket, None for none."""
        r = self.run(node, f"ss -Hulpn 'sport = :{port}'")
        lines = [l for l in r.stdout.splitlines() if l.strip()]
        if not lines:
            return None
        return sorted({self.process(pid) for pid in re.findall(r"pid=(\d+)", r.stdout)})

    def decapsulation(self, h: Hop, nxt: Hop | None) -> str:
        """Who takes a tunnelled datagram addressed to this node apart: the kernel's VXLAN or a process."""
        from scapy.layers.inet import UDP
        from scapy.layers.vxlan import VXLAN
        stack = layers(h.packet)
        udp = next((l for l in stack if isinstance(l, UDP)), None)
        port = udp.dport if udp is not None else "?"
        vxl = next((l for l in stack if isinstance(l, VXLAN)), None)
        devs = [d for d in self.vxlan_devices(h.node) if d[2] == port]
        if vxl is not None and devs:
            owners = self.socket_owners(h.node, port)
            sock = ("no process holds it" if not owners else f"also held by {', '.join(owners)}")
            match = [d for d in devs if d[1] == vxl.vni]
            if match:
                return (f"UDP {port} is the kernel's VXLAN socket ({sock}): kernel VXLAN decapsulation,"
                        f" VNI {vxl.vni} is {match[0][0]}'s, so the outer headers are stripped and the"
                        f" inner frame enters {match[0][0]}")
            others = ", ".join(f"{n} has VNI {v}" for n, v, _ in devs)
            h.drop = (f"the kernel's VXLAN socket on UDP {port} took the datagram, but no VXLAN device in"
                      f" {h.node} has VNI {vxl.vni} ({others}): the frame is dropped, and no device counts it")
            return (f"UDP {port} is the kernel's VXLAN socket ({sock}), but VNI {vxl.vni} matches no device"
                    f" here ({others})")
        owners = self.socket_owners(h.node, port)
        if owners:
            into = f" and writes the inner packet to {nxt.interface}" if nxt is not None and nxt.node == h.node else ""
            return f"UDP {port} to a user-space socket of {', '.join(owners)}: the process decapsulates it{into}"
        h.drop = f"no socket on UDP {port} in {h.node}: the kernel drops the datagram (ICMP port unreachable)"
        return f"UDP {port}: no socket listens here"

    def cable_mtu(self, h: Hop) -> str | None:
        """If H left by a veth whose other end accepts less than the packet's size, say so."""
        i = self.iface(h.node, h.interface)
        if i is None or not i.peer or h.direction != "out":
            return None
        from scapy.layers.inet import IP
        ip = h.packet.getlayer(IP)
        peer = self.links.get(i.peer[0], {}).get(i.peer[1], {})
        mtu = peer.get("mtu")
        if ip is None or mtu is None or len(ip) <= mtu:
            return None
        return (f"the packet is {len(ip)} bytes, but {i.peer[1]} in {i.peer[0]}, the other end of the cable,"
                f" has MTU {mtu}: the veth drops it (RX dropped on {i.peer[1]}), and no ICMP error is sent")

    @staticmethod
    def _last_route(hops, k):
        for h in reversed(hops[:k + 1]):
            if h.node != hops[k].node:
                break
            for d in h.decisions:
                if d.startswith("route: "):
                    return d
        return None

    # ---- the end of the walk
    def fate(self, hops, dst_ip, origin, errors) -> tuple[bool, str | None, str | None]:
        last = hops[-1] if hops else None
        if last is not None and last.direction == "in" and any(d.startswith("route: local ") for d in last.decisions) \
                and _inner_ip(last.packet).dst in self.addrs.get(last.node, []):
            return True, None, None
        node = last.node if last else origin
        if last is not None and last.drop:
            return False, node, last.drop
        for e in errors:
            icmp = _inner_ip(e[3]).payload
            if icmp.type == 11:
                return False, node, (f"TTL exceeded: {_inner_ip(e[3]).src} sent ICMP time-exceeded"
                                     f" (the packet arrived with ttl {last.ttl if last else '?'})")
        drops = [d for d in self.iptables(node, ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"), once=False)
                 if re.search(r"(-j (DROP|REJECT)|policy DROP)", d)]
        if drops:
            return False, node, "dropped by " + "; ".join(drops)
        if last is None:
            ok, r = self.route_get(node, dst_ip)
            if not ok:
                return False, node, self._no_route(node, dst_ip, r)
            if r.startswith("local "):  # to one of its own addresses: through lo, never on a wire
                return True, None, None
            why = (self.sent.stderr or self.sent.stdout).strip().splitlines()
            return False, node, f"nothing left {node}: {why[0] if why else 'no packet was captured'}"
        tun = [d for d in last.decisions if d.startswith("user space: ")]
        if last.direction == "out" and tun:
            answer = "".join(f"; {_inner_ip(e[3]).src} answered ICMP {_inner_ip(e[3]).payload.sprintf('%ICMP.type%')}"
                             f" code {_inner_ip(e[3]).payload.code}" for e in errors[:1])
            said = "" if errors else self.process_log(node, last.interface, _inner_ip(last.packet).dst)
            answer += f"; nothing came back, and its log says: {said}" if said else ""
            return False, node, f"left the kernel by TUN {last.interface}: {tun[0][len('user space: '):]}{answer}"
        nofdb = [d for d in last.decisions if d.startswith("VXLAN FDB on ") and "no entry" in d]
        if last.direction == "out" and nofdb:
            return False, node, (f"{nofdb[0]}: the VTEP has no remote VTEP to send the frame to, so it drops it"
                                 f" (TX dropped on {last.interface}) and nothing reaches the wire")
        mtu = self.cable_mtu(last)
        if mtu:
            return False, node, mtu
        routes = [d for d in last.decisions if d.startswith("route: ")]
        for d in routes:
            if d.startswith("route: RTNETLINK"):
                ip = _inner_ip(last.packet)
                return False, node, self._no_route(node, ip.dst, d[len("route: "):],
                                                   f"ip route get {ip.dst} from {ip.src} iif {last.interface}")
        neigh = [d for d in last.decisions if d.startswith("neighbour ")]
        if last.direction == "in" and routes:  # routed, but it never left: was the next hop's MAC known?
            m = re.match(r"route: (\S+)(?: from \S+)?(?: via (\S+))? dev (\S+)", routes[-1])
            if m and m.group(1) != "local":
                neigh.append(self.neighbour(node, m.group(3), m.group(2) or m.group(1)))
        for d in neigh:
            if "ARP got no answer" in d or "no entry" in d:
                return False, node, f"no neighbour: {d}"
        for e in errors:
            icmp = _inner_ip(e[3]).payload
            return False, node, f"{_inner_ip(e[3]).src} answered ICMP {icmp.sprintf('%ICMP.type%')}" \
                                f" code {icmp.code}"
        return False, node, "the packet was not seen again after this hop (no kernel table explains it)"

    def _no_route(self, node, dst, said, cmd=None, lead="no route: ") -> str:
        m = self.run(node, f"ip route show match {dst}")
        routes = [l.strip() for l in m.stdout.splitlines() if l.strip()]
        hole = [r for r in routes if r.split()[0] in ("blackhole", "unreachable", "prohibit")]
        text = f"{lead}`{cmd or 'ip route get ' + dst}` says '{said}'"
        if hole:
            text += f"; the route that matched is '{hole[-1]}'"
        src = re.search(r" from (\S+) iif (\S+)", cmd or "")
        if src and self.run(node, f"ip route show table local {src.group(1)}").stdout.startswith("local "):
            text += (f"; its source {src.group(1)} is {node}'s own address, a martian to Linux when it arrives"
                     f" on {src.group(2)}, dropped unless that interface has accept_local=1")
        return text

    def missing_reply(self, last: Hop) -> str:
        """The request reached LAST's node and no answer was captured: ask that node's kernel why."""
        node, ip = last.node, _inner_ip(last.packet)
        back_src, back_dst = ip.dst, ip.src
        cmd = f"ip route get {back_dst} from {back_src}"
        r = self.run(node, cmd)
        said = " ".join((r.stdout if r.ok else r.stderr).split())
        if not r.ok:
            return self._no_route(node, back_dst, said, cmd, lead=f"no reply seen: {node}'s ")
        drops = [d for d in self.iptables(node, ("INPUT", "OUTPUT", "POSTROUTING"), once=False)
                 if re.search(r"(-j (DROP|REJECT)|policy DROP)", d)]
        if drops:
            return f"no reply seen: {node} dropped it: " + "; ".join(drops)
        if self.proto == "icmp":
            ignore = self.run(node, "sysctl -n net.ipv4.icmp_echo_ignore_all").stdout.strip()
            if ignore == "1":
                return f"no reply seen: {node} has net.ipv4.icmp_echo_ignore_all=1, so it does not answer pings"
        limited = "" if set(self.nodes) >= set(self.topo.nodes) else \
            f" (captures ran only in {', '.join(self.nodes)})"
        return (f"no reply seen: {node}'s route back is `{cmd}`: '{said}', but no answer was captured"
                f" on any interface{limited}")

    def build(self, sightings) -> Walk:
        req, rep, err = self.classify(sightings)
        hops = self.hops_of(req, self.src)
        self.attribute_rules = True
        self.decide(hops, self.src)
        delivered, at, reason = self.fate(hops, self.dst, self.src, err)
        walk = Walk(self.src, self.dst_given, self.proto, hops, delivered, at, reason, topology=self.topo)
        back = rep or err
        if delivered and hops and not back and self.proto in ("icmp", "tcp"):
            # an echo request is answered by an echo reply, a SYN by a SYN-ACK or a RST: one was due
            walk.no_reply = self.missing_reply(hops[-1])
        if back:
            rhops = self.hops_of(back)
            origin = rhops[0].node
            self.attribute_rules = False  # counters moved by the request are named once, on its walk
            self.decide(rhops, origin)
            back_ip = _inner_ip(back[0][3])
            rdel, rat, rreason = self.fate(rhops, back_ip.dst, origin, [])
            what = "reply" if rep else "error"
            walk.reply = Walk(origin, self.src, self.proto if rep else "icmp", rhops, rdel, rat, rreason,
                              topology=self.topo, kind=what)
        return walk


def trace(world, src: str, dst: str, proto: str = "icmp", port: int = 5000, ttl: int | None = None,
          nodes=None, size: int | None = None) -> Walk:
    """Send one packet from node ``src`` to ``dst`` (an IP or a node name) and follow it.

    proto: "icmp" (ping), "udp" or "tcp" (to ``port``, from source port 40000). ``ttl`` sets the
    first TTL (``ping -t``). ``nodes`` limits the captures to these nodes (default: all of them).
    ``size`` is the payload size in bytes (``ping -s``; the UDP payload padded to it), to walk a big packet.
    """
    return _Tracer(world, src, dst, proto, port, ttl, nodes, size).go()
