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
live kernel and says so (:mod:`netlab.engine.replay`).
"""

from __future__ import annotations

import ctypes
import itertools
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import shell as _shell
from ..inputs import check_name, one_line, quote
from .probe import UNSHARE, USERNS, probe
from .topology import Topology

_AGENT_SOURCE = None
_OPEN: list = []  # weak references to the worlds opened in this process and not closed, oldest first
_SHELL_CHARS = set("|&;<>()$`*?[]~\n'\"\\")
PR_SET_PDEATHSIG = 1


def open_worlds() -> list["World"]:
    """The worlds opened in this process and not closed yet, oldest first: the last one is the
    notebook's current world (the one ``%%node`` uses unless told otherwise)."""
    _OPEN[:] = [ref for ref in _OPEN if ref() is not None and not ref().closed]
    return [ref() for ref in _OPEN]


class WorldError(RuntimeError):
    """The world could not start, or was used after it was closed."""


class WorldInputError(WorldError, ValueError):
    """A bad argument to a world method (node, command, timeout, input, name); one sentence.

    Raised before anything reaches the world, so nothing is left running.
    """


class BuildError(WorldError):
    """Building a topology failed; the message has the failing command and the kernel's words."""

    def __init__(self, message: str, command: str = "", error: str = ""):
        super().__init__(message)
        self.command = command
        self.error = error


class CommandError(RuntimeError):
    """A command exited non-zero; ``.result`` holds its :class:`CommandResult`."""

    def __init__(self, result: "CommandResult"):
        self.result = result
        output = result.stderr.strip() or result.stdout.strip()
        tail = " | ".join(output[-2000:].splitlines()[-3:]) or "no output"
        where = f"in node {result.node}" if result.node else "in the world's top namespace"
        # A command or its output can be huge (a 200 KB argument): quote bounded excerpts.
        super().__init__(f"`{one_line(result.display, 200)}` {where} exited with code {result.returncode}:"
                         f" {one_line(tail, 300)}"
                         f" (pass check=False if this failure is what the lab shows)")


@dataclass
class CommandResult:
    """What one command printed; its repr is the transcript a learner would see."""

    node: str | None
    command: str
    stdout: str
    stderr: str
    returncode: int
    recorded: bool = field(default=False, compare=False)

    @property
    def display(self) -> str:
        """The command line as typed on the host: ``ip netns exec NODE COMMAND``."""
        return f"ip netns exec {self.node} {self.command}" if self.node else self.command

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def transcript(self) -> str:
        text = f"$ {self.display}\n"
        for part in (self.stdout, self.stderr):
            if part:
                text += part if part.endswith("\n") else part + "\n"
        return text

    def __str__(self) -> str:
        return self.transcript.rstrip("\n")

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def as_dict(self) -> dict:
        return {"node": self.node, "command": self.command, "stdout": self.stdout,
                "stderr": self.stderr, "returncode": self.returncode}


def _agent_source() -> str:
    global _AGENT_SOURCE
    if _AGENT_SOURCE is None:
        with open(os.path.join(os.path.dirname(__file__), "_agent.py")) as f:
            _AGENT_SOURCE = f.read()
    return _AGENT_SOURCE


