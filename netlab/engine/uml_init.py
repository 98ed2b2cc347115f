"""PID 1 of a User-mode Linux kernel that hosts one lab world (stdlib only; runs inside UML).

:mod:`netlab.engine.uml` boots ``linux.uml`` with the host's own ``/`` as its root file system (hostfs,
read-only, read with the host user's rights) and this file as init. Init makes that root writable
without ever writing to the host, then hands the control console to the world:

1. An overlay: ``lowerdir=/`` (hostfs) under a tmpfs upper layer; proc, sysfs, devtmpfs and a
   fresh /run inside it. ``pivot_root`` into it, not ``chroot``: in a chroot, ``unshare --user``
   gets EPERM, and the kernel's module loader runs ``modprobe`` in init's root.
2. Kernel modules: Debian ships them in ``/usr/lib/uml/modules/<release>``. Those every lab
   needs are loaded at boot (:data:`PRELOAD`); a link from ``/usr/lib/modules/<release>`` lets
   the kernel's on-demand ``modprobe`` find the rest (iptables matches, conntrack).
3. iptables: Debian's UML kernel has nf_tables without its ip/inet families, so the nft backend of
   ``iptables`` fails ("Operation not supported"). The overlay's alternatives point at
   iptables-legacy; the host's links are untouched.
4. The second console (``/dev/tty1``, the host's pipes) is made raw (no echo, no line editing,
   8-bit clean) and announced with one line, ``netlab-uml ready``. The host answers with one
   JSON line, ``{"argv": [...], "env": {...}}``: the same command a namespace world runs on the
   host (``unshare ... python3 -c <agent>``). Its stderr is the kernel console (the host's log of
   this boot); its stdin and stdout are pipes that init relays to and from the control console
   with flow control (:func:`relay` says why).
5. When it exits, or if anything above fails (the reason is printed on the console first), init
   powers the kernel off: PID 1 must never exit, or the kernel panics.
"""

import ctypes
import errno
import json
import os
import select
import sys
import time
import traceback
import tty

NEWROOT = "/run/root"
CONTROL = "/dev/tty1"
READY = b"netlab-uml ready\n"
ACK = b"\x06"  # ASCII ACK: never the first byte of a JSON line
ALTERNATIVES = ("iptables", "iptables-restore", "iptables-save",
                "ip6tables", "ip6tables-restore", "ip6tables-save")
SYS_FINIT_MODULE = 313  # x86_64: UML runs on x86_64 hosts only (Debian builds it for amd64)
SYS_PIVOT_ROOT = 155
MNT_DETACH = 2
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
# Loaded at boot, about 0.1 s in all; on first use the kernel would run one modprobe process for
# each, about 0.1 s apiece in UML. ipv6 must be loaded: it is built into the kernels the committed
# outputs come from, and a node's IPv6 sysctls must exist when the world is built. The others are
# what the labs use: veth, bridge, VXLAN, TUN, and Docker's and flannel's NAT rules (MASQUERADE,
# DNAT, addrtype, tcp, conntrack). br_netfilter too, for the same reason as ipv6: it is built into
# those kernels (and dockerd loads it on every Docker node), so frames bridged between two
# containers pass conntrack; without it the reply to a container that reached another through a
# published port (chapter 4's DNAT from docker0 back into docker0) skips the reverse translation
# and the connection is refused. Anything else the kernel still loads on demand through modprobe.
PRELOAD = ["ipv6", "veth", "bridge", "br_netfilter", "vxlan", "tun", "ip_tables", "iptable_filter",
           "iptable_nat", "xt_MASQUERADE", "xt_nat", "xt_addrtype", "xt_tcpudp", "xt_conntrack"]

libc = ctypes.CDLL(None, use_errno=True)


def check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, "%s: %s" % (what, os.strerror(err)))


def mount(source, target, fstype, data=None):
    check(libc.mount(source.encode(), target.encode(), fstype.encode(), 0,
                     data.encode() if data else None), "mount %s on %s" % (fstype, target))


