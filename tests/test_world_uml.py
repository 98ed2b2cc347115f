"""Worlds in User-mode Linux, where namespaces are forbidden (netlab.uml), as Binder runs them.

The tests run as root only to set up a sandbox like a mybinder.org pod, in a private mount namespace
of the test (nothing on the host changes): uid 65534 with no capabilities and no-new-privs; a
seccomp filter with Docker's default rules on namespaces (unshare, setns and mount refused, clone
with a CLONE_NEW* flag refused, clone3 answered ENOSYS), so `unshare -Urn true` fails; /dev/shm a
64 MiB tmpfs; TMPDIR on disk. There the probe must say `uml`, and the notebooks must print what
the committed ones show: in `make test` a chapter and labs of each world kind, in `make test-uml`
(NETLAB_TEST_UML_ALL=1) every notebook.
"""

import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from reach import checkout_paths, reach_lines

from netlab.engine.sanitize import sanitize

pytestmark = pytest.mark.root
ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, which has python3-seccomp (tests/apt.txt)
NOBODY = 65534
# A chapter and a lab of each world kind, 97 s in all at a load average of 3: Docker's bridge (chapter 3), its NAT
# with walks (lab 3), flannel's UDP daemon with etcd (lab 5), its VXLAN daemon with the store (lab 6).
# `make test-uml` runs every notebook (about 5 minutes on 2 cores, too long for `make test`).
NOTEBOOKS = ["book/ch03_docker_bridge.ipynb", "labs/lab03_docker.ipynb", "labs/lab05_flannel_udp.ipynb",
             "labs/lab06_flannel_vxlan.ipynb"]
# Chapter 9 and lab 9 boot a guest kernel, which cannot start inside a UML world
# (netlab.kubevirt.guest.NO_GUEST): where UML is the world, they replay their recordings, labelled.
REPLAY_IN_UML = {"book/ch09_kubevirt.ipynb", "labs/lab09_kubevirt.ipynb"}
if os.environ.get("NETLAB_TEST_UML_ALL"):
    NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for d in ("book", "labs") for p in (ROOT / d).glob("*.ipynb")
                       if str(p.relative_to(ROOT)) not in REPLAY_IN_UML)
if os.environ.get("NETLAB_TEST_UML_NOTEBOOKS"):  # a comma-separated list, e.g. one chapter being written
    NOTEBOOKS = os.environ["NETLAB_TEST_UML_NOTEBOOKS"].split(",")

# Docker's default profile (moby/profiles/seccomp/default.json) for a container without
# CAP_SYS_ADMIN, as far as namespaces go: these calls fail with EPERM, clone may not ask for a new
# namespace, and clone3 gets ENOSYS so that the C library falls back to clone. ptrace is allowed.
SECCOMP = r"""
import errno, os, sys, seccomp
f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
for name in ("unshare", "setns", "mount", "umount2", "pivot_root") + tuple(sys.argv[1].split(",")):
    if name:
        f.add_rule(seccomp.ERRNO(errno.EPERM), name)
for bit in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80):
    f.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
f.load()
os.execvp(sys.argv[2], sys.argv[2:])
"""


