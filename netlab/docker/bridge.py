"""Docker's default bridge network, built by hand: what ``dockerd`` does, with the same names.

Chapters 3 and 4 ({ref}`ch-docker-bridge`, {ref}`ch-docker-nat`) follow the seed's sections
"Docker 容器之间的通信原理（单节点）", "宿主机与 Docker 容器之间的通信原理（单节点）" and
"Docker 容器之间的通信原理（多节点）". They need no Docker engine; where Debian's docker.io is
installed, ``tests/test_docker_engine.py`` runs the real dockerd in a world and checks that this
module builds what it builds:

- the bridge ``docker0`` with 172.17.0.1/16 and the seed's MAC 02:42:15:82:98:cb;
- each container a network namespace whose ``eth0`` is one end of a veth pair, with
  Docker's MAC scheme (02:42 followed by the four bytes of the IPv4 address, so
  172.17.0.2 -> 02:42:ac:11:00:02) and a default route via 172.17.0.1;
- the host end of each pair is named ``veth`` + 7 hex characters and is a port of docker0
  (the seed's ``veth9c02e56`` for nginx-1);
- docker0 and both ends of every veth made with txqueuelen 0, as libnetwork asks netlink for them
  (``drivers/bridge/setup_device.go``, ``bridge.go``: ``TxQLen: 0``), and every IPv4 address with
  its broadcast (vishvananda/netlink's ``AddrAdd`` fills it in: ``brd 172.17.255.255``), as
  Docker 20.10 does;
- ``net.ipv4.ip_forward=1`` and the iptables rules libnetwork installs, rule for rule as Debian's
  docker.io 20.10.24 leaves them (``tests/test_docker_engine.py`` compares them with the real
  dockerd): the nat table of :data:`DOCKER_NAT_RULES` (moby/libnetwork
  ``drivers/bridge/setup_ip_tables.go``, ``iptables/iptables.go`` ``ProgramChain``), and the
  filter table of :data:`DOCKER_FILTER_RULES` with FORWARD's policy DROP, which dockerd sets
  because it switched forwarding on itself (``drivers/bridge/setup_ip_forwarding.go``);
  ``-p 8080:80`` adds the rules of :func:`publish_rules` (``iptables.go`` ``Forward``);
- both port-publishing modes: the default ``--userland-proxy=true``, whose docker-proxy processes
  :mod:`netlab.docker.proxy` starts, and ``--userland-proxy=false`` (``userland_proxy=False``),
  where the nat rules change (:data:`DOCKER_NAT_RULES_NO_PROXY`), docker0 gets
  ``route_localnet=1`` (``setup_ipv4.go``) and every bridge port hairpin mode (``bridge.go``
  ``setHairpinMode``), so that DNAT alone answers every request;
- a second host ``node2`` (10.168.0.3) on the node's LAN (node ``node1``, eth0 10.168.0.2).

:func:`diagnose` is the seed's troubleshooting advice ("先试试 docker0 网桥能不能 ping 通，
然后查看一下跟 docker0 和 Veth Pair 设备相关的 iptables 规则") as a function: it checks the
links in order and names the first broken one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, field

from ..checks.base import Check
from ..engine.topology import End, Topology

__all__ = [
    "DOCKER_SUBNET",
    "DOCKER0_ADDRESS",
    "DOCKER0_MAC",
    "NODE_ADDRESS",
    "REMOTE_ADDRESS",
    "SEED_VETH",
    "SEED_VETH_MAC",
    "DOCKER_NAT_RULES",
    "DOCKER_NAT_RULES_NO_PROXY",
    "DOCKER_FILTER_RULES",
    "MASQUERADE_RULE",
    "docker_rules",
    "Diagnosis",
    "container_mac",
    "veth_name",
    "publish_rules",
    "docker_node",
    "docker_two_nodes",
    "start_http_server",
    "nat_rules",
    "conntrack_entries",
    "bridge_ports",
    "fdb_entries",
    "check_bridge_port",
    "check_fdb",
    "check_nat_rule",
    "check_default_route",
    "diagnose",
    "echo_frames",
    "match_kernel_frame",
    "format_conntrack",
]

#: Docker's default pool and its bridge (libnetwork's defaults), with the seed's docker0 MAC.
DOCKER_SUBNET = "172.17.0.0/16"
DOCKER0_ADDRESS = "172.17.0.1/16"
DOCKER0_MAC = "02:42:15:82:98:cb"
#: The seed's hosts: the Docker node's eth0 and "另外一台宿主机（比如：10.168.0.3）".
NODE_ADDRESS = "10.168.0.2/24"
REMOTE_ADDRESS = "10.168.0.3/24"
#: nginx-1's host-side veth and its MAC, as the seed's ``ifconfig`` prints them.
SEED_VETH = "veth9c02e56"
SEED_VETH_MAC = "52:81:0b:24:3d:da"

#: The nat table as dockerd leaves it with no published ports (iptables-save syntax).
DOCKER_NAT_RULES = (
    "-N DOCKER",
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
    "-A DOCKER -i docker0 -j RETURN",
)
#: The same with ``--userland-proxy=false`` ("hairpin mode" in libnetwork): no RETURN for docker0,
#: OUTPUT's jump also for 127.0.0.0/8, and a MASQUERADE (inserted first) for the host's own
#: addresses leaving by docker0, so a reply to 127.0.0.1 can come back.
DOCKER_NAT_RULES_NO_PROXY = (
    "-N DOCKER",
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER",
    "-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE",
    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
)
#: The filter table dockerd adds, in both modes (iptables-save order; the policy first).
DOCKER_FILTER_RULES = (
    "-P FORWARD DROP",
    "-N DOCKER",
    "-N DOCKER-ISOLATION-STAGE-1",
    "-N DOCKER-ISOLATION-STAGE-2",
    "-N DOCKER-USER",
    "-A FORWARD -j DOCKER-USER",
    "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
    "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "-A FORWARD -o docker0 -j DOCKER",
    "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT",
    "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
    "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
    "-A DOCKER-ISOLATION-STAGE-1 -j RETURN",
    "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
    "-A DOCKER-ISOLATION-STAGE-2 -j RETURN",
    "-A DOCKER-USER -j RETURN",
)
MASQUERADE_RULE = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"

#: The book's two containers (the seed names nginx-1; nginx-2 is the second one).
CONTAINERS = (("nginx-1", "172.17.0.2"), ("nginx-2", "172.17.0.3"), ("nginx-3", "172.17.0.4"))


def container_mac(ip: str) -> str:
    """Docker's MAC for a container address: 02:42 + the four address bytes (172.17.0.2 -> 02:42:ac:11:00:02)."""
    packed = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in packed)


