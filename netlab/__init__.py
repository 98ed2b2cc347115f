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
