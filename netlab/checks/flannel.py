"""Lab checks of flannel (chapters 5 and 6): the lease in the store, the UDP backend's routes,
the daemon's crossing counters and its datagrams on the LAN, and the VXLAN backend's VTEP.

The VXLAN backend's neighbour, FDB and route entries are checked with the shared network
checks: ``check_neighbour(..., permanent=True)``, ``check_fdb(..., dev=, dst=)`` and
``check_route_entry`` (:mod:`.network`).
"""

from __future__ import annotations

from .. import kernel
from ..flannel.lab import NETWORK_CONFIG, leases, log_path
from ..flannel.store import SUBNETS, subnet_key
from ..packets.vxlan import KERNEL_DEFAULT_PORT, VXLAN_OVERHEAD
from ..packets.flannel import bind_flannel_udp
from .base import Check


SEE_LEASE = "chapter 5, section 5.3 Starting flanneld on each host"
SEE_ETCD = "chapter 5, section 5.4 The seed's outputs, from the live hosts"
SEE_MTU = "chapter 5, section 5.6 MTU: why flannel0 has 1472"
SEE_VTEP = "chapter 6, section 6.3 The seed's five steps on the real kernel"
SEE_VXLAN_MTU = "chapter 6, section 6.4 The frame on the wire (The header stack: 50 bytes, MTU 1450)"


def _see(see: str | None) -> str:
    return f" (see {see})" if see else ""


def check_lease(world, node: str = "node1", *, store, public_ip: str, key: str | None = None,
                subnet: str | None = None, see: str | None = SEE_ETCD) -> Check:
    """Does the store hold a lease for PUBLIC_IP (under KEY, when given; for SUBNET, when given)?
    Read with etcdctl in NODE."""
    held = {subnet_key(s): v.get("PublicIP") for s, v in leases(world, store, node).items()}
    mine = [k for k, ip in held.items() if ip == public_ip]
    if not mine:
        return Check(False, f"no lease under {SUBNETS} carries PublicIP {public_ip} (the store holds "
                            f"{', '.join(f'{k} -> {ip}' for k, ip in held.items()) or 'no lease'}); expected one:"
                            f" start flanneld on that host first{_see(SEE_LEASE)}", expected=public_ip)
    if key is not None and not isinstance(key, str):
        return Check(False, f"give the key as a string, such as \"{SUBNETS}/10.0.0.0-24\", not {key!r}")
    if key is not None and key not in held:
        return Check(False, f"there is no key {key!r} in the store; its leases are {', '.join(held)}{_see(see)}",
                     expected=mine[0], given=key)
    if key is not None and key not in mine:
        return Check(False, f"{key} belongs to {held[key]}; expected the key of {public_ip}'s lease{_see(see)}",
                     expected=mine[0], given=key)
    if subnet is not None and subnet_key(subnet) not in mine:
        leased = ", ".join(k.rsplit("/", 1)[1].replace("-", "/") for k in mine)
        return Check(False, f"{public_ip}'s flanneld leased {leased}; expected {subnet}, the subnet its docker0"
                            f" already has: the lease and the bridge must agree, or replies for {subnet} go to"
                            f" another host{_see(SEE_LEASE)}", expected=subnet, given=leased)
    return Check(True, f"{mine[0]} holds {{\"PublicIP\":\"{public_ip}\", ...}}", expected=mine[0], given=key)


def check_flannel_routes(world, node: str, *, subnet: str, network: str = NETWORK_CONFIG["Network"],
                         see: str | None = SEE_LEASE) -> Check:
    """Has NODE the overlay's route (NETWORK dev flannel0) and its own containers' (SUBNET dev docker0)?"""
    table = {r.dst: r.dev for r in kernel.routes(world, node)}
    if table.get(network) != "flannel0":
        got = f"it goes out of {table[network]}" if network in table else "there is no such route"
        return Check(False, f"{node} has no `{network} dev flannel0` ({got}); expected it: the kernel adds it"
                            f" for flannel0's address with the overlay's prefix, when flanneld runs{_see(see)}")
    if table.get(subnet) != "docker0":
        own = [d for d, dev in table.items() if dev == "docker0"]
        return Check(False, f"{node}'s docker0 route is {', '.join(own) or 'missing'}, expected {subnet}: the lease"
                            f" and the bridge's subnet must agree, or replies for {subnet} go to another node"
                            f"{_see(see)}", expected=subnet, given=own)
    return Check(True, f"{node} routes {network} into flannel0 and {subnet} to docker0 (the longer prefix wins)")


