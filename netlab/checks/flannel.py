"""Lab checks of flannel (chapters 5 and 6): the lease in the store, the UDP backend's routes,
the daemon's crossing counters and its datagrams on the LAN, and the VXLAN backend's VTEP.

The VXLAN backend's neighbour, FDB and route entries are checked with the shared network
checks: ``check_neighbour(..., permanent=True)``, ``check_fdb(..., dev=, dst=)`` and
``check_route_entry`` (:mod:`.network`).
"""

from __future__ import annotations

from .. import kernel
from ..flannel.lab import NETWORK_CONFIG, leases
from ..flannel.store import SUBNETS, subnet_key
from ..packets.vxlan import KERNEL_DEFAULT_PORT
from ..packets.flannel import bind_flannel_udp
from .base import Check


def check_lease(world, node: str = "node1", *, store, public_ip: str, key: str | None = None) -> Check:
    """Does the store hold a lease for PUBLIC_IP (under KEY, when given)? Read with etcdctl in NODE."""
    held = {subnet_key(s): v.get("PublicIP") for s, v in leases(world, store, node).items()}
    mine = [k for k, ip in held.items() if ip == public_ip]
    if not mine:
        return Check(False, f"no lease under {SUBNETS} carries PublicIP {public_ip} (the store holds "
                            f"{', '.join(f'{k} -> {ip}' for k, ip in held.items()) or 'no lease'}); has that node's"
                            f" flanneld started?", expected=public_ip)
    if key is not None and key not in held:
        return Check(False, f"there is no key {key!r} in the store; its leases are {', '.join(held)}",
                     expected=mine[0], given=key)
    if key is not None and key not in mine:
        return Check(False, f"{key} belongs to {held[key]}, not to {public_ip}: {public_ip}'s lease is {mine[0]}",
                     expected=mine[0], given=key)
    return Check(True, f"{mine[0]} holds {{\"PublicIP\":\"{public_ip}\", ...}}", expected=mine[0], given=key)


def check_flannel_routes(world, node: str, *, subnet: str, network: str = NETWORK_CONFIG["Network"]) -> Check:
    """Has NODE the overlay's route (NETWORK dev flannel0) and its own containers' (SUBNET dev docker0)?"""
    table = {r.dst: r.dev for r in kernel.routes(world, node)}
    if table.get(network) != "flannel0":
        got = f"it goes out of {table[network]}" if network in table else "there is no such route"
        return Check(False, f"{node} has no `{network} dev flannel0` ({got}): flannel0 gets it from its address"
                            f" with the overlay's prefix, so start flanneld in {node}")
    if table.get(subnet) != "docker0":
        own = [d for d, dev in table.items() if dev == "docker0"]
        return Check(False, f"{node}'s docker0 route is {', '.join(own) or 'missing'}, not {subnet}: the lease and"
                            f" the bridge's subnet must agree, or replies for {subnet} go to another node",
                     expected=subnet, given=own)
    return Check(True, f"{node} routes {network} into flannel0 and {subnet} to docker0 (the longer prefix wins)")


def check_counters(before: dict, after: dict, *, packets: int = 1) -> Check:
    """Did each of the four crossings (tun_reads, udp_sends, udp_recvs, tun_writes) happen PACKETS times or more?

    BEFORE and AFTER are two readings of the daemon's counters (:func:`netlab.flannel.counters`).
    """
    keys = ("tun_reads", "udp_sends", "udp_recvs", "tun_writes")
    moved = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    still = [k for k, v in moved.items() if v < packets]
    text = ", ".join(f"{k} +{v}" for k, v in moved.items())
    if still:
        return Check(False, f"{', '.join(still)} moved less than {packets} ({text}): the packets did not go through"
                            f" this daemon both ways", expected=packets, given=moved)
    return Check(True, f"the daemon carried them both ways: {text}", expected=packets, given=moved)


def check_datagram(captured, *, outer: tuple[str, str], inner: tuple[str, str], port: int = 8285) -> Check:
    """Is there, among CAPTURED packets, a UDP datagram OUTER (src, dst) to PORT carrying INNER (src, dst)?"""
    # scapy loads on first use: the engine and the daemons never need it
    from scapy.layers.inet import IP, UDP
    bind_flannel_udp(port)
    (outer_src, outer_dst), (inner_src, inner_dst) = outer, inner
    seen = []
    for p in captured:
        if IP not in p or UDP not in p:
            continue
        datagram = IP(bytes(p[IP]))
        if datagram[UDP].dport != port or IP not in datagram[UDP]:
            continue
        carried = datagram[UDP][IP]
        seen.append(f"{datagram.src} -> {datagram.dst} carrying {carried.src} -> {carried.dst}")
        if (datagram.src, datagram.dst, carried.src, carried.dst) == (outer_src, outer_dst, inner_src, inner_dst):
            return Check(True, f"a datagram {outer_src} -> {outer_dst}:{port} carried {inner_src} -> {inner_dst}"
                               f" ({len(datagram)} bytes on the LAN, {len(carried)} inside)")
    return Check(False, f"no datagram {outer_src} -> {outer_dst}:{port} carrying {inner_src} -> {inner_dst} was"
                        f" captured (seen: {'; '.join(seen) or 'no flannel datagram at all'})")


def check_vtep(world, node: str, *, vni: int = 1, local: str | None = None, mtu: int = 1450,
               dev: str = "flannel.1") -> Check:
    """Is DEV in NODE a VXLAN device with VNI, LOCAL, port 8472, no learning, MTU, up?"""
    link = kernel.link(world, node, dev, details=True)
    if link is None:
        return Check(False, f"{node} has no {dev}; create it with `ip link add {dev} type vxlan id {vni}"
                            f" local {local or 'NODE_IP'} dev eth0 nolearning dstport 8472`")
    if link.kind != "vxlan":
        return Check(False, f"{dev} in {node} is not a VXLAN device")
    info = link.info
    wrong = []
    if info.get("id") != vni:
        wrong.append(f"VNI {info.get('id')} (want {vni})")
    if local and info.get("local") != local:
        wrong.append(f"local {info.get('local')} (want {local})")
    if info.get("port") != KERNEL_DEFAULT_PORT:
        wrong.append(f"port {info.get('port')} (want 8472)")
    if info.get("learning"):
        wrong.append("learning on (want nolearning)")
    if link.mtu != mtu:
        wrong.append(f"MTU {link.mtu} (want {mtu}: `ip link set {dev} mtu {mtu}`)")
    if not link.up:
        wrong.append(f"down (`ip link set {dev} up`)")
    if wrong:
        return Check(False, f"{dev} in {node}: " + "; ".join(wrong))
    return Check(True, f"{dev} in {node}: VNI {vni}, local {info.get('local')}, port 8472, nolearning, MTU {mtu}, up")
