"""Chapter 8's two-node cluster: chapter 6's VXLAN flanneld on each node, pods wired by the CNI plugins.

::

    with netlab.World(netlab.cni_cluster()) as w:
        cluster = netlab.start_cluster(w)        # flanneld (VXLAN) on node1 and node2, then every pod
        cluster.pods["web-1"].address            # "10.244.1.2", given by host-local
        w.run("web-1", "ping -c 1 10.244.2.2")   # to web-2 on node2, through flannel.1

The hosts: ``lan`` (the switch br0 and 10.168.0.1, where the lease store runs; it also plays a client
outside the cluster), ``node1`` 10.168.0.2 and ``node2`` 10.168.0.3. flannel's network is kube-flannel's
default ``10.244.0.0/16`` (flannel-io/flannel ``Documentation/kube-flannel.yml``, ``net-conf.json``),
VXLAN backend, and the nodes lease ``10.244.1.0/24`` and ``10.244.2.0/24``. flanneld runs with
``--ip-masq`` as kube-flannel's DaemonSet starts it: subnet.env says ``FLANNEL_IPMASQ=true``, so
flannel's CNI plugin asks ``bridge`` for no masquerade, and flanneld's own ``FLANNEL-POSTRTG`` rules
leave pod-to-pod traffic unNATed and masquerade only what leaves the pod network. A pod is a network
namespace the topology declares with no interface at all: the plugins make its ``eth0``.

What netlab fixes so that every run prints the same: the container IDs (:func:`.runtime.container_id`),
the pods' MACs (``0a:58`` + the pod's address, as the bridge plugin's ``mac`` capability allows), the
VTEP MACs, cni0's MAC once the first pod joined (a bridge takes the lowest MAC of its ports), and the
host end of each pod's veth: the bridge plugin names it ``vethXXXXXXXX`` with four random bytes and the
kernel gives it a random MAC, so :func:`wire_pod` renames it ``veth-<pod>`` with MAC ``0a:59`` + the
pod's address right after ADD. The plugin's result still shows its own name; nothing after ADD needs it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from ..engine.topology import End, Topology
from ..flannel import lab as flannel_lab
from .runtime import CniResult, add_pod, flannel_conflist, install, set_default_conflist

CLUSTER_NETWORK = "10.244.0.0/16"
NETWORK_CONFIG = {"Network": CLUSTER_NETWORK, "SubnetLen": 24, "Backend": {"Type": "vxlan", "VNI": 1}}
NODES = {"node1": ("10.168.0.2", "10.244.1.0/24", "5e:f8:4f:00:f4:01"),
         "node2": ("10.168.0.3", "10.244.2.0/24", "5e:f8:4f:00:f4:02")}
#: The chapter's pods: two endpoints of a Service on two nodes, and a client pod beside web-1.
DEFAULT_PODS = {"node1": ("web-1", "client"), "node2": ("web-2",)}


def cni_cluster(pods: dict | None = None, name: str | None = None) -> Topology:
    """The hosts and the pods' empty namespaces. PODS: {node: (pod, ...)}, default :data:`DEFAULT_PODS`."""
    pods = DEFAULT_PODS if pods is None else pods
    if not isinstance(pods, dict) or set(pods) - set(NODES):
        raise ValueError(f"pods must map node1 and/or node2 to pod names, such as {DEFAULT_PODS}, not {pods!r}")
    t = Topology(name or ("cni_cluster" if pods == DEFAULT_PODS else f"cni_cluster_{sum(map(len, pods.values()))}"))
    t.add_node("lan")
    t.add_bridge("lan", "br0", address="10.168.0.1/24", mac="02:00:0a:a8:00:01")
    for i, (node, (ip, _, _)) in enumerate(NODES.items(), start=1):
        t.add_node(node, sysctls={"net.ipv4.ip_forward": 1})
        t.add_link(End(node, "eth0", f"{ip}/24", mac=f"02:00:0a:a8:00:{i + 1:02x}"),
                   End("lan", f"port{i}", master="br0", mac=f"02:00:0a:a8:01:{i:02x}"))
        t.add_route(node, "default", via="10.168.0.1")
    for node in NODES:
        for pod in pods.get(node, ()):
            t.add_node(pod)
    return t


def pod_layout(world) -> dict[str, tuple[str, ...]]:
    """{node: pods} read back from the world's topology: the pods are the nodes that are not hosts."""
    pods = [n for n in world.nodes if n not in ("lan", *NODES)]
    known = {p: n for n, ps in DEFAULT_PODS.items() for p in ps}
    out: dict[str, list] = {n: [] for n in NODES}
    for p in pods:
        out[known.get(p, "node1")].append(p)
    return {n: tuple(ps) for n, ps in out.items()}


