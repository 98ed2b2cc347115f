"""Can this machine build lab worlds, and how?

:func:`probe` tries it (it does not guess from versions or config files) and
returns one of four modes with a one-line reason, trying them in this order:

* ``"root"``: real root; every feature works.
* ``"userns"``: unprivileged user namespaces work; ``unavailable`` lists the
  features that failed inside one (for example TUN) and why.
* ``"uml"``: namespaces are refused to this process, but a User-mode Linux
  kernel can run here (:mod:`netlab.engine.uml`); each world boots one and runs as
  its root, so every feature works.
* ``"none"``: neither; the reason quotes both errors and says what to do.
  Worlds then replay recordings (:mod:`netlab.engine.replay`).

``NETLAB_MODE=replay`` in the environment forces ``"none"``; ``NETLAB_MODE=uml``
forces ``"uml"`` (or ``"none"`` with the reason UML cannot run here).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from . import uml

UNSHARE = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
           "--propagation", "private"]
USERNS = ["--user", "--map-root-user"]

# One feature per line: name, then the shell command that must succeed inside a world.
_FEATURES = [
    ("veth", "ip -n p link add va type veth peer name vb"),
    ("bridge", "ip -n p link add br0 type bridge"),
    ("vxlan", "ip -n p link add vx0 type vxlan id 1 dstport 8472 local 127.0.0.1"),
    ("iptables", "ip netns exec p iptables -t nat -A POSTROUTING -j ACCEPT"),
    ("tun", "ip -n p tuntap add dev t0 mode tun"),
    # Captures need a raw packet socket (tcpdump as root; the agent's AF_PACKET socket otherwise).
    ("capture", "ip -n p link set lo up && ip netns exec p python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)'"),
]


@dataclass(frozen=True)
class Probe:
    mode: str  # "root", "userns", "uml" or "none"
    reason: str
    unavailable: dict = field(default_factory=dict)  # feature -> why

    def __str__(self) -> str:
        return f"{self.mode}: {self.reason}"


def _script() -> str:
    lines = ["mount -t tmpfs tmpfs /run || { echo 'FATAL mounting a tmpfs on /run failed'; exit 0; }",
             "ip netns add p 2>/tmp/err || { echo \"FATAL ip netns add: $(cat /tmp/err)\"; exit 0; }"]
    lines[1] = lines[1].replace("/tmp/err", "/run/err")
    for name, cmd in _FEATURES:
        lines.append(f"if out=$({{ {cmd} ; }} 2>&1); then echo 'OK {name}'; "
                     f"else echo \"NO {name} $(echo $out | grep -v listening | head -c 200)\"; fi")
    return "\n".join(lines)


def _try(userns: bool) -> tuple[bool, str, dict]:
    argv = UNSHARE[:1] + (USERNS if userns else []) + UNSHARE[1:] + ["sh", "-c", _script()]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20,
                           env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"running unshare failed: {e}", {}
    if p.returncode != 0 or "FATAL" in p.stdout:
        why = (p.stderr.strip() or p.stdout.strip()).splitlines()
        return False, (why[-1] if why else f"unshare exited with code {p.returncode}"), {}
    missing = {}
    for line in p.stdout.splitlines():
        if line.startswith("NO "):
            _, name, *why = line.split(" ", 2)
            missing[name] = (why[0] if why else "failed").strip() or "failed"
    return True, "", missing


@functools.lru_cache(maxsize=None)
def _probe_live(euid: int) -> Probe:
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return Probe("none", f"the {tool!r} command is not installed (util-linux / iproute2)")
    if euid == 0:
        ok, why, missing = _try(userns=False)
        if ok:
            return Probe("root", "running as root: worlds use plain namespaces", missing)
        return _probe_uml(f"root, but creating namespaces failed: {why}")
    ok, why, missing = _try(userns=True)
    if ok:
        extra = f"; unavailable: {', '.join(f'{k} ({v})' for k, v in missing.items())}" if missing else ""
        return Probe("userns", f"not root (uid {euid}), but unprivileged user namespaces work{extra}", missing)
    return _probe_uml(f"not root (uid {euid}) and unprivileged user namespaces are refused: {why}")


@functools.lru_cache(maxsize=None)
def _probe_uml(why_not_namespaces: str) -> Probe:
    """Namespaces are out (the reason is given): can a User-mode Linux kernel run here instead?"""
    why_not = uml.check()
    if why_not is None:
        return Probe("uml", f"{why_not_namespaces}; each world boots its own User-mode Linux kernel"
                            f" ({uml.kernel_path()}, {uml.mem_mb()} MiB of memory in {uml.tmpdir()})")
    return Probe("none", f"{why_not_namespaces}; and {why_not}")


def probe() -> Probe:
    """Find out, by trying, whether this process can build worlds (cached per process)."""
    forced = os.environ.get("NETLAB_MODE", "").lower()
    if forced == "replay":
        return Probe("none", "NETLAB_MODE=replay forces replay of recordings")
    if forced == "uml":
        return _probe_uml("NETLAB_MODE=uml forces User-mode Linux")
    return _probe_live(os.geteuid())
