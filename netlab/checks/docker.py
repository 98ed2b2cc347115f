"""Lab checks of a Docker host built by hand (chapters 3 and 4): bridge ports, NAT rules, a
container's default route, and the seed's troubleshooting checklist as :func:`diagnose`
("先试试 docker0 网桥能不能 ping 通，然后查看一下跟 docker0 和 Veth Pair 设备相关的 iptables 规则"):
the links in order, stopping at the first broken one.
"""

from __future__ import annotations

import html
import ipaddress
from dataclasses import dataclass, field

from .. import kernel
from ..docker.bridge import DOCKER_SUBNET, host_veth
from .base import Check


#: The chapter sections the checks point to (a failing check names what the kernel shows, what was
#: expected, and where the book explains it; never the command that fixes it).
SEE_BRIDGE, SEE_ROUTE = "chapter 3, section 3.1 The node and its bridge", "chapter 3, section 3.2 Inside the container"
SEE_PORT = "chapter 3, section 3.3 The other end of the cable, on the host"
SEE_FORWARD, SEE_NAT = "chapter 4, section 4.2 A container reaches another host", "chapter 4, section 4.3 Docker's NAT rules"
SEE_DNAT = "chapter 4, section 4.6 Publishing a port"


def _see(see: str | None) -> str:
    return f" (see {see})" if see else ""


def check_bridge_port(world, node: str, *, bridge: str, port: str, see: str | None = SEE_PORT) -> Check:
    """Is PORT a port of BRIDGE on NODE, and up?"""
    ports = {p.ifname: p for p in kernel.links(world, node, f"master {bridge}")}
    if port not in ports:
        names = ", ".join(sorted(ports)) or "none"
        return Check(False, f"{port} is not a port of {bridge} on {node} (its ports: {names}); expected {port}"
                            f" among them{_see(see)}", port, sorted(ports))
    if not ports[port].up:
        return Check(False, f"{port} is a port of {bridge} on {node} but is down; expected it up{_see(see)}")
    return Check(True, f"{port} is a port of {bridge} on {node} and is up")


def check_bridge_address(world, node: str, *, bridge: str = "docker0", address: str = "172.17.0.1/16",
                         see: str | None = SEE_BRIDGE) -> Check:
    """Has BRIDGE on NODE the containers' gateway ADDRESS, with its prefix and broadcast address, as dockerd
    gives it?

    dockerd's default bridge network is 172.17.0.0/16 (the first of moby's default local address
    pools, ``libnetwork/ipamutils``), and the netlink library it uses fills in the broadcast address
    (vishvananda/netlink ``addr_linux.go``: ``brd 172.17.255.255``). 172.17.0.1/24 is a different
    network: the kernel's connected route then covers only 172.17.0.0/24.
    """
    want = ipaddress.IPv4Interface(address)
    link = kernel.link(world, node, f"dev {bridge}", addresses=True)
    if link is None:
        return Check(False, f"{node} has no device {bridge}; expected the bridge{_see(see)}")
    have = [a for a in link.addresses if a.family == "inet"]
    shown = ", ".join(str(a) for a in have) or "no IPv4 address"
    mine = [a for a in have if a.local == str(want.ip)]
    if not mine:
        return Check(False, f"{bridge} on {node} has {shown}; expected {want.ip} (the containers' gateway){_see(see)}",
                     str(want), shown)
    a = mine[0]
    if a.prefixlen != want.network.prefixlen:
        return Check(False, f"{bridge} on {node} has {a}; expected the prefix of Docker's network {want.network},"
                            f" so that the kernel's connected route covers every container{_see(see)}",
                     str(want), str(a))
    brd = str(want.network.broadcast_address)
    if a.broadcast != brd:
        return Check(False, f"{bridge} on {node} has {a} with {'broadcast ' + a.broadcast if a.broadcast else 'no'}"
                            f" broadcast address; expected brd {brd}, as Docker sets it{_see(see)}", brd, a.broadcast)
    return Check(True, f"{bridge} on {node} has {a} brd {brd}", str(want), str(a))


