"""The live backend: a world's agent on a real kernel (namespaces on this one, or a User-mode Linux
kernel), reached through :class:`~.connection.AgentConnection`.

It builds with batched ``ip -batch``/``bridge -batch``/``iptables-restore`` and sysctl requests,
runs commands and background processes, captures (tcpdump as root; the agent's AF_PACKET socket in
an unprivileged world, where tcpdump cannot drop privileges inside a user namespace), keeps the
transcript in the recording's layout and, when asked, writes it as a recording when it closes.
"""

from __future__ import annotations

import base64
import shlex
import signal
import subprocess
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from ..inputs import one_line
from . import recording
from . import shell
from .backend import Backend
from .build import Batch
from .capture import CaptureError
from .connection import AgentConnection
from .result import BuildError, CommandResult, WorldError


class LiveBackend(Backend):
    def __init__(self, mode: str, name: str, *, python: str | None = None, trace=None,
                 record: bool = False, recordings_dir: str | None = None):
        """Start the world's agent in MODE ("root", "userns" or "uml"); NAME names its shell socket
        and, with RECORD, its recording in RECORDINGS_DIR. TRACE(event, data) sees the milestones
        (the benchmark's timings)."""
        self.mode, self.name = mode, name
        self.record, self.recordings_dir = record, recordings_dir
        self.transcript: list[dict] = []
        self._trace = trace or (lambda event, data: None)
        self._captures: dict[str, tuple] = {}
        self.agent = AgentConnection(mode, python=python)
        self._finalizer = weakref.finalize(self, self.agent.kill)
        self._trace("ready", dict(self.agent.hello, unshare_pid=self.agent.proc.pid))
        self.shell_socket, self.shell_unavailable = shell.serve(name, mode, self.agent)
        self._shell_file = shell.file_id(self.shell_socket)  # close() removes this file, not a successor
        # A world dropped without close() (or left open when the kernel exits) removes it too; only
        # a SIGKILL leaves it, stale, until the next `netlab shell` or world of that name finds it.
        weakref.finalize(self, shell.unserve, self.shell_socket, self._shell_file)

    def close(self) -> None:
        self.agent.close()
        self._finalizer.detach()
        shell.unserve(self.shell_socket, self._shell_file)
        if self.record:
            recording.write(self.name, self.transcript, self.recordings_dir)

    def info(self) -> dict:
        return self.agent.request("info")

    def settle(self, nodes: list[str]) -> None:
        self.agent.request("settle", nodes=nodes)

    # ---------------------------------------------------------------- build
    def build(self, plan: list, batched: bool) -> None:
        run_chain = self._run_chain if batched else self._run_chain_naive
        with ThreadPoolExecutor(max_workers=4) as pool:
            for i, phase in enumerate(plan):
                for fut in [pool.submit(run_chain, chain) for chain in phase]:
                    fut.result()
                if i == 0:
                    self._trace("netns", self.info()["nodes"])

    def _run_chain(self, chain: list[Batch]) -> None:
        for b in chain:
            if b.tool == "sysctl":
                self._sysctl(b.lines)
                continue
            res = self.agent.request("run", argv=b.argv(), input="\n".join(b.lines) + "\n", timeout=120)
            if res["rc"] != 0:
                self._build_failed(b, res)

    def _run_chain_naive(self, chain: list[Batch]) -> None:
        """One process per command, as a shell script would do it (for the benchmark)."""
        for b in chain:
            if b.tool in ("sysctl", "iptables"):
                self._run_chain([b])
                continue
            for line in b.lines:
                argv = [b.tool] + (["-n", b.node] if b.node else []) + shlex.split(line)
                res = self.agent.request("run", argv=argv, timeout=60)
                if res["rc"] != 0:
                    raise BuildError(f"building {self.name!r}: `{b.shown(line)}` failed: {res['stderr'].strip()}",
                                     b.shown(line), res["stderr"].strip())

    def _sysctl(self, lines) -> None:
        values: dict[str, list] = {}
        for node, key, value in lines:
            values.setdefault(node, []).append([key, value])
        res = self.agent.request("sysctl", values=values)
        if res["rc"] != 0:
            raise BuildError(f"building {self.name!r}: {res['stderr']}", "sysctl", res["stderr"])

    def _build_failed(self, b: Batch, res: dict) -> None:
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
    def run(self, node, argv, text, timeout, input) -> CommandResult:
        res = self.agent.request("run", argv=argv, timeout=timeout, input=input)
        if "stdout" not in res:  # the agent reports a failure of its own as stderr only
            raise WorldError(f"the world could not run `{one_line(text, 200)}`: {one_line(res.get('stderr'), 300)}")
        result = CommandResult(node, text, res["stdout"], res["stderr"], res["rc"])
        if res.get("timeout"):
            result.stderr += f"netlab: timed out after {timeout} s and was killed\n"
        self.transcript.append(recording.run_entry(result))
        return result

    def start(self, node, argv, text, name) -> None:
        res = self.agent.request("start", name=name, argv=argv)
        if res["rc"] != 0:
            raise WorldError(f"could not start `{text}` in {node}: {res['stderr']}")
        self.transcript.append(recording.start_entry(node, text, name))

    def stop(self, name, node, text, timeout) -> CommandResult:
        res = self.agent.request("stop", name=name, timeout=timeout)
        result = CommandResult(node, text, res.get("stdout", ""), res["stderr"], res["rc"])
        self.transcript.append(recording.stop_entry(result, name))
        return result

    # ------------------------------------------------------------- captures
    def capture_start(self, name, node, iface, filter, timeout) -> None:
        sniff = self.mode == "userns"
        self._captures[name] = (node, iface, filter, sniff)
        if sniff:
            res = self.agent.request("sniff_start", name=name, node=node, iface=iface)
            if res["rc"] != 0:
                raise CaptureError(f"could not capture on {node}:{iface}: {res['stderr']}")
            return
        argv = ["ip", "netns", "exec", node, "tcpdump", "-i", iface, "-n", "-U", "-w", "-",
                "--immediate-mode", "-Z", "root"] + (["--", filter] if filter else [])
        res = self.agent.request("start", name=name, argv=argv)
        if res["rc"] != 0:
            raise CaptureError(f"could not start tcpdump on {node}:{iface}: {res['stderr']}")
        deadline = time.monotonic() + timeout
        while True:  # wait until tcpdump's socket is attached
            peek = self.agent.request("peek", name=name)
            if "listening on" in peek["stderr"]:
                break
            if not peek["running"] or time.monotonic() > deadline:
                self.agent.request("stop", name=name, timeout=1)
                raise CaptureError(f"tcpdump on {node}:{iface} did not start: "
                                   f"{peek['stderr'].strip() or 'no message within %s s' % timeout}")
            time.sleep(0.005)

    def capture_stop(self, name, settle) -> bytes:
        node, iface, filter, sniff = self._captures.pop(name)
        peek, stop = ("sniff_peek", "sniff_stop") if sniff else ("peek", "stop")
        last, deadline = -1, time.monotonic() + 2
        while time.monotonic() < deadline:  # let packets still in flight reach the file
            size = self.agent.request(peek, name=name)["size"]
            if size == last:
                break
            last = size
            time.sleep(settle)
        res = self.agent.request(stop, name=name, signal=int(signal.SIGINT), binary=True)
        pcap = base64.b64decode(res.get("stdout_b64", ""))
        if sniff and filter:
            pcap = _filtered(pcap, node, iface, filter)
        if res["rc"] not in (0, -signal.SIGINT):
            raise CaptureError(f"tcpdump on {node}:{iface} failed: {res['stderr'].strip()}")
        self.transcript.append(recording.capture_entry(node, iface, filter, pcap))
        return pcap


def _filtered(pcap: bytes, node: str, iface: str, filter: str) -> bytes:
    """Apply a capture filter to a finished capture, with tcpdump reading it (no privileges)."""
    p = subprocess.run(["tcpdump", "-r", "-", "-w", "-", "--", filter], input=pcap, capture_output=True)
    if p.returncode != 0:
        raise CaptureError(f"filter {filter!r} on {node}:{iface}: {p.stderr.decode(errors='replace').strip()}")
    return p.stdout