@pytest.fixture
def scratch():
    """A fresh folder of this test's own. Not pytest's tmp_path: pytest deletes all but the newest
    three of its numbered folders, so another pytest run as root on the same machine can remove
    one under a test this long."""
    folder = Path(tempfile.mkdtemp(prefix="netlab-uml-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def kernel_or_fail():
    from netlab.engine import uml
    if uml.kernel_path() is None:
        pytest.fail("linux.uml is missing: `make test` installs it (binder/apt.txt lists user-mode-linux)")


def sandbox(tmp: Path, argv: list[str], env: dict | None = None, deny: str = "", shm_mib: int = 64,
            setup: str = "", timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ARGV as uid 65534 as Binder would: see the module's docstring. DENY: more system calls
    the seccomp filter refuses (e.g. "ptrace"); SETUP: shell lines run first as root in the
    sandbox's mount namespace. The checkout's and the interpreter's private folders are made
    reachable for uid 65534 in that namespace alone (tests/reach.py)."""
    home = tmp / "home"
    for d in (tmp / "tmpdir", home):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, NOBODY, NOBODY)
    tmp.chmod(0o755)
    p = tmp
    while str(p) != "/":  # pytest's tmp dirs may be 0700 on the way down
        p.chmod(p.stat().st_mode | 0o055) if str(p).startswith("/tmp/") else None
        p = p.parent
    lines = ["set -e", f"mount -t tmpfs -o size={shm_mib}m,mode=1777 tmpfs /dev/shm", setup]
    lines += reach_lines(tmp / "reach", *checkout_paths())
    environment = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
                   "HOME": str(home), "TMPDIR": str(tmp / "tmpdir"), "JUPYTER_PLATFORM_DIRS": "1",
                   "MPLCONFIGDIR": str(home / "mpl"), "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})}
    inner = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--no-new-privs",
             "--inh-caps=-all", "--bounding-set=-all", "--", "env", "-i",
             *[f"{k}={v}" for k, v in environment.items()], *argv]
    script = "\n".join(lines + ['exec "$@"'])
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                           SYSTEM_PYTHON, "-I", "-c", SECCOMP, deny, *inner],
                          capture_output=True, text=True, timeout=timeout, cwd="/")


# ------------------------------------------------------------------ Binder, played here
RUNNER = r"""
import json, os, subprocess, sys, time
import nbformat
from nbclient import NotebookClient
facts = {"uid": os.getuid()}
with open("/proc/self/status") as f:
    status = dict(l.split(":", 1) for l in f if ":" in l)
facts["CapEff"], facts["NoNewPrivs"] = status["CapEff"].strip(), status["NoNewPrivs"].strip()
p = subprocess.run(["unshare", "-Urn", "true"], capture_output=True, text=True)
facts["unshare -Urn true"] = [p.returncode, p.stderr.strip()]
st = os.statvfs("/dev/shm")
facts["/dev/shm MiB"] = st.f_blocks * st.f_frsize >> 20
facts["TMPDIR"] = subprocess.run(["stat", "-f", "-c", "%T", os.environ["TMPDIR"]], capture_output=True,
                                 text=True).stdout.strip()  # the file system's type, e.g. ext2/ext3 or tmpfs
from netlab import probe
facts["probe"] = str(probe())
facts["seconds"] = {}
out = sys.argv[1]
for path in sys.argv[2:]:
    nb = nbformat.read(path, as_version=4)
    t = time.monotonic()
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    facts["seconds"][path] = round(time.monotonic() - t, 1)
    nbformat.write(nb, os.path.join(out, os.path.basename(path)))
print(json.dumps(facts))
"""
PROBE_LINE = re.compile(r"^(root|userns|uml|none): .*\n?", re.M)


def shown(nb) -> list[str]:
    """What each code cell shows as text, sanitized; a widget or a figure counts as its kind only
    (nbval does not compare them either); errors are shown by name and message."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = ""
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                text += o.text
            elif o.output_type == "error":
                text += f"ERROR {o.ename}: {o.evalue}\n"
            else:
                data = o.get("data", {})
                kinds = [k for k in ("application/vnd.jupyter.widget-view+json", "image/png") if k in data]
                text += f"<{kinds[0]}>\n" if kinds else data.get("text/plain", "") + "\n"
        cells.append(sanitize(text))
    return cells


# Two differences are real, said on the pages where they show, and left out of the comparison
# here (everything else is compared as it is):
# 1. Debian's UML kernel is built with CONFIG_BRIDGE_VLAN_FILTERING, the kernel the pages ran on
#    without: every bridge port joins the default VLAN 1 even with filtering off (nbp_vlan_init),
#    and __vlan_add (net/bridge/br_vlan.c) gives each port's and the bridge's own MAC a local FDB
#    entry in it, so `bridge fdb show` lists those entries twice, once with `vlan 1` (chapters 3, 6).
# 2. The UML kernel has no nf_tables for IPv4, so its worlds run iptables-legacy, which counts the
#    packets a built-in chain's policy takes. iptables-nft before 1.8.10 (Debian 12 has 1.8.9)
#    creates built-in chains without counters (fixed upstream by "nft: Create builtin chains with
#    counters enabled"), so the committed pages show `policy ACCEPT 0 packets, 0 bytes` and walks
#    name no policy counter (chapter 4). Enabling the counters in the host's worlds would not make
#    the two agree: iptables-legacy zeroes them whenever a command rewrites the table (measured:
#    2 packets, then 0 after `iptables -t nat -D ...`), iptables-nft keeps them.
VLAN1_LOCAL = re.compile(r"^(\S+) dev (\S+) vlan 1 master (\S+) permanent\n(?=\1 dev \2 master \3 permanent$)", re.M)
POLICY = re.compile(r"^(Chain \S+ \(policy \w+ )(\d+ packets, \d+ bytes)\)$", re.M)
WALK_POLICY = re.compile(r"^ +iptables -t \w+: \S+ policy \w+ \[\d+:\d+ -> \d+:\d+\]\n", re.M)


def without_known_differences(committed: str, uml: str) -> tuple[str, str]:
    """COMMITTED and UML with the two differences above taken out, and only those: the extra lines
    are dropped only where UML prints them, and the policy counters only where the committed page
    shows the zeros iptables-nft 1.8.9 always prints."""
    uml = VLAN1_LOCAL.sub("", uml)
    if all(m.group(2) == "0 packets, 0 bytes" for m in POLICY.finditer(committed)):
        committed, uml = (POLICY.sub(r"\1(counters)", t) for t in (committed, uml))
    if not WALK_POLICY.search(committed):
        uml = WALK_POLICY.sub("", uml)
    return committed, uml


def test_notebooks_run_live_in_uml_where_namespaces_are_forbidden(scratch):
    """Notebooks executed as on mybinder.org: their outputs are the committed ones, live."""
    kernel_or_fail()
    out = scratch / "out"
    out.mkdir(parents=True)
    os.chown(out, NOBODY, NOBODY)
    t0 = time.monotonic()
    proc = sandbox(scratch, [sys.executable, "-I", "-c", RUNNER, str(out)] + [str(ROOT / n) for n in NOTEBOOKS],
                   timeout=120 + 150 * len(NOTEBOOKS))
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, f"the sandboxed run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"sandboxed run: {elapsed:.1f} s; {json.dumps(facts)}")
    # The sandbox is what Binder gives: nobody, no capabilities, no namespaces, a small /dev/shm.
    assert facts["uid"] == NOBODY and int(facts["CapEff"], 16) == 0 and facts["NoNewPrivs"] == "1"
    assert facts["unshare -Urn true"][0] != 0 and "Operation not permitted" in facts["unshare -Urn true"][1]
    assert facts["/dev/shm MiB"] == 64 and facts["TMPDIR"] not in ("", "tmpfs"), facts
    assert facts["probe"].startswith("uml: not root (uid 65534) and unprivileged user namespaces are refused")
    differ = []
    for name in NOTEBOOKS:
        committed = nbformat.read(ROOT / name, as_version=4)
        ran = nbformat.read(out / Path(name).name, as_version=4)
        want, got = shown(committed), shown(ran)
        assert not any("RECORDED on" in c for c in got), f"{name} replayed a recording instead of running live"
        assert not any(c.startswith("ERROR ") or "\nERROR " in c for c in got), f"{name} failed: {got}"
        for i, (a, b) in enumerate(zip(want, got)):
            if PROBE_LINE.match(a):  # `print(netlab.probe())` names this machine's mode: uml here
                assert b.startswith("uml: "), b
                a, b = PROBE_LINE.sub("", a, 1), PROBE_LINE.sub("", b, 1)
            a, b = without_known_differences(a, b)
            if a != b:
                differ.append(f"{name}, code cell {i}: committed output\n{a}\nbut in UML\n{b}")
        assert len(want) == len(got), name
    assert not differ, "\n\n".join(differ)


# ------------------------------------------------------------------ the probe names what is missing
PROBE = "import json; from netlab import probe; p = probe(); print(json.dumps([p.mode, p.reason]))"


def probe_in(scratch, env=None, deny=""):
    proc = sandbox(scratch, [sys.executable, "-I", "-c", PROBE], env=env, deny=deny)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_probe_says_uml_in_the_sandbox_in_milliseconds(scratch):
    kernel_or_fail()
    code = ("import time; t = time.monotonic(); from netlab import probe; p = probe(); t1 = time.monotonic();"
            " probe(); print(p.mode, round(t1 - t, 3), round(time.monotonic() - t1, 4))")
    proc = sandbox(scratch, [sys.executable, "-I", "-c", code])
    mode, first, second = proc.stdout.split()
    print(f"probe in the sandbox: {first} s, then {second} s (cached)")
    assert mode == "uml"


def test_probe_names_a_missing_kernel(scratch):
    mode, reason = probe_in(scratch, env={"NETLAB_UML_KERNEL": "/nonexistent/linux.uml"})
    assert mode == "none"
    assert "unprivileged user namespaces are refused" in reason
    assert "the User-mode Linux kernel (linux.uml) is not installed: install the Debian package user-mode-linux" in reason


def test_probe_names_a_noexec_or_small_tmpdir(scratch):
    """UML's memory folder on a noexec tmpfs; then on /dev/shm, which is 64 MiB."""
    kernel_or_fail()
    noexec = scratch / "noexec"
    noexec.mkdir()
    proc = sandbox(scratch, [sys.executable, "-I", "-c", PROBE], env={"NETLAB_UML_TMPDIR": str(noexec)},
                   setup=f"mount -t tmpfs -o noexec,mode=1777 tmpfs {noexec}")
    mode, reason = json.loads(proc.stdout.strip().splitlines()[-1])
    assert mode == "none", reason
    assert f"UML cannot map its memory file in {noexec} as executable (Operation not permitted; a noexec mount?)" in reason
    mode, reason = probe_in(scratch, env={"NETLAB_UML_TMPDIR": "/dev/shm"})
    assert mode == "none"
    assert re.search(r"/dev/shm has 6\d MiB free, less than UML's memory \(512 MiB\); set TMPDIR", reason), reason


def test_probe_names_forbidden_ptrace(scratch):
    """A profile stricter than Docker's that also refuses ptrace (as some hubs do)."""
    kernel_or_fail()
    mode, reason = probe_in(scratch, deny="ptrace")
    assert mode == "none"
    assert "this machine forbids ptrace (Operation not permitted), which UML needs" in reason


# ------------------------------------------------------------------ bad boots, named
BOOT = """
import json, os, sys
os.environ["NETLAB_MODE"] = "uml"
import netlab
try:
    netlab.World(netlab.pc_pair(), build=False)
    print(json.dumps("started"))
except netlab.WorldError as e:
    print(json.dumps(str(e)))
"""


def boot_error(scratch, **env):
    proc = subprocess.run([sys.executable, "-I", "-c", BOOT], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=dict(os.environ, NETLAB_UML_TMPDIR=str(scratch), **env))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_kernel_panic_is_named(scratch):
    kernel_or_fail()
    message = boot_error(scratch, NETLAB_UML_MEM="24", NETLAB_UML_TIMEOUT="20")
    assert message.startswith("the world did not start: the User-mode Linux kernel ")
    # With 24 MiB the kernel panics once its init (Python) runs out of memory; now and then it
    # thrashes instead until the boot timeout (1 boot in 3 on an idle machine, measured): that
    # case is named too, with the console's last lines (the stalled-boot test's message).
    if "did not boot within 20 s (NETLAB_UML_TIMEOUT)" not in message:
        assert re.search(r"It said: '(<0>)?Kernel panic - not syncing: ", message), message
        assert "Is 24 MiB (NETLAB_UML_MEM) too little" in message
    else:
        assert "The last lines of its console:\n    " in message, message
    assert os.listdir(scratch) == []


def test_a_stalled_boot_times_out_with_the_console(scratch):
    kernel_or_fail()
    t0 = time.monotonic()
    message = boot_error(scratch, NETLAB_UML_TIMEOUT="0.5")
    assert time.monotonic() - t0 < 20
    assert "did not boot within 0.5 s (NETLAB_UML_TIMEOUT)" in message
    assert "The last lines of its console:\n    " in message
    assert os.listdir(scratch) == []


# ------------------------------------------------------------------ the lab tools, live in UML
def test_uml_world_runs_the_lab_tools(monkeypatch, scratch):
    """VXLAN, a bridge, iptables (legacy, counters), tcpdump captures, TUN, ping: all live in UML."""
    kernel_or_fail()
    monkeypatch.setenv("NETLAB_MODE", "uml")
    monkeypatch.setenv("NETLAB_UML_TMPDIR", str(scratch))
    from netlab import World, flannel_vxlan
    topo = flannel_vxlan()
    topo.add_iptables("node1", "-A POSTROUTING -s 10.1.15.0/24 ! -o cni0 -j MASQUERADE", table="nat")
    with World(topo) as w:
        assert w.mode == "uml" and w.ready_seconds < 30
        assert "10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT" in str(w.run("node1", "ip neigh show dev flannel.1"))
        assert "master cni0 state forwarding" in str(w.run("node1", "bridge link"))
        with w.capture("node2", "eth0", "udp port 8472") as cap:
            assert "1 received" in str(w.run("container-1", "ping -c 1 -W 2 10.1.16.2"))
        # The MASQUERADE rule above also matches traffic into flannel.1: the source is node1's 10.1.15.0.
        assert "UDP / VXLAN / Ether / IP / ICMP 10.1.15.0 > 10.1.16.2 echo-request" in cap.packets[0].summary()
        w.run("container-1", "ping -c 1 -W 2 10.168.0.3")
        assert re.search(r"\[2:168\] -A POSTROUTING -s 10.1.15.0/24 ! -o cni0 -j MASQUERADE",
                         w.run("node1", "iptables-save -c -t nat").stdout)
        assert "(legacy)" in w.run("node1", "iptables -V").stdout
        w.run("node1", "ip tuntap add dev tun0 mode tun")
        # The UML kernel has no network device but loopback: nothing in it can reach the host's network.
        assert w.run(None, "ls /sys/class/net").stdout.split() == ["lo"]
        big = "x" * 200_000  # far more than the console's 4 KiB tty buffer, both ways
        assert w.run(None, "cat", input=big).stdout == big
    assert os.listdir(scratch) == []


# ------------------------------------------------------------------ nothing left behind
OWNER = """
import json, os, sys, time
os.environ["NETLAB_MODE"] = "uml"
from netlab.topologies import flannel_vxlan
from netlab.engine.world import World
w = World(flannel_vxlan(), build=False)
print(json.dumps({"guard": w.backend.agent.proc.pid, "kernel": w.backend.agent.proc.kernel_pid}), flush=True)
w.build()
print(json.dumps("built"), flush=True)
while True:
    w.run("container-1", "ping -c 1 -W 1 10.1.16.2")
"""


def uml_processes(marker: str, groups: set) -> dict[int, int]:
    """Live processes of a UML machine, pid -> process group: those with its TMPDIR (MARKER) in
    their environment, or in one of GROUPS (the kernel leads its own group)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue  # a zombie holds nothing; its parent (maybe this machine's init) reaps it
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if marker.encode() in env or int(fields[2]) in groups:
            found[int(pid)] = int(fields[2])
    return found


def describe(pids) -> list[str]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                status = dict(l.split(":", 1) for l in f)
            with open(f"/proc/{pid}/wchan") as f:
                wchan = f.read()
        except OSError:
            continue
        out.append(f"pid {pid} ({status['Name'].strip()}, {status['State'].strip()}, parent {status['PPid'].strip()},"
                   f" waiting in {wchan or '-'}, signals pending {status['ShdPnd'].strip()})")
    return out


@pytest.mark.parametrize("stage", ["boot", "build", "traffic"])
def test_killing_the_notebook_leaves_no_uml_process_and_no_file(scratch, stage):
    """SIGKILL the Python that owns a UML world (the notebook's kernel) while it boots, builds or
    pings, twice each: no process of that kernel survives and its TMPDIR stays empty."""
    kernel_or_fail()
    rng = random.Random(f"uml-{stage}")
    for round_ in range(2):
        folder = scratch / f"round{round_}"
        folder.mkdir()
        owner = subprocess.Popen([sys.executable, "-I", "-c", OWNER], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                 env=dict(os.environ, NETLAB_UML_TMPDIR=str(folder), PYTHONPATH=str(ROOT)))
        groups = set()
        try:
            if stage == "boot":
                time.sleep(rng.uniform(0.1, 1.5))
                groups = {g for pid, g in uml_processes(str(folder), set()).items() if pid == g}  # the kernel
            else:
                pids = json.loads(owner.stdout.readline())
                groups = {pids["kernel"]}
                if stage == "traffic":
                    assert json.loads(owner.stdout.readline()) == "built"
                time.sleep(rng.uniform(0.0, 0.5))
            assert owner.poll() is None
            owner.kill()
            owner.wait()
            deadline = time.monotonic() + 10
            while (left := uml_processes(str(folder), groups)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not left, f"round {round_}, killed during {stage}: {describe(left)} survive"
            assert os.listdir(folder) == [], f"round {round_}: left in TMPDIR: {os.listdir(folder)}"
        finally:
            owner.kill()
            owner.wait()


def test_a_daemon_that_never_comes_up_is_named(monkeypatch, scratch):
    """etcd whose client port is taken: it exits, the wait times out, and start_store says why in
    etcd's own words instead of hanging."""
    kernel_or_fail()
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed (Debian etcd-server)")
    monkeypatch.setenv("NETLAB_MODE", "uml")
    monkeypatch.setenv("NETLAB_UML_TMPDIR", str(scratch))
    from netlab import World, flannel, flannel_udp
    with World(flannel_udp(), name="uml_etcd_port_taken") as w:
        w.start("lan", "python3 -m http.server --bind 10.168.0.1 2379", name="squatter")
        w.run("lan", "python3 -m netlab.flannel wait --etcd http://127.0.0.1:1 --timeout 1", check=False)  # let it bind
        t0 = time.monotonic()
        with pytest.raises(RuntimeError) as err:
            flannel.start_store(w, timeout=3)
        assert time.monotonic() - t0 < 15
    message = str(err.value)
    assert message.startswith("etcd in lan never came up: the store at http://10.168.0.1:2379 did not answer"), message
    assert "address already in use" in message, message
