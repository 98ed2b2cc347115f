"""The virtual machine: a real guest Linux kernel on a tap device, with busybox as its userland.

Chosen by measurement (chapter 9, "The guest"; ``benchmarks/bench_kubevirt.py``): User-mode Linux
(Debian ``user-mode-linux``, the kernel the project already boots for Binder in
:mod:`netlab.engine.uml`) as an ordinary process inside the virt-launcher node, attached to the
node's ``tap0`` by UML's tuntap transport (``eth0=tuntap,tap0,MAC``), booted from a busybox
initramfs this module writes (a ``newc`` cpio, gzip), with 48 MB of memory. It boots in about a
second with no KVM, where QEMU's TCG must boot a whole PC (firmware, a distribution kernel) first.

Its init brings ``eth0`` up, asks for an address with busybox ``udhcpc`` (a real DHCP client:
DISCOVER, OFFER, REQUEST, ACK with whatever server answers on the pod's side), writes what it got
to ``/lease``, starts busybox ``httpd`` on port 80, and then serves commands: the node's side puts
a command into a folder both kernels see (the world's private ``/run/netlab/guest-<node>``,
mounted in the guest with UML's hostfs) and waits for its output there
(``python3 -m netlab.kubevirt.guest exec DIR COMMAND``). Every step goes through ``world.run`` and
``world.start``, so a recorded world replays the guest too.

Opening a tap device needs ``/dev/net/tun``, which is mode 0600 (root only) on Debian: as root the
guest runs; an unprivileged world's user namespace cannot open it ("Permission denied") and
:func:`boot` says so.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
import time

from ..engine.probe import probe
from ..engine.result import CommandError
from ..inputs import quote
from .dhcp import _mac
from .names import KubevirtError

BUSYBOX = "/bin/busybox"
KERNEL = "linux.uml"
MEM_MB = 64
WORKDIR = "/run/netlab"  # the world's private tmpfs (netlab.engine._agent.WORKDIR)
BOOT_TIMEOUT = 25.0

INIT = r"""#!/bin/busybox sh
# PID 1 of the guest (netlab.kubevirt.guest): mount, DHCP, httpd, then serve commands from /host.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /host && mount -t hostfs none /host -o "$netlab_dir"
hostname "${netlab_hostname:-guest}"
ip link set lo up
ip link set eth0 up
echo "guest: kernel up at $(cut -d' ' -f1 /proc/uptime) s" > /host/console
udhcpc -i eth0 -s /bin/dhcp-event -q -n -t 10 -T 1 -A 1 -O 121 -O 26 > /host/udhcpc.log 2>&1
echo "guest: lease at $(cut -d' ' -f1 /proc/uptime) s" >> /host/console
echo "hello from the VM $(hostname) at $(ip -4 -o addr show eth0 | awk '{print $4}')" > /www/index.html
httpd -p 80 -h /www
mkfifo /tmp/idle
touch /host/ready
# Idle without starting a process (read is a shell builtin): every process of a UML guest is a
# host process sharing the kernel's file table, tap0 included, and a packet walk lists the
# processes holding tap0, so the set must not change from one moment to the next.
while :; do
  for f in /host/cmd.*; do
    [ -e "$f" ] || continue
    n=${f#/host/cmd.}
    mv "$f" /tmp/run.$n
    sh /tmp/run.$n > /host/out.$n.tmp 2>&1
    echo $? > /host/rc.$n.tmp
    mv /host/out.$n.tmp /host/out.$n
    mv /host/rc.$n.tmp /host/rc.$n
  done
  read -t 0.05 _ <> /tmp/idle
done
"""

# udhcpc calls this with the lease in its environment (busybox udhcpc(8): $ip, $mask, $router,
# $dns, $mtu, $hostname, $staticroutes for option 121).
DHCP_EVENT = r"""#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr flush dev $interface
ip addr add $ip/$mask dev $interface
[ -n "$mtu" ] && ip link set $interface mtu $mtu
if [ -n "$staticroutes" ]; then
  set -- $staticroutes
  while [ $# -ge 2 ]; do
    if [ "$1" = 0.0.0.0/0 ]; then ip route add default via $2 dev $interface
    else ip route add $1 via $2 dev $interface; fi
    shift 2
  done
elif [ -n "$router" ]; then
  ip route add default via $router dev $interface
fi
for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf
{ echo "ip=$ip/$mask"; echo "router=$router"; echo "dns=$dns"; echo "mtu=$mtu"
  echo "hostname=$hostname"; echo "lease=$lease"; echo "serverid=$serverid"
  echo "staticroutes=$staticroutes"; } > /lease
cp /lease /host/lease
"""


def _cpio_entry(name: str, mode: int, data: bytes, ino: int) -> bytes:
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0)
    head = ("070701" + "".join("%08X" % v for v in fields)).encode() + name.encode() + b"\0"
    head += bytes(-len(head) % 4)
    return head + data + bytes(-len(data) % 4)


def initramfs(busybox: str = BUSYBOX) -> bytes:
    """The guest's initramfs: busybox (static), init, the DHCP event script; gzip'd newc cpio.

    Deterministic: the same bytes from the same busybox (mtime 0, fixed inode numbers, gzip mtime 0).
    """
    if not os.path.isfile(busybox):
        raise KubevirtError(f"no static busybox at {quote(busybox)}: install the Debian package busybox-static")
    with open(busybox, "rb") as f:
        bb = f.read()
    files = [("bin", 0o40755, b""), ("bin/busybox", 0o100755, bb), ("bin/dhcp-event", 0o100755, DHCP_EVENT.encode()),
             ("init", 0o100755, INIT.encode()), ("dev", 0o40755, b""), ("proc", 0o40755, b""),
             ("sys", 0o40755, b""), ("tmp", 0o41777, b""), ("etc", 0o40755, b""), ("www", 0o40755, b""),
             ("root", 0o40700, b"")]
    body = b"".join(_cpio_entry(n, m, d, i) for i, (n, m, d) in enumerate(files, 2))
    body += _cpio_entry("TRAILER!!!", 0, b"", 0)
    return gzip.compress(body, 1, mtime=0)


#: Why no guest boots in a world of each kind but root's (tried: ``NETLAB_MODE=uml``, and uid 65534).
NO_GUEST = {
    "uml": ("a guest kernel does not start inside a User-mode Linux world: the inner kernel boots, but"
            " its first process fails (\"start_userspace : expected SIGSTOP\"), UML's ptrace not being"
            " there to trace it"),
    "userns": ("an unprivileged world cannot open /dev/net/tun (mode 0600, root only), so it has no tap"
               " device for a guest"),
    "none": "this machine cannot build live worlds",
}


def world_mode() -> str:
    """The mode for a world that boots a guest: ``"live"`` where worlds run as root, else ``"replay"``
    (the recorded live run, with the banner that says so), since no guest boots there (:data:`NO_GUEST`)."""
    return "live" if probe().mode == "root" else "replay"


def guest_dir(node: str) -> str:
    return f"{WORKDIR}/guest-{node}"


def kernel_argv(node: str, tap: str, mac: str, hostname: str = "testvm", mem_mb: int = MEM_MB) -> list[str]:
    """The UML command line: the initramfs, the tap device as eth0 with the VM's MAC, the shared folder."""
    d = guest_dir(node)
    return [KERNEL, f"mem={mem_mb}M", f"initrd={d}/initrd.gz", f"eth0=tuntap,{tap},{mac}", "con=null",
            f"con0=null,fd:1", "uml_dir=/proc", "quiet", f"netlab_dir={d}", f"netlab_hostname={hostname}"]


class Guest:
    """One running guest in NODE of WORLD. ``run(cmd)`` runs a shell command inside the VM."""

    def __init__(self, world, node: str, tap: str, mac: str, name: str):
        self.world, self.node, self.tap, self.mac, self.name = world, node, tap, mac, name
        self.dir = guest_dir(node)
        self.boot_seconds = None

    def __repr__(self) -> str:
        return f"Guest in {self.node} on {self.tap} ({self.mac})"

    def run(self, command: str, timeout: float = 20, check: bool = True):
        """Run COMMAND with the guest's busybox sh; returns the node's CommandResult of the relay."""
        if not isinstance(command, str) or not command.strip() or "\0" in command:
            raise KubevirtError(f"a guest command is a shell command line such as 'ip addr', not {quote(command)}")
        argv = ["python3", "-m", "netlab.kubevirt.guest", "exec", self.dir, command, str(timeout)]
        return self.world.run(self.node, argv, check=check, timeout=timeout + 5)

    def lease(self) -> dict:
        """What udhcpc wrote to /lease inside the guest, as a dict (empty if there is no lease)."""
        res = self.run("cat /lease 2>/dev/null", check=False)
        return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)

    def console(self) -> str:
        """The guest's own log lines (kernel up, lease), without timestamps."""
        res = self.world.run(self.node, ["cat", f"{self.dir}/console"], check=False)
        return "".join(line.split(" at ")[0] + "\n" for line in res.stdout.splitlines())

    def stop(self):
        return self.world.stop(self.name)


def boot(world, node: str, tap: str = "tap0", mac: str = "0a:58:0a:f4:01:02", hostname: str = "testvm",
         name: str = "vm") -> Guest:
    """Boot the guest in NODE on its tap device TAP (which must exist); wait until its init serves commands.

    The lease itself comes from whatever DHCP server runs on the pod's side; start it first.
    """
    _mac(mac, "the VM's MAC")
    mode = getattr(world, "mode", "root")
    if mode in NO_GUEST:
        raise KubevirtError(f"no guest here: {NO_GUEST[mode]}; this part needs a world run as root"
                            f" (run it where the lab runs as root first)")
    d = guest_dir(node)
    world.run(node, ["python3", "-m", "netlab.kubevirt.guest", "initrd", d])
    try:
        world.run(node, ["ip", "link", "show", tap])
    except CommandError:
        raise KubevirtError(f"{node} has no tap device {quote(tap)} for the VM to open: build the"
                            f" binding (its tap device) first, then boot the guest") from None
    for attempt in (1, 2):
        guest = Guest(world, node, tap, mac, world.start(node, kernel_argv(node, tap, mac, hostname), name=name))
        res = world.run(node, ["python3", "-m", "netlab.kubevirt.guest", "wait", d, str(BOOT_TIMEOUT),
                               f"{WORKDIR}/bg-{name}.out"], check=False)
        if res.returncode == 0:
            break
        out = world.stop(name)
        why = _why(out.stdout + out.stderr)
        # Now and then the guest's kernel panics at boot: its init (busybox sh) cannot fork its first
        # command ("/init: line 3: can't fork: Resource temporarily unavailable", exit status 2, seen
        # in a recording), and a shell that cannot fork exits. Such a boot is tried once more.
        if attempt == 1 and "Kernel panic" in why:
            world.run(node, ["python3", "-m", "netlab.kubevirt.guest", "initrd", d])
            continue
        raise KubevirtError(f"the guest did not come up in {BOOT_TIMEOUT:.0f} s: {res.stdout.strip()} {why}".strip())
    return guest


def _why(console: str) -> str:
    for line in console.splitlines():
        if "Permission denied" in line or "TUNSETIFF" in line or "open" in line and "tun" in line:
            return ("UML could not open /dev/net/tun (mode 0600, root only): the guest needs a root world;"
                    " the kernel said: " + line.strip())
    lines = console.splitlines()
    for line in lines:
        if any(w in line for w in ("Kernel panic", "BUG:", "Oops", "Out of memory")):
            said = [l.strip() for l in lines if l.startswith(("sh:", "/init:", "init:"))][-2:]
            return "the guest kernel said: " + " | ".join(said + [line.strip()])
    tail = [l for l in console.splitlines() if l.strip() and not l.strip().startswith("[<")][-3:]
    return ("the kernel said: " + " | ".join(tail)) if tail else ""


# ----------------------------------------------------------------- the node's side (python3 -m ...)
def _exec(d: str, command: str, timeout: float) -> int:
    n = f"{os.getpid()}-{time.monotonic_ns()}"
    with open(f"{d}/tmp.{n}", "w") as f:
        f.write(command + "\n")
    os.rename(f"{d}/tmp.{n}", f"{d}/cmd.{n}")
    end = time.monotonic() + timeout
    while not os.path.exists(f"{d}/rc.{n}"):
        if time.monotonic() > end:
            print(f"netlab: the guest did not finish `{command}` within {timeout:g} s", file=sys.stderr)
            return 124
        time.sleep(0.02)
    with open(f"{d}/out.{n}") as f:
        sys.stdout.write(f.read())
    with open(f"{d}/rc.{n}") as f:
        rc = int(f.read().strip() or 1)
    for p in (f"out.{n}", f"rc.{n}"):
        os.unlink(f"{d}/{p}")
    return rc


def _wait(d: str, timeout: float, console: str | None = None) -> int:
    """Until the guest's init says it is ready, its kernel panics (its CONSOLE file says so), or TIMEOUT."""
    end = time.monotonic() + timeout
    while not os.path.exists(f"{d}/ready"):
        if time.monotonic() > end:
            print("no answer from the guest's init", end="")
            return 1
        if console and os.path.exists(console):
            with open(console, "rb") as f:
                if b"Kernel panic" in f.read():
                    print("the guest's kernel panicked", end="")
                    return 1
        time.sleep(0.02)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) >= 2 and argv[0] == "initrd":
        d = argv[1]
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        with open(f"{d}/initrd.gz", "wb") as f:
            f.write(initramfs())
        return 0
    if len(argv) >= 3 and argv[0] == "exec":
        return _exec(argv[1], argv[2], float(argv[3]) if len(argv) > 3 else 20)
    if len(argv) >= 2 and argv[0] == "wait":
        return _wait(argv[1], float(argv[2]) if len(argv) > 2 else BOOT_TIMEOUT, argv[3] if len(argv) > 3 else None)
    print("usage: python3 -m netlab.kubevirt.guest initrd DIR | exec DIR COMMAND [TIMEOUT] | wait DIR [TIMEOUT]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
