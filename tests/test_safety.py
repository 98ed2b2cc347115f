"""Safety invariants: a killed world leaves nothing; lab packets never reach the root namespace."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from netlab import World, flannel_vxlan

pytestmark = pytest.mark.root
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
from netlab.topologies import flannel_vxlan
from netlab.engine.world import World

def trace(event, data):
    if event == "ready":
        pid = data["unshare_pid"]
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            data["agent_pid"] = int(f.read().split()[0])
    print(json.dumps({"event": event, "data": data}), flush=True)

w = World(flannel_vxlan(containers_per_node=2), trace=trace)
print(json.dumps({"event": "built", "data": {}}), flush=True)
w.start("container-2-1", "iperf3 -s", name="iperf3")
while True:
    w.run("container-1-1", "ping -c 1 -W 1 10.1.16.2")
    w.run("container-1-2", "ping -c 1 -W 1 10.1.16.3")
"""


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    """The engine core alone in a directory, so child processes start fast."""
    base = tmp_path_factory.mktemp("core")
    shutil.copytree(os.path.join(ROOT, "netlab"), base / "netlab",
                    ignore=lambda d, names: [n for n in names if n.endswith((".pyc", "__pycache__"))])
    (base / "netlab" / "__init__.py").write_text("")
    return str(base)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ns_inode(pid, kind):
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


class Pins:
    """Open file descriptors on a world's namespaces, taken while it lives.

    A namespace's inode number is freed with it, and the kernel hands the lowest free number to the
    next namespace made anywhere on the machine (every `ip -n` and `ip netns exec` makes a mount
    namespace), so a scan by number after the world died can find an unrelated newcomer. Holding a
    descriptor keeps each namespace, and so its number, until the scan is over; it keeps no process
    alive, so a process still found in one is a real survivor.
    """

    def __init__(self):
        self.fds, self.inodes, self.missed = [], {"net": set(), "pid": set(), "mnt": set()}, []

    def pin(self, kind: str, path: str, inode: int) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:  # the world died before we got there: nothing to pin, nothing to check
            self.missed.append(f"{path}: {e.strerror}")
            return
        self.fds.append(fd)
        assert os.fstat(fd).st_ino == inode, f"{path} is not the namespace the world reported"
        self.inodes[kind].add(inode)

    def world(self, agent_pid: int, ns: dict) -> None:
        for kind in ("mnt", "pid", "net"):
            self.pin(kind, f"/proc/{agent_pid}/ns/{kind}", ns[kind])

    def nodes(self, agent_pid: int, nodes: dict) -> None:
        # /proc/PID/root resolves in the world's own mount tree, where its /run/netns lives.
        for node, inode in nodes.items():
            self.pin("net", f"/proc/{agent_pid}/root/run/netns/{node}", inode)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _cmdline(pid) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
    except OSError:
        return "?"


def holders(inodes: dict) -> list[str]:
    """Every process in, or mount referring to, one of the world's namespaces (pin them first)."""
    found = []
    net = set(inodes.get("net", ()))
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for kind in ("net", "pid", "mnt"):
            ino = _ns_inode(pid, kind)
            if ino is not None and ino in inodes.get(kind, ()):
                found.append(f"pid {pid} ({_cmdline(pid)}) is in the world's {kind} namespace {ino}")
        try:
            with open(f"/proc/{pid}/mountinfo") as f:
                mounts = f.read()
        except OSError:
            continue
        for ino in net:
            if f"net:[{ino}]" in mounts:
                found.append(f"pid {pid} sees a mount of netns {ino}")
    return found


def _root_view():
    return (subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout,
            sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else [])


