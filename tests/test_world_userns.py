"""Worlds built by an unprivileged user (uid 65534) in a user namespace, on the system Python.

That Python has only the standard library, so this also proves that `import netlab`, the engine,
captures (pcap bytes; scapy parses them only when asked) and the flannel daemons need nothing else.
"""

import os
import shutil
import subprocess
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.userns


def run_unprivileged(tmp_path, code: str, timeout: float = 120) -> str:
    """Run ``code`` as uid/gid 65534 under the system Python, with the netlab package copied to a
    world-readable folder. That Python has no scapy, netaddr or ipywidgets: `import netlab`, the
    engine and the daemons it starts (`python3 -m netlab.flannel` in the nodes) need only the
    standard library."""
    if not os.path.exists(PYTHON):
        pytest.skip(f"{PYTHON} (the stdlib-only system Python) is not installed")
    base = tmp_path / "unpriv"
    shutil.copytree(os.path.join(ROOT, "netlab"), base / "netlab", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [tmp_path, base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    p = tmp_path
    while str(p) != "/":  # pytest's tmp dirs may be 0700 on the way down
        p.chmod(p.stat().st_mode | 0o055) if str(p).startswith("/tmp/") else None
        p = p.parent
    script = f"import sys; sys.path.insert(0, {str(base)!r})\n" + textwrap.dedent(code)
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", PYTHON, "-I", "-c", script],
        capture_output=True, text=True, timeout=timeout, cwd="/",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/"})
    assert proc.returncode == 0, f"unprivileged run failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_userns_world_builds_and_pings(tmp_path):
    out = run_unprivileged(tmp_path, """
        import os
        from netlab.topology import Topology, End
        from netlab.topologies import flannel_vxlan
        from netlab.world import World
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


def test_userns_probe(tmp_path):
    out = run_unprivileged(tmp_path, "from netlab.probe import probe; p = probe(); print(p.mode); print(p.reason)")
    mode, reason = out.splitlines()[-2:]
    assert mode == "userns"
    assert reason.startswith("not root (uid 65534), but unprivileged user namespaces work")


def test_userns_flannel_daemons_with_a_real_etcd(tmp_path):
    """Chapters 5 and 6 without root: etcd, the UDP flanneld (TUN here, and the forced veth stand-in)
    and the VXLAN flanneld, in user-namespace worlds."""
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed")
    out = run_unprivileged(tmp_path, """
        import netlab
        from netlab import flannel
        from netlab.flannel import vxlan
        for standin in (None, "veth"):
            with netlab.World(netlab.flannel_udp(), name="userns_udp") as w:
                print("MODE", w.mode)
                store = flannel.start_store(w)
                flannel.put_config(w, store)
                for node in ("node1", "node2"):
                    flannel.start_flanneld(w, node, store, tun_standin=standin)
                flannel.wait_for_peers(w, ["node1", "node2"])
                print(w.run("container-1", "ping -c 1 -W 2 100.96.2.3"))
                print(flannel.lab.flannel0_device(w, "node1"))
        with netlab.World(netlab.flannel_vxlan_nodes(), name="userns_vxlan") as w:
            store = flannel.start_store(w)
            flannel.put_config(w, store, config=vxlan.NETWORK_CONFIG)
            vxlan.start_flanneld(w, "node1", store, subnet="10.1.15.0/24")
            vxlan.start_flanneld(w, "node2", store, subnet="10.1.16.0/24", vtep_mac=vxlan.SEED_VTEP_MAC)
            vxlan.wait_for_entries(w, "node1", ["10.1.16.0/24"])
            print(w.run("node1", "ip neigh show dev flannel.1"))
            print(w.run("container-1", "ping -c 1 -W 2 10.1.16.3"))
    """)
    assert out.count("MODE userns") == 2
    assert out.count("1 packets transmitted, 1 received") == 3
    assert "flannel0 in node1 is a TUN device" in out and "user namespace's root" in out
    assert "flannel0 in node1 is the veth stand-in" in out
    assert "10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT" in out
