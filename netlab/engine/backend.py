"""What a :class:`~.world.World` needs from the thing behind it, whichever it is.

One API, interchangeable implementations chosen once, when the world opens (the shape of
pyroute2's iproute backends): :class:`~.live.LiveBackend` runs the world's agent in namespaces on
this kernel or inside a User-mode Linux kernel; :class:`~.replay.ReplayBackend` serves a
recording. The world checks every argument before it calls a backend, and never asks which one
it has; a new backend (another kernel, a remote machine) subclasses this and implements these.
"""

from __future__ import annotations

from .result import CommandResult


class Backend:
    #: "root", "userns" or "uml" (a live kernel), or "replay"
    mode: str = ""
    #: What the world did, as recording entries (:mod:`.recording`); a replay adds none.
    transcript: list[dict]
    #: Where `python -m netlab shell` reaches the world, or None and why not.
    shell_socket: str | None = None
    shell_unavailable: str = ""

    def build(self, plan: list, batched: bool) -> None:
        """Run a build plan (:func:`.build.build_plan`); ``batched=False`` runs one process per line."""
        raise NotImplementedError

    def settle(self, nodes: list[str]) -> None:
        """Wait until the kernel has applied every link's carrier in NODES."""
        raise NotImplementedError

    def info(self) -> dict:
        """PID and namespace inodes of the world and of each node."""
        raise NotImplementedError

    def run(self, node: str | None, argv: list[str], text: str, timeout: float,
            input: str | None) -> CommandResult:
        """Run ARGV (shown as TEXT) in NODE and return what it printed."""
        raise NotImplementedError

    def start(self, node: str | None, argv: list[str], text: str, name: str) -> None:
        """Start a background process called NAME."""
        raise NotImplementedError

    def stop(self, name: str, node: str | None, text: str, timeout: float) -> CommandResult:
        """Stop background process NAME and return what it printed."""
        raise NotImplementedError

    def capture_start(self, name: str, node: str, iface: str, filter: str | None, timeout: float) -> None:
        """Start capturing on NODE's IFACE; NAME identifies the capture until :meth:`capture_stop`."""
        raise NotImplementedError

    def capture_stop(self, name: str, settle: float) -> bytes:
        """End capture NAME once its output stops growing; the packets as pcap bytes."""
        raise NotImplementedError

    def close(self) -> None:
        """End the world (idempotent)."""
        raise NotImplementedError
