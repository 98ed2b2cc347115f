"""`python -m netlab shell [WORLD] NODE`, driven through a pseudo-terminal as a learner's terminal would.

A separate Python process owns each world (as a notebook kernel does) and takes orders on its stdin;
every test uses a runtime directory of its own (NETLAB_RUNTIME_DIR), so nothing here meets the
machine's own /tmp/netlab-<uid>.
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
from pathlib import Path
import sys
import termios
import threading
import time

import pytest

from reach import checkout_paths, reach_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IS_ROOT = os.geteuid() == 0
PC1_MAC = "02:42:c0:a8:00:03"

OWNER = """
import json, sys, netlab
w = netlab.World(netlab.pc_pair(), name=sys.argv[1])
print(json.dumps({"socket": w.shell_socket, "pidns": w.info()["ns"]["pid"], "repr": repr(w)}), flush=True)
for line in sys.stdin:
    cmd = line.split(None, 2)
    if cmd[0] == "close":
        w.close()
        print("closed", flush=True)
    elif cmd[0] == "run":
        print(json.dumps(w.run(cmd[1], cmd[2].strip(), check=False).as_dict()), flush=True)
"""


def env_for(runtime: str) -> dict:
    return dict(os.environ, NETLAB_RUNTIME_DIR=runtime, NETLAB_MODE="live", TERM="xterm")


class Owner:
    """The process that opened a world (a notebook kernel, in life)."""

    def __init__(self, runtime: str, name: str = "shelltest"):
        self.proc = subprocess.Popen([sys.executable, "-c", OWNER, name], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env_for(runtime), cwd=ROOT)
        self.info = json.loads(self.proc.stdout.readline())

    def order(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline()

    def run(self, node: str, command: str) -> dict:
        return json.loads(self.order(f"run {node} {command}"))

    def end(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Terminal:
    """`python -m netlab shell ARGS` on a pseudo-terminal; what it shows accumulates in .screen."""

    def __init__(self, runtime: str, *args: str):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "netlab", "shell", *args], env_for(runtime))
        self.screen = ""
        self.status = None

    def _read(self, timeout: float) -> bool:
        if select.select([self.fd], [], [], timeout)[0]:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the client has exited
                return False
            self.screen += data.decode(errors="replace")
            return bool(data)
        return True

    def expect(self, pattern: str, timeout: float = 15) -> re.Match:
        start = len(self.screen)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = re.search(pattern, self.screen[start:]) or re.search(pattern, self.screen)
            if found:
                return found
            if not self._read(0.2):
                break
        raise AssertionError(f"{pattern!r} did not appear; the terminal shows:\n{self.screen[-2000:]}")

    def send(self, text: str):
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 15) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._read(0.1)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.05) and select.select([self.fd], [], [], 0)[0]:
                    pass
                os.close(self.fd)
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        raise AssertionError(f"the shell client did not exit; the terminal shows:\n{self.screen[-2000:]}")

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                os.close(self.fd)
            except OSError:
                pass


def as_user(user: str, argv: list[str], stash) -> list[str]:
    """ARGV as USER, in a mount namespace of its own where this checkout is reachable (tests/reach.py)."""
    script = "\n".join(["set -e", *reach_lines(stash, *checkout_paths()), 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]


def netlab_shell(runtime: str, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "netlab", "shell", *args]
    with tempfile.TemporaryDirectory(prefix="netlab-reach-") as stash:
        if user:
            argv = as_user(user, argv, Path(stash))
        return subprocess.run(argv, capture_output=True, text=True, env=env_for(runtime), cwd=ROOT, timeout=30,
                              stdin=subprocess.DEVNULL)


def pidns_holders(inode: int) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{pid}/ns/pid").st_ino == inode:
                pids.append(int(pid))
        except OSError:
            pass
    return pids


@pytest.fixture
def runtime(tmp_path):
    return str(tmp_path / "rt")


@pytest.fixture
def owner(runtime):
    if not IS_ROOT:
        pytest.skip("a root world; the user-namespace case is tested below")
    o = Owner(runtime)
    yield o
    o.end()


@pytest.fixture
def terminals():
    made = []
    yield made
    for t in made:
        t.close()


def open_terminal(terminals, runtime, *args) -> "Terminal":
    t = Terminal(runtime, *args)
    terminals.append(t)
    return t


# -------------------------------------------------------------------- tests
@pytest.mark.root
def test_world_names_its_shell_and_the_directory_is_private(owner, runtime):
    assert owner.info["socket"] == os.path.join(runtime, "shelltest.sock")
    assert "shell in a node, from a terminal: python -m netlab shell shelltest pc1" in owner.info["repr"]
    assert os.stat(runtime).st_mode & 0o777 == 0o700
    assert os.stat(owner.info["socket"]).st_mode & 0o777 == 0o600


@pytest.mark.root
def test_shell_is_in_the_node_and_leaving_it_leaves_the_world(owner, runtime, terminals):
    t = open_terminal(terminals, runtime, "shelltest", "pc1")
    t.expect(r"\[pc1\] \S* # ")
    t.send("ip -br link\r")
    t.expect(rf"eth0@if\d+ +UP +{PC1_MAC}")
    t.send("ip netns; tty; sleep 30 &\r")  # the world's nodes; a real terminal; job control
    t.expect(r"lan.*\n.*pc2.*\n.*pc1.*\n/dev/pts/\d+\r?\n\[1\] \d+")
    # the terminal's size follows the learner's window (TIOCSWINSZ, then SIGWINCH to the client)
    fcntl.ioctl(t.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 123, 0, 0))
    time.sleep(0.3)
    t.send("stty size\r")
    t.expect(r"41 123\r?\n")  # (the typed line is "stty size")
    # Ctrl-C reaches the foreground job inside, not the client
    t.send("sleep 30\r")
    time.sleep(0.5)
    t.send("\x03")
    t.expect(r"\^C", timeout=5)
    t.send("echo after-interrupt\r")
    t.expect(r"(?<!echo )after-interrupt\r?\n", timeout=5)
    t.send("ip link add learner0 type veth peer name learner1; exit 3\r")
    assert t.wait() == 3
    # the commands went to the world's kernel: world.run sees them, and the world is still running
    seen = owner.run("pc1", "ip -br link show dev learner0")
    assert seen["returncode"] == 0 and seen["stdout"].startswith("learner0@learner1 "), (seen, t.screen)


@pytest.mark.root
def test_closing_the_world_ends_its_shell(owner, runtime, terminals):
    t = open_terminal(terminals, runtime, "shelltest", "pc2")
    t.expect(r"\[pc2\] \S* # ")
    assert owner.order("close").strip() == "closed"
    assert t.wait() == 1
    assert t.screen.rstrip().endswith("netlab: world 'shelltest' was closed, and this shell with it")
    assert not os.path.exists(owner.info["socket"])
    assert pidns_holders(owner.info["pidns"]) == []


@pytest.mark.root
def test_sigkill_of_the_owner_leaves_nothing_running(owner, runtime, terminals):
    t = open_terminal(terminals, runtime, "shelltest", "pc1")
    t.expect(r"\[pc1\] \S* # ")
    t.send("sleep 300 &\r")
    t.expect(r"\[1\] \d+")
    assert pidns_holders(owner.info["pidns"])
    owner.proc.send_signal(signal.SIGKILL)
    assert t.wait() == 1
    assert "netlab: world 'shelltest' was closed, and this shell with it" in t.screen
    end = time.monotonic() + 5
    while pidns_holders(owner.info["pidns"]) and time.monotonic() < end:
        time.sleep(0.1)
    assert pidns_holders(owner.info["pidns"]) == []  # bash, its sleep and the whole world are gone
    # the socket is all that stays, until the next use finds it stale and removes it
    stale = netlab_shell(runtime, "shelltest", "pc1")
    assert stale.returncode == 2 and stale.stdout == ""
    assert stale.stderr == ("netlab: error: world 'shelltest' is no longer running (its notebook closed it or was"
                            f" stopped); removed its stale socket {owner.info['socket']}\n")
    assert not os.path.exists(owner.info["socket"])
    gone = netlab_shell(runtime, "shelltest", "pc1")
    assert (gone.returncode, gone.stderr.count("\n")) == (2, 1)
    assert "no running world named 'shelltest'; no world of uid 0 is running" in gone.stderr


@pytest.mark.root
def test_bad_names_get_one_line(owner, runtime):
    r = netlab_shell(runtime, "shelltest", "nope")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "netlab: error: world 'shelltest' has no node named 'nope'; its nodes are lan, pc1, pc2\n"
    r = netlab_shell(runtime, "elsewhere", "pc1")
    assert r.stderr == "netlab: error: no running world named 'elsewhere'; running: shelltest\n"
    r = netlab_shell(runtime, "shelltest")  # a world's name where the node goes
    assert r.stderr == ("netlab: error: name a node of world 'shelltest' too: python -m netlab shell shelltest"
                        " NODE; its nodes are lan, pc1, pc2\n")
    r = netlab_shell(runtime, "a", "b", "c")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    listing = netlab_shell(runtime)  # no names: the running worlds and their nodes
    assert (listing.returncode, listing.stdout) == (0, "shelltest: lan pc1 pc2\n"
                                                       "open a shell with: python -m netlab shell WORLD NODE\n")


@pytest.mark.root
def test_only_world_is_picked_by_default(owner, runtime, terminals):
    t = open_terminal(terminals, runtime, "lan")
    t.expect(r"\[lan\] \S* # ")
    t.send("exit\r")
    assert t.wait() == 0


def test_stale_socket_gets_one_line(runtime):
    os.makedirs(runtime, mode=0o700)
    path = os.path.join(runtime, "gone.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()  # bound, never listening, file left behind: what a SIGKILLed world leaves
    r = netlab_shell(runtime, "gone", "pc1")
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("netlab: error: world 'gone' is no longer running") and r.stderr.count("\n") == 1
    assert not os.path.exists(path)


def _open_to_others(path: str):
    p = path
    while p != "/":
        if p.startswith("/tmp/"):
            os.chmod(p, os.stat(p).st_mode | 0o011)
        p = os.path.dirname(p)


@pytest.mark.root
@pytest.mark.userns
def test_another_uid_is_refused(owner, runtime):
    # 1. through the directory: it is root's, so the client run as uid 65534 will not use it
    _open_to_others(runtime)
    r = netlab_shell(runtime, "shelltest", "pc1", user="65534")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"netlab: error: {runtime} is not a private directory of uid 65534")
    # 2. with the directory and the socket opened to everyone, the agent still refuses (SO_PEERCRED)
    os.chmod(owner.info["socket"], 0o666)
    code = ("import json, socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]);"
            "s.sendall(b'{\"want\": \"nodes\"}\\n'); print(s.recv(4096).decode().strip())")
    with tempfile.TemporaryDirectory(prefix="netlab-reach-") as stash:
        r = subprocess.run(as_user("65534", [sys.executable, "-c", code, owner.info["socket"]], Path(stash)),
                           capture_output=True, text=True, timeout=30)
    assert json.loads(r.stdout) == {"error": "refused", "uid": 65534}, r.stderr


USERNS_OWNER = """
    import os, pty, select, subprocess, sys, time
    import netlab
    with netlab.World(netlab.pc_pair(), name="userns_shell") as w:
        print("MODE", w.mode, w.shell_socket, flush=True)
        master, slave = os.openpty()
        # The shell command's own code (the CLI around it needs netaddr, which this Python lacks)
        code = "import sys; from netlab.engine.shell import main; sys.exit(main(sys.argv[1:]))"
        client = subprocess.Popen([sys.executable, "-c", code, "userns_shell", "pc1"], cwd=sys.path[0],
                                  stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        screen = b""
        for text in (b"ip -br link show dev eth0\\n", b"id -u; exit\\n"):
            time.sleep(1)
            os.write(master, text)
        end = time.time() + 20
        while client.poll() is None and time.time() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    screen += os.read(master, 65536)
                except OSError:
                    break
        print("EXIT", client.wait(5))
        print(screen.decode(errors="replace"))
        open(os.environ["GO"] + ".ready", "w").write(w.shell_socket)
        while not os.path.exists(os.environ["GO"]):
            time.sleep(0.1)
"""


@pytest.mark.userns
def test_shell_in_a_userns_world_and_root_is_refused(tmp_path):
    from test_world_userns import run_unprivileged
    if not IS_ROOT:
        pytest.skip("switching to uid 65534 needs root")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    go = str(shared / "go")  # the test says "go" (close the world) by creating this file
    result = {}

    def owner():
        result["out"] = run_unprivileged(tmp_path, f"import os; os.environ['GO'] = {go!r}\n" +
                                         __import__("textwrap").dedent(USERNS_OWNER), timeout=120)

    thread = threading.Thread(target=owner)
    thread.start()
    try:
        end = time.monotonic() + 60
        while not os.path.exists(go + ".ready") and time.monotonic() < end:
            time.sleep(0.1)
        path = open(go + ".ready").read()
        # root is not the owner: in the world's user namespace it has no uid, so the agent sees the
        # overflow uid (root passes the directory's 0700: the agent's check is what stops it)
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b'{"want": "nodes"}\n')
        answer = json.loads(s.recv(4096))
        s.close()
    finally:
        open(go, "w").close()
        thread.join(120)
    assert answer == {"error": "refused", "uid": 65534}
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result["out"]).replace("\r", "")  # no terminal controls
    assert "MODE userns /tmp/netlab-65534/userns_shell.sock" in out
    assert re.search(rf"\[pc1\] \S* # ip -br link show dev eth0\n+eth0@if\d+ +UP +{PC1_MAC}", out), out
    assert re.search(r"\[pc1\] ~ # id -u; exit\n+0\nexit\n", out), out  # the owner is root inside its world
    assert "EXIT 0" in out


@pytest.mark.root
def test_a_dead_world_never_removes_its_successors_socket(runtime, monkeypatch):
    import netlab
    monkeypatch.setenv("NETLAB_RUNTIME_DIR", runtime)
    monkeypatch.setenv("NETLAB_MODE", "live")
    first = netlab.World(netlab.pc_pair(), name="succ")
    try:
        first.backend.agent.kill()  # killed under the notebook's feet: its socket is left, stale
        second = netlab.World(netlab.pc_pair(), name="succ")
        try:
            assert second.shell_socket == first.shell_socket  # the stale name was taken over
            first.close()
            assert os.path.exists(second.shell_socket)
            assert netlab_shell(runtime).stdout.startswith("succ: lan pc1 pc2\n")
        finally:
            second.close()
        assert not os.path.exists(second.shell_socket)
    finally:
        first.close()
