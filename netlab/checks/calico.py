"""Lab checks of Calico (chapter 7): a pod wired as Calico's CNI plugin wires it, BIRD's BGP sessions,
the routes BIRD installed (``proto bird``) and a node's blackhole for its own block.

Each reads the kernel (:mod:`netlab.kernel`) or asks BIRD (``birdc show protocols``), and says what it
found and what was expected, with the chapter section that explains it.
"""

from __future__ import annotations

import ipaddress
import time

from .. import kernel
from ..calico.bird import (BirdError, BirdNode, check_config, protocol_name, running, sessions, start as start_bird,
                           write_config)
from ..calico.names import HOST_VETH_MAC, POD_GATEWAY, veth_name
from .base import Check
from .network import _see

SEE_PLUMBING = "chapter 7, section 7.3"
SEE_BGP = "chapter 7, section 7.4"


def _bird(node) -> BirdNode:
    """A BirdNode good enough to reach NODE's control socket (only the name decides where it is)."""
    return node if isinstance(node, BirdNode) else BirdNode(node, "0.0.0.0", None, ())


def check_pod_plumbing(world, node: str, *, pod: str, ip: str, namespace: str = "default",
                       see: str | None = SEE_PLUMBING) -> Check:
    """Is POD wired as Calico wires it: its /32, the 169.254.1.1 routes, the host veth's MAC, proxy ARP,
    and NODE's /32 route to IP? The first thing missing is named."""
    cali = veth_name(pod, namespace)
    link = kernel.link(world, node, cali)
    if link is None:
        return Check(False, f"{node} has no interface {cali}: expected the host side of pod {namespace}/{pod}'s veth"
                            f" under Calico's name for it, cali + sha1(\"{namespace}.{pod}\")[:11]{_see(see)}",
                     cali, None)
    if (link.mac or "").lower() != HOST_VETH_MAC:
        return Check(False, f"{node}'s {cali} has MAC {link.mac}, expected {HOST_VETH_MAC}{_see(see)}",
                     HOST_VETH_MAC, link.mac)
    addrs = kernel.addresses(world, pod).get("eth0", [])
    if f"{ip}/32" not in addrs:
        return Check(False, f"{pod}'s eth0 has {', '.join(addrs) or 'no address'}, expected {ip}/32 (a /32: no"
                            f" neighbour is on-link, everything goes to the gateway){_see(see)}", f"{ip}/32", addrs)
    table = {r.dst: r for r in kernel.routes(world, pod)}
    gw = table.get(POD_GATEWAY)
    if gw is None or gw.dev != "eth0" or gw.scope != "link":
        return Check(False, f"{pod} has no route to {POD_GATEWAY} on eth0 with scope link, expected one: without it"
                            f" the kernel refuses a gateway that no address of eth0 covers{_see(see)}")
    default = table.get("default")
    if default is None or default.gateway != POD_GATEWAY:
        got = f"via {default.gateway}" if default and default.gateway else "none"
        return Check(False, f"{pod}'s default route is {got}, expected via {POD_GATEWAY}{_see(see)}",
                     POD_GATEWAY, default.gateway if default else None)
    proxy = kernel.sysctl(world, node, f"net.ipv4.conf.{cali}.proxy_arp")
    if proxy != "1":
        return Check(False, f"{node}'s net.ipv4.conf.{cali}.proxy_arp is {proxy}, expected 1: otherwise nobody"
                            f" answers {pod}'s ARP for {POD_GATEWAY}{_see(see)}", "1", proxy)
    host = {r.dst: r for r in kernel.routes(world, node)}.get(ip)
    if host is None or host.dev != cali:
        got = f"a route out of {host.dev}" if host else "no route"
        return Check(False, f"{node} has {got} for {ip}, expected one out of {cali} with scope link: replies to"
                            f" {pod} need it{_see(see)}")
    return Check(True, f"{pod} is wired as Calico wires it: {ip}/32, default via {POD_GATEWAY}, {cali}"
                       f" ({HOST_VETH_MAC}, proxy_arp 1), and {node} routes {ip} to {cali}")


def check_bird_config(world, node, *, config, start: bool = False, see: str | None = SEE_BGP) -> Check:
    """Does BIRD accept CONFIG (a node's bird.cfg as text)? Parsed with ``bird -p``: BIRD's own message
    and line when it does not. The text is tried in a file of its own (``bird.cfg.try``), so a running
    BIRD's configuration file is left as it is; with START, an accepted text then becomes NODE's
    configuration and BIRD starts there (or, already running, reads it again: ``birdc configure``)."""
    if not isinstance(config, str) or not config.strip():
        return Check(False, f"expected the configuration as text (a str), not {type(config).__name__}")
    bn = _bird(node)
    path = write_config(world, bn, config, path=f"{bn.directory}/bird.cfg.try")
    try:
        check_config(world, bn, path)
    except BirdError as e:
        return Check(False, f"{e}; expected a file BIRD accepts{_see(see)}")
    if not start:
        return Check(True, f"BIRD accepts this configuration for {bn.name}")
    try:
        start_bird(world, bn, config)
    except BirdError as e:
        return Check(False, f"{e}{_see(see)}")
    return Check(True, f"BIRD accepts this configuration and runs with it in {bn.name}")


