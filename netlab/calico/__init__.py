"""Calico rebuilt small (chapter 7): a pod wired as its CNI plugin wires it (:mod:`.plumbing`), IPAM
blocks (:mod:`.ipam`), a real BIRD configured as calico/node's confd configures it (:mod:`.bird`), the
course's small Felix for IPIP routes (:mod:`.felix`), the proxy ARP reply and BGP messages with scapy
(:mod:`.packets`), running them together in a world (:mod:`.lab`) and the topology
(:mod:`.topology`).
"""

import importlib

from .bird import (LAB_TIMERS, PRODUCTION_TIMERS, BirdError, BirdNode, birdc, bird_routes, check_config,
                   parse_protocols, protocol_name, protocols, render as render_bird_config, require_bird,
                   running as bird_running, sessions, start as start_bird, stop as stop_bird, wait_established,
                   wait_routes, write_config)
from .felix import Endpoint, endpoints, program as program_felix
from .felix import ipip_commands, program_ipip
from .ipam import BlockPlan, IpamError
from .ipip import ipip_world, where as ipip_where
from .lab import convergence_line, mesh, plumb_pods, start_mesh
from .names import (DEFAULT_AS, DEFAULT_BLOCK_SIZE, HOST_VETH_MAC, IPIP_DEVICE, POD_GATEWAY, VXLAN_DEVICE,
                    VXLAN_PORT, VXLAN_VNI, veth_name)
from .plumbing import Pod, commands_text, plumb_pod, pod_commands
from .topology import POOL, block_of, calico_nodes, node_ip, pod_cables, pods_of, two_subnets


def __getattr__(name):
    # scapy's BGP reader and the widgets load on first use: the nodes' processes never need them.
    if name in ("packets", "widgets"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
