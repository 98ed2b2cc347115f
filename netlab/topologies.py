"""The book's topologies, one function each, named and addressed as in the seed.

Chapter 1 (IP addressing): :func:`pc_pair` and :func:`pc_pair_with_router`.
"""

from __future__ import annotations

from .engine.topology import End, Topology

#: The seed's exercise: PC1 and PC2 (different /26 subnets) and PC1's gateway.
PC1 = "192.168.0.3/26"
PC2 = "192.168.0.192/26"
GATEWAY = "192.168.0.1"
#: Docker-style MACs: 02:42 + the IPv4 address bytes (192.168.0.3 -> c0:a8:00:03).
#: netlab.frames builds its frames with these, so captures compare byte for byte.
PC1_MAC = "02:42:c0:a8:00:03"
PC2_MAC = "02:42:c0:a8:00:c0"
GATEWAY_MAC = "02:42:c0:a8:00:01"


def pc_pair(pc2_address: str = "192.168.0.192/26") -> Topology:
    """PC1 (192.168.0.3/26) and PC2 on one LAN, a switch node ``lan`` with bridge ``br0``.

    With the seed's addresses the two are in different /26 subnets, so with no
    gateway ``ping`` from pc1 fails with "Network is unreachable".
    """
    t = Topology("pc_pair")
    for name in ("pc1", "pc2", "lan"):
        t.add_node(name)
    t.add_bridge("lan", "br0", mac="02:00:00:00:0b:00")
    t.add_link(End("pc1", "eth0", "192.168.0.3/26", mac=PC1_MAC), End("lan", "port1", master="br0"))
    t.add_link(End("pc2", "eth0", pc2_address, mac=PC2_MAC), End("lan", "port2", master="br0"))
    return t


def pc_pair_with_router(default_routes: bool = True) -> Topology:
    """PC1 (192.168.0.3/26) - r1 (192.168.0.1/26 | 192.168.0.193/26) - PC2 (192.168.0.192/26).

    r1 forwards (ip_forward=1) and, unless ``default_routes=False`` (the lab's starting point),
    each PC's default route points at it. r1's leg towards PC1 has the gateway MAC that
    :func:`netlab.packets.frames.first_frame` uses, so a captured frame and a built one compare byte for byte.
    """
    t = Topology("pc_pair_with_router")
    t.add_node("pc1")
    t.add_node("pc2")
    t.add_node("r1", sysctls={"net.ipv4.ip_forward": 1})
    t.add_link(End("pc1", "eth0", "192.168.0.3/26", mac=PC1_MAC),
               End("r1", "eth0", "192.168.0.1/26", mac=GATEWAY_MAC))
    t.add_link(End("pc2", "eth0", "192.168.0.192/26", mac=PC2_MAC),
               End("r1", "eth1", "192.168.0.193/26", mac="02:42:c0:a8:00:c1"))
    if default_routes:
        t.add_route("pc1", "default", via="192.168.0.1")
        t.add_route("pc2", "default", via="192.168.0.193")
    return t


def flannel_vxlan(containers_per_node: int = 1) -> Topology:
    """The seed's Flannel VXLAN example: node1/node2 (10.168.0.2/.3), flannel.1 VTEPs on UDP 8472.

    node1: cni0 10.1.15.1/24, flannel.1 10.1.15.0/32; node2: cni0 10.1.16.1/24, flannel.1
    10.1.16.0/32 with the seed's MAC 5e:f8:4f:00:e3:37. Each node has a neighbour and an FDB
    entry for the other's VTEP, as flanneld writes them, and an onlink route to the other's subnet.
    """
    t = Topology("flannel_vxlan")
    vtep = {1: ("10.168.0.2", "10.1.15", "5e:f8:4f:00:e3:36"), 2: ("10.168.0.3", "10.1.16", "5e:f8:4f:00:e3:37")}
    for i, (host, sub, mac) in vtep.items():
        node = f"node{i}"
        t.add_node(node, sysctls={"net.ipv4.ip_forward": 1})
        t.add_bridge(node, "cni0", address=f"{sub}.1/24")
        for c in range(1, containers_per_node + 1):
            ctr = f"container-{i}" if containers_per_node == 1 else f"container-{i}-{c}"
            t.add_node(ctr)
            t.add_link(End(ctr, "eth0", f"{sub}.{c + 1}/24"), End(node, f"veth{i}{c:02d}", master="cni0"))
            t.add_route(ctr, "default", via=f"{sub}.1")
    t.add_link(End("node1", "eth0", "10.168.0.2/24"), End("node2", "eth0", "10.168.0.3/24"))
    for i, (host, sub, mac) in vtep.items():
        t.add_vxlan(f"node{i}", "flannel.1", vni=1, local=host, dev="eth0", mac=mac,
                    address=f"{sub}.0/32", mtu=1450)
    for i, j in ((1, 2), (2, 1)):
        host, sub, mac = vtep[j]
        t.add_neigh(f"node{i}", "flannel.1", f"{sub}.0", mac)
        t.add_fdb(f"node{i}", "flannel.1", mac, host)
        t.add_route(f"node{i}", f"{sub}.0/24", via=f"{sub}.0", dev="flannel.1", onlink=True)
    return t


