"""Build a :class:`~netlab.engine.topology.Topology` on the real kernel, in a world of its own.

A world is one process tree, ``unshare --net --mount --pid --fork --kill-child
--mount-proc --propagation private`` (plus ``--user --map-root-user`` when not
root), with a small agent (:mod:`netlab.engine._agent`) as its PID 1. Every node is a
named network namespace inside the world's private ``/run``, so the learner's
``ip netns exec node1 ip route`` works as typed, and the machine's own network
is never touched. Killing the world's process, or the Python process that owns
it (the notebook kernel), frees everything: there is nothing to clean up by name.

::

    with World(topo) as w:
        w.run("pc1", "ip route")          # shows "$ ip netns exec pc1 ip route" and the output
        w.run("pc1", "ping -c 1 -W 1 192.168.0.192", check=False)

Where namespaces cannot be created, ``World`` replays a recording made on a
live kernel and says so (:mod:`netlab.engine.replay`). Which backend (:mod:`netlab.engine.backend`:
live or replayed) stands behind a world is chosen once, in :meth:`World._open_backend`; every
method below checks its arguments, then calls that backend without asking which one it is.
"""

from __future__ import annotations

import itertools
import os
import time
import weakref

from ..inputs import check_name, quote
from ..walk.trace import trace as _walk
from . import recording, shell
from .backend import Backend
from .build import build_plan
from .capture import Capture
from .command import command_argv, seconds
from .live import LiveBackend
from .probe import probe
from .replay import ReplayBackend
from .result import CommandError, CommandResult, WorldError, WorldInputError
from .topology import Topology

_OPEN: list = []  # weak references to the worlds opened in this process and not closed, oldest first


def open_worlds() -> list["World"]:
    """The worlds opened in this process and not closed yet, oldest first: the last one is the
    notebook's current world (the one ``%%node`` uses unless told otherwise)."""
    _OPEN[:] = [ref for ref in _OPEN if ref() is not None and not ref().closed]
    return [ref() for ref in _OPEN]


