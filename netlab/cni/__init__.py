"""Chapter 8: pods wired by the real CNI plugins (bridge, host-local, loopback, portmap) and netlab's flannel plugin.

STABLE API (other chapters build on it; chapter 9 puts a KubeVirt pod on this network):

- ``cni_cluster(pods=None) -> Topology``: lan + node1 + node2 and the pods' empty namespaces;
- ``start_cluster(world, store=None, pods=True, ip_masq=True) -> Cluster``: flanneld (VXLAN, ``--ip-masq`` as kube-flannel
  runs it: pod-to-pod traffic is not NATed, only traffic leaving the pod network) on both nodes, then
  every pod added; ``Cluster.pods[pod]`` is its :class:`CniResult`;
- ``start_flannel(world, store=None, ip_masq=True) -> Cluster`` then ``wire_pod(world, cluster, node, pod, port_mappings=...)``
  (renames the host end ``veth-<pod>`` and fixes MACs, so pages are stable); ``stop_flannel(world)``;
  ``zero_masq_jump(world)`` (the counter flanneld's own connections moved, zeroed before a walk);
- ``add_pod(world, node, pod, conflist=None, *, ifname="eth0", port_mappings=(), mac=None) -> CniResult``,
  ``del_pod(world, node, pod) -> steps``, ``check_pod(world, node, pod) -> steps``;
- ``CniResult`` (``.result`` the plugin's JSON, ``.ips``, ``.address``, ``.gateway``, ``.host_veth``),
  ``CniError`` (the plugin's own ``code``, ``msg``, ``details``, and which plugin and command);
- ``exec_plugin(world, node, type, command, cid=, netns=, ifname=, config=)``: one plugin, one call;
- ``node_state(world, node, command)``: a command that sees the node's own ``/var/lib/cni``.

Modules: :mod:`.runtime` (the runtime's half of the CNI protocol), :mod:`.flannel_plugin` (flannel's
plugin, run inside a node), :mod:`.cluster` (chapter 8's cluster).
"""

from .cluster import (CLUSTER_NETWORK, DEFAULT_PODS, NODES, Cluster, cni_cluster, host_end_name, pod_layout, pod_mac,
                      stop_flannel, zero_masq_jump,
                      start_cluster, start_flannel, wire_pod)
from .runtime import (CNI_PATH, FLANNEL_CONFLIST, LOOPBACK_CONF, PLUGIN_DIR, CniError, CniInputError, CniResult,
                      add_network_list, add_pod, added_pods, check_pod, container_id, del_pod, exec_plugin,
                      flannel_conflist, install, node_state)

__all__ = ["CLUSTER_NETWORK", "CNI_PATH", "Cluster", "CniError", "CniInputError", "CniResult", "DEFAULT_PODS",
           "FLANNEL_CONFLIST", "LOOPBACK_CONF", "NODES", "PLUGIN_DIR", "add_network_list", "add_pod", "added_pods",
           "check_pod", "cni_cluster", "container_id", "del_pod", "exec_plugin", "flannel_conflist", "install",
           "host_end_name", "node_state", "pod_layout", "pod_mac", "start_cluster", "start_flannel", "stop_flannel",
           "wire_pod", "zero_masq_jump"]
