"""Worlds built by an unprivileged user (uid 65534) in a user namespace, on the system Python.

That Python has only the standard library, so this also proves that `import netlab`, the engine,
captures (pcap bytes; scapy parses them only when asked) and the flannel daemons need nothing else.
"""

import functools
import os
import shlex
import shutil
import subprocess
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.userns


# How /dev/net/tun looks to uid 65534 differs between machines (0666 on most distributions, 0600 on
# some): the tests try both everywhere, in a private mount namespace of their own, by binding over
# /dev/net/tun either a root-only file (opening it fails with EACCES, as on a 0600 machine) or a
# world-openable tun device node (c 10 200, mode 0666) made on a fresh tmpfs.
TUN_SETUPS = {
    "machine": "",
    "denied": 'touch "$D/tun" && chmod 600 "$D/tun" && mount --bind "$D/tun" /dev/net/tun',
    "open": 'mount -t tmpfs tmpfs "$D" && mknod -m 666 "$D/tun" c 10 200 && mount --bind "$D/tun" /dev/net/tun',
}


def tun_opens_for_nobody() -> tuple[bool, str]:
    """Whether uid 65534 can open this machine's /dev/net/tun, and the error if not, found by trying."""
    code = "import os\ntry:\n    os.close(os.open('/dev/net/tun', os.O_RDWR)); print('OK')\n" \
           "except OSError as e:\n    print(e.strerror)"
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PYTHON, "-I", "-c", code],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    return out == "OK", out


@functools.lru_cache(maxsize=None)
def userns_refused() -> str:
    """Why uid 65534 cannot make a user namespace on this machine ("" when it can), found by trying.
    Where it cannot, the product replays recordings (tests/test_probe.py forces that case)."""
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "unshare", "--user", "--map-root-user", "--net", "true"],
                       capture_output=True, text=True, timeout=30)
    return "" if p.returncode == 0 else (p.stderr.strip() or f"exit code {p.returncode}")


def run_unprivileged(tmp_path, code: str, timeout: float = 120, tun: str = "machine") -> str:
    """Run ``code`` as uid/gid 65534 under the system Python, with the netlab package copied to a
    world-readable folder. That Python has no scapy, netaddr or ipywidgets: `import netlab`, the
    engine and the daemons it starts (`python3 -m netlab.flannel` in the nodes) need only the
    standard library. TUN: "machine" (as this machine has it), "denied" or "open" (see TUN_SETUPS)."""
    if not os.path.exists(PYTHON):
        pytest.skip(f"{PYTHON} (the stdlib-only system Python) is not installed")
    if userns_refused():
        pytest.skip(f"this machine refuses user namespaces to uid 65534 ({userns_refused()}),"
                    " so worlds replay recordings there")
    base = tmp_path / "unpriv"
    shutil.copytree(os.path.join(ROOT, "netlab"), base / "netlab", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [tmp_path, base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    p = tmp_path
    while str(p) != "/":  # pytest's tmp dirs may be 0700 on the way down
        p.chmod(p.stat().st_mode | 0o055) if str(p).startswith("/tmp/") else None
        p = p.parent
    script = f"import sys; sys.path.insert(0, {str(base)!r})\n" + textwrap.dedent(code)
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PYTHON, "-I", "-c", script]
    if TUN_SETUPS[tun]:
        # The bind mount lives in this private mount namespace only; the worlds made inside copy it.
        (tmp_path / "tun-dir").mkdir()
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'D={shlex.quote(str(tmp_path / "tun-dir"))}; {TUN_SETUPS[tun]} && exec "$@"', "sh"] + argv
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/",
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/"})
    assert proc.returncode == 0, f"unprivileged run failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


PROBE = "from netlab.engine.probe import probe; p = probe(); print(p.mode); print(p.reason)"


@pytest.mark.parametrize("tun", ["open", "denied"])
def test_userns_probe_names_tun_as_the_machine_allows(tmp_path, tun):
    """Both cases on every machine: TUN openable by the user, and refused (as with mode 0600)."""
    mode, reason = run_unprivileged(tmp_path, PROBE, tun=tun).splitlines()[-2:]
    assert mode == "userns"
    assert reason.startswith("not root (uid 65534), but unprivileged user namespaces work")
    if tun == "open":
        assert "unavailable" not in reason  # everything a lab needs works in a user namespace here
    else:
        assert reason.endswith("; unavailable: tun (open: Permission denied)")


def test_userns_probe_on_this_machine(tmp_path):
    """The machine as it is: the probe's word on TUN agrees with opening /dev/net/tun as uid 65534."""
    opens, why = tun_opens_for_nobody()
    print(f"/dev/net/tun for uid 65534 on this machine: {'opens' if opens else why}")
    mode, reason = run_unprivileged(tmp_path, PROBE).splitlines()[-2:]
    assert mode == "userns"
    assert ("unavailable: tun" in reason) is not opens, reason


