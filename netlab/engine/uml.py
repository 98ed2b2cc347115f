"""Worlds where namespaces are forbidden: one User-mode Linux kernel per world.

Where this process may not create namespaces (mybinder.org, Docker's default seccomp profile,
Ubuntu 24.04's AppArmor default, most class hubs), a world can still run on a real Linux kernel:
User-mode Linux (Debian ``user-mode-linux``) is that kernel built as an ordinary program. It needs
no capabilities and no namespace system calls, only ptrace of its own children and an
exec-capable temporary directory with room for its memory.

:class:`Machine` boots one such kernel with the host's own ``/`` as its root file system (hostfs,
so every tool, the notebook's Python and this package are there at the same paths) and
:mod:`netlab.engine.uml_init` as init, which makes a throw-away writable root and runs the world's
command (the same ``unshare ... python3 -c <agent>`` as on the host) with its stdin and stdout on
the kernel's second console, ``con1``, wired to two pipes of this process. :class:`Machine`
behaves like the :class:`subprocess.Popen` of that command (``stdin``, ``stdout``, ``stderr``,
``wait``, ``poll``, ``kill``), so :class:`netlab.engine.world.World` talks to the agent exactly as it does
on the host. ``stderr`` is the kernel console: boot messages, the world's own stderr, a panic.

One kernel per world, not one per notebook: a boot costs 1-2 s, of which a shared kernel would
save all but the agent's start (0.35 s), but a closed world gives its 200-400 MB of host memory
back at once; a world's kernel panic, or a daemon that fills a kernel's memory, ends that world
only; and the kernel's lifetime is the world's, so the guarantees below need no reference counting
(README, "Speed, measured", has the figures).

Nothing is left behind, whatever happens to the notebook:

* the kernel runs under :mod:`netlab.engine.uml_guard`, which gets SIGTERM when the thread that started
  it dies (PDEATHSIG; also from :meth:`Machine.kill`) and then SIGKILLs the kernel's whole
  process group: a SIGKILL to the kernel alone, or its own SIGTERM handler, can leave a helper
  process running that holds its memory;
* its memory file in TMPDIR is unlinked by UML as soon as it is made;
* ``uml_dir=/proc``: UML cannot make its ``<uml_dir>/<umid>`` folder (pid file, mconsole socket)
  there, says so on the console and boots on; nothing is written to any folder of the host.
"""

from __future__ import annotations

import collections
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

KERNEL = "linux.uml"
MODULES = "/usr/lib/uml/modules"
# etcd preallocates two 64 MB WAL files in the world's /run (a tmpfs: RAM, at most half of it), so
# 256 MiB is too little for the flannel labs. The host pays only for pages the kernel touches.
MEM_MB = 512
BOOT_TIMEOUT = 60.0  # seconds from spawn to the agent's first line; a stalled boot is killed
READY = b"netlab-uml ready\n"
ACK = b"\x06"  # init's acknowledgement lines (netlab.engine.uml_init.relay)
PR_SET_PDEATHSIG = 1
# Built-in parts of Debian's UML kernel that a lab never uses and that cost a second of every
# boot (measured with initcall_debug): zswap's setup (0.7 s), and the raid6 and xor speed tests
# (0.9 s) that only btrfs RAID and md would use.
_SKIPPED_INITCALLS = ("init_zswap", "raid6_select_algo", "calibrate_xor_blocks")
# Console lines that say why a boot failed (the kernel's, UML's, or netlab.uml_init's).
_FATAL = ("Kernel panic", "Out of memory", "SIGBUS", "Bus error", "netlab-uml: init failed", "netlab-uml: cannot run")
_MEMORY = ("out of memory", "oom", "failed to allocate", "deadlocked on memory", "sigbus", "bus error")


class UmlError(RuntimeError):
    """The UML kernel could not boot the world; the message ends with the console's last lines."""


