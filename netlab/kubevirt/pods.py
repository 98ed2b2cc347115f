"""The pod network the virt-launcher pod sits on: chapter 8's cluster, pods wired by the real CNI plugins.

:func:`pod_network` is the topology (chapter 8's :func:`netlab.cni.cni_cluster`: the switch ``lan``,
``node1`` 10.168.0.2 and ``node2`` 10.168.0.3, and the pods' empty namespaces), and
:func:`start_pod_network` what the cluster does before any VM starts: chapter 6's VXLAN flanneld on
both nodes (kube-flannel's 10.244.0.0/16, the nodes leasing 10.244.1.0/24 and 10.244.2.0/24), then
each pod added by the CNI plugins (flannel's plugin delegating to bridge and host-local:
``cni0``, a veth, the pod's address, its routes), with netlab's fixed MACs (:func:`netlab.cni.wire_pod`).
The daemons are stopped afterwards, as chapter 8 does, so that no lease renewal moves a counter a
packet walk reads; the kernel keeps forwarding. KubeVirt's network setup then reads the pod's
interface from the kernel, as virt-handler does (:func:`pod_interface`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cni, kernel
from ..engine.topology import Topology
from ..inputs import quote
from .names import KubevirtError

#: The pods: the VM's virt-launcher on node1, another pod on node2 that talks to the VM.
PODS = {"node1": ("virt-launcher",), "node2": ("client",)}


def pod_network(name: str = "kubevirt_pods") -> Topology:
    """Chapter 8's two nodes with the pods ``virt-launcher`` (node1) and ``client`` (node2), not yet wired."""
    return cni.cni_cluster(pods=PODS, name=name)


def start_pod_network(world) -> "cni.Cluster":
    """flanneld on both nodes, then each pod added with the real CNI plugins; the daemons stopped again."""
    cluster = cni.start_flannel(world)
    for node, names in PODS.items():
        for pod in names:
            cni.wire_pod(world, cluster, node, pod)
    cni.stop_flannel(world)
    return cluster


@dataclass(frozen=True)
class PodInterface:
    """A pod's interface as the CNI left it: what KubeVirt's discovery reads (``discoverbridge.go``)."""

    name: str
    address: str          # with its prefix, "10.244.1.2/24"
    mac: str
    mtu: int
    gateway: str | None   # the default route's next hop
    routes: tuple         # ((destination, gateway), ...) of the routes through a gateway, the default last


def pod_interface(world, node: str, iface: str = "eth0") -> PodInterface:
    """Read NODE's IFACE from the kernel: its IPv4 address, MAC, MTU and the routes through it."""
    link = kernel.link(world, node, f"dev {iface}", addresses=True)
    v4 = [a for a in link.addresses if a.family == "inet"] if link else []
    if link is None or not v4:
        raise KubevirtError(f"{quote(node)} has no {iface} with an IPv4 address for KubeVirt to take over:"
                            f" wire the pod (start_pod_network) first")
    via = [r for r in kernel.routes(world, node, f"dev {iface}") if r.gateway]
    routes = tuple(("0.0.0.0/0" if r.dst == "default" else r.dst, r.gateway)
                   for r in sorted(via, key=lambda r: r.dst == "default"))
    gateway = next((gw for dst, gw in routes if dst == "0.0.0.0/0"), None)
    return PodInterface(iface, str(v4[0]), link.mac, link.mtu, gateway, routes)
