"""netlab: the code behind the executable networking textbook.

Notebooks import only from here (``import netlab``); deep imports are not promised.

The lab engine (stdlib only) is imported at once. Everything that pulls in scapy, ipywidgets or
matplotlib is imported on first use of one of its names (PEP 562), so ``python -m netlab`` and the
engine start fast, and an unprivileged world runs on a Python without those packages.
"""

import importlib
import sys

# Lab worlds: declare a topology, build it on the real kernel in namespaces (or replay it).
# `probe` and `sanitize` are functions that share their module's name: import them eagerly, after
# their modules, so the package attribute is the function.
from .engine.topology import End, Topology, TopologyError
from .engine.result import BuildError, CommandError, CommandResult, ReplayError, WorldError, WorldInputError
from .engine.world import World, open_worlds
from .engine.capture import Capture, CaptureError
from .engine.probe import Probe, probe
from .engine.verify import RecordingMismatch, verify_recording
from .engine.sanitize import sanitize
from . import kernel, magic
from .topologies import (  # the book's topologies, named and addressed as in the seed
    GATEWAY, GATEWAY_MAC, HOST_A_MAC, PC1, PC1_MAC, PC2, PC2_MAC, ROUTER_C_LAN_MAC,
    ROUTER_C_SERVER_MAC, ROUTER_D_MAC, VM_B_MAC, flannel_udp, flannel_vxlan, flannel_vxlan_nodes,
    office_network, pc_pair, pc_pair_with_router, router_chain, walk_nat,
)

# name -> "module" or "module:attribute", imported when first asked for.
_LAZY = {}


def _lazy(module: str, *names: str) -> None:
    for name in names:
        public, _, attribute = name.partition("=")
        _LAZY[public] = f"{module}:{attribute or public}"


# Chapter 1: CIDR calculators and their widgets, the first frame on the wire, answer checkers.
_lazy("calc.cidr", "CidrError", "describe", "network", "same_subnet", "seed_tables", "split", "supernet")
_lazy("calc.cidr_widgets", "cidr_calculator", "same_subnet_checker", "subnet_splitter", "supernet_finder")
_lazy("packets.frames", "FrameError", "NetworkUnreachable", "first_frame")
_lazy("checks.answers", "Check", "check_broadcast", "check_host_range", "check_hostmask", "check_netmask",
      "check_network", "check_same_subnet", "check_split", "check_supernet", "check_usable_hosts")
# Chapter 2: routing tables in three formats, lookups, the explorer (generic names get a prefix).
_lazy("calc.routes", "ROUTE_FLAGS=FLAGS", "ROUTE_FORMATS=FORMATS", "Route", "RouteTableError", "explain_flags")
_lazy("calc.routetable", "SEED_ROUTE_TABLES=SEED_TABLES", "RouteTable", "detect_format", "parse_routes")
_lazy("calc.route_lookup", "Candidate", "Lookup", "lookup_route=lookup")
_lazy("calc.route_widgets", "render_route_lookup", "route_lookup_explorer")
# Chapters 3 and 4: the Docker bridge built by hand, NAT, the seed's checklist, the bridge explorer.
_lazy("docker.bridge", "docker_node", "docker_two_nodes")
_lazy("docker.proxy", "published_port_paths", "start_docker_proxy")
_lazy("docker.widgets", "BridgeError", "BridgeSnapshot", "bridge_explorer", "bridge_snapshot", "bridge_walk", "observe_ports")
# The packet walk: one packet hop by hop with the kernel's decisions, its drawings and widget.
_lazy("walk.model", "Hop", "Walk", "WalkError")
_lazy("walk.trace", "trace")
_lazy("walk.draw", "draw_walk", "header_stack")
_lazy("walk.scene", "draw_topology")
_lazy("walk.widgets", "walk_explorer")
# Chapters 5 and 6: Flannel (lease store, daemons, lab helpers) and chapter 5's widgets.
_lazy("packets.flannel", "bind_flannel_udp", "encapsulate_udp=encapsulate", "udp_overhead=overhead")
_lazy("flannel.widgets", "encapsulation_explorer", "lease_table")
# Chapter 6: VXLAN frames (built, read, their overhead), the chapter's widgets and its header-stack figure.
_lazy("packets.vxlan", "build_vxlan_frame=build_frame", "dissect_vxlan=dissect", "vxlan_overhead=overhead")
_lazy("flannel.vxlan_widgets", "header_stack_image", "vxlan_frame_builder=frame_builder",
      "vxlan_tables_view=tables_view")
