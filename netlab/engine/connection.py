"""The JSON-line connection to a live world's PID 1, the agent (:mod:`._agent`, stdlib only).

The agent runs as the one process of ``unshare`` on this kernel (mode "root" or "userns"), or as
the one job of a User-mode Linux kernel (mode "uml", :mod:`.uml`), where it is that kernel's root.
Either way :attr:`AgentConnection.proc` is the same Popen-like channel to the same agent, and the
kernel kills the world when the notebook dies (PDEATHSIG, or :mod:`.uml_guard`).
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import signal
import subprocess
import sys
import threading

from .probe import UNSHARE, USERNS
from .result import WorldError
from .uml import Machine, UmlError

_AGENT_SOURCE = None
PR_SET_PDEATHSIG = 1


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


class AgentConnection:
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