def veth_name(container: str) -> str:
    """The host end's name: ``veth`` + 7 hex characters (the seed's veth9c02e56 for nginx-1).

    Docker draws the 7 characters at random; here they are derived from the container's
    name so every run of the book shows the same names.
    """
    if container == "nginx-1":
        return SEED_VETH
    return "veth" + hashlib.sha1(container.encode()).hexdigest()[:7]


def _veth_mac(container: str) -> str:
    if container == "nginx-1":
        return SEED_VETH_MAC
    digest = hashlib.sha1(("mac:" + container).encode()).digest()
    return ":".join(f"{b:02x}" for b in ((digest[0] & 0xFC) | 0x02,) + tuple(digest[1:6]))


def publish_rules(container_ip: str, host_port: int, container_port: int, proto: str = "tcp",
                  userland_proxy: bool = True) -> list[tuple[str, str]]:
    """(table, rule) pairs dockerd adds for ``docker run -p HOST_PORT:CONTAINER_PORT`` (libnetwork's
    ``ChainInfo.Forward``).

    nat: a MASQUERADE for a container reaching its own published port (it fires only without the
    userland proxy, when the DNAT sends the packet back out of the port it came in by), and the
    DNAT in the DOCKER chain, for traffic not coming from docker0 unless ``userland_proxy`` is
    False. filter: the ACCEPT in Docker's own DOCKER chain for the translated packet, which
    FORWARD's DROP policy would otherwise drop.
    """
    not_docker0 = "! -i docker0 " if userland_proxy else ""
    return [
        ("nat", f"-A POSTROUTING -s {container_ip}/32 -d {container_ip}/32 -p {proto} -m {proto}"
                f" --dport {container_port} -j MASQUERADE"),
        ("nat", f"-A DOCKER {not_docker0}-p {proto} -m {proto} --dport {host_port} -j DNAT"
                f" --to-destination {container_ip}:{container_port}"),
        ("filter", f"-A DOCKER -d {container_ip}/32 ! -i docker0 -o docker0 -p {proto} -m {proto}"
                   f" --dport {container_port} -j ACCEPT"),
    ]


