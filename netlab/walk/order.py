"""Putting the sightings of one packet in causal order, cable by cable, and naming each one's direction.

Timestamps from different namespaces are not strictly causal (a transmit tap and the receive on the
other end of a veth can be stamped in either order), so the walk starts where the packet was made, goes
from an interface it left by to the other end of that cable, and uses time only inside one namespace.
"""

from __future__ import annotations

from .headers import ether, header_summary, inner_ip, tunnelled
from .model import Hop


class Cables:
    """Orders sightings along the world's cables; LINKS says what each interface is."""

    def __init__(self, links):
        self.links = links

    def rank(self, node, ifname, pkt) -> float:
        """Causal order of sightings with equal timestamps in one node: cable in, bridge, routed, out."""
        i, eth = self.links.iface(node, ifname), ether(pkt)
        if i is None or eth is None:
            return 1.5
        if i.master and i.kind == "tun":  # a VM's tap port: first if the VM wrote it, last if it reads it
            return 0 if eth.src in self.links.behind_tap(node, ifname) else 3
        if i.master:
            peer = self.links.iface(*i.peer) if i.peer else None
            return 0 if peer is not None and eth.src == peer.mac else 3 if eth.src in self.links.macs(node) else 2
        if i.kind == "bridge":
            return 2.5 if eth.src == i.mac else 1
        if eth.src != i.mac and tunnelled(pkt):
            return 0.4  # received and decapsulated: the outer sighting keeps its stamp, and comes first
        return 2.5 if eth.src == i.mac else 0.5

    def direction(self, node, ifname, pkt, seen_in_node, prev_in_node=None) -> str:
        """"in" or "out": which way the packet crossed IFNAME of NODE at this sighting."""
        i, eth = self.links.iface(node, ifname), ether(pkt)
        if i is None or eth is None:
            return self._tun_direction(node, pkt, seen_in_node, prev_in_node)
        if i.master and i.kind == "tun":  # a VM's tap port: in from the VM behind it, else out to it
            return "in" if eth.src in self.links.behind_tap(node, ifname) else "out"
        if eth.src == i.mac:
            return "out"
        if i.kind == "veth" and eth.src in self.links.macs(node) - {None}:
            return "out"  # sent with one of this node's MACs (a bridge's, through its port): leaving
        if i.kind in ("bridge", "vxlan") or (i.kind == "veth" and not i.master):
            return "in"  # a routed interface sends with its own MAC
        if i.kind == "veth" and i.peer:
            peer = self.links.iface(*i.peer)
            if peer and eth.src == peer.mac:
                return "in"
            if i.master:  # a bridge port: in from the cable if the bridge has not had it yet
                return "out" if seen_in_node else "in"
        return "out" if seen_in_node else "in"

    def _tun_direction(self, node, pkt, seen_in_node, prev_in_node) -> str:
        """TUN (raw IP): out if the node sent it or routed it there, in if a daemon wrote it after a
        tunnelled datagram arrived."""
        ip = inner_ip(pkt)
        if ip is not None and ip.src in self.links.addrs.get(node, []):
            return "out"
        if prev_in_node is not None and tunnelled(prev_in_node[3]):
            return "in"
        return "out" if seen_in_node else "in"

    def canonical(self, sightings) -> list:
        """Put a bridge's promiscuous copy of a frame it forwards right after the port it came in by.

        The bridge forwards the frame before it passes the copy up to its own device, and the two
        may or may not get distinct timestamps; the bridge's decision belongs before the port out.
        """
        out = list(sightings)
        for s in list(out):
            i, eth = self.links.iface(s[1], s[2]), ether(s[3])
            if i is None or i.kind != "bridge" or eth is None or i.mac in (eth.src, eth.dst):
                continue
            k = out.index(s)
            ports = [j for j in range(k) if out[j][1] == s[1] and
                     getattr(self.links.iface(out[j][1], out[j][2]), "master", None) == i.name]
            if ports:
                out.insert(ports[0] + 1, out.pop(k))
        return out

    def causal(self, sightings, origin: str | None = None) -> list:
        """Order sightings along the cables, using time only inside one namespace.

        The walk starts where the packet was made (its source address is local to that node), goes
        from an interface it left by to the other end of that cable, and otherwise takes the earliest
        remaining sighting in the same node; only when a node has nothing left does global time decide.
        """
        rest = list(sightings)
        if not rest:
            return []
        order, seen, cur = [], {}, self._start(rest, origin)
        while cur is not None:
            rest.remove(cur)
            d = self.direction(cur[1], cur[2], cur[3], cur[1] in seen, seen.get(cur[1]))
            seen[cur[1]] = cur
            order.append((cur, d))
            cur = self._next(cur, d, rest)
        return order

    def _start(self, rest, origin):
        def made_here(s):
            ip = inner_ip(s[3])
            return ip is not None and ip.src in self.links.addrs.get(s[1], [])
        def from_vm(s):  # written into a tap port by the VM behind it (chapter 9): made there
            eth = ether(s[3])
            return eth is not None and eth.src in self.links.behind_tap(s[1], s[2])
        start = next((s for s in rest if s[1] == origin), None) if origin else None
        return start or next((s for s in rest if from_vm(s)), None) or next((s for s in rest if made_here(s)), rest[0])

    def _next(self, cur, d, rest):
        """The other end of the cable CUR left by, else the next sighting in its node, else the earliest."""
        i = self.links.iface(cur[1], cur[2])
        nxt = None
        if d == "out" and i is not None and i.peer:
            nxt = next((s for s in rest if (s[1], s[2]) == i.peer), None)
        if nxt is None:
            nxt = next((s for s in rest if s[1] == cur[1]), None)
        return nxt if nxt is not None else (rest[0] if rest else None)

    def hops(self, sightings, origin: str | None = None) -> list[Hop]:
        """The sightings as hops in causal order, each with its direction and header summary."""
        hops = []
        for (t, node, ifname, pkt), d in self.causal(self.canonical(sightings), origin):
            ip = inner_ip(pkt)
            hops.append(Hop(node, ifname, d, header_summary(pkt), ip.ttl if ip is not None else None, packet=pkt))
        return hops
