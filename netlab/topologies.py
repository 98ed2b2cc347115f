"""The book's topologies, one function each, named and addressed as in the seed.

Chapter 1 (IP addressing): :func:`pc_pair` and :func:`pc_pair_with_router`.
"""

from __future__ import annotations

from .frames import GATEWAY_MAC, PC1_MAC, PC2_MAC
from .topology import End, Topology


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
    :func:`netlab.frames.first_frame` uses, so a captured frame and a built one compare byte for byte.
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
