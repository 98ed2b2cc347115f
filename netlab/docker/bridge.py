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

The checks of such a host, the seed's troubleshooting checklist among them, are in
:mod:`netlab.checks.docker`; the generic kernel readers in :mod:`netlab.kernel`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import shlex

from .. import kernel
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
    "container_mac",
    "veth_name",
    "publish_rules",
    "docker_node",
    "docker_two_nodes",
    "start_http_server",
    "host_veth",
    "format_conntrack",
    "echo_frames",
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
def host_veth(world, container: str, node: str = "node1") -> str | None:
    """The host end of CONTAINER's eth0: the node's interface whose ifindex is eth0's peer index."""
    eth0 = kernel.link(world, container, "eth0")
    peer = eth0.peer_index if eth0 else None
    for l in kernel.links(world, node):
        if l.ifindex == peer and l.link_type == "ether" and l.ifname != "lo":
            return l.ifname
    return None


def format_conntrack(entries: list[kernel.Conntrack], ports: bool = True) -> str:
    """The conntrack entries (:func:`netlab.kernel.conntrack`) as ``proto original -> reply`` lines,
    sorted, volatile fields left out (timeouts, ICMP ids, ephemeral ports change from run to run)."""
    lines = []
    for e in entries:
        def side(d):
            s = f"src={d.get('src')} dst={d.get('dst')}"
            if ports and "sport" in d:  # ephemeral ports (above 1023) are left out: they change every run
                s += "".join(f" {k}={d[k]}" for k in ("sport", "dport") if int(d[k]) < 1024 or k == "dport" and
                             int(d["sport"]) >= 1024 and int(d[k]) < 32768)
            return s
        flags = " ".join(f"[{f}]" for f in e.flags if f in ("ASSURED", "UNREPLIED"))
        lines.append(f"{e.proto:<5} {e.state or '-':<12} original: {side(e.original)}   "
                     f"reply: {side(e.reply)} {flags}".rstrip())
    return "\n".join(sorted(lines))  # conntrack lists in hash order, which changes from run to run


# ------------------------------------------------------------------ frames, built and captured
#: ping's -e identifier used in the book, so the ICMP id is ours, not ping's choice.
PING_ID = 1


def echo_frames(src_ip: str, dst_ip: str, src_mac: str | None = None, dst_mac: str | None = None) -> dict:
    """The four frames of one ``ping -c 1 -e 1`` between two hosts on one Ethernet, built with scapy.

    Keys: ``arp_request`` (broadcast who-has), ``arp_reply``, ``echo_request``, ``echo_reply``.
    MACs default to Docker's scheme (:func:`container_mac`). The IP id, and ping's timestamp in the
    first 16 payload bytes, are set to 0 here: the kernel and ping fill them at send time (see
    :func:`netlab.compare_packets`); checksums are computed by scapy as the kernel computes them.
    """
    # scapy (and packets.frames, which imports it) load on first use: the engine never needs them
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
