"""Lab checks of a Docker host built by hand (chapters 3 and 4): bridge ports, NAT rules, a
container's default route, and the seed's troubleshooting checklist as :func:`diagnose`
("先试试 docker0 网桥能不能 ping 通，然后查看一下跟 docker0 和 Veth Pair 设备相关的 iptables 规则"):
the links in order, stopping at the first broken one.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .. import kernel
from ..docker.bridge import DOCKER_SUBNET, host_veth
from .base import Check


def check_bridge_port(world, node: str, *, bridge: str, port: str) -> Check:
    """Is PORT a port of BRIDGE on NODE, and up?"""
    ports = {p.ifname: p for p in kernel.links(world, node, f"master {bridge}")}
    if port not in ports:
        names = ", ".join(sorted(ports)) or "none"
        return Check(False, f"{port} is not a port of {bridge} on {node} (its ports: {names}); plug it in with"
                            f" `ip link set {port} master {bridge}`")
    if not ports[port].up:
        return Check(False, f"{port} is a port of {bridge} but is down; `ip link set {port} up` on {node}")
    return Check(True, f"{port} is a port of {bridge} on {node} and is up")


def _same_rule(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def check_nat_rule(world, node: str, *, rule: str, min_packets: int = 0) -> Check:
    """Is RULE (iptables-save form, ``-A CHAIN ...``) in NODE's nat table, with at least MIN_PACKETS hits?"""
    want = " ".join(rule.split())
    for r in kernel.iptables_rules(world, node, "nat"):
        if _same_rule(r.text, want):
            if r.packets < min_packets:
                return Check(False, f"the rule `{want}` is there but has matched {r.packets} packets"
                                    f" (expected at least {min_packets}); send traffic that it should match")
            return Check(True, f"`{want}` is in the nat table and has matched {r.packets} packets",
                         expected=min_packets, given=r.packets)
    return Check(False, f"{node}'s nat table has no rule `{want}`; add it with `iptables -t nat {want}`")


def check_default_route(world, node: str, *, gateway: str = "172.17.0.1") -> Check:
    """Does the container NODE have a default route via GATEWAY on eth0?"""
    for r in kernel.routes(world, node, "default"):
        if r.gateway == gateway and r.dev == "eth0":
            return Check(True, f"{node}'s default route goes via {gateway} on eth0")
        return Check(False, f"{node}'s default route goes via {r.gateway} on {r.dev},"
                            f" not via {gateway}; `ip route replace default via {gateway} dev eth0` in {node}")
    return Check(False, f"{node} has no default route, so anything outside 172.17.0.0/16 is unreachable;"
                        f" `ip route add default via {gateway} dev eth0` in {node}")


