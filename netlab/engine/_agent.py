"""The agent that runs as PID 1 inside a lab world (stdlib only).

A world is ``unshare --net --mount --pid --fork --kill-child --mount-proc
--propagation private python3 -c <this file>``. The agent mounts a fresh tmpfs
on /run (so ``ip netns add`` names live only inside the world), then answers
JSON-line requests on stdin with JSON lines on stdout. It exits on stdin EOF;
as PID 1 of the world's PID namespace its death kills every process of the
world, and with them the mount namespace that holds the node namespaces.

PID 1 of a PID namespace inherits every orphan in it, and an orphan that exits stays a zombie
until PID 1 waits for it. A Python server that calls ``waitpid(-1)`` would steal the exit status
of the commands it runs itself, so PID 1 is split in two, as tini and dumb-init do: PID 1 only
reaps (``reap_forever``), and the server runs as its child; when the server exits, so does PID 1.

Requests: ``{"id": 1, "op": "run", "argv": [...], "input": "...", "timeout": 10}``
and the ops below; every answer carries the request's id. Requests are served
concurrently, one thread each. ``shell_listen`` makes the agent also accept interactive shells
on a Unix socket (``python -m netlab shell``; see "shells" below and netlab/shell.py).
"""

import base64
import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time

CLONE_NEWNET = 0x40000000
ENV = {
    # The notebook's Python first, so `python3` in a node is the interpreter that has netlab.
    "PATH": ":".join(filter(None, [os.environ.get("NETLAB_PYTHON_BIN"),
                                   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])),
    "LC_ALL": "C",
    "LANG": "C",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "HOME": "/run/netlab",
    # Where the notebook's netlab package lives, so `python3 -m netlab.flannel` in a node finds it.
    "PYTHONPATH": os.environ.get("NETLAB_HOME", ""),
}
WORKDIR = "/run/netlab"

libc = ctypes.CDLL(None, use_errno=True)
out_lock = threading.Lock()
procs = {}  # name -> (Popen, stdout path, stderr path)
sniffers = {}  # name -> (thread, stop event, [(time, frame)])


def send(obj):
    line = json.dumps(obj) + "\n"
    with out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def mount_run():
    """Mount a private tmpfs on /run, or refuse to go on."""
    if libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, b"mode=755") != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount tmpfs on /run: " + os.strerror(err))
    if os.path.realpath("/var/run") != "/run":
        if libc.mount(b"tmpfs", b"/var/run", b"tmpfs", 0, b"mode=755") != 0:
            err = ctypes.get_errno()
            raise OSError(err, "mount tmpfs on /var/run: " + os.strerror(err))
    os.makedirs(WORKDIR, exist_ok=True)
    os.makedirs("/run/netns", exist_ok=True)


def ns_inode(path):
    return os.stat(path).st_ino


def info():
    nodes = {}
    if os.path.isdir("/run/netns"):
        for name in sorted(os.listdir("/run/netns")):
            try:
                nodes[name] = ns_inode("/run/netns/" + name)
            except OSError:
                pass
    return {
        "pid": os.getpid(),
        "ns": {k: ns_inode("/proc/self/ns/" + k) for k in ("net", "pid", "mnt", "user")},
        "nodes": nodes,
    }


def setns_net(node):
    fd = os.open("/run/netns/" + node, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns %s: %s" % (node, os.strerror(err)))
    finally:
        os.close(fd)


def decode(data):
    return data.decode("utf-8", "replace")


def op_run(req):
    argv = req["argv"]
    try:
        p = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
            cwd=WORKDIR,
            start_new_session=True,
        )
    except OSError as e:
        return {"rc": 127, "stdout": "", "stderr": "%s: %s\n" % (argv[0], e.strerror)}
    data = req.get("input")
    try:
        out, err = p.communicate(data.encode() if data is not None else None, timeout=req.get("timeout"))
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = p.communicate()
        return {"rc": -9, "stdout": decode(out), "stderr": decode(err), "timeout": True}
    return {"rc": p.returncode, "stdout": decode(out), "stderr": decode(err)}


def op_sysctl(req):
    """Write sysctls inside node namespaces: {"values": {node: [[key, value], ...]}}."""
    errors = []
    result = {}

    def worker():
        for node, pairs in req["values"].items():
            try:
                setns_net(node)
            except OSError as e:
                errors.append("%s: %s" % (node, e))
                return
            for key, value in pairs:
                path = "/proc/sys/" + key.replace(".", "/")
                try:
                    with open(path, "w") as f:
                        f.write(str(value))
                except OSError as e:
                    errors.append("%s: sysctl -w %s=%s: %s" % (node, key, value, e.strerror))
                    return

    # A fresh thread: setns() changes only the calling thread, which then ends.
    t = threading.Thread(target=worker)
    t.start()
    t.join()
    result["rc"] = 1 if errors else 0
    result["stderr"] = "\n".join(errors)
    return result