def docker_rules(*, userland_proxy: bool = True, forward_drop: bool = True) -> list[tuple[str, str]]:
    """(table, rule) pairs of a Docker host with no published port: the filter table, then the nat table.

    forward_drop: FORWARD's policy DROP, which dockerd sets only when it switched ip_forward on.
    """
    nat = DOCKER_NAT_RULES if userland_proxy else DOCKER_NAT_RULES_NO_PROXY
    return [("filter", r) for r in DOCKER_FILTER_RULES if forward_drop or not r.startswith("-P ")] + \
        [("nat", r) for r in nat]


def _add_docker(t: Topology, node: str, containers, *, bridge_address: bool = True, attach: bool = True,
                default_routes: bool = True, nat: bool = True, publish=(), forward_drop: bool = True,
                userland_proxy: bool = True) -> None:
    t.add_bridge(node, "docker0", address=DOCKER0_ADDRESS if bridge_address else None, mac=DOCKER0_MAC,
                 txqueuelen=0, broadcast=True)
    hairpin = attach and not userland_proxy
    for name, ip in containers:
        t.add_node(name)
        t.add_link(End(name, "eth0", f"{ip}/16", mac=container_mac(ip), txqueuelen=0, broadcast=True),
                   End(node, veth_name(name), mac=_veth_mac(name), master="docker0" if attach else None,
                       txqueuelen=0, hairpin=hairpin))
        if default_routes:
            t.add_route(name, "default", via="172.17.0.1", dev="eth0", onlink=not bridge_address)
    if not nat:  # dockerd --iptables=false: no rules at all
        return
    if not userland_proxy:
        t.add_sysctl(node, "net.ipv4.conf.docker0.route_localnet", 1)
    rules = docker_rules(userland_proxy=userland_proxy, forward_drop=forward_drop)
    ips = dict(containers)
    for name, host_port, container_port in publish:
        rules += publish_rules(ips[name], host_port, container_port, userland_proxy=userland_proxy)
    for table, rule in rules:
        t.add_iptables(node, rule, table=table)


def docker_node(containers: int = 2, *, remote: bool = True, bridge_address: bool = True, attach: bool = True,
                default_routes: bool = True, ip_forward: bool = True, nat: bool = True,
                publish=(), userland_proxy: bool = True) -> Topology:
    """One Docker host ``node1`` as dockerd sets it up, and (``remote``) the seed's other host ``node2``.

    node1: docker0 172.17.0.1/16 (MAC 02:42:15:82:98:cb), eth0 10.168.0.2/24; containers nginx-1
    (172.17.0.2) and nginx-2 (172.17.0.3), each with eth0 and a default route via 172.17.0.1.
    A third container, nginx-3 (172.17.0.4), is there with ``containers=3`` (to watch flooding).
    node2: eth0 10.168.0.3/24 on the same LAN (one cable), no route to 172.17.0.0/16.
    ``publish`` is a list of (container, host_port, container_port), e.g. [("nginx-1", 8080, 80)]:
    its rules only; the processes dockerd starts for it are
    :func:`netlab.docker.proxy.start_docker_proxy`'s. ``userland_proxy=False`` is dockerd's
    ``--userland-proxy=false``. The keyword switches (``bridge_address``, ``attach``,
    ``default_routes``, ``ip_forward``, ``nat``) leave one piece out, for the lab that repairs a
    broken node: ``ip_forward=False`` is also dockerd's ``--ip-forward=false`` (FORWARD keeps its
    ACCEPT policy) and ``nat=False`` its ``--iptables=false`` (no rules in any table).
    """
    if containers not in (1, 2, 3):
        raise ValueError(f"containers must be 1, 2 or 3 (nginx-1 .2, nginx-2 .3, nginx-3 .4), not {containers!r}")
    t = Topology("docker_node")
    t.add_node("node1", sysctls={"net.ipv4.ip_forward": 1 if ip_forward else 0})
    _add_docker(t, "node1", CONTAINERS[:containers], bridge_address=bridge_address, attach=attach,
                default_routes=default_routes, nat=nat, publish=publish, forward_drop=ip_forward,
                userland_proxy=userland_proxy)
    if remote:
        t.add_node("node2")
        t.add_link(End("node1", "eth0", NODE_ADDRESS, mac="02:42:0a:a8:00:02"),
                   End("node2", "eth0", REMOTE_ADDRESS, mac="02:42:0a:a8:00:03"))
    return t