def check_mtu_overhead(world, node: str, *, answer, dev: str = "flannel0", lower: str = "eth0",
                       see: str | None = SEE_MTU) -> Check:
    """Is ANSWER the number of bytes DEV's MTU leaves for the tunnel's headers below LOWER's MTU,
    as NODE's kernel holds the two MTUs? (flannel's UDP backend: 20 IP + 8 UDP = 28.)"""
    outer, inner = kernel.link(world, node, f"dev {lower}"), kernel.link(world, node, f"dev {dev}")
    if inner is None:
        return Check(False, f"{node} has no {dev} yet: start flanneld in {node} first")
    gap = outer.mtu - inner.mtu
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return Check(False, f"give the overhead as a whole number of bytes, not {answer!r}", gap, answer)
    if given == gap:
        return Check(True, f"{lower} carries {outer.mtu} bytes, {dev} {inner.mtu}: {gap} bytes go to the outer"
                           f" headers of each datagram", gap, given)
    return Check(False, f"{given} bytes is not the gap between {node}'s {lower} and {dev} MTUs; read both with"
                        f" `ip link` in {node}: the gap is what each datagram's outer headers take{_see(see)}",
                 gap, given)


def check_watched(world, node: str, *, answer, see: str | None = SEE_LEASE) -> Check:
    """Is ANSWER the number of other hosts' leases NODE's flanneld learned through its watch (a long
    poll), not its listing at start-up? Its log says: a lease's ``forwarding to`` line after ``ready:``
    came from the watch (:meth:`netlab.flannel.subnet.Daemon.run` lists, then logs ready, then watches)."""
    log = world.run(node, ["cat", log_path(node)], check=False)
    if not log.ok:
        return Check(False, f"{node} has no flanneld log yet: start flanneld in {node} first")
    after = log.stdout.split("flanneld: ready:", 1)[-1].split("\n", 1)[-1] if "flanneld: ready:" in log.stdout else ""
    watched = sum(1 for l in after.splitlines() if ": forwarding to " in l)
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return Check(False, f"give a whole number of leases, not {answer!r}", watched, answer)
    if given == watched:
        return Check(True, f"{node}'s flanneld learned {watched} lease(s) by watching the store after it was"
                           f" ready: no restart, no listing, a long poll's events", watched, given)
    return Check(False, f"{given} is not what {node}'s log shows: a daemon lists the leases once, before it"
                        f" logs `ready:`, and learns later ones from its watch; count the leases it began"
                        f" forwarding to after that line{_see(see)}", watched, given)


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