def check_bgp_session(world, node, *, peer: str, wait: float = 0, see: str | None = SEE_BGP) -> Check:
    """Is NODE's BGP session to PEER (an IP) Established (within WAIT seconds)? Asks BIRD (``birdc show
    protocols``)."""
    bn = _bird(node)
    if not running(world, bn):
        return Check(False, f"BIRD is not running in {bn.name} (nothing answers on {bn.socket}); expected it"
                            f" running: start it first{_see(see)}", "Established", None)
    deadline = time.monotonic() + wait
    have = sessions(world, bn)
    while have.get(peer) != "Established" and time.monotonic() < deadline:
        time.sleep(0.2)
        have = sessions(world, bn)
    if peer not in have:
        return Check(False, f"{bn.name}'s BIRD has no session {protocol_name(peer)} to {peer}, expected one; its"
                            f" sessions: {', '.join(f'{p} {s}' for p, s in have.items()) or 'none'}{_see(see)}",
                     "Established", None)
    state = have[peer]
    if state != "Established":
        hint = (" (BIRD waits for the peer to connect: is BIRD running there, and does one side of each pair"
                " connect, the other wait with `passive on`?)" if state in ("Active", "Passive", "Connect", "start")
                else "")
        return Check(False, f"{bn.name}'s session to {peer} is {state}, not Established{hint}{_see(see)}",
                     "Established", state)
    return Check(True, f"{bn.name}'s session {protocol_name(peer)} to {peer} is Established")


def check_bird_route(world, node: str, *, block: str, via: str, wait: float = 0, see: str | None = SEE_BGP) -> Check:
    """Has NODE's kernel ``BLOCK via VIA proto bird``, a route BIRD learned by BGP and installed?

    The same route typed by hand (``proto static`` or ``boot``) fails: it is not what BGP carries, it
    does not go when the other node does, and no other node learns it.
    """
    try:
        block = str(ipaddress.IPv4Network(block))
    except (ValueError, TypeError):
        return Check(False, f"expected a block such as 10.244.3.0/26, not {block!r}")
    deadline = time.monotonic() + wait
    found = [r for r in kernel.routes(world, node) if r.dst == block]
    while not (found and found[0].protocol == "bird") and time.monotonic() < deadline:
        time.sleep(0.2)
        found = [r for r in kernel.routes(world, node) if r.dst == block]
    if not found:
        return Check(False, f"{node} has no route to {block}, expected one via {via} that BIRD learned by BGP"
                            f"{_see(see)}", f"{block} via {via} proto bird", None)
    r = found[0]
    if r.protocol != "bird":
        return Check(False, f"{node} has a route to {block} via {r.gateway} with proto {r.protocol}, expected proto"
                            f" bird: this one was typed by hand, not learned by BGP; BIRD installs what a peer"
                            f" announces with proto bird, and withdraws it when the peer goes{_see(see)}",
                     "bird", r.protocol)
    if r.gateway != via:
        return Check(False, f"{node} routes {block} via {r.gateway}, expected via {via} (the node holding the"
                            f" block){_see(see)}", via, r.gateway)
    return Check(True, f"{node} has {block} via {via} dev {r.dev} proto bird, learned by BGP")


def check_blackhole(world, node: str, *, block: str, see: str | None = SEE_BGP) -> Check:
    """Has NODE ``blackhole BLOCK proto bird``, the route BIRD announces for the node's own block?"""
    try:
        block = str(ipaddress.IPv4Network(block))
    except (ValueError, TypeError):
        return Check(False, f"expected a block such as 10.244.1.0/26, not {block!r}")
    found = [r for r in kernel.routes(world, node, "table main type blackhole") if r.dst == block]
    if not found:
        return Check(False, f"{node} has no blackhole route for its block {block}, expected one from BIRD's"
                            f" static protocol{_see(see)}")
    if found[0].protocol != "bird":
        return Check(False, f"{node}'s blackhole {block} has proto {found[0].protocol}, expected proto bird: typed"
                            f" by hand, so BIRD does not announce it{_see(see)}", "bird", found[0].protocol)
    return Check(True, f"{node} has blackhole {block} proto bird: its own block, announced whole to its peers")


def check_proxy_arp(world, node: str, *, pod: str, namespace: str = "default", see: str | None = SEE_PLUMBING) -> Check:
    """Did NODE answer POD's ARP for 169.254.1.1 with ee:ee:ee:ee:ee:ee? Reads POD's neighbour table
    (after the pod has sent something off its /32) and NODE's ``proxy_arp`` on the pod's veth."""
    cali = veth_name(pod, namespace)
    entry = next((n for n in kernel.neighbours(world, pod) if n.dst == POD_GATEWAY and n.dev == "eth0"), None)
    if entry is None or entry.lladdr is None:
        proxy = kernel.sysctl(world, node, f"net.ipv4.conf.{cali}.proxy_arp")
        state = f"{entry.dst} {'/'.join(entry.state)}" if entry else "no entry"
        return Check(False, f"{pod}'s neighbour table has {state} for {POD_GATEWAY}, expected {HOST_VETH_MAC}"
                            f" there once {pod} sends a packet (proxy_arp on {node}'s {cali} is {proxy}){_see(see)}",
                     HOST_VETH_MAC, None)
    if entry.lladdr != HOST_VETH_MAC:
        return Check(False, f"{pod} has {POD_GATEWAY} at {entry.lladdr}, expected {HOST_VETH_MAC} (the MAC of"
                            f" {cali}, which answers by proxy ARP){_see(see)}", HOST_VETH_MAC, entry.lladdr)
    return Check(True, f"{node} answered {pod}'s ARP: {POD_GATEWAY} is at {HOST_VETH_MAC} ({cali}, proxy ARP)")
