"""KubeVirt's two pod-network bindings, as the commands virt-launcher's network setup amounts to.

virt-handler configures the virt-launcher pod's network namespace through nmstate-like specs
(kubevirt/kubevirt ``pkg/network/setup/netpod/netpod.go``) applied by
``pkg/network/driver/nmstate/spec.go``; here each spec becomes the ``ip``/``bridge``/``sysctl``
command a learner could type, so the chapter can print them and the lab can ask for them.

Bridge binding (``bridgeBindingSpec``): the bridge ``k6t-eth0`` with the fake link-local
``169.254.75.10/32``; the pod's NIC renamed ``eth0-nic``, its addresses removed (IPv4/IPv6
disabled), MAC learning off (``PortLearning: false``), its MAC copied from the bridge
(``CopyMacFrom``) and enslaved; ``tap0`` on the bridge with the pod's MTU; a dummy ``eth0`` with the
pod's original address and MAC (left down, so its address makes no route); ``arp_ignore=1`` for all
interfaces (``ArpIgnore: ARPReplyMode1``). The VM gets the pod's MAC
(``discoverbridge.go``, ``resolveMacAddress``) and, by DHCP, the pod's address.

Masquerade binding (``masqueradeBindingSpec`` and ``pkg/network/setup/netpod/masquerade/masquerade.go``):
the bridge ``k6t-eth0`` with MAC ``02:00:00:00:00:00`` and the gateway 10.0.2.1/24,
``route_localnet=1`` on it, forwarding on, ``tap0`` on it; the pod's ``eth0`` keeps its address;
an nftables table ``nat`` (:func:`nft_commands`) translates between the pod's address and the VM's
10.0.2.2.
"""

from __future__ import annotations

import json

from .. import kernel
from ..inputs import quote, whole_number
from .names import (MASQUERADE_BRIDGE_MAC, MASQUERADE_CIDR, MASQUERADE_GATEWAY, MASQUERADE_GUEST, KubevirtError,
                    bridge_name, fake_bridge_ip, nic_name, tap_name)

#: The bridge's MAC in the bridge binding. KubeVirt lets the kernel pick one at random and copies it
#: to eth0-nic; this course fixes it so the outputs are the same on every run.
BRIDGE_BINDING_BRIDGE_MAC = "02:00:a9:fe:4b:0a"


def bridge_binding_commands(pod_ip: str, pod_mac: str, mtu: int = 1450, iface: str = "eth0",
                            bridge_mac: str = BRIDGE_BINDING_BRIDGE_MAC, dummy: str = "dummy") -> list[str]:
    """The bridge binding, in order, as commands run in the virt-launcher pod's namespace.

    DUMMY: the device type that keeps the pod's address, ``dummy`` as in KubeVirt, or ``ifb``
    where the kernel is built without the dummy driver (:func:`dummy_kind`).
    """
    if dummy not in ("dummy", "ifb"):
        raise KubevirtError(f"the device that keeps the pod's address is a 'dummy' (or 'ifb'), not {quote(dummy)}")
    br, nic, tap = bridge_name(iface), nic_name(iface), tap_name(iface)
    mtu = whole_number(mtu, "the pod's MTU", lo=68, hi=65535, error=KubevirtError)
    return [
        f"ip link set {iface} down",
        f"ip link set {iface} name {nic}",
        f"ip addr flush dev {nic}",
        f"ip link add {br} address {bridge_mac} mtu {mtu} type bridge",
        f"ip addr add {fake_bridge_ip(0)} dev {br}",
        f"ip link set {nic} address {bridge_mac} master {br} up",
        f"bridge link set dev {nic} learning off",
        f"ip tuntap add {tap} mode tap",
        f"ip link set {tap} mtu {mtu} master {br} up",
        f"ip link add {iface} address {pod_mac} mtu {mtu} type {dummy}",
        f"ip addr add {pod_ip} dev {iface}",
        "sysctl -qw net.ipv4.conf.all.arp_ignore=1",
        f"ip link set {br} up",
    ]