def kernel_path() -> str | None:
    """The UML kernel binary: ``NETLAB_UML_KERNEL``, else ``linux.uml`` on PATH or in /usr/bin."""
    path = os.environ.get("NETLAB_UML_KERNEL") or shutil.which(KERNEL) or "/usr/bin/" + KERNEL
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def tmpdir() -> str:
    """Where UML keeps its memory file: ``NETLAB_UML_TMPDIR``, else TMPDIR, else /tmp.

    Set explicitly for the kernel, because UML left to itself picks /dev/shm, which is 64 MiB in
    Docker and Kubernetes pods: too small, and the kernel dies of SIGBUS when it touches more.
    """
    return os.environ.get("NETLAB_UML_TMPDIR") or tempfile.gettempdir()


def mem_mb() -> int:
    return int(os.environ.get("NETLAB_UML_MEM", MEM_MB))


_CHECK = r"""
import ctypes, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
# 1. ptrace: UML's children ask to be traced (PTRACE_TRACEME) and the kernel traces them.
pid = os.fork()
if pid == 0:
    os._exit(0 if libc.ptrace(0, 0, None, None) == 0 else 10 + ctypes.get_errno())
code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
if code:
    print("ptrace", os.strerror(code - 10) if code > 10 else "failed"); sys.exit()
# 2. The memory file: UML maps it executable, which a noexec mount refuses.
d, need = sys.argv[1], int(sys.argv[2]) << 20
try:
    with open(os.open(d, os.O_RDWR | os.O_TMPFILE, 0o600), "r+b") as f:
        f.truncate(4096)
        mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC).close()
except OSError as e:
    print("tmpdir", e.strerror); sys.exit()
st = os.statvfs(d)
if st.f_bavail * st.f_frsize < need:
    print("space", (st.f_bavail * st.f_frsize) >> 20); sys.exit()
print("ok")
"""


def check() -> str | None:
    """Why UML worlds cannot run here (one sentence with what to do), or None if they can.

    Tried, not guessed, in about 20 ms: the kernel binary, its modules and modprobe, ptrace of a child,
    an executable mapping of a file in the memory folder, and the room there for ``mem``.
    Whether the kernel then boots is known only by booting it: :class:`Machine` reports that.
    """
    kernel = kernel_path()
    if kernel is None:
        return (f"the User-mode Linux kernel ({KERNEL}) is not installed: install the Debian package"
                f" user-mode-linux, or set NETLAB_UML_KERNEL to its path")
    if not any(os.path.isfile(os.path.join(MODULES, r, "kernel/fs/overlayfs/overlay.ko"))
               for r in (os.listdir(MODULES) if os.path.isdir(MODULES) else [])):
        return f"the UML kernel's modules are missing from {MODULES} (reinstall the Debian package user-mode-linux)"
    if not os.path.exists("/sbin/modprobe"):
        return ("/sbin/modprobe is missing, which the UML kernel runs to load the modules iptables asks for:"
                " install the Debian package kmod")
    folder, mem = tmpdir(), mem_mb()
    if not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        return f"UML's memory folder {folder} is not a writable folder: set TMPDIR (or NETLAB_UML_TMPDIR) to one"
    try:
        out = subprocess.run([sys.executable, "-I", "-S", "-c", _CHECK, folder, str(mem)], capture_output=True,
                             text=True, timeout=20).stdout.split(maxsplit=1)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"checking ptrace and {folder} for UML failed: {e}"
    what, detail = (out + ["failed", ""])[:2] if out else ("failed", "no answer")
    if what == "ok":
        return None
    if what == "ptrace":
        return (f"this machine forbids ptrace ({detail.strip()}), which UML needs to run its processes"
                f" (a seccomp profile or kernel.yama.ptrace_scope=3): allow ptrace of one's own children")
    if what == "tmpdir":
        return (f"UML cannot map its memory file in {folder} as executable ({detail.strip()}; a noexec"
                f" mount?): set TMPDIR (or NETLAB_UML_TMPDIR) to a folder on an exec-capable file system")
    if what == "space":
        return (f"{folder} has {detail.strip()} MiB free, less than UML's memory ({mem} MiB); set TMPDIR"
                f" (or NETLAB_UML_TMPDIR) to a folder with room, e.g. on disk rather than /dev/shm")
    return f"checking whether UML can run failed: {' '.join(out) or 'no answer'}"