class World:
    """A live (or replayed) lab world built from a topology. Use ``with World(topo) as w:``.

    mode: "auto" (probe; replay when namespaces are impossible), "live" or "replay".
    record: write the transcript to ``<recordings>/<name>.json`` on close (also env NETLAB_RECORD=1).
    Create a world in the thread that will own it: the kernel ends the world when that thread's
    process dies (the notebook kernel's main thread).
    """

    def __init__(self, topology: Topology, mode: str = "auto", *, name: str | None = None,
                 record: bool | None = None, recordings_dir: str | None = None, build: bool = True,
                 python: str | None = None, trace=None, batched: bool = True, leave_out=()):
        self.topology = topology
        # leave_out: "node:ifname" veth pairs the build skips, for a lab whose learner makes them by
        # hand (checked by netlab.check_link); the world's topology stays whole, so walks and checks
        # see the network it becomes.
        if isinstance(leave_out, str):
            leave_out = (leave_out,)
        self._plan_topology = topology
        for spec in leave_out:
            if not isinstance(spec, str) or spec.count(":") != 1:
                raise WorldInputError(f"leave_out takes 'node:ifname' veth ends such as 'pc1:eth0', not {quote(spec)}")
            self._plan_topology = self._plan_topology.without_link(*spec.split(":"))
        # The name becomes <recordings>/<name>.json: no '/', '..' or newline may reach the path.
        self.name = check_name(topology.name if name is None else name, "world name", WorldInputError)
        self.recordings_dir = recordings_dir
        self._bg: dict[str, tuple[str | None, str]] = {}
        self._caps = itertools.count(1)
        self.closed = False
        self.built = False
        t0 = time.perf_counter()
        self._backend = self._open_backend(mode, record, python, trace)
        self.ready_seconds = time.perf_counter() - t0
        self.mode = self._backend.mode
        self.transcript: list[dict] = self._backend.transcript
        self.shell_socket: str | None = self._backend.shell_socket  # where `python -m netlab shell` reaches it
        self.shell_unavailable = self._backend.shell_unavailable
        _OPEN.append(weakref.ref(self))
        if build:
            self.build(batched=batched)

    def _open_backend(self, mode: str, record: bool | None, python: str | None, trace) -> Backend:
        """The one place that chooses the backend: NETLAB_MODE=replay, or mode, or what the probe found."""
        if os.environ.get("NETLAB_MODE", "").lower() == "replay":
            mode = "replay"
        if mode not in ("auto", "live", "replay"):
            raise ValueError(f"mode must be 'auto', 'live' or 'replay', not {mode!r}")
        self.probe = probe()
        if mode == "auto":
            mode = "replay" if self.probe.mode == "none" else "live"
        if mode == "replay":
            self.record = False
            return ReplayBackend(self.name, self.recordings_dir, reason=self.probe.reason)
        if self.probe.mode == "none":
            raise WorldError(f"cannot build a live world here: {self.probe.reason}")
        self.record = record if record is not None else recording.requested()
        topology = self.topology
        if any(i.kind == "tun" for n in topology.nodes.values() for i in n.interfaces.values()) \
                and "tun" in self.probe.unavailable:
            raise WorldError(f"topology {topology.name!r} needs TUN devices, which fail here:"
                             f" {self.probe.unavailable['tun']}; run it as root")
        return LiveBackend(self.probe.mode, self.name, python=python, trace=trace, record=self.record,
                           recordings_dir=self.recordings_dir)

    # ----------------------------------------------------------- life cycle
    def __enter__(self) -> "World":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End the world: every namespace, device and process in it goes. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._backend.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.mode
        text = f"World {self.name!r} ({state}): nodes {', '.join(self.nodes)}"
        if not self.closed:
            text += f"\nshell in a node, from a terminal: {self.shell_command()}" if self.shell_socket else \
                    f"\nno shell into it: {self.shell_unavailable}"
        return text

    def shell_command(self, node: str | None = None) -> str:
        """What to type in a terminal for an interactive shell in NODE (:mod:`netlab.engine.shell`)."""
        if not self.shell_socket:
            raise WorldError(f"no shell into world {self.name!r}: {self.shell_unavailable}")
        return shell.command(self.shell_socket, node or self.nodes[0])

    @property
    def nodes(self) -> list[str]:
        return list(self.topology.nodes)

    @property
    def backend(self) -> Backend:
        """What stands behind this world (:mod:`netlab.engine.backend`), while it is open; captures
        talk to it directly."""
        if self.closed:
            raise WorldError(f"world {self.name!r} is closed; open a new one with `with World(topo) as w:`")
        return self._backend

    def info(self) -> dict:
        """PID, namespace inodes of the world and of each node (for safety checks)."""
        return self.backend.info()

    # ---------------------------------------------------------------- build
    def build(self, batched: bool = True) -> None:
        """Create every node, link, address, route, rule and entry of the topology."""
        if self.built:
            raise WorldError("this world is already built")
        try:
            self.backend.build(build_plan(self._plan_topology), batched)
            self.settle()
        except BaseException:
            self.close()
            raise
        self.built = True

    def settle(self, nodes=None) -> None:
        """Wait (at most 3 s) until the carrier of every link in NODES (default: all) shows in its state.

        After a learner's ``ip link set ... up`` the kernel applies the carrier to the device, the bridge
        port and the routes in its linkwatch work, up to a second later; checks call this first. A
        replayed world has nothing to wait for.
        """
        self.backend.settle(list(nodes or self.nodes))

    # ------------------------------------------------------------- commands
    def run(self, node: str | None, command, check: bool = True, timeout: float = 30,
            input: str | None = None) -> CommandResult:
        """Run a command in a node (None: the world's top namespace) and return what it printed.

        Bad arguments raise :class:`WorldInputError` before anything runs.
        """
        self._node_arg(node)
        argv, text = command_argv(node, command)
        timeout = seconds(timeout, "timeout")
        if input is not None and not isinstance(input, str):
            raise WorldInputError(f"input must be text (str) for the command's stdin, not {type(input).__name__}"
                                  f" {quote(input)}" + ("; decode it first" if isinstance(input, bytes) else ""))
        result = self.backend.run(node, argv, text, timeout, input)
        if check and result.returncode != 0:
            raise CommandError(result)
        return result

    def _node_arg(self, node) -> None:
        """A node argument is a node's name (a string) or None, and names a node of this world."""
        if node is not None and not isinstance(node, str):
            raise WorldInputError(f"node must be a node's name (a string) or None for the world's top namespace,"
                                  f" not {type(node).__name__} {quote(node)}; its nodes are {', '.join(self.nodes)}")
        if node is not None and node not in self.topology.nodes:
            raise WorldError(f"no node named {node!r} in world {self.name!r}; its nodes are {', '.join(self.nodes)}")

    def start(self, node: str | None, command, name: str | None = None) -> str:
        """Start a background process (e.g. ``iperf3 -s``); it dies with the world. Returns its name.

        NAME (default: the program's name) names its output files in the world, so it follows the
        rule for file names (letters, digits, '_', '.', '-').
        """
        self._node_arg(node)
        argv, text = command_argv(node, command)
        if name is None:
            name = os.path.basename(text.split()[0])
        check_name(name, "a background process's name", WorldInputError)
        if name in self._bg:
            raise WorldInputError(f"a background process named {name!r} is already running; stop() it first"
                                  f" or pass another name=")
        self.backend.start(node, argv, text, name)
        self._bg[name] = (node, text)
        return name

    def stop(self, name: str, timeout: float = 5) -> CommandResult:
        """Stop a background process (SIGTERM, then SIGKILL) and return what it printed."""
        if not isinstance(name, str):
            raise WorldInputError(f"name must be the string start() returned, not {type(name).__name__} {quote(name)}")
        timeout = seconds(timeout, "timeout")
        if name not in self._bg:
            raise WorldError(f"no background process named {quote(name)}; started: {', '.join(self._bg) or 'none'}")
        node, text = self._bg.pop(name)
        return self.backend.stop(name, node, text, timeout)

    def ping(self, node: str, dst: str, count: int = 1, check: bool = True) -> CommandResult:
        """``ping -c COUNT -W 1 DST`` from a node."""
        return self.run(node, f"ping -c {count} -W 1 {dst}", check=check)

    def capture(self, node: str, iface: str, filter: str | None = None) -> Capture:
        """Start capturing on NODE's IFACE; ``.stop()`` returns a scapy PacketList.

        FILTER is a pcap-filter(7) expression; it is always read as a filter, never as an option.
        """
        self._node_arg(node)
        return Capture(self, f"capture-{next(self._caps)}", node, iface, filter)

    def trace(self, src: str, dst: str, proto: str = "icmp", **kw):
        """Send one packet from SRC to DST and follow it hop by hop (:func:`netlab.walk.trace`)."""
        return _walk(self, src, dst, proto, **kw)