def pod_mac(address: str) -> str:
    """``0a:58`` followed by the pod's IPv4 address, the convention of kubenet and of OVN-Kubernetes."""
    return "0a:58:" + ":".join(f"{int(o):02x}" for o in address.split("."))


@dataclass
class Cluster:
    """What :func:`start_cluster` started: the store, each node's lease and list, and every pod's result."""

    store: object
    subnets: dict = field(default_factory=dict)      # node -> subnet
    conflists: dict = field(default_factory=dict)    # node -> the flannel list
    pods: dict = field(default_factory=dict)         # pod -> CniResult

    def text(self) -> str:
        lines = [f"{n}: {NODES[n][0]}, lease {s}" for n, s in self.subnets.items()]
        lines += [f"  pod {p} on {r.node}: {r.address}" for p, r in self.pods.items()]
        return "\n".join(lines)

    __repr__ = __str__ = text


def _wait_in(world, node: str, condition: str, what: str, timeout: float = 15) -> None:
    """Wait inside NODE until the shell CONDITION holds: one command, so a recording holds one entry
    however long it took (polling from here would record a varying number of commands)."""
    loops = int(timeout / 0.05)
    done = world.run(node, ["sh", "-c", f"i=0; until {condition}; do i=$((i+1)); [ $i -ge {loops} ] && exit 1;"
                                        f" sleep 0.05; done"], check=False, timeout=timeout + 5)
    if not done.ok:
        log = world.run(node, ["sh", "-c", f"cat {flannel_lab.log_path(node)} 2>/dev/null || true"]).stdout
        raise RuntimeError(f"{node}: waited {timeout:g} s for {what}; flanneld's log:\n{log or '(empty)'}")


def start_flannel(world, store=None, ip_masq: bool = True) -> Cluster:
    """The lease store in ``lan``, kube-flannel's network config, and chapter 6's VXLAN flanneld on both nodes,
    each started with ``--ip-masq`` as kube-flannel does (flannel-io/flannel ``Documentation/kube-flannel.yml``).

    IP_MASQ=False runs them without it, as chapter 8 did before: ``FLANNEL_IPMASQ=false``, so flannel's
    CNI plugin asks ``bridge`` for ``ipMasq`` and pod traffic to other nodes leaves with the node's address."""
    store = store or flannel_lab.start_store(world)
    flannel_lab.put_config(world, store, config=NETWORK_CONFIG)
    cluster = Cluster(store)
    for node, (ip, subnet, vtep) in NODES.items():
        world.run(node, ["mkdir", "-p", "/run/flannel"])
        flannel_lab.start_flanneld(world, node, store, backend="vxlan", subnet=subnet, vtep_mac=vtep,
                                   ip_masq=ip_masq, wait=False)
        _wait_in(world, node, f"grep -qs 'flanneld: ready:' {flannel_lab.log_path(node)}", "flanneld to be ready")
        cluster.subnets[node] = subnet
    for node, (_, subnet, _) in NODES.items():
        for other in (s for n, (_, s, _) in NODES.items() if n != node):
            _wait_in(world, node, f"ip route show dev flannel.1 | grep -q '^{other} '", f"the route to {other}")
        install(world, node)
        cluster.conflists[node] = flannel_conflist(world, node, NODES[node][0])
        set_default_conflist(world, node, cluster.conflists[node])
    return cluster


def next_address(world, node: str, cluster: Cluster, used: int) -> str:
    """The address host-local will hand out next on NODE when USED addresses are taken (lowest free)."""
    net = ipaddress.IPv4Network(cluster.subnets[node])
    return str(net.network_address + 2 + used)


def host_end_name(pod: str) -> str:
    """netlab's stable name for POD's host end: ``veth-<pod>`` (at most 15 bytes, the kernel's limit)."""
    return f"veth-{pod}"[:15]


def pin_host_end(world, node: str, pod: str, mac: str) -> None:
    """Rename the host end of POD's veth from the plugin's random ``vethXXXXXXXX`` to ``veth-<pod>`` and fix
    its MAC. Found by the index the pod's ``eth0`` names as its peer, so no random name is typed."""
    peer = json.loads(world.run(pod, ["ip", "-j", "link", "show", "dev", "eth0"]).stdout)[0]["link_index"]
    name = host_end_name(pod)
    world.run(node, ["sh", "-c", f"n=$(grep -lx {int(peer)} /sys/class/net/*/ifindex | cut -d/ -f5) &&"
                                 f" ip link set dev \"$n\" down && ip link set dev \"$n\" name {name} address {mac}"
                                 f" && ip link set dev {name} up"])


