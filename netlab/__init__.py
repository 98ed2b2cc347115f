"""netlab: the code behind the executable networking textbook.

Notebooks import only from here; deep imports are not promised.
Each helper block below re-exports one module's public API.
"""

# CIDR calculators, the first frame on the wire, lab answer checkers (netlab.cidr,
# netlab.cidr_widgets, netlab.frames, netlab.quiz).
from .cidr import (
    CidrError,
    describe,
    network,
    same_subnet,
    seed_tables,
    split,
    supernet,
)
from .cidr_widgets import cidr_calculator, same_subnet_checker, subnet_splitter, supernet_finder
from .frames import (
    GATEWAY,
    GATEWAY_MAC,
    PC1,
    PC1_MAC,
    PC2,
    PC2_MAC,
    FrameError,
    NetworkUnreachable,
    first_frame,
)
from .quiz import (
    Check,
    check_broadcast,
    check_host_range,
    check_hostmask,
    check_netmask,
    check_network,
    check_same_subnet,
    check_split,
    check_supernet,
    check_usable_hosts,
)

# Lab worlds: declare a topology, build it on the real kernel in namespaces (or replay it).
from .topology import End, Topology, TopologyError
from .world import BuildError, CommandError, CommandResult, World, WorldError
from .capture import Capture, CaptureError
from .probe import Probe, probe
from .replay import RecordingMismatch, ReplayError, verify_recording
from .sanitize import sanitize
from .topologies import flannel_vxlan, pc_pair, pc_pair_with_router
from . import kernel

# Routing tables: parse route -n / netstat -nr / ip route, explain a lookup (netlab.routetable,
# netlab.route_widgets). Generic module names get a route prefix here.
from .routetable import (
    FLAGS as ROUTE_FLAGS,
    FORMATS as ROUTE_FORMATS,
    SEED_TABLES as SEED_ROUTE_TABLES,
    Candidate,
    Lookup,
    Route,
    RouteTable,
    RouteTableError,
    detect_format,
    explain_flags,
    lookup as lookup_route,
    parse_routes,
)
from .route_widgets import render_route_lookup, route_lookup_explorer

# Chapter 2 topologies: the seed's host-to-vSphere-VM network and a path of N routers
# (netlab.topologies); their checks are netlab.kernel.check_default_gateway / check_path.
from .topologies import (
    HOST_A_MAC,
    ROUTER_C_LAN_MAC,
    ROUTER_C_SERVER_MAC,
    ROUTER_D_MAC,
    VM_B_MAC,
    office_network,
    router_chain,
)

# Flannel's UDP backend (chapter 5): the seed's two-node topology, and the package with the lease
# store, the daemon and its lab helpers (use it as netlab.flannel.start_store(...), ...).
from .topologies import flannel_udp
from . import flannel

# The Docker bridge built by hand, NAT, the seed's troubleshooting checklist, the bridge explorer
# (netlab.docker, netlab.docker_widgets): chapters 3 and 4.
from . import docker
from .docker import diagnose as diagnose_docker, docker_node, docker_two_nodes
from .docker_widgets import BridgeSnapshot, bridge_explorer, bridge_snapshot, bridge_walk, observe_ports

# Packet walk: follow one packet hop by hop with the kernel's decisions, and draw it
# (netlab.walk, netlab.walk_draw, netlab.walk_widgets).
from .walk import Hop, Walk, WalkError, trace
from .walk_draw import draw_walk, header_stack
from .walk_widgets import walk_explorer
from .topologies import walk_nat

# Flannel's VXLAN backend (chapter 6): the seed's hosts before flanneld runs, the daemon's vxlan mode
# and its frame tools (netlab.flannel.vxlan), its widgets (netlab.flannel.vxlan_widgets).
from .topologies import flannel_vxlan_nodes
from .flannel import vxlan as _flannel_vxlan, vxlan_widgets as _flannel_vxlan_widgets  # noqa: F401

# Chapter 5's widgets: the encapsulation explorer and the etcd lease table (netlab.flannel.widgets).
from .flannel.widgets import encapsulation_explorer, lease_table