# ------------------------------------------------------------------ the seed's checklist
@dataclass(frozen=True)
class Diagnosis(Check):
    """The first broken link (or all clear), with every step that was checked in ``steps``."""

    steps: tuple = field(default=(), compare=False)

    def __repr__(self) -> str:
        lines = [f"  {i}. {'✓' if s.ok else '✗'} {s.message}" for i, s in enumerate(self.steps, 1)]
        head = "✓ " + self.message if self.ok else f"✗ the first broken link is step {len(self.steps)}:"
        return "\n".join([head] + lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour = "#1b5e20" if self.ok else "#8b0000"
        items = "".join(f"<li style='color:{'#1b5e20' if s.ok else '#8b0000'}'>{'✓' if s.ok else '✗'} "
                        f"{html.escape(s.message)}</li>" for s in self.steps)
        head = html.escape(self.message) if self.ok else f"the first broken link is step {len(self.steps)}:"
        return (f"<div class='netlab-check' style='font-family:sans-serif'><b style='color:{colour}'>"
                f"{'✓' if self.ok else '✗'} {head}</b><ol>{items}</ol></div>")


def diagnose(world, container: str, *, node: str = "node1", target: str | None = "10.168.0.3",
             bridge: str = "docker0", gateway: str = "172.17.0.1", subnet: str = DOCKER_SUBNET) -> Diagnosis:
    """Why can CONTAINER not reach TARGET? The seed's checklist, in order; stops at the first broken link.

    1. the bridge: docker0 has the containers' gateway address, and the container's veth is
       one of its (up) ports; the container can ping the gateway;
    2. the container's default route goes via that gateway;
    3. the node forwards (``net.ipv4.ip_forward = 1``);
    4. the nat table has Docker's ``MASQUERADE`` for the subnet;
    5. (with ``target``) the container reaches TARGET.
    """
    steps: list[Check] = []
    for step in (lambda: _bridge_step(world, container, node, bridge, gateway),
                 lambda: check_default_route(world, container, gateway=gateway),
                 lambda: _forwarding_step(world, container, node, bridge),
                 lambda: _nat_step(world, container, node, bridge, subnet)):
        check = step()
        steps.append(check)
        if not check.ok:
            return Diagnosis(False, check.message, steps=tuple(steps))
    if target is None:
        return Diagnosis(True, f"{container}'s links to the outside are all in place", steps=tuple(steps))
    if world.run(container, f"ping -c 1 -W 1 {target}", check=False).ok:
        steps.append(Check(True, f"{container} pings {target}"))
        return Diagnosis(True, f"{container} reaches {target}: every link works", steps=tuple(steps))
    steps.append(Check(False, f"{container} still cannot reach {target} although the bridge, the route,"
                              f" forwarding and the NAT rule are in place; look at {node}'s own route to"
                              f" {target} (`ip route get {target}`) and at filter rules (`iptables -S FORWARD`)"))
    return Diagnosis(False, steps[-1].message, steps=tuple(steps))


def _bridge_step(world, container: str, node: str, bridge: str, gateway: str) -> Check:
    """Step 1: the bridge's address, the container's cable plugged into it, and a ping to the gateway."""
    addrs = {a.local: a.prefixlen for l in kernel.links(world, node, f"dev {bridge}", addresses=True)
             for a in l.addresses if a.family == "inet"}
    if gateway not in addrs:
        return Check(False, f"the bridge {bridge} on {node} has no address {gateway} (it has"
                            f" {', '.join(f'{a}/{p}' for a, p in addrs.items()) or 'none'}), so {container}'s"
                            f" gateway does not exist; `ip addr add {gateway}/16 dev {bridge}` on {node}")
    veth = host_veth(world, container, node)
    if veth is None:
        return Check(False, f"{container}'s eth0 has no peer on {node}; the veth pair is broken")
    port = check_bridge_port(world, node, bridge=bridge, port=veth)
    if not port.ok:
        return Check(False, f"{container}'s cable ({veth} on {node}) is not plugged into the bridge: " + port.message)
    if not world.run(container, f"ping -c 1 -W 1 {gateway}", check=False).ok:
        return Check(False, f"{container} cannot ping its gateway {gateway} although {bridge} has the address"
                            f" and {veth} is a port; check `ip addr` in {container} and `ip link` on {node}")
    return Check(True, f"{bridge} on {node} has {gateway}/{addrs[gateway]}, {veth} is its port,"
                       f" and {container} pings {gateway}")


def _forwarding_step(world, container: str, node: str, bridge: str) -> Check:
    """Step 3: the node forwards packets."""
    fwd = world.run(node, "sysctl -n net.ipv4.ip_forward").stdout.strip()
    if fwd != "1":
        return Check(False, f"{node} does not forward packets (net.ipv4.ip_forward = {fwd}), so nothing from"
                            f" {container} leaves {bridge}; `sysctl -w net.ipv4.ip_forward=1` on {node}")
    return Check(True, f"{node} forwards packets (net.ipv4.ip_forward = 1)")


def _nat_step(world, container: str, node: str, bridge: str, subnet: str) -> Check:
    """Step 4: Docker's MASQUERADE for the containers' subnet."""
    masq = f"-A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE"
    if not any(_same_rule(r.text, masq) for r in kernel.iptables_rules(world, node, "nat")):
        return Check(False, f"{node}'s nat table has no `{masq}`, so {container}'s packets leave with source"
                            f" {subnet.split('/')[0][:-1]}x, an address the other side has no route back to;"
                            f" `iptables -t nat {masq}` on {node}")
    return Check(True, f"{node} masquerades {subnet} leaving by any interface but {bridge}")