def _package_parent() -> str:
    """The folder holding this netlab package: daemons the world runs (``python3 -m netlab.flannel``)
    import the same code as the notebook, installed or not; and `python3` in a node is the
    notebook's own interpreter (its folder leads the world's PATH), so commands read the same on
    every machine."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _preexec(parent: int):
    def set_pdeathsig():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return set_pdeathsig


_EXAMPLE = "e.g. 'ip route' or ['ping', '-c', '1', '10.0.0.2']"


def command_argv(node: str | None, command) -> tuple[list[str], str]:
    """(argv to execute, command text to show) for a command run in a node.

    Raises :class:`WorldInputError` for a command that cannot run: not a string or a list of
    strings and numbers, empty, or holding a NUL (execve ends an argument at NUL).
    """
    if isinstance(command, (list, tuple)):
        bad = [a for a in command if isinstance(a, bool) or not isinstance(a, (str, int))]
        if bad:
            bad = bad[0]
            raise WorldInputError(f"each argument of a command must be a string (or a number), not "
                                  f"{type(bad).__name__} {quote(bad)}; {_EXAMPLE}")
        argv = [str(a) for a in command]
        text = _sh_join(argv)
    elif isinstance(command, str):
        text = command.strip()
        try:
            argv = ["sh", "-c", text] if any(c in _SHELL_CHARS for c in text) else shlex.split(text)
        except ValueError as exc:  # cannot happen: quotes send the text to sh -c; kept for safety
            raise WorldInputError(f"cannot split the command {quote(text)}: {exc}") from None
    else:
        raise WorldInputError(f"a command must be a string or a list of arguments, not "
                              f"{type(command).__name__} {quote(command)}; {_EXAMPLE}")
    if not argv or not "".join(argv).strip():
        raise WorldInputError(f"the command is empty; give the command to run, {_EXAMPLE}")
    if any("\0" in a for a in argv):
        raise WorldInputError(f"the command {quote(text)} contains a NUL character, which no program can"
                              f" receive in its arguments; remove it")
    if node:
        argv = ["ip", "netns", "exec", node] + argv
    return argv, text


def _seconds(value, what: str) -> float:
    """A timeout: a finite number of seconds above 0 (at most a day)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not (isinstance(value, int) or math.isfinite(value)) or not 0 < value <= 86400:
        raise WorldInputError(f"{what} must be a number of seconds above 0 and at most 86400, not "
                              f"{type(value).__name__} {quote(value)}")
    return value


class _Agent:
    """The JSON-line connection to a world's PID 1."""

    def __init__(self, mode: str, python: str | None = None):
        """Start the world's agent: on this kernel (mode "root" or "userns"), or as the one job of
        a User-mode Linux kernel (mode "uml", :mod:`netlab.engine.uml`), where it runs as that kernel's
        root. Either way ``self.proc`` is the same JSON-line channel to the same agent."""
        self._ids = itertools.count(1)
        self._pending: dict[int, list] = {}
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self.closed = False
        argv = UNSHARE[:1] + (USERNS if mode == "userns" else []) + UNSHARE[1:] + [
            python or sys.executable, "-I", "-S", "-c", _agent_source()]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LC_ALL": "C", "NETLAB_HOME": _package_parent(),
               "NETLAB_PYTHON_BIN": os.path.dirname(sys.executable)}
        if mode == "uml":
            from .uml import Machine, UmlError
            try:
                self.proc = Machine(argv, env)
            except UmlError as e:
                raise WorldError(f"the world did not start: {e}") from None
        else:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, preexec_fn=_preexec(os.getpid()), env=env)
        hello = self.proc.stdout.readline()
        if not hello:
            self.proc.wait()
            err = self.proc.stderr.read().decode(errors="replace").strip()
            raise WorldError(f"the world did not start: {err or 'unshare exited with code %s' % self.proc.returncode}")
        self.hello = json.loads(hello)
        if not self.hello.get("ready"):
            self.kill()
            raise WorldError(f"the world did not start: {self.hello.get('error')}")
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._lock:
                slot = self._pending.pop(msg["id"], None)
            if slot:
                slot[1] = msg
                slot[0].set()
        with self._lock:
            self.closed = True
            pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot[0].set()

    def _drain(self):
        for line in self.proc.stderr:
            self._stderr = (self._stderr + [line.decode(errors="replace")])[-20:]

    def request(self, op: str, **kw) -> dict:
        slot = [threading.Event(), None]
        with self._lock:
            if self.closed:
                raise WorldError("this world is closed; open a new one with `with World(topo) as w:`")
            rid = next(self._ids)
            data = json.dumps(dict(kw, op=op, id=rid)) + "\n"  # before the slot: a TypeError leaves none
            self._pending[rid] = slot
            try:
                self.proc.stdin.write(data.encode())
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                self._pending.pop(rid, None)
                raise WorldError("the world has gone (its process was killed)") from None
        slot[0].wait()
        if slot[1] is None:
            raise WorldError("the world ended while a command was running" +
                             (f": {self._stderr[-1].strip()}" if self._stderr else ""))
        return slot[1]

    def close(self, timeout: float = 5.0):
        with self._lock:
            self.closed = True
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------- build
def _sh_join(words) -> str:
    """Words as one shell command line, quoted only where the shell needs it (iptables' lone ``!`` is safe)."""
    return " ".join(w if w == "!" else shlex.quote(w) for w in words)


