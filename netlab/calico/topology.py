"""Chapter 7's Calico topology: nodes on one LAN, each with its pods' namespaces (wired at run time).

Kept beside the Calico package rather than in :mod:`netlab.topologies`, which other chapters extend.
"""

from __future__ import annotations

from ..engine.topology import End, Topology
from .names import HOST_VETH_MAC
from .plumbing import Pod

#: The pool and its /26 blocks, one per node (Calico's IPAM hands each node any free block; these are
#: fixed so that every page shows the same addresses).
POOL = "10.244.0.0/16"


def node_ip(i: int) -> str:
    return f"10.168.0.{i + 1}"


def block_of(i: int) -> str:
    """Node i's IPAM block: 10.244.<i>.0/26."""
    return f"10.244.{i}.0/26"


def pods_of(nodes: int, per_node: int = 1) -> list[Pod]:
    """pod-<i> (and pod-<i>b) on node<i>, at .2 (.3) of the node's block, with fixed MACs."""
    pods = []
    for i in range(1, nodes + 1):
        for k in range(per_node):
            name = f"pod-{i}" + ("" if k == 0 else chr(ord("a") + k))
            pods.append(Pod(name, f"node{i}", f"10.244.{i}.{2 + k}", f"02:42:0a:f4:{i:02x}:{2 + k:02x}"))
    return pods


def calico_nodes(nodes: int = 3, per_node: int = 1) -> Topology:
    """node1..nodeN on one LAN (``lan``: the switch, bridge br0 with 10.168.0.1), each with its pods.

    node<i>: eth0 10.168.0.<i+1>/24 (MAC 02:00:0a:a8:00:0<i+1>), forwarding on, default via 10.168.0.1;
    pod-<i> a namespace whose cable (``cali...`` on the node, ``eth0`` 10.244.<i>.2/32 in the pod) is
    declared but left out of the build (``leave_out=pod_cables(t)``): :func:`.plumbing.plumb_pod` makes
    it as Calico's CNI plugin does, and BIRD (:mod:`.bird`) carries the blocks' routes. No route
    between the nodes is declared.
    """
    if not isinstance(nodes, int) or not 1 <= nodes <= 9:
        raise ValueError(f"nodes={nodes!r}: give a whole number of nodes from 1 to 9")
    if not isinstance(per_node, int) or not 1 <= per_node <= 4:
        raise ValueError(f"per_node={per_node!r}: give a whole number of pods per node from 1 to 4")
    t = Topology(f"calico_nodes_{nodes}")
    t.add_node("lan")
    t.add_bridge("lan", "br0", address="10.168.0.1/24", mac="02:00:0a:a8:00:01")
    for i in range(1, nodes + 1):
        node = f"node{i}"
        t.add_node(node, sysctls={"net.ipv4.ip_forward": 1})
        t.add_link(End(node, "eth0", f"{node_ip(i)}/24", mac=f"02:00:0a:a8:00:{i + 1:02x}"),
                   End("lan", f"port{i}", master="br0", mac=f"02:00:0a:a8:01:{i:02x}"))
        # A node's default route: besides its usual job, it is what lets proxy ARP answer for 169.254.1.1
        # (the kernel answers only for a target it would route out of another interface).
        t.add_route(node, "default", via="10.168.0.1")
    for pod in pods_of(nodes, per_node):
        t.add_node(pod.name)
        # Declared so that drawings and packet walks know the pod's cable and address; a world leaves it
        # out of the build (pod_cables) and plumbing.plumb_pod makes it as Calico's CNI plugin does.
        t.add_link(End(pod.node, pod.host_veth, mac=HOST_VETH_MAC), End(pod.name, "eth0", f"{pod.ip}/32", mac=pod.mac))
    return t


def pod_cables(topology: Topology) -> list[str]:
    """The pods' cables as ``World(..., leave_out=)`` takes them: the build skips them, the plumbing makes them."""
    return [f"{name}:eth0" for name in topology.nodes if name.startswith("pod-")]


def two_subnets(pods: bool = False) -> Topology:
    """node1 (10.168.0.2) and node2 (10.168.0.3) on one LAN, node3 (10.168.1.2) on another, router r1 between.

    ``lan`` is the first LAN's switch (bridge br0); r1 holds 10.168.0.1 there and 10.168.1.1 on its
    cable to node3, and forwards; every node's default route goes to r1. r1 knows only the two LANs:
    nothing about containers or pods. With ``pods=False`` each node has chapter 6's docker0 and
    container (10.1.<14+i>.0/24, container-<i> at .<i+1>), for flannel's host-gw and DirectRouting;
    with ``pods=True`` each node has pod-<i> (10.244.<i>.2/32, cable declared and left out as in
    :func:`calico_nodes`), for Calico's IPIP and CrossSubnet.
    """
    t = Topology("two_subnets_pods" if pods else "two_subnets")
    t.add_node("lan")
    t.add_bridge("lan", "br0", mac="02:00:0a:a8:00:01")
    t.add_node("r1", sysctls={"net.ipv4.ip_forward": 1})
    t.add_link(End("r1", "eth0", "10.168.0.1/24", mac="02:00:0a:a8:00:fe"),
               End("lan", "port0", master="br0", mac="02:00:0a:a8:01:00"))
    addrs = {1: ("10.168.0.2/24", "10.168.0.1"), 2: ("10.168.0.3/24", "10.168.0.1"), 3: ("10.168.1.2/24", "10.168.1.1")}
    for i, (address, gateway) in addrs.items():
        node = f"node{i}"
        t.add_node(node, sysctls={"net.ipv4.ip_forward": 1})
        mac = f"02:00:0a:a8:00:{i + 1:02x}"
        if i < 3:
            t.add_link(End(node, "eth0", address, mac=mac), End("lan", f"port{i}", master="br0", mac=f"02:00:0a:a8:01:{i:02x}"))
        else:
            t.add_link(End(node, "eth0", address, mac=mac), End("r1", "eth1", "10.168.1.1/24", mac="02:00:0a:a8:01:fe"))
        t.add_route(node, "default", via=gateway)
        if pods:
            pod = Pod(f"pod-{i}", node, f"10.244.{i}.2", f"02:42:0a:f4:{i:02x}:02")
            t.add_node(pod.name)
            t.add_link(End(node, pod.host_veth, mac=HOST_VETH_MAC), End(pod.name, "eth0", f"{pod.ip}/32", mac=pod.mac))
        else:
            ctr, sub = f"container-{i}", f"10.1.{14 + i}"
            t.add_node(ctr)
            t.add_bridge(node, "docker0", address=f"{sub}.1/24", mac=f"02:42:0a:01:{14 + i:02x}:01")
            t.add_link(End(ctr, "eth0", f"{sub}.{i + 1}/24", mac=f"02:42:0a:01:{14 + i:02x}:{i + 1:02x}"),
                       End(node, f"veth{i}", master="docker0", mac=f"02:42:0a:01:{14 + i:02x}:fe"))
            t.add_route(ctr, "default", via=f"{sub}.1")
    return t
