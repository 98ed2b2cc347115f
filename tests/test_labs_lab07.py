"""Lab 7 needs the work and teaches when it is missing: the blank copy runs without a traceback and
every check fails saying what the kernel (or BIRD) shows and what was expected; the shortcut of typing
the routes by hand instead of running BGP fails with a message saying why; a peer both sides wait for
is named. The solution passing is nbval's run of labs/lab07_calico.ipynb."""

import pytest

import netlab
from netlab.calico import bird
from netlab.checks import calico as checks

from blank_lab import FIX, graded_failures, run_blank

SEE = ("chapter 7, section 7.3", "chapter 7, section 7.4")


@pytest.mark.root
def test_the_blank_copy_runs_without_a_traceback_and_its_checks_fail_helpfully(root_only, tmp_path, monkeypatch):
    nb = run_blank("lab07_calico", tmp_path, monkeypatch)
    for line in graded_failures(nb, "lab07", 3):
        assert not FIX.search(line), line
        if "check_walk" in line or "died at" in line:  # the shared walk check: where the packet stopped
            assert "died at" in line, line
        else:
            assert "expected" in line and any(s in line for s in SEE), line


def _lab_world(name):
    t = netlab.calico_nodes(3)
    w = netlab.World(t, name=name, record=False, leave_out=netlab.calico.pod_cables(t))
    mesh = netlab.calico.mesh(3)
    netlab.calico.plumb_pods(w, 3)
    netlab.calico.start_mesh(w, mesh[:2])
    return w, mesh


def _step2(w):
    return [checks.check_bgp_session(w, "node3", peer="10.168.0.2"),
            checks.check_bird_route(w, "node1", block="10.244.3.0/26", via="10.168.0.4"),
            checks.check_bird_route(w, "node3", block="10.244.1.0/26", via="10.168.0.2"),
            checks.check_blackhole(w, "node3", block="10.244.3.0/26")]


@pytest.mark.root
def test_static_routes_instead_of_bgp_fail_and_say_why(root_only):
    w, mesh = _lab_world("t_lab07_static")
    with w:
        w.run("node1", "ip route add 10.244.3.0/26 via 10.168.0.4")
        w.run("node2", "ip route add 10.244.3.0/26 via 10.168.0.4")
        w.run("node3", "ip route add 10.244.1.0/26 via 10.168.0.2")
        w.run("node3", "ip route add 10.244.2.0/26 via 10.168.0.3")
        w.run("node3", "ip route add blackhole 10.244.3.0/26")
        # the shortcut reaches pod-3...
        assert w.run("pod-1", "ping -c 1 -W 1 10.244.3.2", check=False).ok
        # ...and every step-2 check says why it is not BGP
        session, to3, from3, hole = _step2(w)
        assert not session and "BIRD is not running in node3" in session.message
        for c in (to3, from3):
            assert not c.ok and "typed by hand, not learned by BGP" in c.message and "expected proto bird" in c.message
        assert not hole and "expected proto bird" in hole.message
        for c in (session, to3, from3, hole):
            assert not FIX.search(c.message), c


@pytest.mark.root
def test_both_sides_passive_is_named(root_only):
    w, mesh = _lab_world("t_lab07_passive")
    with w:
        base = bird.render(bird.BirdNode("node3", "10.168.0.4", "10.244.3.0/26", ()))
        peers = "".join(f"protocol bgp Mesh_{ip.replace('.', '_')} from bgp_template {{\n  neighbor {ip} as 64512;\n"
                        f"  source address 10.168.0.4;\n  passive on;\n}}\n" for ip in ("10.168.0.2", "10.168.0.3"))
        assert checks.check_bird_config(w, "node3", config=base + peers, start=True)
        c = checks.check_bgp_session(w, "node3", peer="10.168.0.2", wait=3)
        assert not c.ok and "`passive on`" in c.message and "not Established" in c.message, c


@pytest.mark.root
def test_the_solution_passes_and_a_wrong_as_does_not(root_only):
    w, mesh = _lab_world("t_lab07_solution")
    with w:
        base = bird.render(bird.BirdNode("node3", "10.168.0.4", "10.244.3.0/26", ()))
        wrong = ("protocol bgp Mesh_10_168_0_2 from bgp_template {\n  neighbor 10.168.0.2 as 64513;\n"
                 "  source address 10.168.0.4;\n}\n")
        assert checks.check_bird_config(w, "node3", config=base + wrong, start=True)
        c = checks.check_bgp_session(w, "node3", peer="10.168.0.2", wait=3)
        assert not c.ok and "not Established" in c.message
        right = wrong.replace("64513", "64512") + wrong.replace("64513", "64512").replace("10_168_0_2", "10_168_0_3") \
            .replace("neighbor 10.168.0.2", "neighbor 10.168.0.3")
        assert checks.check_bird_config(w, "node3", config=base + right, start=True)
        assert checks.check_bgp_session(w, "node3", peer="10.168.0.2", wait=10)
        assert all(checks.check_bird_route(w, n, block=b, via=v, wait=5) for n, b, v in (
            ("node1", "10.244.3.0/26", "10.168.0.4"), ("node3", "10.244.1.0/26", "10.168.0.2")))