def docker_two_nodes() -> Topology:
    """The seed's multi-node picture: node1 (10.168.0.2) and node2 (10.168.0.3), each a Docker host.

    Both have docker0 172.17.0.1/16 and one container at 172.17.0.2 (container-1 on node1,
    container-2 on node2), Docker's filter and nat rules, and no route to each other's containers: the
    two bridges know nothing of each other.
    """
    t = Topology("docker_two_nodes")
    for i in (1, 2):
        t.add_node(f"node{i}", sysctls={"net.ipv4.ip_forward": 1})
        _add_docker(t, f"node{i}", [(f"container-{i}", "172.17.0.2")])
    t.add_link(End("node1", "eth0", NODE_ADDRESS, mac="02:42:0a:a8:00:02"),
               End("node2", "eth0", REMOTE_ADDRESS, mac="02:42:0a:a8:00:03"))
    return t


def start_http_server(world, container: str, port: int = 80, text: str | None = None) -> str:
    """Serve one page from CONTAINER with ``python3 -m http.server PORT`` (a stand-in for nginx).

    The page lives in the world's private /run, so it goes when the world goes. Returns the
    background process's name (``world.stop(name)`` ends it).
    """
    text = text or f"Welcome to {container}"
    root = f"/run/www-{container}"
    world.run(container, f"sh -c {shlex.quote(f'mkdir -p {root} && echo {shlex.quote(text)} > {root}/index.html')}")
    name = world.start(container, f"python3 -m http.server {port} --bind 0.0.0.0 --directory {root}",
                       name=f"http-{container}")
    # wait until it listens, so the first request does not race the server
    world.run(container, f"sh -c 'for i in $(seq 100); do ss -Htln \"sport = :{port}\" | grep -q . && exit 0;"
                         f" sleep 0.05; done; exit 1'")
    return name


# ------------------------------------------------------------------ reading the kernel
def _json(world, node, command):
    out = world.run(node, command).stdout.strip()
    return json.loads(out) if out else []


def _strip_counters(rule: str) -> tuple[str, int, int]:
    m = re.search(r"\s-c (\d+) (\d+)", rule)
    if not m:
        return rule.strip(), 0, 0
    return (rule[:m.start()] + rule[m.end():]).strip(), int(m.group(1)), int(m.group(2))


def nat_rules(world, node: str = "node1") -> list[dict]:
    """The nat table's rules with their counters: dicts with rule (iptables-save form), packets, bytes.

    Read from ``iptables -t nat -S -v`` (which appends ``-c PACKETS BYTES`` to each rule).
    """
    out = world.run(node, "iptables -t nat -S -v").stdout
    rules = []
    for line in out.splitlines():
        if line.startswith("-A "):
            rule, packets, nbytes = _strip_counters(line)
            rules.append({"rule": rule, "packets": packets, "bytes": nbytes})
    return rules


_CT_FIELD = re.compile(r"(\w+)=(\S+)")


def conntrack_entries(world, node: str = "node1", proto: str | None = None) -> list[dict]:
    """``conntrack -L`` parsed: dicts with proto, state, original and reply (src, dst, sport, dport).

    Use it to print the entries without the fields that change from run to run (timeouts,
    ICMP ids, ephemeral ports): see :func:`format_conntrack`.
    """
    cmd = "conntrack -L" + (f" -p {proto}" if proto else "")
    res = world.run(node, cmd, check=False)
    entries = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        pairs = _CT_FIELD.findall(line)
        first_src = [i for i, (k, _) in enumerate(pairs) if k == "src"]
        if len(first_src) < 2:
            continue
        orig = dict(pairs[first_src[0]:first_src[1]])
        reply = dict(pairs[first_src[1]:])
        state = next((p for p in parts[3:5] if p.isupper() and "=" not in p), "")
        flags = [p.strip("[]") for p in parts if p.startswith("[") and p.endswith("]")]
        entries.append({"proto": parts[0], "state": state, "flags": flags,
                        "original": orig, "reply": reply, "line": line})
    return entries


