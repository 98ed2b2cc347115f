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