@dataclass
class _Batch:
    """Lines for one tool run once in one node (node None: the world's top namespace)."""

    node: str | None
    tool: str  # "ip", "bridge", "iptables", "sysctl"
    lines: list = field(default_factory=list)
    read: bool = False  # only reads the kernel (the linkwatch sync): no part of the script

    def commands(self) -> list[str]:
        """Each line as the shell command it stands for, one process per line (``Topology.script``).

        ``ip -batch`` and ``bridge -batch`` lines become ``ip -n NODE LINE``; sysctls become
        ``ip netns exec NODE sysctl -w KEY=VALUE`` (what the agent writes under /proc/sys); an
        iptables-restore batch becomes one ``ip netns exec NODE iptables -t TABLE RULE`` per rule.
        """
        if self.tool == "sysctl":
            return [_sh_join(["ip", "netns", "exec", node, "sysctl", "-w", f"{key}={value}"])
                    for node, key, value in self.lines]
        if self.tool == "iptables":
            out, table = [], None
            for line in self.lines:
                if line.startswith("*"):
                    table = line[1:]
                elif line.startswith(":"):
                    out.append(_sh_join(["ip", "netns", "exec", self.node, "iptables", "-t", table,
                                           "-N", line[1:].split()[0]]))
                elif line != "COMMIT":
                    out.append(_sh_join(["ip", "netns", "exec", self.node, "iptables", "-t", table]
                                          + shlex.split(line)))
            return out
        return [_sh_join([self.tool] + (["-n", self.node] if self.node else []) + shlex.split(line))
                for line in self.lines]

    def argv(self) -> list[str]:
        if self.tool == "iptables":
            return ["ip", "netns", "exec", self.node, "iptables-restore", "--noflush"]
        return [self.tool] + (["-n", self.node] if self.node else []) + ["-batch", "-"]

    def shown(self, line: str) -> str:
        prefix = {"ip": "ip", "bridge": "bridge"}[self.tool]
        return f"{prefix} -n {self.node} {line}" if self.node else f"{prefix} {line}"