def format_conntrack(entries: list[dict], ports: bool = True) -> str:
    """The conntrack entries as ``proto original -> reply`` lines, sorted, volatile fields left out."""
    lines = []
    for e in entries:
        def side(d):
            s = f"src={d.get('src')} dst={d.get('dst')}"
            if ports and "sport" in d:  # ephemeral ports (above 1023) are left out: they change every run
                s += "".join(f" {k}={d[k]}" for k in ("sport", "dport") if int(d[k]) < 1024 or k == "dport" and
                             int(d["sport"]) >= 1024 and int(d[k]) < 32768)
            return s
        flags = " ".join(f"[{f}]" for f in e["flags"] if f in ("ASSURED", "UNREPLIED"))
        lines.append(f"{e['proto']:<5} {e['state'] or '-':<12} original: {side(e['original'])}   "
                     f"reply: {side(e['reply'])} {flags}".rstrip())
    return "\n".join(sorted(lines))  # conntrack lists in hash order, which changes from run to run


def bridge_ports(world, node: str = "node1", bridge: str = "docker0") -> list[dict]:
    """``ip -j link show master BRIDGE``: the bridge's ports (ifname, address, operstate, ...)."""
    return _json(world, node, f"ip -j link show master {bridge}")


def fdb_entries(world, node: str = "node1", bridge: str = "docker0", learned_only: bool = True) -> list[dict]:
    """``bridge -j fdb show br BRIDGE``: dicts with mac, ifname, state (and flags).

    ``learned_only`` leaves out the bridge's own permanent entries (its ports' MACs, marked
    ``permanent``) and the multicast entries, keeping what the bridge learned from traffic.
    """
    entries = _json(world, node, f"bridge -j fdb show br {bridge}")
    if learned_only:
        entries = [e for e in entries if e.get("state") != "permanent" and not int(e["mac"][:2], 16) & 1]
    return entries


def check_bridge_port(world, node: str, bridge: str, ifname: str) -> Check:
    """Is IFNAME a port of BRIDGE on NODE, and up?"""
    ports = {p["ifname"]: p for p in bridge_ports(world, node, bridge)}
    if ifname not in ports:
        names = ", ".join(sorted(ports)) or "none"
        return Check(False, f"{ifname} is not a port of {bridge} on {node} (its ports: {names}); plug it in with"
                            f" `ip link set {ifname} master {bridge}`")
    if "UP" not in ports[ifname].get("flags", []):
        return Check(False, f"{ifname} is a port of {bridge} but is down; `ip link set {ifname} up` on {node}")
    return Check(True, f"{ifname} is a port of {bridge} on {node} and is up")


def check_fdb(world, node: str, bridge: str, mac: str, port: str) -> Check:
    """Has BRIDGE learned MAC on PORT (a dynamic FDB entry, from traffic)?"""
    mac = mac.lower()
    for e in fdb_entries(world, node, bridge):
        if e["mac"] == mac:
            if e.get("ifname") == port:
                return Check(True, f"{bridge} on {node} has learned {mac} on port {port}")
            return Check(False, f"{bridge} learned {mac} on {e.get('ifname')}, not on {port}")
    return Check(False, f"{bridge} on {node} has not learned {mac}; send traffic from it (e.g. a ping) first")


def check_nat_rule(world, node: str, rule: str, min_packets: int = 0) -> Check:
    """Is RULE (iptables-save form, ``-A CHAIN ...``) in NODE's nat table, with at least MIN_PACKETS hits?"""
    want = " ".join(rule.split())
    for r in nat_rules(world, node):
        if " ".join(r["rule"].split()) == want:
            if r["packets"] < min_packets:
                return Check(False, f"the rule `{want}` is there but has matched {r['packets']} packets"
                                    f" (expected at least {min_packets}); send traffic that it should match")
            return Check(True, f"`{want}` is in the nat table and has matched {r['packets']} packets",
                         expected=min_packets, given=r["packets"])
    return Check(False, f"{node}'s nat table has no rule `{want}`; add it with `iptables -t nat {want}`")