def load_module(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.syscall(SYS_FINIT_MODULE, fd, b"", 0) != 0 and ctypes.get_errno() != errno.EEXIST:
            err = ctypes.get_errno()
            raise OSError(err, "load %s: %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def load_modules(folder, names):
    """Load modules with what they depend on, read from modules.dep (no modprobe process: in UML
    each process costs ~30 ms, and the kernel would start one per module on first use)."""
    deps = {}
    with open(folder + "/modules.dep") as f:
        for line in f:
            path, _, needs = line.partition(":")
            deps[os.path.basename(path)[:-3].replace("-", "_")] = (path, needs.split())
    done = set()

    def load(path):
        if path in done:
            return
        done.add(path)
        for need in reversed(deps[os.path.basename(path)[:-3].replace("-", "_")][1]):
            load(need)
        load_module(folder + "/" + path)

    for name in names:
        load(deps[name][0])


def log(text):
    """To the kernel console: the host keeps its last lines for error messages."""
    with open("/dev/console", "w") as f:
        f.write("netlab-uml: %s\n" % text)


def make_root():
    release = os.uname().release
    modules = "/usr/lib/uml/modules/" + release
    if not os.path.isdir(modules):
        raise OSError("no kernel modules for UML %s in %s (Debian package user-mode-linux)" % (release, modules))
    mount("proc", "/proc", "proc")
    t0 = time.monotonic()
    mount("tmpfs", "/run", "tmpfs", "mode=755")
    for d in ("upper", "work", "root"):
        os.mkdir("/run/" + d)
    load_modules(modules, ["overlay"] + PRELOAD)
    log("modules loaded in %.2f s" % (time.monotonic() - t0))
    mount("overlay", NEWROOT, "overlay", "lowerdir=/,upperdir=/run/upper,workdir=/run/work")
    mount("proc", NEWROOT + "/proc", "proc")
    mount("sysfs", NEWROOT + "/sys", "sysfs")
    mount("devtmpfs", NEWROOT + "/dev", "devtmpfs")
    mount("tmpfs", NEWROOT + "/run", "tmpfs", "mode=755")
    for d, mode in (("/dev/shm", 0o1777), ("/dev/net", 0o755)):
        os.makedirs(NEWROOT + d, exist_ok=True)
        os.chmod(NEWROOT + d, mode)
    mount("tmpfs", NEWROOT + "/dev/shm", "tmpfs", "mode=1777")
    if not os.path.exists(NEWROOT + "/dev/net/tun"):  # devtmpfs made it if tun is loaded
        os.mknod(NEWROOT + "/dev/net/tun", 0o20666, os.makedev(10, 200))
    os.chmod(NEWROOT + "/dev/net/tun", 0o666)  # as on Debian; mknod applies the umask
    os.makedirs(NEWROOT + "/usr/lib/modules", exist_ok=True)
    os.symlink(modules, NEWROOT + "/usr/lib/modules/" + release)
    for name in ALTERNATIVES:
        link = NEWROOT + "/etc/alternatives/" + name
        legacy = "/usr/sbin/" + name.replace("tables", "tables-legacy", 1)  # iptables-legacy-restore
        if os.path.lexists(link) and os.path.exists(NEWROOT + legacy):
            os.unlink(link)
            os.symlink(legacy, link)
    os.makedirs(NEWROOT + "/mnt", exist_ok=True)
    check(libc.syscall(SYS_PIVOT_ROOT, NEWROOT.encode(), (NEWROOT + "/mnt").encode()), "pivot_root")
    os.chdir("/")
    check(libc.umount2(b"/mnt", MNT_DETACH), "umount the old root")


def relay(tty_fd, to_world, from_world, pending=b""):
    """Carry bytes between the control console and the world's pipes until the world's output ends.

    Console input stalls for good once more than about 4 KiB wait in the guest's tty (the UML
    console driver is throttled and never resumes), so the host sends at most WINDOW bytes ahead
    and init acknowledges what it has taken off the console, on a line of its own: ACK and the
    count. The world's output is forwarded in whole lines only, so an acknowledgement never lands
    inside one (init is the console's only writer).
    """
    out = b""
    if pending:
        os.write(to_world, pending)
    inputs = [tty_fd, from_world]
    while True:
        readable = select.select(inputs, [], [])[0]
        if tty_fd in readable:
            data = os.read(tty_fd, 65536)
            if data:
                os.write(to_world, data)
                write_all(tty_fd, b"%s%d\n" % (ACK, len(data)))
            else:  # the host hung up: the world sees EOF on stdin and ends
                os.close(to_world)
                inputs.remove(tty_fd)
        if from_world in readable:
            data = os.read(from_world, 65536)
            if not data:
                return
            out += data
            cut = out.rfind(b"\n") + 1
            if cut:
                write_all(tty_fd, out[:cut])
                out = out[cut:]


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def read_job(tty_fd):
    """The host's one JSON line; acknowledged like all console input. Returns it and what followed."""
    data = b""
    while b"\n" not in data:
        chunk = os.read(tty_fd, 65536)
        if not chunk:
            raise EOFError("the host closed the control console")
        write_all(tty_fd, b"%s%d\n" % (ACK, len(chunk)))
        data += chunk
    line, rest = data.split(b"\n", 1)
    return json.loads(line), rest


def main():
    try:
        make_root()
        tty_fd = os.open(CONTROL, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(tty_fd)
        write_all(tty_fd, READY)
        job, pending = read_job(tty_fd)
        console = os.open("/dev/console", os.O_WRONLY | os.O_NOCTTY)
        stdin_r, to_world = os.pipe()
        from_world, stdout_w = os.pipe()
        child = os.fork()
        if child == 0:
            os.dup2(stdin_r, 0)
            os.dup2(stdout_w, 1)
            os.dup2(console, 2)
            os.closerange(3, 256)
            os.chdir(job.get("cwd", "/"))
            try:
                os.execvpe(job["argv"][0], job["argv"], job["env"])
            except OSError as e:
                os.write(2, ("netlab-uml: cannot run %s: %s\n" % (job["argv"][0], e.strerror)).encode())
                os._exit(127)
        os.close(stdin_r)
        os.close(stdout_w)
        relay(tty_fd, to_world, from_world, pending)
        # The world's output has ended: wait for it (and reap any orphan) before powering off.
        while True:
            pid, status = os.wait()
            if pid == child:
                log("the world exited with code %d" % os.waitstatus_to_exitcode(status))
                break
    except BaseException:
        try:
            log("init failed: " + "".join(traceback.format_exception_only(*sys.exc_info()[:2])).strip())
        except OSError:
            traceback.print_exc()
    finally:
        os.sync()
        libc.reboot(LINUX_REBOOT_CMD_POWER_OFF)


if __name__ == "__main__":
    main()