def masquerade_binding_commands(mtu: int = 1450, iface: str = "eth0") -> list[str]:
    """The masquerade binding's devices (the NAT rules are :func:`nft_commands`)."""
    br, tap = bridge_name(iface), tap_name(iface)
    mtu = whole_number(mtu, "the pod's MTU", lo=68, hi=65535, error=KubevirtError)
    prefix = MASQUERADE_CIDR.split("/")[1]
    return [
        f"ip link add {br} address {MASQUERADE_BRIDGE_MAC} mtu {mtu} type bridge",
        f"ip addr add {MASQUERADE_GATEWAY}/{prefix} dev {br}",
        f"sysctl -qw net.ipv4.conf.{br}.route_localnet=1",
        "sysctl -qw net.ipv4.ip_forward=1",
        f"ip tuntap add {tap} mode tap",
        f"ip link set {tap} mtu {mtu} master {br} up",
        f"ip link set {br} up",
    ]


def dummy_kind(world, node: str) -> str:
    """``dummy`` if NODE's kernel can make a dummy device, else ``ifb``.

    Some kernels are built without the dummy driver (``CONFIG_DUMMY``; ``ip link add ... type dummy``
    says "Unknown device type"). An ifb device (intermediate functional block) is the nearest
    stand-in: it holds an address and a MAC and, with no traffic-control redirect to it, moves no frame.
    """
    res = world.run(node, "ip link add netlab-probe type dummy", check=False)
    if res.returncode == 0:
        world.run(node, "ip link del netlab-probe")
        return "dummy"
    return "ifb"


def _ports(ports) -> list[tuple[str, int]]:
    out = []
    for p in ports or ():
        proto, port = ("tcp", p) if not isinstance(p, (tuple, list)) else tuple(p)
        if proto not in ("tcp", "udp", "sctp"):
            raise KubevirtError(f"a port's protocol is 'tcp', 'udp' or 'sctp', not {quote(proto)}")
        out.append((proto, whole_number(port, "a declared port", lo=1, hi=65535, error=KubevirtError)))
    return out


def nft_commands(ports=(), iface: str = "eth0") -> list[str]:
    """The nft commands ``setupNATByFamily`` issues for IPv4, in its order.

    PORTS: the VM interface's declared ports (``80`` or ``("udp", 53)``); none: everything is forwarded.
    """
    br, guest, gw = bridge_name(iface), MASQUERADE_GUEST, MASQUERADE_GATEWAY
    cmds = ["add table ip nat",
            "add chain ip nat prerouting { type nat hook prerouting priority -100; }",
            "add chain ip nat input { type nat hook input priority 100; }",
            "add chain ip nat output { type nat hook output priority -100; }",
            "add chain ip nat postrouting { type nat hook postrouting priority 100; }",
            "add chain ip nat KUBEVIRT_PREINBOUND",
            "add chain ip nat KUBEVIRT_POSTINBOUND",
            f"add rule ip nat postrouting ip saddr {guest} counter masquerade",
            f"add rule ip nat prerouting iifname {iface} counter jump KUBEVIRT_PREINBOUND",
            f"add rule ip nat postrouting oifname {br} counter jump KUBEVIRT_POSTINBOUND"]
    declared = _ports(ports)
    for proto, port in declared:
        cmds += [f"add rule ip nat KUBEVIRT_PREINBOUND {proto} dport {{ {port} }} counter dnat to {guest}",
                 f"add rule ip nat KUBEVIRT_POSTINBOUND {proto} dport {port} ip saddr {{ 127.0.0.1 }} counter snat to {gw}",
                 f"add rule ip nat output ip daddr {{ 127.0.0.1 }} {proto} dport {port} counter dnat to {guest}"]
    if not declared:
        cmds += [f"add rule ip nat KUBEVIRT_PREINBOUND counter dnat to {guest}",
                 f"add rule ip nat KUBEVIRT_POSTINBOUND ip saddr {{ 127.0.0.1 }} counter snat to {gw}",
                 f"add rule ip nat output ip daddr {{ 127.0.0.1 }} counter dnat to {guest}"]
    return cmds