def build_plan(topo: Topology) -> list[list[_Batch]]:
    """The build as phases; batches within a phase are independent and run concurrently."""
    nodes = topo.nodes.values()
    top_netns = _Batch(None, "ip", [f"netns add {n.name}" for n in nodes])
    early = _Batch(None, "sysctl", [(n.name, k, v) for n in nodes if not n.ipv6
                                    for k, v in (("net.ipv6.conf.all.disable_ipv6", "1"),
                                                 ("net.ipv6.conf.default.disable_ipv6", "1"))])
    veths = _Batch(None, "ip")
    for ea, eb in topo.links:
        ia, ib = topo.nodes[ea.node].interfaces[ea.ifname], topo.nodes[eb.node].interfaces[eb.ifname]
        veths.lines.append(f"link add {ia.name} netns {ia.node} address {ia.mac} type veth"
                           f" peer name {ib.name} netns {ib.node} address {ib.mac}")
    per_node, late = [], []
    for n in nodes:
        ip, br = _Batch(n.name, "ip"), _Batch(n.name, "bridge")
        for i in n.interfaces.values():
            if i.kind == "bridge":
                ip.lines.append(f"link add {i.name} address {i.mac} type bridge")
            elif i.kind == "vxlan":
                o = i.options
                ip.lines.append(f"link add {i.name} address {i.mac} type vxlan id {o['vni']} local {o['local']}"
                                f" dev {o['dev']} dstport {o['dstport']}" + ("" if o["learning"] else " nolearning"))
            elif i.kind == "tun":
                ip.lines.append(f"tuntap add dev {i.name} mode tun")
        for i in n.interfaces.values():
            if i.mtu:
                ip.lines.append(f"link set dev {i.name} mtu {i.mtu}")
            if i.master:
                ip.lines.append(f"link set dev {i.name} master {i.master}")
            for a in i.addresses:
                ip.lines.append(f"addr add {a} dev {i.name}")
        ip.lines.append("link set dev lo up")
        order = sorted(n.interfaces.values(), key=lambda i: i.kind != "bridge")
        ip.lines += [f"link set dev {i.name} up" for i in order]
        ip.lines += [f"neigh add {addr} lladdr {mac} dev {dev} nud permanent" for dev, addr, mac in n.neighbours]
        ip.lines += [f"route add {r.ip_args()}" for r in n.routes]
        br.lines += [f"fdb add {mac} dev {dev} dst {dst} self permanent" for dev, mac, dst in n.fdb]
        per_node.append([b for b in (ip, br) if b.lines])
        if n.iptables:
            ipt = _Batch(n.name, "iptables")
            tables: dict[str, list[str]] = {}
            for table, rule in n.iptables:
                tables.setdefault(table, []).append(f":{rule.split()[1]} - [0:0]" if rule.startswith("-N ") else rule)
            for table, rules in tables.items():
                ipt.lines += [f"*{table}"] + rules + ["COMMIT"]
            late.append([ipt])
    sysctls = _Batch(None, "sysctl", [(n.name, k, v) for n in nodes for k, v in n.sysctls])
    # Carrier changes reach the bridge and the routes through the kernel's linkwatch, up to a
    # second later. A single-device RTM_GETLINK (`ip link show dev X`) syncs linkwatch for that
    # device, so ports are forwarding and routes are not "linkdown" when build() returns.
    sync = []
    for n in nodes:
        kinds = [i for i in n.interfaces.values() if i.kind == "veth"] + \
                [i for i in n.interfaces.values() if i.kind == "bridge"]
        if kinds:
            sync.append([_Batch(n.name, "ip", [f"link show dev {i.name}" for i in kinds], read=True)])
    phases = [[[top_netns]], [[early]], [[veths]], per_node, [[sysctls]] + late, sync]
    # A phase is a list of chains; the batches of one chain run in order.
    return [[chain for chain in phase if any(b.lines for b in chain)] for phase in phases]