def check_default_route(world, container: str, gateway: str = "172.17.0.1") -> Check:
    """Does CONTAINER have a default route via GATEWAY on eth0?"""
    for r in _json(world, container, "ip -j route show default"):
        if r.get("gateway") == gateway and r.get("dev") == "eth0":
            return Check(True, f"{container}'s default route goes via {gateway} on eth0")
        return Check(False, f"{container}'s default route goes via {r.get('gateway')} on {r.get('dev')},"
                            f" not via {gateway}; `ip route replace default via {gateway} dev eth0` in {container}")
    return Check(False, f"{container} has no default route, so anything outside 172.17.0.0/16 is unreachable;"
                        f" `ip route add default via {gateway} dev eth0` in {container}")


# ------------------------------------------------------------------ the diagnostic
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
        import html
        colour = "#1b5e20" if self.ok else "#8b0000"
        items = "".join(f"<li style='color:{'#1b5e20' if s.ok else '#8b0000'}'>{'✓' if s.ok else '✗'} "
                        f"{html.escape(s.message)}</li>" for s in self.steps)
        head = html.escape(self.message) if self.ok else f"the first broken link is step {len(self.steps)}:"
        return (f"<div class='netlab-check' style='font-family:sans-serif'><b style='color:{colour}'>"
                f"{'✓' if self.ok else '✗'} {head}</b><ol>{items}</ol></div>")


def _host_veth(world, container: str, node: str) -> str | None:
    """The host end of CONTAINER's eth0: the node's interface whose ifindex is eth0's peer index."""
    link = _json(world, container, "ip -j link show eth0")
    peer = link[0].get("link_index") if link else None
    for l in _json(world, node, "ip -j link show"):
        if l.get("ifindex") == peer and l.get("link_type") == "ether" and l["ifname"] != "lo":
            return l["ifname"]
    return None