def check_forwarding(world, node: str, *, see: str | None = SEE_FORWARD) -> Check:
    """Does NODE forward packets (``net.ipv4.ip_forward = 1``)?"""
    fwd = world.run(node, "sysctl -n net.ipv4.ip_forward").stdout.strip()
    if fwd != "1":
        return Check(False, f"{node}'s net.ipv4.ip_forward is {fwd}: it does not forward packets between its"
                            f" interfaces; expected 1{_see(see)}", "1", fwd)
    return Check(True, f"{node} forwards packets (net.ipv4.ip_forward = 1)", "1", fwd)


def _same_rule(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def check_nat_rule(world, node: str, *, rule: str, min_packets: int = 0, see: str | None = SEE_NAT) -> Check:
    """Is RULE (iptables-save form, ``-A CHAIN ...``) in NODE's nat table, with at least MIN_PACKETS hits?"""
    want = " ".join(rule.split())
    rules = kernel.iptables_rules(world, node, "nat")
    for r in rules:
        if _same_rule(r.text, want):
            if r.packets < min_packets:
                return Check(False, f"the rule `{want}` is in {node}'s nat table but has matched {r.packets}"
                                    f" packets; expected at least {min_packets}: did traffic it should match"
                                    f" pass?{_see(see)}", min_packets, r.packets)
            return Check(True, f"`{want}` is in the nat table and has matched {r.packets} packets",
                         expected=min_packets, given=r.packets)
    chain = want.split()[1] if want.startswith("-A ") and len(want.split()) > 1 else ""
    held = [r.text for r in rules if r.text.split()[1:2] == [chain]]
    shown = "; ".join(f"`{t}`" for t in held) or "no rule"
    return Check(False, f"{node}'s nat chain {chain or '?'} holds {shown}; expected `{want}`{_see(see)}", want, held)


def check_default_route(world, node: str, *, gateway: str = "172.17.0.1", see: str | None = SEE_ROUTE) -> Check:
    """Does the container NODE have a default route via GATEWAY on eth0?"""
    for r in kernel.routes(world, node, "default"):
        if r.gateway == gateway and r.dev == "eth0":
            return Check(True, f"{node}'s default route goes via {gateway} on eth0")
        return Check(False, f"{node}'s default route goes via {r.gateway} on {r.dev}; expected via {gateway}"
                            f" on eth0{_see(see)}", gateway, r.gateway)
    return Check(False, f"{node}'s table has no default route, so anything outside its own subnet is"
                        f" unreachable; expected one via {gateway} on eth0{_see(see)}", gateway, None)


def check_client(world, node: str = "node1", *, answer, port: int = 8080, see: str | None = SEE_DNAT) -> Check:
    """Is ANSWER the client address the container saw for the published PORT, as NODE's conntrack shows it?

    DNAT rewrites the destination only (moby's ``-j DNAT --to-destination``), so the source the
    container sees is the real client's; the tracked connection's original source is the answer.
    """
    entries = [e for e in kernel.conntrack(world, node, proto="tcp") if e.original.get("dport") == str(port)]
    if not entries:
        return Check(False, f"{node} tracks no TCP connection to port {port}: run the request from the client"
                            f" (the cell with curl) first")
    client = entries[-1].original.get("src")
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, f"give the address as a string, such as \"192.0.2.7\", not {answer!r}", client, answer)
    if answer.strip() == client:
        return Check(True, f"{client} is the source the web server saw: DNAT rewrote the destination only",
                     client, answer)
    dst = entries[-1].original.get("dst")
    why = (f"{answer} is the address the client sent to (the original destination), which DNAT rewrote"
           if answer.strip() == dst else f"{answer} is not the source of the tracked connection")
    return Check(False, f"{why}; read the `original: src=` of the connection in {node}'s conntrack table:"
                        f" which part of the packet did the DNAT rule change?{_see(see)}", client, answer)


