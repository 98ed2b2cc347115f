"""A real shell in a node of a running world: ``python -m netlab shell [WORLD] NODE``.

Each live :class:`~netlab.engine.world.World` listens on a Unix socket named after it, in a directory only
its owner can open: ``/tmp/netlab-<uid>/<world>.sock`` (``NETLAB_RUNTIME_DIR`` overrides the
directory). Why there: the world's agent binds the socket from inside the world, where ``/run``
(and with it ``$XDG_RUNTIME_DIR``) is the world's own tmpfs, while ``/tmp`` is the machine's; and a
notebook kernel and a terminal opened anywhere agree on the path from the uid alone.

Who may get in: the directory must be a real directory (not a symlink) owned by the user with mode
0700, checked by the world and by this client (so nobody can plant a fake world to catch what the
learner types); the socket is 0600; and the agent checks the peer's uid (SO_PEERCRED) too.

The agent answers a shell request with the master side of a new PTY (SCM_RIGHTS) whose slave is
bash's controlling terminal, in the node (``ip netns exec NODE bash``); this client relays the
terminal to it in raw mode, passes window-size changes on, and restores the terminal at the end.
The shell is a process of the world: closing the world ends it; leaving the shell leaves the world.
"""

from __future__ import annotations

import array
import errno
import fcntl
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import sys
import termios
import tty

SUFFIX = ".sock"


class ShellError(Exception):
    """Why no shell could be opened, in one sentence."""


# ------------------------------------------------------------ the directory
def runtime_dir() -> str:
    return os.environ.get("NETLAB_RUNTIME_DIR") or f"/tmp/netlab-{os.getuid()}"


def private_dir(create: bool) -> str | None:
    """The sockets' directory, checked to be ours alone; None if it does not exist and create is False."""
    path = runtime_dir()
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ShellError(f"{path} is not a private directory of uid {os.getuid()} (a real directory, owned by"
                         f" you, mode 0700), so worlds' shells cannot be reached safely through it; remove it,"
                         f" or set NETLAB_RUNTIME_DIR to such a directory")
    return path


def socket_name(world_name: str) -> str:
    """A world's name as a file name (the socket path must stay under the kernel's 108 bytes)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", world_name)[:64] or "world"


def file_id(path: str | None) -> tuple | None:
    """The socket file's identity (None if there is none), to know it again at removal: the inode
    number and creation time, since a file system reuses a removed file's inode number at once."""
    if not path:
        return None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _state(path: str) -> str:
    """"live", "stale" (nobody listens: its world was killed) or "missing"."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return "live"
    except FileNotFoundError:
        return "missing"
    except ConnectionRefusedError:
        return "stale"
    finally:
        s.close()


# ------------------------------------------------------- the world's side
def serve(name: str, mode: str, agent) -> tuple[str | None, str]:
    """Make live world NAME (its backend's MODE, its :class:`~.connection.AgentConnection` AGENT) listen
    for shells; (socket path, "") or (None, why not). Never raises: a world without a shell is still
    a world."""
    if mode == "uml":
        # The agent runs inside a User-mode Linux kernel: a socket it made would exist only in that
        # kernel's own file system, out of a terminal's reach on this machine.
        return None, ("its nodes live in a User-mode Linux kernel, which no terminal of this machine can"
                      " reach; use world.run or %%node in the notebook")
    try:
        folder = private_dir(create=True)
    except (ShellError, OSError) as e:
        return None, str(e)
    base = socket_name(name)
    for i in range(1, 100):
        path = os.path.join(folder, f"{base}{'' if i == 1 else f'-{i}'}{SUFFIX}")
        if os.path.lexists(path):
            seen = file_id(path)
            if _state(path) == "live":
                continue  # another world of the same name (another notebook): take the next name
            unserve(path, seen)  # stale: its world was killed before it could remove it
        res = agent.request("shell_listen", path=path)
        if res["rc"] == 0:
            return path, ""
        if res.get("errno") != errno.EADDRINUSE:
            return None, res["stderr"]
    return None, f"more than 99 worlds named {name!r} are running"


def unserve(path: str | None, seen: tuple | None) -> None:
    """Remove a socket whose world has gone, if the file is still the one SEEN (file_id()): a
    closed world's own, never a newer world's that took the name after this one was found stale."""
    try:
        if path and seen is not None and file_id(path) == seen:
            os.unlink(path)
    except FileNotFoundError:
        pass


def command(path: str, node: str | None = None) -> str:
    """The command a learner types in a terminal to open a shell in NODE of the world at PATH."""
    return f"python -m netlab shell {os.path.basename(path)[:-len(SUFFIX)]} {node or 'NODE'}"


# ------------------------------------------------------------ the client
def running_worlds() -> list[str]:
    """Names of this user's running worlds; stale sockets (worlds that were killed) are removed."""
    folder = private_dir(create=False)
    names = []
    for entry in sorted(os.listdir(folder)) if folder else []:
        if entry.endswith(SUFFIX):
            path = os.path.join(folder, entry)
            seen = file_id(path)
            state = _state(path)
            if state == "stale":
                unserve(path, seen)
            elif state == "live":
                names.append(entry[:-len(SUFFIX)])
    return names


def _recv_line(sock: socket.socket) -> tuple[dict | None, list[int]]:
    """One JSON line from the agent, and any file descriptors that came with it."""
    data, fds = b"", []
    while not data.endswith(b"\n"):
        msg, anc, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(struct.calcsize("i")))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds += array.array("i", payload[:len(payload) - len(payload) % 4]).tolist()
        if not msg:
            return None, fds
        data += msg
    return json.loads(data), fds