# ---------------------------------------------------------------------------
# Chapter 2 (gateways and routers): the seed's section
# 主机（Mac OS）和 vSphere 虚拟机网络互通原理, and a path of routers for ttl=60.
# ---------------------------------------------------------------------------

#: Host A's en0 MAC, from the seed's macOS ``ifconfig``.
HOST_A_MAC = "d0:81:7a:9d:e9:62"
#: vSphere VM B's ens192 MAC, from the seed's ``ifconfig`` (00:50:56 is VMware's OUI).
VM_B_MAC = "00:50:56:b4:92:2d"
#: Office router C: its leg on the office LAN (10.64.1.1) and on the server network (10.6.0.1).
ROUTER_C_LAN_MAC = "02:00:0a:40:01:01"
ROUTER_C_SERVER_MAC = "02:00:0a:06:00:01"
#: Guest Wi-Fi router D on the office LAN (10.64.1.254).
ROUTER_D_MAC = "02:00:0a:40:01:fe"


def office_network(via: str | None = "C", vm_gateway: bool = True) -> Topology:
    """The seed's host-to-vSphere-VM case: A - office LAN - C - server network - B, and D.

    - ``A`` (the Mac host): ``en0`` 10.64.1.46/24, MAC d0:81:7a:9d:e9:62, on the office LAN
      (bridge ``br0`` in node ``office``); default route via the router chosen by ``via``:
      ``"C"`` (10.64.1.1), ``"D"`` (10.64.1.254) or ``None`` (no default route: the lab's start).
    - ``C`` (office router, DaoCloud 路由器): ``eth0`` 10.64.1.1/24 on the LAN and ``eth1``
      10.6.0.1/16 towards the servers; forwards (ip_forward=1).
    - ``D`` (guest Wi-Fi router, DaoCloud-Guest 路由器): ``eth0`` 10.64.1.254/24 on the LAN,
      forwards, but has no route to 10.6.0.0/16, so it answers "Destination Net Unreachable".
    - ``B`` (vSphere VM): ``ens192`` 10.6.8.1/16, MAC 00:50:56:b4:92:2d, default via 10.6.0.1
      metric 100 (as NetworkManager sets it on the seed's VM) unless ``vm_gateway=False``.
    """
    if via not in ("C", "D", None):
        raise ValueError(f"via={via!r}: choose 'C' (the office router), 'D' (the guest router) or None")
    t = Topology("office_network")
    t.add_node("A")
    t.add_node("office")
    t.add_node("C", sysctls={"net.ipv4.ip_forward": 1})
    t.add_node("D", sysctls={"net.ipv4.ip_forward": 1})
    t.add_node("B")
    t.add_bridge("office", "br0", mac="02:00:0a:40:01:00")
    t.add_link(End("A", "en0", "10.64.1.46/24", mac=HOST_A_MAC), End("office", "port-a", master="br0"))
    t.add_link(End("C", "eth0", "10.64.1.1/24", mac=ROUTER_C_LAN_MAC), End("office", "port-c", master="br0"))
    t.add_link(End("D", "eth0", "10.64.1.254/24", mac=ROUTER_D_MAC), End("office", "port-d", master="br0"))
    t.add_link(End("C", "eth1", "10.6.0.1/16", mac=ROUTER_C_SERVER_MAC),
               End("B", "ens192", "10.6.8.1/16", mac=VM_B_MAC))
    if via is not None:
        t.add_route("A", "default", via={"C": "10.64.1.1", "D": "10.64.1.254"}[via])
    if vm_gateway:
        # metric 100: what NetworkManager gives a wired NIC's routes, as in the seed's route -n
        t.add_route("B", "default", via="10.6.0.1", metric=100)
    return t