# Lab checks, one vocabulary: check_<thing>(world, node, *, ...) -> Check, reading the kernel.
_lazy("checks.network", "check_default_gateway", "check_fdb", "check_link", "check_neighbour", "check_path",
      "check_renumbered", "check_route", "check_route_entry", "check_route_error",
      "check_routers_crossed", "check_walk")
# Labs 3, 5 and 6 (issue 15): checks that need the work and answer checks kept out of the cells.
_lazy("checks.network", "check_ping", "check_route_choice")
_lazy("checks.docker", "check_bridge_address", "check_client", "check_forwarding")
_lazy("checks.flannel", "check_mtu_overhead", "check_vxlan_frame", "check_watched")
# Chapters 1-4's exercises (issue 15): a runnable check beside each dropdown answer.
_lazy("checks.exercises", "check_container_mac", "check_entry_order", "check_next_hop", "check_nth_subnet",
      "check_return_route", "check_routers_from_ttl", "check_shared_prefix", "check_subnet_count", "check_tunnel_mtu")
_lazy("checks.docker", "Diagnosis", "check_bridge_port", "check_default_route", "check_nat_rule",
      "diagnose_docker=diagnose")
_lazy("checks.flannel", "check_counters", "check_datagram", "check_flannel_routes", "check_lease", "check_vtep")
# Chapter 9 (KubeVirt): the pod network, virt-launcher's two bindings, its DHCP server, the guest,
# the binding explorer and lab09's checks.
_lazy("kubevirt.pods", "kubevirt_pods=pod_network", "start_pod_network")
_lazy("kubevirt.names", "KubevirtError")
_lazy("kubevirt.vm", "VirtLauncher", "bind_vm=bind", "boot_vm", "start_vm", "dhcp_settings", "start_dhcp")
_lazy("kubevirt.guest", "boot_guest=boot", "vm_world_mode=world_mode")
_lazy("kubevirt.dhcp", "DhcpConfig=Config", "dhcp_reply=reply", "parse_dhcp=parse",
      "dhcp_options_table=describe_options")
_lazy("kubevirt.binding", "bridge_binding_commands", "masquerade_binding_commands", "nft_nat_commands=nft_commands",
      "iptables_nat_rules=iptables_rules", "nft_counters", "nft_rules")
_lazy("kubevirt.widgets", "binding_explorer", "render_binding")
_lazy("checks.kubevirt", "check_bridge_binding", "check_guest_lease", "check_masquerade_port",
      "check_vm_ping")
# A captured packet against a built one (plain frames, flannel's UDP, VXLAN).
_lazy("packets.compare", "Comparison", "compare_packets")
# Chapter 7: flannel's host-gw backend and Calico (pod plumbing, IPAM blocks, BIRD, BGP updates, checks).
_lazy("calico.topology", "calico_nodes")
_lazy("calico.widgets", "ipam_calculator", "mode_explorer")
_lazy("calico.packets", "bgp_notifications=notifications", "bgp_updates=updates", "proxy_arp_reply")
_lazy("checks.calico", "check_bgp_session", "check_bird_config", "check_bird_route", "check_blackhole", "check_proxy_arp",
      "check_pod_plumbing")
# Chapter 8: pods wired by the real CNI plugins, Services as kube-proxy's iptables rules.
_lazy("cni", "Cluster", "CniError", "CniResult", "add_pod", "check_pod", "cni_cluster", "del_pod", "node_state",
      "start_cluster", "start_flannel", "wire_pod")
_lazy("kube", "Endpoint", "Service", "ServiceError", "port_proto_hash")
_lazy("kube.views", "service_explorer")
_lazy("checks.kube", "check_endpoint_rules", "check_service_rules", "check_service_spread")
# Modules used as netlab.<module>.<name>.
_SUBMODULES = {"docker", "flannel", "walk", "calico", "cni", "kube"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _LAZY:
        raise AttributeError(f"module 'netlab' has no attribute {name!r}")
    module, _, attribute = _LAZY[name].partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


def load_ipython_extension(ipython) -> None:
    """``%load_ext netlab``: the ``%node`` / ``%%node`` magics (:mod:`netlab.magic`)."""
    magic.load_ipython_extension(ipython)


def _load_magics_inside_ipython() -> None:
    """``import netlab`` in a notebook registers the magics too. Outside IPython (the CLI, the
    daemons in the nodes, an unprivileged world's system Python) IPython is never imported."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        load_ipython_extension(shell)


_load_magics_inside_ipython()