def _connect(world: str, request: dict) -> tuple[socket.socket, dict, list[int]]:
    folder = private_dir(create=False)
    path = os.path.join(folder or runtime_dir(), world + SUFFIX)
    seen = file_id(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        running = running_worlds() if folder else []
        raise ShellError(f"no running world named {world!r}" + (f"; running: {', '.join(running)}" if running
                         else f"; no world of uid {os.getuid()} is running (open one in a notebook first)"))
    except ConnectionRefusedError:
        sock.close()
        unserve(path, seen)
        raise ShellError(f"world {world!r} is no longer running (its notebook closed it or was stopped);"
                         f" removed its stale socket {path}")
    except PermissionError as e:
        sock.close()
        raise ShellError(f"cannot open {path}: {e.strerror}")
    try:
        sock.sendall((json.dumps(request) + "\n").encode())
        answer, fds = _recv_line(sock)
    except (OSError, ValueError) as e:  # the world ended while answering, or answered garbage
        answer, fds = None, []
        why = f": {e}"
    else:
        why = ""
    if answer is None:
        sock.close()
        raise ShellError(f"world {world!r} closed the connection without an answer{why}")
    if answer.get("error") == "refused":
        sock.close()
        raise ShellError(f"world {world!r} refused you: only the user who opened it may open a shell in it"
                         f" (its agent sees you as uid {answer.get('uid')})")
    if answer.get("error") == "no-node":
        sock.close()
        raise ShellError(f"world {world!r} has no node named {request.get('node')!r};"
                         f" its nodes are {', '.join(answer['nodes'])}")
    return sock, answer, fds


def nodes(world: str) -> list[str]:
    sock, answer, _ = _connect(world, {"want": "nodes"})
    sock.close()
    return answer["nodes"]


def _winsize(fd: int) -> bytes:
    return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)


def open_shell(world: str, node: str) -> int:
    """Run an interactive shell in NODE of WORLD on this terminal; returns the shell's exit status."""
    tty_in = os.isatty(0)
    rows, cols = struct.unpack("HHHH", _winsize(0))[:2] if tty_in else (24, 80)
    request = {"want": "shell", "node": node, "term": os.environ.get("TERM", "xterm"), "rows": rows, "cols": cols}
    sock, _, fds = _connect(world, request)
    if not fds:
        sock.close()
        raise ShellError(f"world {world!r} did not hand over a terminal")
    master = fds[0]
    saved = termios.tcgetattr(0) if tty_in else None
    old_winch = None
    try:
        if tty_in:
            tty.setraw(0)  # every key, Ctrl-C and Ctrl-Z included, goes to the shell's own terminal
            old_winch = signal.signal(signal.SIGWINCH, lambda *_: fcntl.ioctl(master, termios.TIOCSWINSZ, _winsize(0)))
        _relay(master, sock)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSAFLUSH, saved)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        os.close(master)
    sock.settimeout(5)
    try:
        answer, _ = _recv_line(sock)
    except (OSError, ValueError):
        answer = None
    sock.close()
    if answer is None or "exit" not in answer:
        print(f"netlab: world {world!r} was closed, and this shell with it", file=sys.stderr)
        return 1
    return answer["exit"] if answer["exit"] >= 0 else 128 - answer["exit"]


def _relay(master: int, sock: socket.socket) -> None:
    """Copy the terminal to the PTY and back until the shell ends (the agent says so on the socket)
    or its terminal closes (every process holding it has gone, e.g. with the world)."""
    inputs = [0, master, sock]
    while True:
        ready, _, _ = select.select(inputs, [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: nobody holds the shell's terminal any more
                return
            if not data:
                return
            os.write(1, data)
        elif sock in ready:  # the shell exited (or the world ended): show what it printed last
            while select.select([master], [], [], 0.1)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                os.write(1, data)
            return
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:  # stdin is not a terminal and ended: end the shell's input too (Ctrl-D)
                inputs.remove(0)
                data = b"\x04"
            os.write(master, data)


# ------------------------------------------------------------ the command
def main(names: list[str]) -> int:
    """``python -m netlab shell [WORLD] NODE``; ShellError for anything the user can fix."""
    if len(names) > 2:
        raise ShellError("give at most a world and a node: python -m netlab shell [WORLD] NODE")
    if len(names) == 2:
        return open_shell(*names)
    running = running_worlds()
    if len(names) == 1 and names[0] in running:
        raise ShellError(f"name a node of world {names[0]!r} too: python -m netlab shell {names[0]} NODE;"
                         f" its nodes are {', '.join(nodes(names[0]))}")
    if not running:
        raise ShellError(f"no world of uid {os.getuid()} is running; open one in a notebook"
                         " (world = netlab.World(...)) and run this again")
    if len(running) > 1 or not names:
        if names:
            raise ShellError(f"{len(running)} worlds are running ({', '.join(running)});"
                             f" name one: python -m netlab shell WORLD {names[0]}")
        for world in running:
            print(f"{world}: {' '.join(nodes(world))}")
        print("open a shell with: python -m netlab shell WORLD NODE")
        return 0
    return open_shell(running[0], names[0])