def _wait_for(events, name, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in list(events):
            if e["event"] == name:
                return e["data"]
        time.sleep(0.002)
    raise AssertionError(f"the child never reported {name!r}: {events}")


def test_killed_worlds_leave_nothing(core):
    """18 rounds: kill the world's unshare or the owning Python, while starting, building or pinging."""
    rng = random.Random(20261127)
    before = _root_view()
    plan = [(stage, victim) for stage in ("start", "build", "traffic") for victim in ("unshare", "parent")] * 3
    checked = 0
    for rounds, (stage, victim) in enumerate(plan, 1):
        child = subprocess.Popen([sys.executable, "-I", "-c", CHILD, core], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        pins = Pins()
        try:
            ready = _kill_round(child, stage, victim, rng, pins)
            if ready is None:
                continue  # killed before the world existed: only the root view below can tell
            checked += bool(pins.inodes["mnt"])
            wait_until = time.monotonic() + 5
            while True:
                left = holders(pins.inodes) + [f"{what} {pid} still runs" for what, pid in
                                               (("unshare", ready["unshare_pid"]), ("agent", ready["agent_pid"]))
                                               if _alive(pid)]
                if not left or time.monotonic() > wait_until:
                    break
                time.sleep(0.05)
            assert not left, f"round {rounds} (killed the {victim} during {stage}): {left}"
        finally:  # never leave a child (and the world it owns) behind, even when the round fails
            child.kill()
            child.wait()
            pins.close()
    print(f"{checked} of {len(plan)} rounds had a live world to pin and scan")
    assert checked >= len(plan) // 2, "too few rounds killed a world that existed: the test proves little"
    assert _root_view() == before


def _kill_round(child, stage, victim, rng, pins: Pins):
    """Kill the world's unshare or the child (the notebook kernel) at a random point of STAGE.
    The world's namespaces are pinned the moment the child reports them."""
    events = []

    def read():
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "ready":
                pins.world(event["data"]["agent_pid"], event["data"]["ns"])
            elif event["event"] == "netns" and events:
                pins.nodes(events[0]["data"]["agent_pid"], event["data"])
            events.append(event)

    threading.Thread(target=read, daemon=True).start()
    if stage == "start":  # somewhere between spawning Python and the world being ready
        time.sleep(rng.uniform(0.0, 0.15))
    elif stage == "build":  # the world exists; its nodes are being created
        _wait_for(events, "ready")
        time.sleep(rng.uniform(0.0, 0.06))
    else:  # built; pings and iperf3 running
        _wait_for(events, "built")
        time.sleep(rng.uniform(0.0, 0.3))
    ready = next((e["data"] for e in list(events) if e["event"] == "ready"), None)
    if victim == "unshare" and ready:
        os.kill(ready["unshare_pid"], signal.SIGKILL)
    else:
        child.kill()
    time.sleep(0.05)
    return next((e["data"] for e in list(events) if e["event"] == "ready"), ready)


@pytest.mark.parametrize("backend", ["namespaces", "uml"])
def test_lab_packets_never_reach_the_root_namespace(tmp_path, monkeypatch, backend):
    """Also for User-mode Linux worlds (NETLAB_MODE=uml), whose kernel has no network device on the host."""
    if backend == "uml":
        from netlab.engine import uml
        assert uml.kernel_path(), "linux.uml is missing (binder/apt.txt lists user-mode-linux)"
        monkeypatch.setenv("NETLAB_MODE", "uml")
    pcap = tmp_path / "root-any.pcap"
    flt = ("net 10.1.0.0/16 or net 10.168.0.0/24 or udp port 8472"
           " or (icmp and host 127.0.0.1)")
    dump = subprocess.Popen(["tcpdump", "-i", "any", "-n", "-U", "--immediate-mode", "-w", str(pcap), flt],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "listening on" not in line and dump.poll() is None:
            line = dump.stderr.readline()
        assert "listening on any" in line
        with World(flannel_vxlan()) as w:
            assert w.mode == ("uml" if backend == "uml" else "root")
            w.run("container-1", "ping -c 3 -i 0.01 -W 1 10.1.16.2")
            w.run("node1", "ping -c 2 -i 0.01 -W 1 10.168.0.3")
            with w.capture("node2", "eth0", "udp port 8472") as cap:
                w.run("container-2", "ping -c 2 -i 0.01 -W 1 10.1.15.2")
            assert len(cap.packets) == 4  # the VXLAN packets exist, inside the world
        # positive control: loopback in the root namespace (never leaves the machine) is seen
        subprocess.run(["ping", "-c", "1", "-W", "1", "127.0.0.1"], check=True, capture_output=True)
        time.sleep(0.2)
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(5)
    from scapy.utils import rdpcap
    packets = rdpcap(str(pcap))
    lab = [p.summary() for p in packets if "127.0.0.1" not in p.summary()]
    assert lab == []
    assert len(packets) >= 2, "the root capture saw not even the loopback control packets"


def test_root_snapshot_detects_a_change(root_namespace_unchanged):
    """The session guard in conftest.py compares these snapshots; a changed one must show."""
    from conftest import diff_snapshots, snapshot
    now = snapshot()
    assert now["ls /run/netns"] == root_namespace_unchanged["ls /run/netns"]
    changed = dict(now, **{"ip route show table all": now["ip route show table all"] + "10.9.0.0/16 dev x\n"})
    assert diff_snapshots(now, changed) == ["ip route show table all"]


def test_closed_world_frees_its_namespaces():
    w = World(flannel_vxlan())
    info = w.info()
    pid = w.backend.agent.proc.pid
    pins = Pins()
    try:
        pins.world(_agent_pid(pid), info["ns"])
        pins.nodes(_agent_pid(pid), info["nodes"])
        assert holders(pins.inodes)  # the check sees a live world
        w.close()
        assert not _alive(pid)
        assert holders(pins.inodes) == []
    finally:
        w.close()
        pins.close()


def _agent_pid(unshare_pid: int) -> int:
    """The world's PID 1, as this (root) namespace numbers it: the unshare's only child."""
    with open(f"/proc/{unshare_pid}/task/{unshare_pid}/children") as f:
        return int(f.read().split()[0])


HOLDER = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from netlab.topologies import pc_pair
from netlab.engine.world import World
w = World(pc_pair())
holder = os.fork()  # inherits the agent's stdin pipe, so stdin EOF cannot end the world
if holder == 0:
    time.sleep(60)
    os._exit(0)
info = w.info()
print(json.dumps({"holder": holder, "unshare_pid": w.backend.agent.proc.pid, "ns": info["ns"],
                  "nodes": info["nodes"]}), flush=True)
time.sleep(60)
"""


def test_parent_death_alone_ends_the_world(core):
    """Kill the owning Python while another process still holds the agent's stdin: PDEATHSIG must act."""
    child = subprocess.Popen([sys.executable, "-I", "-c", HOLDER, core], stdout=subprocess.PIPE, text=True)
    data = None
    pins = Pins()
    try:
        data = json.loads(child.stdout.readline())
        agent = _agent_pid(data["unshare_pid"])
        pins.world(agent, data["ns"])
        pins.nodes(agent, data["nodes"])
        assert not pins.missed, pins.missed
        child.kill()
        child.wait()
        deadline = time.monotonic() + 5
        while (_alive(data["unshare_pid"]) or holders(pins.inodes)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(data["holder"]), "the pipe holder should still be running for this test to mean anything"
        assert not _alive(data["unshare_pid"]) and holders(pins.inodes) == []
    finally:
        pins.close()
        child.kill()
        if data:
            try:
                os.kill(data["holder"], signal.SIGKILL)
            except ProcessLookupError:
                pass
