"""Watching the packet: capture on every interface, send one packet, and recognise it in the captures.

A sighting is ``(time, node, interface, packet)``; the packet is recognised at every sighting by its
payload (ICMP, UDP) or its sequence number (TCP), also inside a VXLAN or Flannel-UDP tunnel, and sorted
into the request, the reply, and ICMP errors about the request.
"""

from __future__ import annotations

from .. import kernel
from .counters import Counters
from .headers import SPORT, UDP_MARK, inner_ip


def sender(proto: str, dst: str, port: int, ttl: int | None, size: int | None = None) -> str:
    """The command that sends the one packet: ``ping -c 1``, or a few lines of Python for UDP or TCP."""
    if proto == "icmp":
        return f"ping -c 1 -W 1 {'-t %d ' % ttl if ttl else ''}{'-s %d ' % size if size else ''}{dst}"
    ttl_opt = f"s.setsockopt(0,2,{ttl});" if ttl else ""
    if proto == "udp":
        pad = f"+b'.'*{size - len(UDP_MARK)}" if size and size > len(UDP_MARK) else ""
        return (f"python3 -c \"import socket;s=socket.socket(2,2);s.bind(('',{SPORT}));{ttl_opt}"
                f"s.sendto({UDP_MARK!r}{pad},('{dst}',{port}))\"")
    return (f"python3 -c \"import socket;s=socket.socket(2,1);s.setsockopt(1,2,1);s.bind(('',{SPORT}));{ttl_opt}s.settimeout(1)\n"
            f"try: s.connect(('{dst}',{port}))\nexcept OSError as e: print(e)\"")


def watch(world, links, nodes, src, command, rank):
    """Capture in NODES, run COMMAND in SRC, stop the captures; read the iptables counters around it all.

    Returns the sender's result, the sightings sorted by time (ties broken by RANK, the causal order of
    sightings in one namespace), and the :class:`Counters` that moved.
    """
    before = {n: kernel.iptables(world, n) for n in nodes}
    caps = []
    for n in nodes:  # tcpdump needs the interface up; the kernel says which are
        up = links.read(n)
        # declared interfaces first, then those made at run time, in the kernel's order: with equal
        # timestamps (a received skb keeps its stamp through decapsulation) the order is causal
        declared = world.topology.nodes[n].interfaces
        for name in [i for i in declared if i in up] + [i for i in up if i not in declared]:
            caps.append(world.capture(n, name, "ip"))
    try:
        sent = world.run(src, command, check=False)
    finally:
        sightings = []
        for k, c in enumerate(caps):
            # tcpdump may lag on a busy machine: the first capture waits longer for output to settle,
            # which gives every other capture the same time before it is stopped
            for p in c.stop(settle=0.15 if k == 0 else 0.03):
                sightings.append((p.time, c.node, c.iface, p))  # exact (pcap nanoseconds), not float
    # Within one namespace a received skb keeps its timestamp, so the bridge port and the bridge
    # device can show the same nanosecond: the causal rank breaks such ties.
    sightings.sort(key=lambda s: (s[0], rank(s[1], s[2], s[3])))
    after = {n: kernel.iptables(world, n) for n in nodes}
    return sent, sightings, Counters(before, after)


def classify(sightings, proto: str, src: str, port: int):
    """Split sightings into request, reply and ICMP-error lists."""
    seen = _Recogniser(proto, src, port)
    out = {"request": [], "reply": [], "error": []}
    for s in sightings:
        kind = seen.kind(s)
        if kind is not None:
            out[kind].append(s)
    return out["request"], out["reply"], out["error"]


class _Recogniser:
    """Recognises the walked packet, its answer and errors about it, sighting by sighting."""

    def __init__(self, proto, src, port):
        self.proto, self.src, self.port = proto, src, port
        self.sig = None  # the request's identity: payload bytes, or the TCP sequence number
        self.sig_ids = None  # an echo request's (id, seq): an error may quote only its first 8 bytes

    def kind(self, s) -> str | None:
        from scapy.layers.inet import ICMP, TCP, UDP  # scapy is imported lazily (see netlab.walk.headers)
        ip = inner_ip(s[3])
        if ip is None:
            return None
        l4 = ip.payload
        found = None
        if self.proto == "icmp" and isinstance(l4, ICMP) and l4.type in (0, 8):
            found = self._echo(s, l4)
        elif self.proto == "udp" and isinstance(l4, UDP) and bytes(l4.payload).startswith(UDP_MARK):
            found = "reply" if l4.dport == SPORT else "request"
        elif self.proto == "tcp" and isinstance(l4, TCP):
            found = self._tcp(l4)
        if found is None and self._about_request(l4):
            found = "error"
        return found

    def _echo(self, s, l4) -> str | None:
        load = bytes(l4.payload)
        if l4.type == 8 and self.sig is None and s[1] == self.src:
            self.sig, self.sig_ids = load, (l4.id, l4.seq)
        if self.sig is not None and load == self.sig:
            return "request" if l4.type == 8 else "reply"
        return None

    def _tcp(self, l4) -> str | None:
        if l4.flags.S and not l4.flags.A and l4.sport == SPORT:
            self.sig = self.sig if self.sig is not None else l4.seq
            if l4.seq == self.sig:
                return "request"
        if self.sig is not None and l4.flags.A and l4.ack == (self.sig + 1) % 2 ** 32 and l4.dport == SPORT:
            return "reply"
        return None

    def _about_request(self, l4) -> bool:
        """Is L4 an ICMP error (unreachable, time exceeded) quoting the request?"""
        from scapy.layers.inet import ICMP, ICMPerror, IPerror, TCPerror, UDPerror
        if not (isinstance(l4, ICMP) and l4.type in (3, 11) and isinstance(l4.payload, IPerror)):
            return False
        q = l4.payload.payload
        if self.proto == "icmp":
            return isinstance(q, ICMPerror) and self.sig is not None and (
                bytes(q.payload) == self.sig or (not bytes(q.payload) and (q.id, q.seq) == self.sig_ids))
        if self.proto == "udp":
            return isinstance(q, UDPerror) and (
                bytes(q.payload).startswith(UDP_MARK)  # a kernel quotes up to 576 bytes,
                or (not bytes(q.payload) and (q.sport, q.dport) == (SPORT, self.port)))  # flannel 8
        return self.proto == "tcp" and isinstance(q, TCPerror) and q.seq == self.sig