def _chain_mac(router: int, leg: int) -> str:
    return f"02:00:00:00:{router:02x}:{leg:02x}"


def router_chain(n: int = 4, omit: tuple = ()) -> Topology:
    """Host A (10.64.1.46/24) - r1 - r2 - ... - rN - VM B (10.6.8.1/16): N routers in a row.

    r1 owns A's gateway 10.64.1.1, rN owns B's gateway 10.6.0.1; router i and i+1 share
    172.16.i.0/24 (.1 on ri's ``eth1``, .2 on ri+1's ``eth0``). Every router has a route to
    10.6.0.0/16 towards B and one to 10.64.1.0/24 towards A, except those named in ``omit``
    as ``(router, destination)`` pairs, which the lab leaves for learners to add. With the
    default four routers a reply from B reaches A with ttl=60, as in the seed's ping.
    """
    if not isinstance(n, int) or not 1 <= n <= 30:
        raise ValueError(f"n={n!r}: give a whole number of routers from 1 to 30")
    omit = {tuple(x) for x in omit}
    t = Topology(f"router_chain_{n}")
    t.add_node("A")
    routers = [f"r{i}" for i in range(1, n + 1)]
    for r in routers:
        t.add_node(r, sysctls={"net.ipv4.ip_forward": 1})
    t.add_node("B")
    t.add_link(End("A", "en0", "10.64.1.46/24", mac=HOST_A_MAC), End("r1", "eth0", "10.64.1.1/24", mac=_chain_mac(1, 0)))
    for i in range(1, n):
        t.add_link(End(f"r{i}", "eth1", f"172.16.{i}.1/24", mac=_chain_mac(i, 1)),
                   End(f"r{i + 1}", "eth0", f"172.16.{i}.2/24", mac=_chain_mac(i + 1, 0)))
    t.add_link(End(f"r{n}", "eth1", "10.6.0.1/16", mac=_chain_mac(n, 1)), End("B", "ens192", "10.6.8.1/16", mac=VM_B_MAC))
    t.add_route("A", "default", via="10.64.1.1")
    t.add_route("B", "default", via="10.6.0.1")
    for i in range(1, n + 1):
        r = f"r{i}"
        if i < n and (r, "10.6.0.0/16") not in omit:
            t.add_route(r, "10.6.0.0/16", via=f"172.16.{i}.2")
        if i > 1 and (r, "10.64.1.0/24") not in omit:
            t.add_route(r, "10.64.1.0/24", via=f"172.16.{i - 1}.1")
    unknown = omit - {(r, d) for r in routers for d in ("10.6.0.0/16", "10.64.1.0/24")}
    if unknown:
        raise ValueError(f"omit={sorted(unknown)!r}: name (router, destination) pairs such as ('r3', '10.64.1.0/24')")
    return t


def flannel_udp(nodes: int = 2, lan_mtu: int | None = None, container_mtu: int | None = None) -> Topology:
    """The seed's Flannel UDP example: node1 (10.168.0.2) and node2 (10.168.0.3) on one LAN.

    node<i>: eth0 10.168.0.<i+1>/24, docker0 100.96.<i>.1/24, default via 10.168.0.1; container-<i>
    at 100.96.<i>.<i+1> (the seed's container-1 100.96.1.2 and container-2 100.96.2.3) behind docker0.
    ``lan`` is the switch (bridge br0) and holds 10.168.0.1, the seed's gateway address, where the
    etcd server runs. No flannel0 yet: flanneld creates it (:mod:`netlab.flannel`). ``nodes=3``
    adds node3 (10.168.0.4, docker0 100.96.3.1/24, container-3 100.96.3.4) for the lab.
    """
    if not 1 <= nodes <= 9:
        raise ValueError("flannel_udp: nodes must be between 1 and 9")
    t = Topology("flannel_udp" if nodes == 2 else f"flannel_udp_{nodes}")
    t.add_node("lan")
    t.add_bridge("lan", "br0", address="10.168.0.1/24", mac="02:00:0a:a8:00:01", mtu=lan_mtu)
    for i in range(1, nodes + 1):
        node, ctr = f"node{i}", f"container-{i}"
        t.add_node(node, sysctls={"net.ipv4.ip_forward": 1})
        t.add_node(ctr)
        t.add_link(End(node, "eth0", f"10.168.0.{i + 1}/24", mac=f"02:00:0a:a8:00:{i + 1:02x}", mtu=lan_mtu),
                   End("lan", f"port{i}", master="br0", mtu=lan_mtu))
        t.add_bridge(node, "docker0", address=f"100.96.{i}.1/24", mac=f"02:42:64:60:{i:02x}:01")
        t.add_link(End(ctr, "eth0", f"100.96.{i}.{i + 1}/24", mac=f"02:42:64:60:{i:02x}:{i + 1:02x}",
                       mtu=container_mtu),
                   End(node, f"veth{i}", master="docker0", mtu=container_mtu))
        t.add_route(ctr, "default", via=f"100.96.{i}.1")
        t.add_route(node, "default", via="10.168.0.1")
    return t