def diagnose(world, container: str, node: str = "node1", target: str | None = "10.168.0.3",
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

    def done(check: Check) -> Diagnosis:
        steps.append(check)
        if check.ok:
            return Diagnosis(True, f"{container} reaches {target}: every link works", steps=tuple(steps))
        return Diagnosis(False, check.message, steps=tuple(steps))

    # 1. the bridge's address and the container's port
    addrs = {a["local"]: a["prefixlen"] for l in _json(world, node, f"ip -j addr show dev {bridge}")
             for a in l.get("addr_info", []) if a.get("family") == "inet"}
    if gateway not in addrs:
        return done(Check(False, f"the bridge {bridge} on {node} has no address {gateway} (it has"
                                 f" {', '.join(f'{a}/{p}' for a, p in addrs.items()) or 'none'}), so {container}'s"
                                 f" gateway does not exist; `ip addr add {gateway}/16 dev {bridge}` on {node}"))
    veth = _host_veth(world, container, node)
    if veth is None:
        return done(Check(False, f"{container}'s eth0 has no peer on {node}; the veth pair is broken"))
    port = check_bridge_port(world, node, bridge, veth)
    if not port.ok:
        return done(Check(False, f"{container}'s cable ({veth} on {node}) is not plugged into the bridge: "
                                 + port.message))
    ping = world.run(container, f"ping -c 1 -W 1 {gateway}", check=False)
    if not ping.ok:
        return done(Check(False, f"{container} cannot ping its gateway {gateway} although {bridge} has the address"
                                 f" and {veth} is a port; check `ip addr` in {container} and `ip link` on {node}"))
    steps.append(Check(True, f"{bridge} on {node} has {gateway}/{addrs[gateway]}, {veth} is its port,"
                             f" and {container} pings {gateway}"))
    # 2. default route
    route = check_default_route(world, container, gateway)
    if not route.ok:
        return done(route)
    steps.append(route)
    # 3. forwarding
    fwd = world.run(node, "sysctl -n net.ipv4.ip_forward").stdout.strip()
    if fwd != "1":
        return done(Check(False, f"{node} does not forward packets (net.ipv4.ip_forward = {fwd}), so nothing from"
                                 f" {container} leaves {bridge}; `sysctl -w net.ipv4.ip_forward=1` on {node}"))
    steps.append(Check(True, f"{node} forwards packets (net.ipv4.ip_forward = 1)"))
    # 4. NAT
    masq = f"-A POSTROUTING -s {subnet} ! -o {bridge} -j MASQUERADE"
    have = [r["rule"] for r in nat_rules(world, node)]
    if not any(" ".join(r.split()) == masq for r in have):
        return done(Check(False, f"{node}'s nat table has no `{masq}`, so {container}'s packets leave with source"
                                 f" {subnet.split('/')[0][:-1]}x, an address the other side has no route back to;"
                                 f" `iptables -t nat {masq}` on {node}"))
    steps.append(Check(True, f"{node} masquerades {subnet} leaving by any interface but {bridge}"))
    # 5. end to end
    if target is None:
        return Diagnosis(True, f"{container}'s links to the outside are all in place", steps=tuple(steps))
    res = world.run(container, f"ping -c 1 -W 1 {target}", check=False)
    if res.ok:
        return done(Check(True, f"{container} pings {target}"))
    return done(Check(False, f"{container} still cannot reach {target} although the bridge, the route,"
                             f" forwarding and the NAT rule are in place; look at {node}'s own route to"
                             f" {target} (`ip route get {target}`) and at filter rules (`iptables -S FORWARD`)"))


# ------------------------------------------------------------------ frames, built and captured
#: ping's -e identifier used in the book, so the ICMP id is ours, not ping's choice.
PING_ID = 1


def echo_frames(src_ip: str, dst_ip: str, src_mac: str | None = None, dst_mac: str | None = None) -> dict:
    """The four frames of one ``ping -c 1 -e 1`` between two hosts on one Ethernet, built with scapy.

    Keys: ``arp_request`` (broadcast who-has), ``arp_reply``, ``echo_request``, ``echo_reply``.
    MACs default to Docker's scheme (:func:`container_mac`). The IP id, and ping's timestamp in the
    first 16 payload bytes, are set to 0 here: the kernel and ping fill them at send time (see
    :func:`match_kernel_frame`); checksums are computed by scapy as the kernel computes them.
    """
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP, Ether
    from scapy.packet import Raw
    from ..packets.frames import ECHO_PAYLOAD
    src_mac = src_mac or container_mac(src_ip)
    dst_mac = dst_mac or container_mac(dst_ip)
    payload = bytes(16) + ECHO_PAYLOAD[16:]
    return {
        "arp_request": Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=src_mac, psrc=src_ip, hwdst="00:00:00:00:00:00", pdst=dst_ip),
        "arp_reply": Ether(src=dst_mac, dst=src_mac) / ARP(op=2, hwsrc=dst_mac, psrc=dst_ip, hwdst=src_mac,
                                                           pdst=src_ip),
        "echo_request": Ether(src=src_mac, dst=dst_mac) / IP(src=src_ip, dst=dst_ip, ttl=64, id=0, flags="DF")
        / ICMP(type=8, id=PING_ID, seq=1) / Raw(payload),
        "echo_reply": Ether(src=dst_mac, dst=src_mac) / IP(src=dst_ip, dst=src_ip, ttl=64, id=0)
        / ICMP(type=0, id=PING_ID, seq=1) / Raw(payload),
    }


def match_kernel_frame(captured, built) -> tuple[bool, list[str]]:
    """Compare a captured frame with a scapy-built one, byte for byte, after copying the kernel-filled fields.

    The fields copied from the capture are the IP identification (the kernel picks it) and the
    first 16 bytes of an ICMP echo payload (ping's ``struct timeval`` send time); scapy then
    recomputes both checksums. Returns (equal, names of the fields that were copied).
    Everything else (MACs, ARP fields, addresses, TTL, flags, ICMP type/id/seq, the rest of
    the payload) must already agree.
    """
    from scapy.layers.inet import ICMP, IP
    from scapy.packet import Raw
    pkt = built.copy()
    filled = []
    if pkt.haslayer(IP) and captured.haslayer(IP):
        pkt[IP].id = captured[IP].id
        pkt[IP].chksum = None
        filled.append("IP id (and so the IP checksum)")
    if pkt.haslayer(ICMP) and captured.haslayer(Raw) and pkt.haslayer(Raw):
        pkt[Raw].load = bytes(captured[Raw].load[:16]) + bytes(pkt[Raw].load[16:])
        pkt[ICMP].chksum = None
        filled.append("payload bytes 0-15 = ping's send time (and so the ICMP checksum)")
    return bytes(captured) == bytes(pkt.__class__(bytes(pkt))), filled