def build_script(topo: Topology) -> str:
    """The shell commands the build runs, one per line, in build order (``Topology.script``).

    Rendered from :func:`build_plan`, the batches :meth:`World.build` runs, so the two cannot
    drift: run as ``sh -e`` in an empty world's top namespace, it leaves the same kernel state.
    """
    return "\n".join(cmd for phase in build_plan(topo) for chain in phase for b in chain if not b.read
                     for cmd in b.commands()) + "\n"


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
        # hand (checked by kernel.check_link); the world's topology stays whole, so walks and checks
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
        self._trace = trace or (lambda event, data: None)
        self._agent: _Agent | None = None
        self._replayer = None
        self._bg: dict[str, tuple[str | None, str]] = {}
        self._caps = itertools.count(1)
        self.transcript: list[dict] = []
        self.closed = False
        self.built = False
        self.shell_socket: str | None = None  # where `python -m netlab shell` reaches this world
        self.shell_unavailable = "a replayed world has no kernel to open a shell in"
        env_mode = os.environ.get("NETLAB_MODE", "").lower()
        if env_mode == "replay":
            mode = "replay"
        if mode not in ("auto", "live", "replay"):
            raise ValueError(f"mode must be 'auto', 'live' or 'replay', not {mode!r}")
        self.probe = probe()
        if mode == "auto":
            mode = "replay" if self.probe.mode == "none" else "live"
        if mode == "replay":
            from .replay import Replayer
            self.mode = "replay"
            self._replayer = Replayer.load(self.name, recordings_dir, reason=self.probe.reason)
            print(self._replayer.banner)
            _OPEN.append(weakref.ref(self))
            return
        if self.probe.mode == "none":
            raise WorldError(f"cannot build a live world here: {self.probe.reason}")
        self.mode = self.probe.mode
        self.record = record if record is not None else os.environ.get("NETLAB_RECORD") == "1"
        if any(i.kind == "tun" for n in topology.nodes.values() for i in n.interfaces.values()) \
                and "tun" in self.probe.unavailable:
            raise WorldError(f"topology {topology.name!r} needs TUN devices, which fail here:"
                             f" {self.probe.unavailable['tun']}; run it as root")
        t0 = time.perf_counter()
        self._agent = _Agent(self.mode, python=python)
        self._finalizer = weakref.finalize(self, self._agent.kill)
        self.ready_seconds = time.perf_counter() - t0
        self._trace("ready", dict(self._agent.hello, unshare_pid=self._agent.proc.pid))
        _OPEN.append(weakref.ref(self))
        self.shell_socket, self.shell_unavailable = _shell.serve(self)
        self._shell_file = _shell.file_id(self.shell_socket)  # close() removes this file, not a successor
        # A world dropped without close() (or left open when the kernel exits) removes it too; only
        # a SIGKILL leaves it, stale, until the next `netlab shell` or world of that name finds it.
        weakref.finalize(self, _shell.unserve, self.shell_socket, self._shell_file)
        if build:
            self.build(batched=batched)

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
        if self._agent is not None:
            self._agent.close()
            self._finalizer.detach()
            _shell.unserve(self.shell_socket, self._shell_file)
            if self.record:
                from .replay import write_recording
                write_recording(self.name, self.transcript, self.recordings_dir)

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
        return _shell.command(self.shell_socket, node or self.nodes[0])

    @property
    def nodes(self) -> list[str]:
        return list(self.topology.nodes)

    def info(self) -> dict:
        """PID, namespace inodes of the world and of each node (for safety checks)."""
        return self._live().request("info")

    def _live(self) -> _Agent:
        if self.closed:
            raise WorldError(f"world {self.name!r} is closed; open a new one with `with World(topo) as w:`")
        if self._agent is None:
            raise WorldError("this is a replayed world; it has no live kernel behind it")
        return self._agent

    # ---------------------------------------------------------------- build
    def build(self, batched: bool = True) -> None:
        """Create every node, link, address, route, rule and entry of the topology."""
        if self.built:
            raise WorldError("this world is already built")
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                for i, phase in enumerate(build_plan(self._plan_topology)):
                    run_chain = self._run_chain if batched else self._run_chain_naive
                    for fut in [pool.submit(run_chain, chain) for chain in phase]:
                        fut.result()
                    if i == 0:
                        self._trace("netns", self.info()["nodes"])
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
        if self._agent is None:
            return
        self._live().request("settle", nodes=list(nodes or self.nodes))

    def _run_chain(self, chain: list[_Batch]) -> None:
        for b in chain:
            if b.tool == "sysctl":
                self._sysctl(b.lines)
                continue
            res = self._live().request("run", argv=b.argv(), input="\n".join(b.lines) + "\n", timeout=120)
            if res["rc"] != 0:
                self._build_failed(b, res)

    def _run_chain_naive(self, chain: list[_Batch]) -> None:
        """One process per command, as a shell script would do it (for the benchmark)."""
        for b in chain:
            if b.tool in ("sysctl", "iptables"):
                self._run_chain([b])
                continue
            for line in b.lines:
                argv = [b.tool] + (["-n", b.node] if b.node else []) + shlex.split(line)
                res = self._live().request("run", argv=argv, timeout=60)
                if res["rc"] != 0:
                    raise BuildError(f"building {self.name!r}: `{b.shown(line)}` failed: {res['stderr'].strip()}",
                                     b.shown(line), res["stderr"].strip())

    def _sysctl(self, lines) -> None:
        values: dict[str, list] = {}
        for node, key, value in lines:
            values.setdefault(node, []).append([key, value])
        res = self._live().request("sysctl", values=values)
        if res["rc"] != 0:
            raise BuildError(f"building {self.name!r}: {res['stderr']}", "sysctl", res["stderr"])

    def _build_failed(self, b: _Batch, res: dict) -> None:
        err = res["stderr"].strip()
        lines = [l for l in err.splitlines() if not l.startswith("Command failed")]
        command = " ".join(b.argv())
        for l in err.splitlines():
            if l.startswith("Command failed -:"):
                n = int(l.rsplit(":", 1)[1])
                command = b.shown(b.lines[n - 1])
        if b.tool == "iptables":
            command = f"ip netns exec {b.node} iptables-restore --noflush"
        why = " ".join(lines) or f"exit code {res['rc']}"
        raise BuildError(f"building {self.name!r}: `{command}` failed: {why}", command, why)

    # ------------------------------------------------------------- commands
    def run(self, node: str | None, command, check: bool = True, timeout: float = 30,
            input: str | None = None) -> CommandResult:
        """Run a command in a node (None: the world's top namespace) and return what it printed.

        Bad arguments raise :class:`WorldInputError` before anything runs.
        """
        self._node_arg(node)
        argv, text = command_argv(node, command)
        timeout = _seconds(timeout, "timeout")
        if input is not None and not isinstance(input, str):
            raise WorldInputError(f"input must be text (str) for the command's stdin, not {type(input).__name__}"
                                  f" {quote(input)}" + ("; decode it first" if isinstance(input, bytes) else ""))
        if self._replayer is not None:
            result = self._replayer.run(node, text)
        else:
            self._check_node(node)
            res = self._live().request("run", argv=argv, timeout=timeout, input=input)
            if "stdout" not in res:  # the agent reports a failure of its own as stderr only
                raise WorldError(f"the world could not run `{one_line(text, 200)}`: {one_line(res.get('stderr'), 300)}")
            result = CommandResult(node, text, res["stdout"], res["stderr"], res["rc"])
            if res.get("timeout"):
                result.stderr += f"netlab: timed out after {timeout} s and was killed\n"
            self.transcript.append(dict(result.as_dict(), kind="run"))
        if check and result.returncode != 0:
            raise CommandError(result)
        return result

    def _node_arg(self, node) -> None:
        """A node argument is a node's name (a string) or None, before it is looked up."""
        if node is not None and not isinstance(node, str):
            raise WorldInputError(f"node must be a node's name (a string) or None for the world's top namespace,"
                                  f" not {type(node).__name__} {quote(node)}; its nodes are {', '.join(self.nodes)}")
        if node is not None:
            self._check_node(node)

    def _check_node(self, node):
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
        if self._replayer is not None:
            self._replayer.start(node, text, name)
            self._bg[name] = (node, text)
            return name
        self._check_node(node)
        res = self._live().request("start", name=name, argv=argv)
        if res["rc"] != 0:
            raise WorldError(f"could not start `{text}` in {node}: {res['stderr']}")
        self._bg[name] = (node, text)
        self.transcript.append({"kind": "start", "node": node, "command": text, "name": name})
        return name

    def stop(self, name: str, timeout: float = 5) -> CommandResult:
        """Stop a background process (SIGTERM, then SIGKILL) and return what it printed."""
        if not isinstance(name, str):
            raise WorldInputError(f"name must be the string start() returned, not {type(name).__name__} {quote(name)}")
        timeout = _seconds(timeout, "timeout")
        if name not in self._bg:
            raise WorldError(f"no background process named {quote(name)}; started: {', '.join(self._bg) or 'none'}")
        node, text = self._bg.pop(name)
        if self._replayer is not None:
            return self._replayer.stop(name)
        res = self._live().request("stop", name=name, timeout=timeout)
        result = CommandResult(node, text, res.get("stdout", ""), res["stderr"], res["rc"])
        self.transcript.append(dict(result.as_dict(), kind="stop", name=name))
        return result

    def ping(self, node: str, dst: str, count: int = 1, check: bool = True) -> CommandResult:
        """``ping -c COUNT -W 1 DST`` from a node."""
        return self.run(node, f"ping -c {count} -W 1 {dst}", check=check)

    def capture(self, node: str, iface: str, filter: str | None = None):
        """Start tcpdump on NODE's IFACE; ``.stop()`` returns a scapy PacketList.

        FILTER is a pcap-filter(7) expression; it is always read as a filter, never as an option.
        """
        from .capture import Capture
        return Capture(self, node, iface, filter)

    def trace(self, src: str, dst: str, proto: str = "icmp", **kw):
        """Send one packet from SRC to DST and follow it hop by hop (:func:`netlab.walk.trace`)."""
        from ..walk.trace import trace
        return trace(self, src, dst, proto, **kw)
