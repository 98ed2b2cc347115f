"""Labs 5 and 6 need the work and teach when it is missing (issue 15, point 3).

Lab 5: the blank copy runs without a traceback (reading node3's log before its flanneld runs says
"start flanneld first"); flanneld started without the subnet fails its check; the questions are
answered by checks in netlab that read the log and the kernel (no visible answer, no coin flip).
Lab 6: check_vtep checks the VTEP's MAC, its one /32 address and its lower device, so the MTU the
kernel derives from it can fail (a VXLAN device without `dev eth0` gets 1500); checks on a node
without flannel.1 print ✗ with a sentence; no message offers check=False. The solutions passing is
nbval's run of labs/ and tests/test_nbgrader.py's autograde.
"""
import os

import pytest

import netlab
from netlab import flannel

from blank_lab import graded_failures, labs, run_blank
from test_labs_lab03 import assert_teaches

VTEP = dict(vni=1, local="10.168.0.4", mac="5e:f8:4f:00:e3:38", address="10.1.17.0/32", lower="eth0")


@pytest.mark.root
def test_lab05_blank_copy_runs_without_a_traceback(root_only, tmp_path, monkeypatch):
    nb = run_blank("lab05_flannel_udp", tmp_path, monkeypatch)
    for line in graded_failures(nb, "lab05", 8):
        assert_teaches(line)
    shown = "".join(labs.shown_text(c) for c in nb.cells if c.cell_type == "code")
    assert "node3 has no /run/flannel/node3.log yet: start flanneld in node3 first" in shown
    visible = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert '"watch"' not in visible and "Check(" not in visible


@pytest.mark.root
def test_lab06_blank_copy_runs_without_a_traceback(root_only, tmp_path, monkeypatch):
    nb = run_blank("lab06_flannel_vxlan", tmp_path, monkeypatch)
    for line in graded_failures(nb, "lab06", 7):
        assert_teaches(line)
    shown = "".join(labs.shown_text(c) for c in nb.cells if c.cell_type == "code")
    assert "Cannot find device" not in shown and "node1 has no device flannel.1" not in shown
    assert "check=False" not in shown and "Check(" not in "\n".join(c.source for c in nb.cells)


@pytest.fixture(scope="module")
def udp_world():
    if os.geteuid() != 0:
        pytest.skip("needs real root (uid 0) to build root-mode worlds")
    with netlab.World(netlab.flannel_udp(nodes=3), name="t_lab05") as w:
        store = flannel.start_store(w)
        flannel.put_config(w, store)
        flannel.start_flanneld(w, "node1", store)
        flannel.start_flanneld(w, "node2", store)
        flannel.wait_for_peers(w, ["node1", "node2", "node3"])  # node3 has no flanneld yet: left out
        yield w, store


@pytest.mark.root
def test_lab05_before_flanneld_every_check_says_start_it_first(udp_world):
    w, store = udp_world
    log = flannel.flanneld_log(w, "node3")
    assert str(log) == "node3 has no /run/flannel/node3.log yet: start flanneld in node3 first" and repr(log) == str(log)
    for c in (netlab.check_lease(w, "node1", store=store, public_ip="10.168.0.4", subnet="100.96.3.0/24"),
              netlab.check_mtu_overhead(w, "node3", answer=28), netlab.check_watched(w, "node3", answer=0)):
        assert not c and "first" in c.message, c
    c = netlab.check_flannel_routes(w, "node3", subnet="100.96.3.0/24")
    assert not c and "there is no such route" in c.message
    assert_teaches(c.message)


@pytest.mark.root
def test_lab05_flanneld_without_the_subnet_fails_and_says_why(root_only):
    with netlab.World(netlab.flannel_udp(nodes=3), name="t_lab05_nosub") as w:
        store = flannel.start_store(w)
        flannel.put_config(w, store)
        flannel.start_flanneld(w, "node1", store)
        flannel.start_flanneld(w, "node3", store)  # the shortcut: no subnet
        c = netlab.check_lease(w, "node1", store=store, public_ip="10.168.0.4", subnet="100.96.3.0/24")
        assert not c and "expected 100.96.3.0/24, the subnet its docker0 already has" in c.message, c
        assert_teaches(c.message)