# ------------------------------------------------------------------ the seed's checklist
@dataclass(frozen=True, repr=False)  # its text is Check's __repr__ over text(), graded the same way
class Diagnosis(Check):
    """The first broken link (or all clear), with every step that was checked in ``steps``."""

    steps: tuple = field(default=(), compare=False)

    def text(self) -> str:
        lines = [f"  {i}. {'✓' if s.ok else '✗'} {s.message}" for i, s in enumerate(self.steps, 1)]
        head = "✓ " + self.message if self.ok else f"✗ the first broken link is step {len(self.steps)}:"
        return "\n".join([head] + lines)

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

    1. the bridge: docker0 has the containers' gateway address (Docker's prefix and broadcast), and
       the container's veth is one of its (up) ports; the container can ping the gateway;
    2. the container's default route goes via that gateway;
    3. the node forwards (``net.ipv4.ip_forward = 1``);
    4. the nat table has Docker's ``MASQUERADE`` for the subnet;
    5. (with ``target``) the container reaches TARGET.

    Each broken step says what the kernel shows, what was expected and which section explains it;
    it never prints the command that repairs it (issue 15: a diagnosis is not a copy-paste script).
    """
    steps: list[Check] = []
    for step in (lambda: _bridge_step(world, container, node, bridge, gateway, subnet),
                 lambda: check_default_route(world, container, gateway=gateway),
                 lambda: check_forwarding(world, node),
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
                              f" forwarding and the NAT rule are in place; expected a reply: {node}'s own route"
                              f" to {target} and its filter rules are next (see chapter 4, section 4.7)"))
    return Diagnosis(False, steps[-1].message, steps=tuple(steps))


def _bridge_step(world, container: str, node: str, bridge: str, gateway: str, subnet: str) -> Check:
    """Step 1: the bridge's address, the container's cable plugged into it, and a ping to the gateway."""
    prefix = ipaddress.IPv4Network(subnet).prefixlen
    address = check_bridge_address(world, node, bridge=bridge, address=f"{gateway}/{prefix}")
    if not address.ok:
        return Check(False, f"{container}'s gateway: " + address.message)
    veth = host_veth(world, container, node)
    if veth is None:
        return Check(False, f"{container}'s eth0 has no peer on {node}; expected one end of a veth pair on"
                            f" {node}{_see(SEE_PORT)}")
    port = check_bridge_port(world, node, bridge=bridge, port=veth)
    if not port.ok:
        return Check(False, f"{container}'s cable ({veth} on {node}) is not plugged into the bridge: " + port.message)
    if not world.run(container, f"ping -c 1 -W 1 {gateway}", check=False).ok:
        return Check(False, f"{container} cannot ping its gateway {gateway} although {bridge} has the address"
                            f" and {veth} is its port; expected a reply: compare {container}'s own address"
                            f" and link with the bridge's{_see(SEE_ROUTE)}")
    return Check(True, f"{bridge} on {node} has {gateway}/{prefix}, {veth} is its port,"
                       f" and {container} pings {gateway}")


def _nat_step(world, container: str, node: str, bridge: str, subnet: str) -> Check:
    """Step 4: Docker's MASQUERADE for the containers' subnet."""
    masq = f"-A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE"
    if not any(_same_rule(r.text, masq) for r in kernel.iptables_rules(world, node, "nat")):
        return Check(False, f"{node}'s nat table does not masquerade {subnet}, so {container}'s packets leave"
                            f" with source {subnet.split('/')[0][:-1]}x, an address the other side has no route"
                            f" back to; expected Docker's MASQUERADE rule in POSTROUTING{_see(SEE_NAT)}")
    return Check(True, f"{node} masquerades {subnet} leaving by any interface but {bridge}")