def walk_nat() -> Topology:
    """ctr (172.17.0.2/16) - gw (172.17.0.1/16 | 10.0.0.1/24, MASQUERADE out of eth1) - server (10.0.0.2/24).

    The server has no route back to 172.17.0.0/16: only the source NAT on gw lets it answer.
    The packet walk shows the source rewritten between gw's eth0 and eth1 and names the rule.
    """
    t = Topology("walk_nat")
    t.add_node("ctr")
    t.add_node("gw", sysctls={"net.ipv4.ip_forward": 1})
    t.add_node("server")
    t.add_link(End("ctr", "eth0", "172.17.0.2/16", mac="02:42:ac:11:00:02"),
               End("gw", "eth0", "172.17.0.1/16", mac="02:42:ac:11:00:01"))
    t.add_link(End("gw", "eth1", "10.0.0.1/24", mac="02:00:0a:00:00:01"),
               End("server", "eth0", "10.0.0.2/24", mac="02:00:0a:00:00:02"))
    t.add_route("ctr", "default", via="172.17.0.1")
    t.add_iptables("gw", "-A POSTROUTING -s 172.17.0.0/16 -o eth1 -j MASQUERADE", table="nat")
    return t


def flannel_vxlan_nodes(nodes: int = 2, lan_mtu: int | None = None) -> Topology:
    """The seed's Flannel VXLAN hosts before flanneld runs: node1 (10.168.0.2), node2 (10.168.0.3).

    node<i>: eth0 10.168.0.<i+1>/24 (MAC 02:00:0a:a8:00:0<i+1>), docker0 10.1.<14+i>.1/24, default
    via 10.168.0.1; container-1 at 10.1.15.2 and container-2 at 10.1.16.3 (the seed's) behind
    docker0. ``lan`` is the switch (bridge br0) and holds 10.168.0.1, where etcd runs. No flannel.1
    and no neighbour, FDB or route entries: netlab's VXLAN flanneld creates and programs them
    (:mod:`netlab.flannel.vxlan`). ``nodes=3`` adds node3 (10.168.0.4, docker0 10.1.17.1/24,
    container-3 10.1.17.4) for the lab. Unlike :func:`flannel_vxlan`, which declares the same
    entries statically.
    """
    if not 1 <= nodes <= 9:
        raise ValueError("flannel_vxlan_nodes: nodes must be between 1 and 9")
    t = Topology("flannel_vxlan_nodes" if nodes == 2 else f"flannel_vxlan_nodes_{nodes}")
    t.add_node("lan")
    t.add_bridge("lan", "br0", address="10.168.0.1/24", mac="02:00:0a:a8:00:01", mtu=lan_mtu)
    for i in range(1, nodes + 1):
        node, ctr, sub = f"node{i}", f"container-{i}", f"10.1.{14 + i}"
        t.add_node(node, sysctls={"net.ipv4.ip_forward": 1})
        t.add_node(ctr)
        t.add_link(End(node, "eth0", f"10.168.0.{i + 1}/24", mac=f"02:00:0a:a8:00:{i + 1:02x}", mtu=lan_mtu),
                   End("lan", f"port{i}", master="br0", mtu=lan_mtu, mac=f"02:00:0a:a8:01:{i:02x}"))
        t.add_bridge(node, "docker0", address=f"{sub}.1/24", mac=f"02:42:0a:01:{14 + i:02x}:01")
        t.add_link(End(ctr, "eth0", f"{sub}.{i + 1}/24", mac=f"02:42:0a:01:{14 + i:02x}:{i + 1:02x}"),
                   End(node, f"veth{i}", master="docker0", mac=f"02:42:0a:01:{14 + i:02x}:fe"))
        t.add_route(ctr, "default", via=f"{sub}.1")
        t.add_route(node, "default", via="10.168.0.1")
    return t