def op_start(req):
    name = req["name"]
    if name in procs:
        return {"rc": 1, "stderr": "a background process named %r is already running" % name}
    out_path = os.path.join(WORKDIR, "bg-%s.out" % name)
    err_path = os.path.join(WORKDIR, "bg-%s.err" % name)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        try:
            p = subprocess.Popen(req["argv"], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 env=ENV, cwd=WORKDIR, start_new_session=True)
        except OSError as e:
            return {"rc": 127, "stderr": "%s: %s" % (req["argv"][0], e.strerror)}
    procs[name] = (p, out_path, err_path)
    return {"rc": 0, "pid": p.pid}


def op_settle(req):
    """Wait until every node's links show the state their carrier implies.

    The kernel applies a carrier change to a device's operstate (and to bridge ports and routes)
    in its linkwatch work, up to a second later for a veth whose peer has the same ifindex in
    another namespace. Kernels since 6.x run it at once for a device named in RTM_GETLINK (the
    build's last phase); older ones, such as User-mode Linux 6.1, do not, so this polls
    ``ip -j link`` until no device with carrier (LOWER_UP) is still DOWN, for at most ``timeout``.
    """
    deadline = time.monotonic() + req.get("timeout", 3)
    waiting = list(req["nodes"])
    while waiting and time.monotonic() < deadline:
        still = []
        for node in waiting:
            p = subprocess.run(["ip", "-n", node, "-j", "link"], capture_output=True, env=ENV)
            links = json.loads(p.stdout or b"[]") if p.returncode == 0 else []
            if any("LOWER_UP" in l.get("flags", []) and l.get("operstate") in ("DOWN", "LOWERLAYERDOWN")
                   for l in links):
                still.append(node)
        waiting = still
        if waiting:
            time.sleep(0.02)
    return {"rc": 0, "stderr": "", "waiting": waiting}


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def op_peek(req):
    """Current stderr of a background process, and whether it still runs."""
    p, out_path, err_path = procs[req["name"]]
    try:
        size = os.path.getsize(out_path)
    except OSError:
        size = 0
    return {"rc": 0, "stderr": decode(read_text(err_path)), "running": p.poll() is None, "size": size}


def op_stop(req):
    name = req["name"]
    if name not in procs:
        return {"rc": 1, "stderr": "no background process named %r" % name}
    p, out_path, err_path = procs.pop(name)
    if p.poll() is None:
        try:
            os.killpg(p.pid, req.get("signal", signal.SIGTERM))
        except OSError:
            pass
        try:
            p.wait(timeout=req.get("timeout", 5))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    out = read_text(out_path)
    res = {"rc": p.returncode, "stderr": decode(read_text(err_path))}
    if req.get("binary"):
        res["stdout_b64"] = base64.b64encode(out).decode()
    else:
        res["stdout"] = decode(out)
    for path in (out_path, err_path):
        try:
            os.unlink(path)
        except OSError:
            pass
    return res


def op_sniff_start(req):
    """Capture on a node's interface with an AF_PACKET socket.

    Used in unprivileged worlds, where tcpdump cannot drop its privileges (setgroups is denied
    in a user namespace). The socket lives in a thread of its own that entered the node's namespace.
    """
    name, ready, stop, frames, errors = req["name"], threading.Event(), threading.Event(), [], []

    def worker():
        try:
            setns_net(req["node"])
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))  # ETH_P_ALL
            sock.bind((req["iface"], 0))
            sock.settimeout(0.02)
        except OSError as e:
            errors.append("capture on %s:%s: %s" % (req["node"], req["iface"], e.strerror or e))
            ready.set()
            return
        ready.set()
        with sock:
            while not stop.is_set():
                try:
                    frames.append((time.time(), sock.recv(262144)))
                except socket.timeout:
                    continue

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    ready.wait(5)
    if errors:
        return {"rc": 1, "stderr": errors[0]}
    sniffers[name] = (thread, stop, frames)
    return {"rc": 0, "stderr": "listening on %s" % req["iface"]}


def op_sniff_peek(req):
    return {"rc": 0, "size": len(sniffers[req["name"]][2])}


def op_sniff_stop(req):
    """Stop a capture and return it as a pcap file (link type Ethernet)."""
    thread, stop, frames = sniffers.pop(req["name"])
    stop.set()
    thread.join(2)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for stamp, frame in frames:
        out.append(struct.pack("<IIII", int(stamp), int(stamp % 1 * 1e6), len(frame), len(frame)) + frame)
    return {"rc": 0, "stderr": "", "stdout_b64": base64.b64encode(b"".join(out)).decode()}


# ------------------------------------------------------------------ shells
# `python -m netlab shell WORLD NODE` (netlab/shell.py) connects to a Unix socket this agent listens
# on; the World made its directory (owner only, 0700) outside. Per connection: the peer's uid must
# be ours (SO_PEERCRED; in a user-namespace world the owner shows as uid 0 here, anyone else as the
# overflow uid), then one JSON request line, then one JSON answer line, with the PTY master attached
# (SCM_RIGHTS) for a shell, and {"exit": code} when that shell ends. The shell runs in this world's
# PID namespace, so closing the world ends it.
SHELLRC = os.path.join(WORKDIR, "shellrc")
SHELLRC_TEXT = r"""# netlab: bash in node $NETLAB_NODE of a lab world (the world's private /run: `ip netns` lists its nodes)
[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc
for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
    [ -r "$f" ] && . "$f" && break
done
PS1="[$NETLAB_NODE] "'\w \$ '
"""


