"""What happened to the packet: delivered, or where it stopped and the kernel's reason, computed from the
hops' decision data (and a few more kernel reads where the last hop leaves a question open).

The checks run in a fixed order, from the most specific to the most general: delivered to a local
address; a drop the decisions already explain (a VNI no device has, no socket); an ICMP time-exceeded;
an iptables DROP or REJECT; a TUN device whose reader did not pass it on; a VXLAN FDB with no remote;
a smaller MTU on the cable's other end; no route; no neighbour; an ICMP error; and otherwise the hop
after which it was not seen again.
"""

from __future__ import annotations

from .decisions import Neighbour, Route, TunHandoff, VxlanFdb
from .headers import inner_ip
from .model import Hop

UNSEEN = "the packet was not seen again after this hop (no kernel table explains it)"


def _of(hop: Hop, kind) -> list:
    return [d for d in hop.decisions if isinstance(d, kind)]


class Fate:
    """Decides a walk's end from its hops, with READS, LINKS, the iptables COUNTERS and the sender's result."""

    def __init__(self, reads, links, counters, sent):
        self.reads, self.links, self.counters, self.sent = reads, links, counters, sent

    def of(self, hops, dst_ip, origin, errors) -> tuple[bool, str | None, str | None]:
        """(delivered, dropped_at, reason) of the walk HOPS from ORIGIN to DST_IP; ERRORS are the ICMP
        errors about it."""
        last = hops[-1] if hops else None
        if last is not None and (self._arrived(last) or self._into_vm(last)):
            return True, None, None
        node = last.node if last else origin
        reason = self._stopped(last, node, errors)
        if reason:
            return False, node, reason
        if last is None:
            return self._unsent(node, dst_ip)
        for check in (self._tun, self._no_remote_vtep, self._cable_mtu, self._unroutable, self._unresolved,
                      self._answered):
            reason = check(last, node, errors)
            if reason:
                return False, node, reason
        return False, node, UNSEEN

    def _arrived(self, last) -> bool:
        return (last.direction == "in" and any(r.local for r in _of(last, Route))
                and inner_ip(last.packet).dst in self.links.addrs.get(last.node, []))

    def _into_vm(self, last) -> bool:
        """Out by a tap port of a bridge to the process that holds it: a VM's NIC (chapter 9), whose
        kernel takes the frame where no capture of this world can follow it."""
        i = self.links.iface(last.node, last.interface)
        tun = _of(last, TunHandoff)
        return (last.direction == "out" and i is not None and i.kind == "tun" and bool(i.master)
                and bool(tun) and bool(tun[0].processes))

    def _stopped(self, last, node, errors) -> str | None:
        """A drop the hop's decisions explain, a TTL that ran out, or an iptables rule that dropped it."""
        if last is not None and last.drop:
            return last.drop
        for e in errors:
            if inner_ip(e[3]).payload.type == 11:
                return (f"TTL exceeded: {inner_ip(e[3]).src} sent ICMP time-exceeded"
                        f" (the packet arrived with ttl {last.ttl if last else '?'})")
        drops = self.counters.drops(node)
        return "dropped by " + "; ".join(d.text() for d in drops) if drops else None

    def _unsent(self, node, dst_ip):
        """No sighting at all: no route, a local address (through lo), or the sender's own complaint."""
        ok, route = self.reads.route(node, dst_ip)
        if not ok:
            return False, node, self.reads.no_route(node, dst_ip, route.said)
        if route.local:  # to one of its own addresses: through lo, never on a wire
            return True, None, None
        why = (self.sent.stderr or self.sent.stdout).strip().splitlines()
        return False, node, f"nothing left {node}: {why[0] if why else 'no packet was captured'}"

    def _tun(self, last, node, errors) -> str | None:
        """Routed into a TUN device: what its reader did with it (its ICMP answer, or its log)."""
        tun = _of(last, TunHandoff)
        if last.direction != "out" or not tun:
            return None
        answer = "".join(f"; {inner_ip(e[3]).src} answered ICMP {inner_ip(e[3]).payload.sprintf('%ICMP.type%')}"
                         f" code {inner_ip(e[3]).payload.code}" for e in errors[:1])
        said = "" if errors else self.reads.process_log(node, last.interface, inner_ip(last.packet).dst)
        answer += f"; nothing came back, and its log says: {said}" if said else ""
        return f"left the kernel by TUN {last.interface}: {tun[0].body()}{answer}"

    def _no_remote_vtep(self, last, node, errors) -> str | None:
        nofdb = [d for d in _of(last, VxlanFdb) if d.missing]
        if last.direction != "out" or not nofdb:
            return None
        return (f"{nofdb[0].text()}: the VTEP has no remote VTEP to send the frame to, so it drops it"
                f" (TX dropped on {last.interface}) and nothing reaches the wire")

    def _cable_mtu(self, last, node=None, errors=()) -> str | None:
        """If LAST left by a veth whose other end accepts less than the packet's size, say so."""
        i = self.links.iface(last.node, last.interface)
        if i is None or not i.peer or last.direction != "out":
            return None
        from scapy.layers.inet import IP  # scapy is imported lazily (see netlab.walk.headers)
        ip = last.packet.getlayer(IP)
        mtu = self.links.mtu(*i.peer)
        if ip is None or mtu is None or len(ip) <= mtu:
            return None
        return (f"the packet is {len(ip)} bytes, but {i.peer[1]} in {i.peer[0]}, the other end of the cable,"
                f" has MTU {mtu}: the veth drops it (RX dropped on {i.peer[1]}), and no ICMP error is sent")

    def _unroutable(self, last, node, errors) -> str | None:
        for route in _of(last, Route):
            if route.failed:
                ip = inner_ip(last.packet)
                return self.reads.no_route(node, ip.dst, route.said,
                                           f"ip route get {ip.dst} from {ip.src} iif {last.interface}",
                                           arrived=(ip.src, last.interface))
        return None

    def _unresolved(self, last, node, errors) -> str | None:
        """Routed but never sent on: was the next hop's MAC known?"""
        neigh = _of(last, Neighbour)
        routes = _of(last, Route)
        if last.direction == "in" and routes and routes[-1].resolves:
            neigh.append(self.reads.neighbour(node, *routes[-1].resolves))
        return next((f"no neighbour: {d.text()}" for d in neigh if d.unresolved), None)

    def _answered(self, last, node, errors) -> str | None:
        for e in errors[:1]:
            icmp = inner_ip(e[3]).payload
            return f"{inner_ip(e[3]).src} answered ICMP {icmp.sprintf('%ICMP.type%')} code {icmp.code}"
        return None

    def missing_reply(self, last: Hop, proto: str, limited: str = "") -> str:
        """The request reached LAST's node and no answer was captured: ask that node's kernel why.

        LIMITED names the nodes the captures ran in, when not all of them."""
        node, ip = last.node, inner_ip(last.packet)
        cmd = f"ip route get {ip.src} from {ip.dst}"
        r = self.reads.run(node, cmd)
        said = " ".join((r.stdout if r.ok else r.stderr).split())
        if not r.ok:
            return self.reads.no_route(node, ip.src, said, cmd, lead=f"no reply seen: {node}'s ")
        drops = self.counters.drops(node, ("INPUT", "OUTPUT", "POSTROUTING"))
        if drops:
            return f"no reply seen: {node} dropped it: " + "; ".join(d.text() for d in drops)
        if proto == "icmp":
            ignore = self.reads.run(node, "sysctl -n net.ipv4.icmp_echo_ignore_all").stdout.strip()
            if ignore == "1":
                return f"no reply seen: {node} has net.ipv4.icmp_echo_ignore_all=1, so it does not answer pings"
        return (f"no reply seen: {node}'s route back is `{cmd}`: '{said}', but no answer was captured"
                f" on any interface{limited}")