def _preexec(parent: int):
    def set_pdeathsig():
        # SIGTERM, not SIGKILL: the guard catches it and kills every process of the kernel.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return set_pdeathsig


class _Lines:
    """A queue of lines that reads like a pipe (iteration, ``readline``, ``read``) for :class:`World`."""

    def __init__(self):
        self._cond = threading.Condition()
        self._lines: collections.deque = collections.deque()
        self._done = False

    def put(self, line: bytes | None) -> None:
        with self._cond:
            if line is None:
                self._done = True
            else:
                self._lines.append(line)
            self._cond.notify_all()

    def wait(self, timeout: float) -> bool:
        """Whether a line (or the end) is there within ``timeout`` seconds; takes nothing."""
        with self._cond:
            return self._cond.wait_for(lambda: self._lines or self._done, timeout)

    def readline(self) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: self._lines or self._done)
            return self._lines.popleft() if self._lines else b""

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def read(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        pass


class _Window:
    """The console's input, written at most WINDOW bytes ahead of init's acknowledgements.

    More than about 4 KiB waiting in the guest's tty stalls its input for good (the UML console
    driver is throttled and never resumes); init acknowledges what it takes off the console.
    """

    WINDOW = 2048

    def __init__(self, fd: int):
        self.fd = fd
        self._cond = threading.Condition()
        self._credit = self.WINDOW
        self._gone = False

    def acknowledge(self, count: int) -> None:
        with self._cond:
            self._credit += count
            self._cond.notify_all()

    def gone(self) -> None:
        with self._cond:
            self._gone = True
            self._cond.notify_all()

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            with self._cond:
                self._cond.wait_for(lambda: self._credit > 0 or self._gone)
                if self._gone:
                    raise BrokenPipeError("the UML kernel has gone")
                n = min(self._credit, len(view))
                self._credit -= n
            os.write(self.fd, view[:n])  # a pipe takes 2 KiB at once
            view = view[n:]
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Machine:
    """``argv`` run with ``env`` as the only job of a fresh UML kernel; behaves like its Popen."""

    def __init__(self, argv: list[str], env: dict, timeout: float | None = None):
        kernel = kernel_path()
        if kernel is None:
            raise UmlError(check() or f"{KERNEL} not found")
        self._timeout = float(os.environ.get("NETLAB_UML_TIMEOUT", BOOT_TIMEOUT)) if timeout is None else timeout
        self.log: collections.deque = collections.deque(maxlen=200)  # the console's last lines
        self.first_fatal, self.short_of_memory = "", False
        self.stderr, self.stdout = _Lines(), _Lines()
        to_uml, to_uml_w = os.pipe()
        from_uml, from_uml_w = os.pipe()
        self.stdin = _Window(to_uml_w)
        here = os.path.dirname(os.path.abspath(__file__))
        init, guard = os.path.join(here, "uml_init.py"), os.path.join(here, "uml_guard.py")
        cmd = [kernel, f"mem={mem_mb()}M", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
               "uml_dir=/proc", "initcall_blacklist=" + ",".join(_SKIPPED_INITCALLS), os.environ.get("NETLAB_UML_DEBUG", ""), "con=null", "con0=null,fd:1", f"con1=fd:{to_uml},fd:{from_uml_w}",
               f"init={sys.executable}", "--", "-I", "-S", init]
        cmd = [a for a in cmd if a]
        if any(" " in a for a in cmd):
            raise UmlError(f"a path has a space, which the UML kernel command line cannot carry: {' '.join(cmd)}")
        self.command = cmd
        t0 = time.monotonic()
        try:
            # The console (stdout) must be a pipe: UML's epoll refuses a regular file.
            self._proc = subprocess.Popen([sys.executable, "-I", "-S", guard] + cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, pass_fds=(to_uml, from_uml_w), cwd="/",
                                          env={"TMPDIR": tmpdir(), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                          preexec_fn=_preexec(os.getpid()))
        except BaseException:
            self.stdin.close()
            os.close(from_uml)
            raise
        finally:
            os.close(to_uml)
            os.close(from_uml_w)
        self.pid = self._proc.pid  # the guard (netlab.engine.uml_guard); the kernel is its only child
        threading.Thread(target=self._read_console, daemon=True).start()
        threading.Thread(target=self._read_control, args=(from_uml,), daemon=True).start()
        try:
            deadline = t0 + self._timeout
            self._wait_line(deadline, "boot")
            hello = self.stdout.readline()
            if hello != READY:
                raise UmlError(self._failure(f"said {hello!r} instead of {READY!r}"))
            t_ready = time.monotonic()
            self.stdin.write((json.dumps({"argv": argv, "env": env}) + "\n").encode())
            self._wait_line(deadline, "start the world's agent")
        except BaseException:
            self.kill()
            self.stdin.close()
            raise
        self.boot_seconds = time.monotonic() - t0
        # What a kernel shared by several worlds would save per world: all but the agent's start.
        self.agent_seconds = time.monotonic() - t_ready
        # The kernel leads a process group of its own: every process of this machine is in it.
        with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
            self.kernel_pid = int(f.read().split()[0])

    # --------------------------------------------------------- the consoles
    def _read_console(self):
        for line in self._proc.stdout:
            text = line.decode(errors="replace").rstrip("\n")
            self.log.append(text)
            if not self.first_fatal and any(k in text for k in _FATAL):
                self.first_fatal = text.strip()  # kept whole: a stack trace can push it out of the log
            self.short_of_memory = self.short_of_memory or any(k in text.lower() for k in _MEMORY)
            self.stderr.put(line)
        self.stderr.put(None)

    def _read_control(self, fd: int):
        """Init's acknowledgements feed the input window; every other line is the world's output."""
        with os.fdopen(fd, "rb") as control:
            for line in control:
                if line.startswith(ACK):
                    self.stdin.acknowledge(int(line[1:]))
                else:
                    self.stdout.put(line)
        self.stdin.gone()
        self.stdout.put(None)

    def _wait_line(self, deadline: float, doing: str) -> None:
        while not self.stdout.wait(min(max(deadline - time.monotonic(), 0), 0.1)):
            if self._proc.poll() is not None:
                raise UmlError(self._failure(f"exited with code {self._proc.returncode} before it could {doing}"))
            if time.monotonic() > deadline:
                raise UmlError(self._failure(f"did not {doing} within {self._timeout:g} s (NETLAB_UML_TIMEOUT)"))
        if not self.stdout._lines:
            self._proc.wait(5)
            raise UmlError(self._failure(f"closed its control console before it could {doing}"))

    def _failure(self, what: str) -> str:
        """One message: what went wrong, the kernel's own words for it, what to do, the console's end."""
        time.sleep(0.2)  # let the console reader catch the kernel's last words
        lines = [l for l in self.log if l.strip()]
        said = next((l.strip() for l in lines if "Kernel panic" in l), self.first_fatal)  # a panic first
        hint = f" It said: {said!r}." if said else ""
        if self.short_of_memory:
            hint += f" Is {mem_mb()} MiB (NETLAB_UML_MEM) too little, or {tmpdir()} (TMPDIR) too small for it?"
        tail = "\n".join("    " + l for l in lines[-12:])
        return f"the User-mode Linux kernel {what}.{hint} The last lines of its console:\n{tail}"

    # ------------------------------------------------------ Popen's interface
    def poll(self):
        return self._proc.poll()

    @property
    def returncode(self):
        return self._proc.returncode

    def wait(self, timeout: float | None = None):
        return self._proc.wait(timeout)

    def kill(self) -> None:
        """SIGTERM to the guard, which SIGKILLs every process of the kernel; SIGKILL after 5 s."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    terminate = kill