@pytest.mark.root
def test_lab05_answers_are_checked_in_netlab(udp_world):
    w, store = udp_world
    flannel.start_flanneld(w, "node3", store, subnet="100.96.3.0/24")
    flannel.wait_for_peers(w, ["node1", "node2", "node3"])
    assert netlab.check_lease(w, "node1", store=store, public_ip="10.168.0.4", subnet="100.96.3.0/24")
    for wrong in (1472, 20, "many", None):
        c = netlab.check_mtu_overhead(w, "node3", answer=wrong)
        assert not c and "28" not in c.message, c
    assert netlab.check_mtu_overhead(w, "node3", answer=28)
    # the watch question: node1 started first and watched both others' leases arrive; node3 listed them
    for node, right, wrongs in (("node1", 2, (0, 1, 3, "watch")), ("node3", 0, (1, 2))):
        for wrong in wrongs:
            c = netlab.check_watched(w, node, answer=wrong)
            assert not c and f" {right} " not in c.message, c
        assert netlab.check_watched(w, node, answer=right)
    # step 3: the entry the kernel takes, the longest prefix
    for dst, right, wrong, why in (("100.96.1.2", "100.96.0.0/16", "default", "more specific"),
                                   ("100.96.3.4", "100.96.3.0/24", "100.96.0.0/16", "more specific"),
                                   ("100.96.1.2", "100.96.0.0/16", "100.96.3.0/24", "is not an entry")):
        c = netlab.check_route_choice(w, "node3", dst=dst, answer=wrong, see="chapter 5, section 5.3")
        assert not c and why in c.message and right not in c.message, c
        assert netlab.check_route_choice(w, "node3", dst=dst, answer=right)
    assert not netlab.check_route_choice(w, "node3", dst="100.96.1.2", answer=None)
    assert netlab.check_ping(w, "container-3", dst="100.96.1.2")
    c = netlab.check_ping(w, "container-3", dst="100.96.9.9", see="chapter 5, section 5.7")
    assert not c and "got no reply" in c.message and "check=False" not in c.message


@pytest.fixture(scope="module")
def vxlan_world():
    if os.geteuid() != 0:
        pytest.skip("needs real root (uid 0) to build root-mode worlds")
    with netlab.World(netlab.flannel_vxlan_nodes(3), name="t_lab06") as w:
        yield w


@pytest.mark.root
def test_lab06_checks_before_the_vtep_exists_print_a_sentence(vxlan_world):
    w = vxlan_world
    for c in (netlab.check_vtep(w, "node3", **VTEP),
              netlab.check_neighbour(w, "node3", ip="10.1.15.0", mac="5e:f8:4f:00:e3:36", dev="flannel.1", permanent=True),
              netlab.check_fdb(w, "node3", mac="5e:f8:4f:00:e3:36", dev="flannel.1", dst="10.168.0.2"),
              netlab.check_route_entry(w, "node3", subnet="10.1.15.0/24", gateway="10.1.15.0", dev="flannel.1")):
        assert not c and "node3 has no" in c.message and "Cannot find" not in c.message, c
        assert_teaches(c.message)
    c = netlab.check_vxlan_frame([], outer_dst="10.168.0.4", inner_mac="5e:f8:4f:00:e3:38")
    assert not c and "no VXLAN frame at all" in c.message


@pytest.mark.root
@pytest.mark.parametrize("commands, why", [
    (["ip link add flannel.1 address 5e:f8:4f:00:e3:39 type vxlan id 1 local 10.168.0.4 dev eth0 nolearning dstport 8472",
      "ip addr add 10.1.17.0/32 dev flannel.1"], "MAC 5e:f8:4f:00:e3:39, expected 5e:f8:4f:00:e3:38"),
    (["ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 dev eth0 nolearning dstport 8472",
      "ip addr add 10.1.17.0/24 dev flannel.1"], "addresses 10.1.17.0/24, expected 10.1.17.0/32 alone"),
    (["ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 nolearning dstport 8472",
      "ip addr add 10.1.17.0/32 dev flannel.1"], "MTU 1500, expected 1450 (eth0's 1500 minus VXLAN's 50)"),
    (["ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 nolearning dstport 8472",
      "ip link set flannel.1 mtu 1450", "ip addr add 10.1.17.0/32 dev flannel.1"], "lower device none, expected eth0"),
    (["ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 dev eth0 nolearning dstport 8472",
      "ip link set flannel.1 mtu 1400", "ip addr add 10.1.17.0/32 dev flannel.1"], "MTU 1400, expected 1450"),
])
def test_lab06_vtep_shortcuts_fail_and_say_why(vxlan_world, commands, why):
    w = vxlan_world
    try:
        for command in commands + ["ip link set flannel.1 up"]:
            w.run("node3", command)
        c = netlab.check_vtep(w, "node3", **VTEP)
        assert not c and why in c.message, c
        assert_teaches(c.message)
    finally:
        w.run("node3", "ip link del flannel.1", check=False)


@pytest.mark.root
def test_lab06_solution_vtep_passes_and_a_failed_ping_is_a_check(vxlan_world):
    w = vxlan_world
    try:
        for command in ("ip link add flannel.1 address 5e:f8:4f:00:e3:38 type vxlan id 1 local 10.168.0.4 dev eth0"
                        " nolearning dstport 8472", "ip addr add 10.1.17.0/32 dev flannel.1", "ip link set flannel.1 up"):
            w.run("node3", command)
        c = netlab.check_vtep(w, "node3", **VTEP)
        assert c and "MTU 1450" in c.message, c
        c = netlab.check_neighbour(w, "node3", ip="10.1.15.0", mac="5e:f8:4f:00:e3:36", dev="flannel.1", permanent=True,
                                   see="chapter 6, section 6.3")
        assert not c and "no neighbour entry for 10.1.15.0" in c.message
        assert_teaches(c.message)
        c = netlab.check_ping(w, "container-2", dst="10.1.17.4", see="chapter 6, section 6.3")
        assert not c and "check=False" not in c.message
        assert_teaches(c.message)
    finally:
        w.run("node3", "ip link del flannel.1", check=False)