def send_line(conn, obj, fds=()):
    data = (json.dumps(obj) + "\n").encode()
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))] if fds else []
    conn.sendmsg([data], ancillary)


def read_request(conn):
    conn.settimeout(10)
    data = b""
    while not data.endswith(b"\n") and len(data) < 4096:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    conn.settimeout(None)
    return json.loads(data)


def shell_argv():
    """bash with netlab's rc file (PS1 naming the node); sh where there is no bash."""
    for folder in ENV["PATH"].split(":"):
        if os.access(os.path.join(folder, "bash"), os.X_OK):
            return ["bash", "--rcfile", SHELLRC, "-i"]
    return ["sh", "-i"]


def start_shell(conn, req):
    node = req.get("node")
    nodes = sorted(os.listdir("/run/netns"))
    if node not in nodes:
        send_line(conn, {"error": "no-node", "nodes": nodes})
        return
    master, slave = os.openpty()
    rows, cols = int(req.get("rows") or 24), int(req.get("cols") or 80)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    term = req.get("term") or "xterm"
    # The commands' environment, as in world.run (so outputs match the page), with the client's TERM.
    env = dict(ENV, TERM=term if term.replace("-", "").replace(".", "").replace("+", "").isalnum() else "xterm",
               NETLAB_NODE=node, PS1="[%s] # " % node)
    # setsid --ctty: a session of its own with the PTY as controlling terminal (job control works);
    # `ip netns exec` enters the node as world.run does (netns, and /sys remounted for it).
    try:
        p = subprocess.Popen(["setsid", "--ctty", "ip", "netns", "exec", node] + shell_argv(),
                             stdin=slave, stdout=slave, stderr=slave, env=env, cwd=WORKDIR)
    finally:
        os.close(slave)
    try:
        send_line(conn, {"ok": True, "node": node, "pid": p.pid}, [master])
    finally:
        os.close(master)  # the client holds the only master now: if it goes, the shell gets SIGHUP
    send_line(conn, {"exit": p.wait()})


def shell_session(conn):
    with conn:
        try:
            # Read the request first, so that a refused peer reads the refusal instead of a reset.
            req = read_request(conn)
            if req is None:  # a liveness probe: connect and close
                return
            _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if uid != os.getuid():
                send_line(conn, {"error": "refused", "uid": uid})
                return
            if req.get("want") == "nodes":
                send_line(conn, {"nodes": sorted(os.listdir("/run/netns"))})
            else:
                start_shell(conn, req)
        except (OSError, ValueError):
            pass  # the client went away or sent garbage: nothing to answer


def shell_accept(sock):
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=shell_session, args=(conn,), daemon=True).start()


def op_shell_listen(req):
    """Listen for shells on a Unix socket at req["path"], in a directory the World checked."""
    path = req["path"]
    with open(SHELLRC, "w") as f:
        f.write(SHELLRC_TEXT)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
        sock.listen(16)
    except OSError as e:
        sock.close()
        return {"rc": 1, "errno": e.errno, "stderr": "listen on %s: %s" % (path, e.strerror)}
    threading.Thread(target=shell_accept, args=(sock,), daemon=True).start()
    return {"rc": 0}


OPS = {"run": op_run, "sniff_start": op_sniff_start, "sniff_peek": op_sniff_peek, "sniff_stop": op_sniff_stop, "sysctl": op_sysctl, "start": op_start, "stop": op_stop,
       "peek": op_peek, "settle": op_settle, "info": lambda req: dict(info(), rc=0),
       "shell_listen": op_shell_listen}


def serve(req):
    try:
        res = OPS[req["op"]](req)
    except Exception as e:  # report, never die: the world must stay answerable
        res = {"rc": 1, "stderr": "agent: %s: %s" % (type(e).__name__, e)}
    res["id"] = req["id"]
    send(res)


def reap_forever(server):
    """PID 1's whole job: wait for every child, orphans included; leave with the server's code."""
    os.close(0)  # the server alone holds the pipes, so the world sees its EOF and it sees the world's
    os.close(1)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
        if pid == server:
            return os.waitstatus_to_exitcode(status) & 0xFF


def main():
    if os.getpid() == 1:
        server = os.fork()
        if server:
            return reap_forever(server)
    try:
        mount_run()
    except OSError as e:
        send({"ready": False, "error": str(e)})
        return 1
    send(dict(info(), ready=True))
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        threading.Thread(target=serve, args=(req,), daemon=True).start()
    # stdin EOF: leave. As PID 1, our exit kills the whole world.
    for p, _, _ in list(procs.values()):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
