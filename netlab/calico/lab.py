"""Calico's pieces run together in a world: pods wired, a BIRD per node in a full mesh, the blocks learned.

::

    world = netlab.World(netlab.calico.calico_nodes(3), name="ch07_calico")
    mesh = netlab.calico.mesh(3)                     # one BirdNode per node, every other node a peer
    netlab.calico.plumb_pods(world, 3)               # each pod wired as Calico's CNI plugin does
    netlab.calico.start_mesh(world, mesh)            # BIRD in every node; waits for Established and routes
"""

from __future__ import annotations

import time

from .bird import BirdError, BirdNode, start, wait_established, wait_routes
from .plumbing import plumb_pod
from .topology import POOL, block_of, node_ip, pods_of


def mesh(nodes: int = 3, peers: int | None = None, lab_timers: bool = True) -> list[BirdNode]:
    """One :class:`BirdNode` per node1..NODES, each peering with every node1..PEERS (default NODES) but itself."""
    everyone = tuple(node_ip(i) for i in range(1, (peers or nodes) + 1))
    return [BirdNode(f"node{i}", node_ip(i), block_of(i), tuple(ip for ip in everyone if ip != node_ip(i)),
                     POOL, lab_timers=lab_timers) for i in range(1, nodes + 1)]


def plumb_pods(world, nodes: int = 3, per_node: int = 1, only=None) -> None:
    """Wire every pod of node1..NODES (or those named in ONLY) as Calico's CNI plugin does."""
    for pod in pods_of(nodes, per_node):
        if only is None or pod.name in only:
            plumb_pod(world, pod)


def start_mesh(world, nodes: list[BirdNode], timeout: float = 20) -> float:
    """Start BIRD in every node of NODES, wait for every session and every other node's block.

    Returns the seconds from the first ``bird`` started to the last route installed: the chapter's
    benchmark line (``show_convergence``).
    """
    t0 = time.monotonic()
    for node in nodes:
        start(world, node)
    wait_established(world, nodes, timeout)
    for node in nodes:
        others = [n.block for n in nodes if n is not node and n.block]
        wait_routes(world, node.name, others, timeout=timeout)
    return time.monotonic() - t0


def convergence_line(seconds: float, nodes: int) -> str:
    """The benchmark line: how long BIRD took from start to every route installed."""
    return (f"benchmark: {nodes} BIRDs started, all {nodes * (nodes - 1) // 2} sessions Established and all"
            f" {nodes * (nodes - 1)} block routes installed in {seconds:.1f} s")


__all__ = ["BirdError", "convergence_line", "mesh", "plumb_pods", "start_mesh"]
