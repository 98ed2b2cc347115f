"""A world whose kernel has IPIP, for chapter 7's ``tunl0``: this machine's kernel, or User-mode Linux's.

Calico's IPIP mode needs ``tunl0``, which exists in every network namespace once the kernel has IPIP
(``CONFIG_NET_IPIP``). Some kernels are built without it (the one this book was built on:
``# CONFIG_NET_IPIP is not set``), and loading a module would change the machine itself, which a lab
never does. The User-mode Linux kernel that netlab boots where namespaces are forbidden (Debian's
``user-mode-linux``, :mod:`netlab.engine.uml`) has IPIP. :func:`ipip_world` tries this kernel first,
in a throwaway world, and builds the world in User-mode Linux when this kernel has no IPIP; it says
which, in one sentence (:func:`where`).
"""

from __future__ import annotations

import os

from ..engine import uml
from ..engine.topology import Topology
from ..engine.world import World


def _kernel_has_ipip() -> bool:
    probe_topology = Topology("ipip_probe")
    probe_topology.add_node("n")
    with World(probe_topology, name="ipip_probe", record=False) as w:
        return w.run("n", "ip link show tunl0", check=False).ok


def ipip_world(topology: Topology, name: str, **kw) -> World:
    """World(TOPOLOGY, name=NAME, **KW) on a kernel with IPIP: this one, or User-mode Linux's.

    Replay (``NETLAB_MODE=replay``, or a machine without namespaces) is left to World as always.
    """
    forced = os.environ.get("NETLAB_MODE", "").lower()
    if forced in ("replay", "uml") or _kernel_has_ipip():
        return World(topology, name=name, **kw)
    why_not = uml.check()
    if why_not is not None:
        raise RuntimeError(f"this kernel has no IPIP (tunl0), and User-mode Linux cannot run here: {why_not}")
    os.environ["NETLAB_MODE"] = "uml"
    try:
        return World(topology, name=name, **kw)
    finally:
        del os.environ["NETLAB_MODE"]


def where(world: World) -> str:
    """Which kernel the world runs on, in one sentence."""
    if world.mode == "uml":
        return ("this machine's kernel has no IPIP, so this world runs in User-mode Linux, whose kernel has it"
                " (the kernel Binder runs too)")
    if world.mode == "replay":
        return "this world is replayed from a recording of a live run"
    return "this machine's kernel has IPIP: the world runs on it, in namespaces"
