"""Lab checks of chapter 9 (lab09): KubeVirt's bridge binding built by hand, a port exposed in
masquerade mode, the lease inside the guest, and a ping from another pod.

Each reads the kernel of the virt-launcher pod (links through :mod:`netlab.kernel`, the bridge
port's flags from ``bridge -j -d link``, the nftables ruleset from ``nft -j``, or iptables where
the kernel lacks nftables' ip family), or asks the guest itself; each says what it found and what
KubeVirt would have made (kubevirt/kubevirt ``pkg/network/setup/netpod/netpod.go``,
``masquerade/masquerade.go``), with the chapter section that explains it, never the command.
"""

from __future__ import annotations

import json

from .. import kernel
from ..kubevirt.binding import BRIDGE_BINDING_BRIDGE_MAC, nat_backend
from ..kubevirt.names import MASQUERADE_GUEST, bridge_name, fake_bridge_ip, nic_name, tap_name
from .base import Check
from .network import _see

SEE_BRIDGE = "chapter 9, section 9.3, the bridge binding step by step"
SEE_MASQUERADE = "chapter 9, section 9.6, the masquerade binding"
SEE_LEASE = "chapter 9, section 9.4, the guest asks for an address"


def _port_flags(world, node: str, port: str) -> dict:
    res = world.run(node, f"bridge -j -d link show dev {port}", check=False)
    try:
        found = json.loads(res.stdout) if res.returncode == 0 and res.stdout.strip() else []
    except ValueError:
        found = []
    return found[0] if found else {}


def _bridge_steps(world, node: str, pod_ip: str, pod_mac: str, iface: str):
    """(ok, message) for each part of the bridge binding, in the order KubeVirt makes them."""
    br, nic, tap = bridge_name(iface), nic_name(iface), tap_name(iface)
    links = {l.ifname: l for l in kernel.links(world, node, details=True, addresses=True)}
    b = links.get(br)
    yield (b is not None and b.kind == "bridge",
           f"{node} has no bridge {br}" if b is None else f"{br} is a {b.kind or 'device'}, not a bridge")
    want_fake = fake_bridge_ip(0)
    yield (want_fake in [str(a) for a in b.addresses],
           f"{br} has the addresses {', '.join(map(str, b.addresses)) or 'none'}; KubeVirt gives it the fake"
           f" link-local {want_fake} (the DHCP server answers from it)")
    n = links.get(nic)
    yield (n is not None, f"{node} has no {nic}: the pod's own {iface} keeps its name, where KubeVirt renames it")
    yield (n.master == br, f"{nic} is {'a port of ' + n.master if n.master else 'not a port of any bridge'},"
                           f" expected a port of {br}")
    yield (n.up, f"{nic} is down")
    v4 = [str(a) for a in n.addresses if a.family == "inet"]
    yield (not v4, f"{nic} still has {', '.join(v4)}: a bridge port carries no address (the VM has it now)")
    learning = _port_flags(world, node, nic).get("learning")
    yield (learning is False, f"{nic} has MAC learning {'on' if learning else 'unknown'} on {br}, expected off")
    yield (n.mac == b.mac, f"{nic}'s MAC is {n.mac} and {br}'s is {b.mac}; KubeVirt gives the port the bridge's MAC")
    t = links.get(tap)
    yield (t is not None and t.kind == "tun", f"{node} has no tap device {tap}" if t is None else
           f"{tap} is a {t.kind or 'device'}, not a tap device")
    yield (t.master == br and t.up, f"{tap} is {'down' if not t.up else 'not a port of ' + br}, expected an up port of {br}")
    d = links.get(iface)
    yield (d is not None and d.kind in ("dummy", "ifb"),
           f"{node} has no {iface} to keep the pod's address" if d is None else
           f"{iface} is a {d.kind or 'device'}; KubeVirt makes a dummy that keeps the pod's address and MAC")
    yield (pod_ip in [str(a) for a in d.addresses],
           f"the dummy {iface} has {', '.join(map(str, d.addresses)) or 'no address'}, expected the pod's {pod_ip}")
    yield (d.mac == pod_mac, f"the dummy {iface}'s MAC is {d.mac}, expected the pod's {pod_mac}")
    arp = world.run(node, "sysctl -n net.ipv4.conf.all.arp_ignore", check=False).stdout.strip()
    yield (arp == "1", f"net.ipv4.conf.all.arp_ignore is {arp or 'unreadable'}, expected 1")
    yield (b.up, f"{br} is down")


