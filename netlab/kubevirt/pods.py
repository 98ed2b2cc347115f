"""The pod network the virt-launcher pod sits on: two nodes, cni0 on each, chapter 6's VXLAN between.

Chapter 8 shows the real CNI plugins wiring pods (the bridge plugin's veth on ``cni0``, host-local
IPAM); here the same result is declared as a netlab topology, behind this one function so that
chapter 9 can switch to chapter 8's plugins without changing anything else. Addresses are chapter
6's (the seed's flannel example): node1's pods in 10.1.15.0/24, node2's in 10.1.16.0/24, the
nodes 10.168.0.2 and .3, ``flannel.1`` VTEPs on UDP 8472. A pod's MAC is what the bridge plugin
derives from its address (``0a:58`` and the four octets: containernetworking/plugins
``pkg/utils/hwaddr``, in the plugin versions that generated MACs), its routes those of flannel's CNI
configuration: the cluster network 10.1.0.0/16 and the default, both via ``cni0``.
"""

from __future__ import annotations

from ..engine.topology import End, Topology

VTEP_MACS = {1: "5e:f8:4f:00:e3:36", 2: "5e:f8:4f:00:e3:37"}
CLUSTER_CIDR = "10.1.0.0/16"
POD_MTU = 1450  # flannel's VXLAN MTU: 1500 less 50 bytes of encapsulation


def pod_mac(ip: str) -> str:
    """``0a:58:`` and the address's four octets in hex: 10.1.15.2 -> 0a:58:0a:01:0f:02."""
    return "0a:58:" + ":".join(f"{int(o):02x}" for o in ip.split("/")[0].split("."))


def pod_network(pods=(("virt-launcher", 1), ("client", 2)), name: str = "kubevirt_pods") -> Topology:
    """Nodes node1 and node2 joined by VXLAN; each pod ``(name, node number)`` gets the next address on
    that node's cni0 (10.1.15.2, 10.1.15.3, ... on node1), its ``eth0`` with the bridge plugin's MAC."""
    t = Topology(name)
    subnets = {1: "10.1.15", 2: "10.1.16"}
    hosts = {1: "10.168.0.2", 2: "10.168.0.3"}
    for i, sub in subnets.items():
        t.add_node(f"node{i}", sysctls={"net.ipv4.ip_forward": 1})
        t.add_bridge(f"node{i}", "cni0", address=f"{sub}.1/24", mac=f"0a:58:0a:01:{int(sub.split('.')[2]):02x}:01",
                     mtu=POD_MTU)
    used = {1: 1, 2: 1}
    for pod, node in pods:
        used[node] += 1
        ip = f"{subnets[node]}.{used[node]}"
        t.add_node(pod)
        t.add_link(End(pod, "eth0", f"{ip}/24", mac=pod_mac(ip), mtu=POD_MTU),
                   End(f"node{node}", f"veth{pod[:6]}", master="cni0", mtu=POD_MTU))
        t.add_route(pod, CLUSTER_CIDR, via=f"{subnets[node]}.1")
        t.add_route(pod, "default", via=f"{subnets[node]}.1")
    t.add_link(End("node1", "eth0", "10.168.0.2/24", mac="02:00:0a:a8:00:02"),
               End("node2", "eth0", "10.168.0.3/24", mac="02:00:0a:a8:00:03"))
    for i, sub in subnets.items():
        t.add_vxlan(f"node{i}", "flannel.1", vni=1, local=hosts[i], dev="eth0", mac=VTEP_MACS[i],
                    address=f"{sub}.0/32", mtu=POD_MTU)
    for i, j in ((1, 2), (2, 1)):
        t.add_neigh(f"node{i}", "flannel.1", f"{subnets[j]}.0", VTEP_MACS[j])
        t.add_fdb(f"node{i}", "flannel.1", VTEP_MACS[j], hosts[j])
        t.add_route(f"node{i}", f"{subnets[j]}.0/24", via=f"{subnets[j]}.0", dev="flannel.1", onlink=True)
    return t


def pod_address(topology: Topology, pod: str) -> str:
    """The pod's eth0 address without its prefix, as the topology declared it."""
    return topology.node(pod).interfaces["eth0"].addresses[0].split("/")[0]