def check_vtep(world, node: str, *, vni: int = 1, local: str | None = None, mtu: int | None = None,
               dev: str = "flannel.1", mac: str | None = None, address: str | None = None,
               lower: str | None = "eth0", see: str | None = SEE_VTEP) -> Check:
    """Is DEV in NODE a VXLAN device with VNI, LOCAL, port 8472, no learning, up, and (when given) the
    MAC, the one ADDRESS (a /32, as flanneld gives it) and the LOWER device it sends out of?

    The MTU: flanneld creates the device with its lower device (``VtepDevIndex``, flannel
    ``backend/vxlan/device.go``) and no MTU of its own, and the kernel then sets the lower device's
    MTU minus VXLAN's 50 bytes (``vxlan_config_apply`` in ``drivers/net/vxlan/vxlan_core.c``). So with
    LOWER the expected MTU is LOWER's MTU minus 50, read from the kernel: a device made without its
    lower device gets 1500, which a 1500-byte LAN cannot carry once encapsulated. MTU, when given,
    is checked instead.
    """
    link = kernel.link(world, node, dev, details=True, addresses=True)
    if link is None:
        return Check(False, f"{node} has no {dev}; expected a VXLAN device (the VTEP) of that name{_see(see)}")
    if link.kind != "vxlan":
        return Check(False, f"{dev} in {node} is a {link.kind or 'plain'} device; expected a VXLAN device{_see(see)}")
    info = link.info
    wrong = []
    if info.get("id") != vni:
        wrong.append(f"VNI {info.get('id')}, expected {vni}")
    if local and info.get("local") != local:
        wrong.append(f"local {info.get('local')}, expected {local}")
    if info.get("port") != KERNEL_DEFAULT_PORT:
        wrong.append(f"port {info.get('port')}, expected 8472")
    if info.get("learning"):
        wrong.append("learning on, expected nolearning")
    if mac and (link.mac or "").lower() != mac.lower():
        wrong.append(f"MAC {link.mac}, expected {mac.lower()}")
    if lower and info.get("link") != lower:
        wrong.append(f"lower device {info.get('link') or 'none'}, expected {lower}")
    if mtu is None and lower:
        base = kernel.link(world, node, f"dev {lower}")
        mtu = base.mtu - VXLAN_OVERHEAD if base is not None else None
        why = f" ({lower}'s {base.mtu} minus VXLAN's {VXLAN_OVERHEAD})" if base is not None else ""
    else:
        why = ""
    if mtu is not None and link.mtu != mtu:
        wrong.append(f"MTU {link.mtu}, expected {mtu}{why}")
    if address:
        have = [str(a) for a in link.addresses if a.family == "inet"]
        if have != [address]:
            wrong.append(f"addresses {', '.join(have) or 'none'}, expected {address} alone")
    if not link.up:
        wrong.append("down, expected up")
    if wrong:
        return Check(False, f"{dev} in {node}: " + "; ".join(wrong) + _see(SEE_VXLAN_MTU if any(w.startswith("MTU") for w in wrong) and len(wrong) == 1 else see))
    extra = "".join([f", MAC {link.mac}" if mac else "", f", {address}" if address else "",
                     f", out of {lower}" if lower else "", f", MTU {link.mtu}"])
    return Check(True, f"{dev} in {node}: VNI {vni}, local {info.get('local')}, port 8472, nolearning{extra}, up")


def check_vxlan_frame(captured, *, outer_dst: str, inner_mac: str, vni: int = 1, see: str | None = SEE_VTEP) -> Check:
    """Is there, among CAPTURED frames, a VXLAN frame to OUTER_DST on UDP 8472 with VNI whose inner
    frame goes to INNER_MAC? The three facts a node's VTEP, FDB and neighbour entries supply."""
    # scapy loads on first use: the engine and the daemons never need it
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    from ..packets.vxlan import dissect
    seen = []
    for p in captured:
        frame = dissect(p)
        if IP not in frame or UDP not in frame or VXLAN not in frame:
            continue
        inner = frame[VXLAN].getlayer(Ether)
        got = (frame[IP].dst, frame[UDP].dport, frame[VXLAN].vni, inner.dst if inner is not None else None)
        seen.append(f"to {got[0]}:{got[1]}, VNI {got[2]}, inner MAC {got[3]}")
        if got == (outer_dst, KERNEL_DEFAULT_PORT, vni, inner_mac.lower()):
            return Check(True, f"a VXLAN frame to {outer_dst}:{KERNEL_DEFAULT_PORT} (from the FDB entry), VNI {vni}"
                               f" (the device), inner destination MAC {inner_mac} (from the neighbour entry)")
    return Check(False, f"no captured VXLAN frame goes to {outer_dst}:{KERNEL_DEFAULT_PORT} with VNI {vni} and inner"
                        f" MAC {inner_mac} (seen: {'; '.join(seen) or 'no VXLAN frame at all'}); expected one, from"
                        f" the VTEP, FDB and neighbour entries together{_see(see)}")