def iptables_rules(ports=(), iface: str = "eth0") -> list[str]:
    """The same NAT as iptables-restore lines, for kernels whose nftables lack the ip family
    (Debian's User-mode Linux kernel: ``CONFIG_NF_TABLES_IPV4`` is not set)."""
    br, guest, gw = bridge_name(iface), MASQUERADE_GUEST, MASQUERADE_GATEWAY
    lines = ["*nat", ":KUBEVIRT_PREINBOUND - [0:0]", ":KUBEVIRT_POSTINBOUND - [0:0]",
             f"-A POSTROUTING -s {guest}/32 -j MASQUERADE",
             f"-A PREROUTING -i {iface} -j KUBEVIRT_PREINBOUND",
             f"-A POSTROUTING -o {br} -j KUBEVIRT_POSTINBOUND"]
    declared = _ports(ports)
    for proto, port in declared:
        lines += [f"-A KUBEVIRT_PREINBOUND -p {proto} --dport {port} -j DNAT --to-destination {guest}",
                  f"-A KUBEVIRT_POSTINBOUND -p {proto} --dport {port} -s 127.0.0.1/32 -j SNAT --to-source {gw}",
                  f"-A OUTPUT -d 127.0.0.1/32 -p {proto} --dport {port} -j DNAT --to-destination {guest}"]
    if not declared:
        lines += [f"-A KUBEVIRT_PREINBOUND -j DNAT --to-destination {guest}",
                  f"-A KUBEVIRT_POSTINBOUND -s 127.0.0.1/32 -j SNAT --to-source {gw}",
                  f"-A OUTPUT -d 127.0.0.1/32 -j DNAT --to-destination {guest}"]
    return lines + ["COMMIT"]


def nat_backend(world) -> str:
    """'nft' where the kernel has nftables' ip family, 'iptables' in a User-mode Linux world."""
    probe = getattr(world, "probe", None)
    return "iptables" if getattr(probe, "mode", "") == "uml" else "nft"


def run_commands(world, node: str, commands) -> None:
    """Run each command in NODE, stopping at the first that fails (its message says which)."""
    for c in commands:
        world.run(node, c)


def apply_nat(world, node: str, ports=(), iface: str = "eth0") -> str:
    """Install the masquerade binding's NAT in NODE with nft (or iptables in UML); return which."""
    backend = nat_backend(world)
    if backend == "nft":
        world.run(node, ["nft", "-f", "-"], input="\n".join(nft_commands(ports, iface)) + "\n")
    else:
        world.run(node, ["iptables-restore", "--noflush"], input="\n".join(iptables_rules(ports, iface)) + "\n")
    return backend


# ------------------------------------------------------------------ reading nftables back
def nft_rules(world, node: str, table: str = "nat") -> dict[str, list[str]]:
    """The rules of ``table ip TABLE`` in NODE, chain by chain, as ``nft`` prints them (counters removed).

    ``{}`` when the table does not exist. Read from ``nft -j list table ip TABLE`` for the chain
    structure and from the text listing for each rule's words (what a learner compares with).
    """
    res = world.run(node, ["nft", "list", "table", "ip", table], check=False)
    if res.returncode != 0:
        return {}
    chains: dict[str, list[str]] = {}
    current = None
    for raw in res.stdout.splitlines():
        line = raw.strip()
        if line.startswith("chain ") and line.endswith("{"):
            current = line.split()[1]
            chains[current] = []
        elif line == "}":
            continue
        elif current and line and not line.startswith("type "):
            words = line.split()
            if "counter" in words:  # drop "packets N bytes M" after counter
                i = words.index("counter")
                words = words[:i + 1] + words[i + 5:] if len(words) > i + 4 and words[i + 1] == "packets" else words
            chains[current].append(" ".join(words))
    return chains


def nft_counters(world, node: str, table: str = "nat") -> list[tuple[str, str, int]]:
    """``(chain, rule text, packets)`` for every counted rule of ``table ip TABLE`` (from ``nft -j``)."""
    res = world.run(node, ["nft", "-j", "list", "table", "ip", table], check=False)
    if res.returncode != 0:
        return []
    out = []
    for item in json.loads(res.stdout).get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        packets = next((e["counter"]["packets"] for e in rule["expr"] if "counter" in e), None)
        if packets is not None:
            out.append((rule["chain"], _rule_words(rule["expr"]), packets))
    return out


def _rule_words(exprs) -> str:
    words = []
    for e in exprs:
        if "match" in e:
            left, right = e["match"]["left"], e["match"]["right"]
            field = left.get("payload", {}).get("field") or left.get("meta", {}).get("key", "?")
            if isinstance(right, dict) and "set" in right:
                right = "{ " + ", ".join(map(str, right["set"])) + " }"
            words.append(f"{field} {right}")
        elif "jump" in e:
            words.append(f"jump {e['jump']['target']}")
        elif "dnat" in e:
            words.append(f"dnat to {e['dnat']['addr']}")
        elif "snat" in e:
            words.append(f"snat to {e['snat']['addr']}")
        elif "masquerade" in e:
            words.append("masquerade")
    return " ".join(words)


def link_names(world, node: str) -> list[str]:
    """The names of NODE's interfaces, as the kernel lists them."""
    return [l.ifname for l in kernel.links(world, node)]