def test_userns_world_builds_and_pings(tmp_path):
    out = run_unprivileged(tmp_path, """
        import os
        from netlab.engine.topology import Topology, End
        from netlab.topologies import flannel_vxlan
        from netlab.engine.world import World
        assert os.getuid() == 65534
        topo = flannel_vxlan()
        topo.add_iptables("node1", "-A POSTROUTING -s 10.1.15.0/24 ! -o cni0 -j MASQUERADE", table="nat")
        with World(topo) as w:
            print("MODE", w.mode)
            print(w.run("node1", "iptables -t nat -S POSTROUTING"))
            print(w.run("node1", "ip neigh show dev flannel.1"))
            print(w.run("node1", "bridge fdb show | grep 5e:f8"))
            print(w.run("node1", "bridge link"))
            print(w.run("container-1", "ping -c 1 -W 2 10.1.16.2"))
            with w.capture("node2", "eth0", "udp port 8472") as cap:
                w.run("container-1", "ping -c 1 -W 2 10.1.16.2")
            print("CAPTURED", len(cap.pcap), cap.pcap[:4].hex())
    """)
    assert "MODE userns" in out
    assert "-A POSTROUTING -s 10.1.15.0/24 ! -o cni0 -j MASQUERADE" in out
    assert "10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT" in out
    assert "5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent" in out
    assert "master cni0 state forwarding" in out
    assert "1 packets transmitted, 1 received" in out
    # The agent's packet socket caught the VXLAN datagrams (echo and reply: two 148-byte frames,
    # each with a 16-byte record header, after the 24-byte pcap header), and tcpdump filtered them.
    assert "CAPTURED 352 d4c3b2a1" in out


UDP_FLANNEL = """
    import netlab
    from netlab import flannel
    for standin in STANDINS:
        with netlab.World(netlab.flannel_udp(), name="userns_udp") as w:
            print("MODE", w.mode)
            store = flannel.start_store(w)
            flannel.put_config(w, store)
            for node in ("node1", "node2"):
                flannel.start_flanneld(w, node, store, tun_standin=standin)
            flannel.wait_for_peers(w, ["node1", "node2"])
            print(w.run("container-1", "ping -c 1 -W 2 100.96.2.3"))
            print(flannel.lab.flannel0_device(w, "node1"))
"""


@pytest.mark.parametrize("tun", ["open", "denied"])
def test_userns_udp_flanneld_with_a_real_etcd(tmp_path, tun):
    """Chapter 5 without root, with etcd: where the user may open /dev/net/tun the daemon makes a TUN
    flannel0 (and the forced veth stand-in works too); where it may not, the daemon says why and
    falls back to the stand-in on its own. Either way the containers reach each other."""
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed (Debian etcd-server): the embedded store is tested elsewhere")
    standins = ("None", '"veth"') if tun == "open" else ("None",)
    out = run_unprivileged(tmp_path, f"STANDINS = ({', '.join(standins)},)\n" + textwrap.dedent(UDP_FLANNEL), tun=tun)
    assert out.count("MODE userns") == len(standins)
    assert out.count("1 packets transmitted, 1 received") == len(standins)
    if tun == "open":
        assert "flannel0 in node1 is a TUN device" in out and "user namespace's root" in out
        assert "flannel0 in node1 is the veth stand-in (veth): the stand-in was asked for" in out
    else:
        assert "flannel0 in node1 is a TUN device" not in out
        assert "flannel0 in node1 is the veth stand-in (veth): " in out and "Permission denied" in out, out


def test_userns_vxlan_flanneld_with_a_real_etcd(tmp_path):
    """Chapter 6 without root: the VXLAN flanneld programs flannel.1 from etcd's leases (no TUN)."""
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed (Debian etcd-server): the embedded store is tested elsewhere")
    out = run_unprivileged(tmp_path, """
        import netlab
        from netlab import flannel
        with netlab.World(netlab.flannel_vxlan_nodes(), name="userns_vxlan") as w:
            print("MODE", w.mode)
            store = flannel.start_store(w)
            flannel.put_config(w, store, config=flannel.VXLAN_NETWORK_CONFIG)
            flannel.start_flanneld(w, "node1", store, backend="vxlan", subnet="10.1.15.0/24")
            flannel.start_flanneld(w, "node2", store, backend="vxlan", subnet="10.1.16.0/24", vtep_mac=flannel.SEED_VTEP_MAC)
            flannel.wait_for_entries(w, "node1", ["10.1.16.0/24"])
            print(w.run("node1", "ip neigh show dev flannel.1"))
            print(w.run("container-1", "ping -c 1 -W 2 10.1.16.3"))
    """)
    assert "MODE userns" in out
    assert "10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT" in out
    assert "1 packets transmitted, 1 received" in out