def check_bridge_binding(world, node: str = "virt-launcher", *, pod_ip: str = "10.244.1.2/24",
                         pod_mac: str = "0a:58:0a:f4:01:02", iface: str = "eth0", see: str | None = SEE_BRIDGE) -> Check:
    """Is NODE bound as KubeVirt's bridge binding binds it? Names the first part that differs."""
    steps = _bridge_steps(world, node, pod_ip, pod_mac, iface)
    try:
        for ok, message in steps:
            if not ok:
                return Check(False, message + _see(see))
    except AttributeError:  # a device missing where a step reads it: say which part is incomplete
        return Check(False, f"{node}'s bridge binding is incomplete: a device it needs is missing{_see(see)}")
    return Check(True, f"{node}: {nic_name(iface)} and {tap_name(iface)} are ports of {bridge_name(iface)},"
                       f" the dummy {iface} keeps {pod_ip}, arp_ignore is 1")


def _nat_rules(world, node: str) -> tuple[str, dict[str, list[str]]]:
    """('nft' or 'iptables', chain -> rule texts) of NODE's nat table."""
    if nat_backend(world) == "iptables":
        chains: dict[str, list[str]] = {}
        for r in kernel.iptables_rules(world, node, "nat"):
            chains.setdefault(r.chain, []).append(r.text)
        return "iptables", chains
    res = world.run(node, "nft -j list table ip nat", check=False)
    chains = {}
    if res.returncode == 0 and res.stdout.strip():
        for item in json.loads(res.stdout).get("nftables", []):
            if "chain" in item:
                chains.setdefault(item["chain"]["name"], [])
            rule = item.get("rule")
            if rule:
                chains.setdefault(rule["chain"], []).append(json.dumps(rule["expr"], sort_keys=True))
    return "nft", chains


def _has_dnat(rule: str, backend: str, port: int | None) -> bool:
    if backend == "iptables":
        words = rule.split()
        return ("DNAT" in words and MASQUERADE_GUEST in rule
                and (port is None or f"--dport {port}" in rule))
    expr = json.loads(rule)
    dnat = any(e.get("dnat", {}).get("addr") == MASQUERADE_GUEST for e in expr)
    if port is None:
        return dnat
    ports = [e["match"]["right"] for e in expr if "match" in e and
             e["match"]["left"].get("payload", {}).get("field") == "dport"]
    flat = [p for r in ports for p in (r["set"] if isinstance(r, dict) and "set" in r else [r])]
    return dnat and port in flat