def wire_pod(world, cluster: Cluster, node: str, pod: str, **kw) -> CniResult:
    """ADD one pod with a fixed MAC; the first pod on a node also fixes cni0's MAC (see the module's notes)."""
    used = sum(1 for r in cluster.pods.values() if r.node == node and r.pod != pod)
    mac = kw.pop("mac", None) or pod_mac(next_address(world, node, cluster, used))
    res = add_pod(world, node, pod, mac=mac, **kw)
    cluster.pods[pod] = res
    pin_host_end(world, node, pod, "0a:59" + mac[5:])
    res.host_name = host_end_name(pod)
    if used == 0:
        world.run(node, ["ip", "link", "set", "dev", "cni0", "address", pod_mac(res.gateway)])
    # cni0's operational state follows its ports a moment later (the kernel's linkwatch); User-mode Linux
    # can still say UNKNOWN when the next command reads it. Wait (up to 5 s) until it says up.
    world.run(node, ["sh", "-c", "for i in $(seq 100); do [ \"$(cat /sys/class/net/cni0/operstate)\" = up ] && exit 0;"
                                 " sleep 0.05; done; exit 0"])
    return res


def start_cluster(world, store=None, pods: bool = True, ip_masq: bool = True) -> Cluster:
    """flanneld on both nodes (IP_MASQ: see :func:`start_flannel`), then (PODS) every pod of the topology
    added with the real plugins."""
    cluster = start_flannel(world, store, ip_masq)
    if pods:
        for node, names in pod_layout(world).items():
            for pod in names:
                wire_pod(world, cluster, node, pod)
    return cluster


def stop_flannel(world) -> str:
    """Stop both flanneld (``kill``, found in the world's PID namespace by its log file, then wait):
    flannel.1 and its entries stay, and so do the ``--ip-masq`` rules; then zero the counters of
    flanneld's jump from nat POSTROUTING (:func:`zero_masq_jump`), which its own connections moved.

    Returns each daemon's last log line and what was zeroed. The chapter stops them so that no lease
    renewal (a new HTTP connection every few seconds) moves the iptables counters a packet walk reads.
    """
    lines = []
    for node in NODES:
        # Inside the world's own PID namespace; the daemon is the one whose log is this node's log file.
        match = f"netlab[.]flannel [v]xlan .*--log {flannel_lab.log_path(node)}"  # [v]: not this sh itself
        log = flannel_lab.log_path(node)  # the daemon's last word is its "stopping:" line (then a zombie until reaped)
        world.run(node, ["sh", "-c", f"p=$(pgrep -f '{match}') && kill $p && until grep -q 'flanneld: stopping' {log};"
                                     f" do sleep 0.05; done"], timeout=10)
        lines.append(f"{node}: " + world.run(node, ["tail", "-n", "1", flannel_lab.log_path(node)]).stdout.strip())
    zeroed = zero_masq_jump(world, missing_ok=True)
    return "\n".join(lines + ([zeroed] if zeroed else []))


def zero_masq_jump(world, missing_ok: bool = False) -> str:
    """Zero the counters of flanneld's jump from nat ``POSTROUTING`` to ``FLANNEL-POSTRTG`` on each node
    (``iptables -t nat -Z POSTROUTING <its rule number>``), and only that rule's.

    While flanneld ran, each of its connections to the lease store passed that jump (the first packet of
    every connection walks the nat table), so its count depends on how long the daemon ran. A packet walk
    names every counter it moved with its before and after values: zeroed, this one starts from 0 on every
    run. Only the one rule, so that the built-in chains keep the counters they had (iptables-nft 1.8.9
    gives built-in chains no counters until a whole chain or table is zeroed). Returns one line per node
    (MISSING_OK: none for a node whose flanneld ran without ``--ip-masq``, rather than an error).
    """
    lines = []
    for node in NODES:
        rules = world.run(node, ["iptables", "-t", "nat", "-S", "POSTROUTING"]).stdout.splitlines()
        # -S lists the policy (-P) first, then the rules from number 1
        number = next((i for i, r in enumerate(rules) if "-j FLANNEL-POSTRTG" in r), None)
        if number is None and missing_ok:
            continue
        if number is None:
            raise RuntimeError(f"{node} has no jump to FLANNEL-POSTRTG in nat POSTROUTING: is flanneld started"
                               " with --ip-masq (netlab.start_flannel)?")
        world.run(node, ["iptables", "-t", "nat", "-Z", "POSTROUTING", str(number)])
        lines.append(f"{node}: counters of nat POSTROUTING rule {number} (-j FLANNEL-POSTRTG) zeroed")
    return "\n".join(lines)
