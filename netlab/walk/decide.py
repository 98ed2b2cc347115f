"""Each hop's decisions, read from its node's kernel: why the packet left where it left, or what took it in.

A packet leaving a node was routed (``ip route get``), its next hop's MAC looked up (``ip neigh``), and,
on a bridge or a VXLAN device, its destination MAC looked up in the FDB; a TUN device hands it to the
process that reads it. A packet arriving is switched by a bridge, routed, or, tunnelled to this node,
taken apart by the kernel's VXLAN or by a process. The iptables rules whose counters moved are named at
the hop where the packet crossed their chain.
"""

from __future__ import annotations

from .decisions import BridgeForward, KernelVxlan, Rewrite, Route, UserSocket
from .headers import endpoint, ether, inner_ip, ip_headers, layers
from .model import Hop


def _last_route(hops, k) -> Route | None:
    """The route decided most recently for hop K, in K's node (at K or a hop before it there)."""
    for h in reversed(hops[:k + 1]):
        if h.node != hops[k].node:
            break
        for d in h.decisions:
            if isinstance(d, Route):
                return d
    return None


class Decider:
    """Fills in each hop's decisions from READS (kernel tables), LINKS and the iptables COUNTERS.

    ``request`` says which walk the hops are: the rules whose counters moved are named on the request's
    walk only (the counters cannot tell the request's hits from the reply's), and a rewrite on the
    reply's walk is conntrack undoing the request's NAT.
    """

    def __init__(self, reads, links, counters):
        self.reads, self.links, self.counters = reads, links, counters

    def decide(self, hops: list[Hop], origin: str, request: bool = True):
        for k, h in enumerate(hops):
            if h.direction == "out":
                self._leaving(hops, k, origin, request)
            else:
                self._arriving(hops, k, request)

    # ---- a packet leaving a node
    def _leaving(self, hops, k, origin, request):
        h, prev = hops[k], hops[k - 1] if k else None
        i = self.links.iface(h.node, h.interface)
        if i is not None and i.master:  # leaving by a bridge port: the bridge decided, on its device
            if i.kind == "tun":  # a tap device on a bridge (a VM's NIC, chapter 9): its reader takes the frame
                h.decisions.append(self.reads.tun_handoff(h.node, h.interface))
            return
        outer = ip_headers(h.packet)
        if len(outer) > 1:  # the encapsulated packet leaves by the underlay
            ok, route = self.reads.route(h.node, outer[0].dst)
            h.decisions.append(route)
            h.decisions.append(self.reads.neighbour(h.node, h.interface, route.via or outer[0].dst))
            return
        ip = inner_ip(h.packet)
        if (prev is None or prev.node != h.node) and h.node == origin:
            ok, route = self.reads.route(h.node, ip.dst)
            h.decisions.append(route)
            h.decisions += self.counters.hits(h.node, ("OUTPUT", "POSTROUTING"))
        elif request:
            h.decisions += self.counters.hits(h.node, ("POSTROUTING",))
        pip = inner_ip(prev.packet) if prev is not None and prev.node == h.node else None
        if pip is not None and pip.src != ip.src:
            how = "SNAT/MASQUERADE" if request else "conntrack: the reverse of the DNAT"
            h.decisions.append(Rewrite("source", pip.src, ip.src, how))
        if i is not None and i.kind == "tun":
            h.decisions.append(self.reads.tun_handoff(h.node, h.interface))
            return
        self._next_hop(h, i, _last_route(hops, k), ip)

    def _next_hop(self, h, i, route, ip):
        """The link-layer lookups for a routed packet: the next hop's MAC, then a bridge's or VTEP's FDB."""
        eth = ether(h.packet)
        if eth is None:
            return
        h.decisions.append(self.reads.neighbour(h.node, h.interface, (route.via if route else None) or ip.dst))
        if i is not None and i.kind == "bridge":
            h.decisions.append(self.reads.bridge_fdb(h.node, h.interface, eth.dst))
        if i is not None and i.kind == "vxlan":
            h.decisions.append(self.reads.vxlan_fdb(h.node, h.interface, eth.dst))

    # ---- a packet arriving in a node
    def _arriving(self, hops, k, request):
        h = hops[k]
        i, eth = self.links.iface(h.node, h.interface), ether(h.packet)
        if i is not None and i.master:  # in by a bridge port: the bridge's FDB says where it goes
            if i.kind == "tun":  # a tap device on a bridge: the process holding it wrote the frame
                h.decisions.append(self.reads.tun_handoff(h.node, h.interface, wrote=True))
            if eth is not None:
                h.decisions.append(self.reads.bridge_fdb(h.node, i.master, eth.dst))
            return
        if i is not None and i.kind == "bridge" and eth is not None and eth.dst != i.mac:
            h.decisions.append(BridgeForward(h.interface))
            return
        outer = ip_headers(h.packet)
        nxt = hops[k + 1] if k + 1 < len(hops) else None
        if len(outer) > 1:
            ok, route = self.reads.route(h.node, outer[0].dst, outer[0].src, h.interface)
            # the outer packet is for this node: who opens it?
            h.decisions.append(self._decapsulation(h, nxt) if ok and route.local else route)
            return
        self._routed_in(h, nxt, request)
        if i is not None and i.kind == "tun":
            h.decisions.insert(0, self.reads.tun_handoff(h.node, h.interface, wrote=True))

    def _routed_in(self, h, nxt, request):
        """PREROUTING (a DNAT), the routing decision, then INPUT or FORWARD."""
        ip = inner_ip(h.packet)
        dst = ip.dst
        pre = self.counters.hits(h.node, ("PREROUTING",)) if request else []
        h.decisions += pre  # PREROUTING runs before the routing decision (nat: DNAT)
        nip = inner_ip(nxt.packet) if nxt is not None and nxt.node == h.node else None
        if nip is not None and nip.dst != ip.dst:
            dst = nip.dst
            if any(hit.dnat for hit in pre):
                h.decisions.append(Rewrite("destination", endpoint(ip, "dst"), endpoint(nip, "dst"), "DNAT"))
            else:
                how = f"conntrack: {'DNAT' if request else 'the reverse of the NAT'}"
                h.decisions.append(Rewrite("destination", ip.dst, dst, how, when=" before routing"))
        ok, route = self.reads.route(h.node, dst, ip.src, h.interface)
        h.decisions.append(route)
        if request:
            h.decisions += self.counters.hits(h.node, ("INPUT", "FORWARD"))

    def _decapsulation(self, h: Hop, nxt: Hop | None):
        """Who takes a tunnelled datagram addressed to this node apart: the kernel's VXLAN or a process."""
        from scapy.layers.inet import UDP  # scapy is imported lazily (see netlab.walk.headers)
        from scapy.layers.vxlan import VXLAN
        stack = layers(h.packet)
        udp = next((l for l in stack if isinstance(l, UDP)), None)
        port = udp.dport if udp is not None else "?"
        vxl = next((l for l in stack if isinstance(l, VXLAN)), None)
        devs = [d for d in self.links.vxlan_devices(h.node) if d[2] == port]
        if vxl is not None and devs:
            return self._kernel_vxlan(h, port, vxl.vni, devs)
        owners = self.reads.socket_owners(h.node, port)
        if owners:
            return UserSocket(port, tuple(owners), nxt.interface if nxt is not None and nxt.node == h.node else None)
        h.drop = f"no socket on UDP {port} in {h.node}: the kernel drops the datagram (ICMP port unreachable)"
        return UserSocket(port, ())

    def _kernel_vxlan(self, h, port, vni, devs) -> KernelVxlan:
        owners = self.reads.socket_owners(h.node, port)
        sock = "no process holds it" if not owners else f"also held by {', '.join(owners)}"
        match = [d for d in devs if d[1] == vni]
        if match:
            return KernelVxlan(port, vni, sock, match[0][0])
        others = ", ".join(f"{n} has VNI {v}" for n, v, _ in devs)
        h.drop = (f"the kernel's VXLAN socket on UDP {port} took the datagram, but no VXLAN device in"
                  f" {h.node} has VNI {vni} ({others}): the frame is dropped, and no device counts it")
        return KernelVxlan(port, vni, sock, None, others)