def check_masquerade_port(world, node: str = "virt-launcher", *, port: int = 80, iface: str = "eth0",
                          see: str | None = SEE_MASQUERADE) -> Check:
    """Does NODE's nat table expose PORT of the VM as KubeVirt's masquerade binding does?

    Looks for: the chain KUBEVIRT_PREINBOUND with a DNAT of PORT to 10.0.2.2, prerouting's jump to it
    for packets in by IFACE, and postrouting's masquerade of what the VM sends.
    """
    backend, chains = _nat_rules(world, node)
    pre = "PREROUTING" if backend == "iptables" else "prerouting"
    post = "POSTROUTING" if backend == "iptables" else "postrouting"
    where = "iptables' nat table" if backend == "iptables" else "nftables' table ip nat"
    if not chains or "KUBEVIRT_PREINBOUND" not in chains:
        return Check(False, f"{node}'s {where} has no chain KUBEVIRT_PREINBOUND"
                            f" (chains: {', '.join(sorted(chains)) or 'none'}){_see(see)}")
    if not any(_has_dnat(r, backend, port) for r in chains["KUBEVIRT_PREINBOUND"]):
        return Check(False, f"KUBEVIRT_PREINBOUND in {node} has {len(chains['KUBEVIRT_PREINBOUND'])} rule(s)"
                            f" and none sends TCP port {port} to the VM at {MASQUERADE_GUEST}{_see(see)}")
    jumps = [r for r in chains.get(pre, []) if "KUBEVIRT_PREINBOUND" in r and iface in r]
    if not jumps:
        return Check(False, f"{node}'s {pre} chain does not send packets that come in by {iface} to"
                            f" KUBEVIRT_PREINBOUND, so its DNAT is never reached{_see(see)}")
    if not any(MASQUERADE_GUEST in r and ("masquerade" in r or "MASQUERADE" in r) for r in chains.get(post, [])):
        return Check(False, f"{node}'s {post} chain does not masquerade what the VM ({MASQUERADE_GUEST}) sends,"
                            f" so its replies to new connections of its own leave with an address no pod knows{_see(see)}")
    return Check(True, f"{node} forwards TCP port {port} to the VM at {MASQUERADE_GUEST} ({where}) and masquerades"
                       f" what the VM sends")


def check_guest_lease(guest, *, ip: str, router: str | None = None, see: str | None = SEE_LEASE) -> Check:
    """Did the guest's DHCP client get IP (``10.244.1.2/24``) and ROUTER? Asks the guest (its /lease)."""
    if guest is None or not hasattr(guest, "lease"):
        return Check(False, f"there is no running guest to ask; boot it first (the cell that calls boot_vm){_see(see)}")
    lease = guest.lease()
    if not lease:
        return Check(False, f"the guest's udhcpc has no lease: no DHCP server answered its DISCOVER on tap0{_see(see)}")
    if lease.get("ip") != ip:
        return Check(False, f"the guest leased {lease.get('ip')}, expected {ip}{_see(see)}", ip, lease.get("ip"))
    if router and lease.get("router") != router:
        return Check(False, f"the guest's lease names the router {lease.get('router') or 'none'},"
                            f" expected {router}{_see(see)}", router, lease.get("router"))
    return Check(True, f"the guest leased {ip}" + (f" with the router {router}" if router else "")
                       + f" from {lease.get('serverid')}", ip, lease.get("ip"))


def check_vm_ping(world, src: str, *, dst: str, node: str = "virt-launcher", tap: str = "tap0",
                  see: str | None = SEE_BRIDGE) -> Check:
    """Does a ping from SRC to DST get its reply *from the VM*: the echo request out of NODE's TAP
    and the reply back in by it? (A ping the pod itself answers never crosses the tap.)"""
    if tap not in [l.ifname for l in kernel.links(world, node)]:
        return Check(False, f"{node} has no {tap}, so no VM is attached to it yet{_see(see)}")
    with world.capture(node, tap, "icmp") as seen:
        res = world.ping(src, dst, count=1, check=False)
    kinds = [p["ICMP"].type for p in seen.packets if p.haslayer("ICMP")]
    if res.returncode != 0:
        return Check(False, f"{src} got no reply from {dst}" + (f"; the echo request did go out of {tap}, so"
                            f" the VM did not answer" if 8 in kinds else f"; nothing crossed {tap}") + _see(see))
    if 8 not in kinds or 0 not in kinds:
        return Check(False, f"{src} got a reply from {dst}, but not through {tap}: {node} answered it"
                            f" itself, not the VM{_see(see)}")
    return Check(True, f"{src} pinged {dst} and the VM answered: request out of {tap}, reply in by it")
