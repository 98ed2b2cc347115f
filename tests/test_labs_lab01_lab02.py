"""Labs 1 and 2 need the work and teach when it is missing (issue 15, point 3).

The learners' blank copies (scripts/make_student_labs.py) run top to bottom in a real kernel with
no traceback: a cell run before what it needs says so in one line, and every check shows ✗ with
what the kernel shows and what was expected, never the command that fixes it. Each shortcut the
issue lists is done for real on a kernel and fails its check with a message saying why. The
solutions passing is nbval's run of labs/ and tests/test_nbgrader.py's autograde of lab01.
"""
import json

import pytest

import netlab
from netlab.checks import network

from test_kernel import World
from blank_lab import FIX, labs, run_blank, graded_failures

LAB01, LAB02 = "chapter 1, section 1.9", "chapter 2, section 2."


def shown(cell) -> str:
    return labs.shown_text(cell) + "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


@pytest.mark.root
@pytest.mark.parametrize("name", ["lab01_cidr", "lab02_gateways"])
def test_the_blank_copy_runs_without_a_traceback_and_its_checks_fail_helpfully(root_only, tmp_path, monkeypatch, name):
    nb = run_blank(name, tmp_path, monkeypatch)
    for line in graded_failures(nb, name):
        assert not FIX.search(line), line  # B0's check_link too: its markdown gives the task, the check no command
        assert any(w in line for w in ("expected", "first", "died at", "did not come back")), line


@pytest.mark.root
def test_lab01_b1_needs_the_kernels_own_error(root_only):
    with netlab.World(netlab.pc_pair()) as w:
        for wrong in (None, "", "no route"):
            c = network.check_route_error(w, "pc1", dst="192.168.0.192", answer=wrong)
            assert not c.ok, c
        assert network.check_route_error(w, "pc1", dst="192.168.0.192", answer="Network is unreachable")
        w.run("pc1", "ip route add default dev eth0")
        c = network.check_route_error(w, "pc1", dst="192.168.0.192", answer="Network is unreachable")
        assert not c.ok and "has a route to 192.168.0.192 now" in c.message


def b2(w, address):
    return [network.check_route(w, "pc1", dst=address, dev="eth0", see="chapter 1, section 1.9"),
            network.check_renumbered(w, "pc1", peer="pc2", dev="eth0", address=address,
                                     see="chapter 1, section 1.9")]


@pytest.mark.root
@pytest.mark.parametrize("shortcut, why", [
    (["pc1: ip route add 192.168.0.192 dev eth0"],
     "pc2's eth0 holds 192.168.0.192/26, outside pc1's 192.168.0.0/26"),
    (["pc1: ip route add 192.168.0.192 dev eth0",
      f"pc1: ip neigh add 192.168.0.192 lladdr {netlab.PC2_MAC} dev eth0 nud permanent"],
     "pc2's eth0 holds 192.168.0.192/26, outside pc1's 192.168.0.0/26"),
    (["pc2: ip addr add 192.168.0.4/26 dev eth0"],
     "pc2's eth0 holds 192.168.0.192/26, 192.168.0.4/26; expected 192.168.0.4 alone"),
    (["pc2: ip addr flush dev eth0", "pc2: ip addr add 192.168.0.4/26 dev eth0",
      "pc1: ip route add 192.168.0.4 dev eth0"],
     "pc1 has the route `192.168.0.4 dev eth0` besides its connected 192.168.0.0/26"),
    (["pc2: ip addr flush dev eth0", "pc2: ip addr add 192.168.0.4/26 dev eth0",
      f"pc1: ip neigh add 192.168.0.4 lladdr {netlab.PC2_MAC} dev eth0 nud permanent"],
     "pc1 has a hand-made neighbour entry for 192.168.0.4"),
    (["pc2: ip addr flush dev eth0", "pc2: ip addr add 192.168.0.4/26 dev eth0", "pc2: ip link set eth0 down"],
     "pc1 pinged 192.168.0.4 and got no reply"),
])
def test_lab01_b2_shortcuts_fail_and_say_why(root_only, shortcut, why):
    address = "192.168.0.4" if any("192.168.0.4" in s for s in shortcut) else "192.168.0.192"
    with netlab.World(netlab.pc_pair()) as w:
        for step in shortcut:
            node, command = step.split(": ", 1)
            w.run(node, command)
        w.run("pc1", f"ping -c 1 -W 1 {address}", check=False)
        checks = b2(w, address)
        assert not all(checks), [str(c) for c in checks]
        assert why in checks[1].message and "(see chapter 1, section 1.9)" in checks[1].message, checks[1]
        assert not FIX.search(checks[1].message), checks[1]


@pytest.mark.root
def test_lab01_b2_solution_passes(root_only):
    with netlab.World(netlab.pc_pair()) as w:
        w.run("pc2", "ip addr flush dev eth0")
        w.run("pc2", "ip addr add 192.168.0.4/26 dev eth0")
        assert all(b2(w, "192.168.0.4")), [str(c) for c in b2(w, "192.168.0.4")]
        assert not network.check_renumbered(w, "pc1", peer="pc2", dev="eth0", address="192.168.0.5")


@pytest.mark.root
def test_lab02_needs_metric_100_and_names_the_metric(root_only):
    with netlab.World(netlab.office_network(via="D", vm_gateway=False)) as w:
        c = network.check_default_gateway(w, "B", gateway="10.6.0.1", metric=100, see="chapter 2, section 2.2")
        assert not c.ok and c.message.startswith("B's table has no default route; expected one via 10.6.0.1")
        w.run("B", "ip route add default via 10.6.0.1 dev ens192")
        c = network.check_default_gateway(w, "B", gateway="10.6.0.1", metric=100, see="chapter 2, section 2.2")
        assert not c.ok and "has metric 0, expected metric 100 (see chapter 2, section 2.2)" in c.message
        # A's second default route loses on metric, not on prefix length
        w.run("A", "ip route add default via 10.64.1.1 metric 200")
        gw = network.check_default_gateway(w, "A", gateway="10.64.1.1")
        route = network.check_route(w, "A", dst="10.6.8.1", via="10.64.1.1", see="chapter 2, section 2.5")
        assert "goes via 10.64.1.254 (metric 0), expected via 10.64.1.1" in gw.message
        assert "then the lowest metric" in route.message and "more specific route that wins" not in route.message
        for c in (gw, route):
            assert not c.ok and not FIX.search(c.message), c


def test_check_route_entry_names_a_route_without_a_gateway():
    w = World({("node1", "ip -j route show dev flannel.1"): json.dumps([
        {"dst": "10.1.17.0/24", "dev": "flannel.1", "scope": "link", "flags": []}])})
    c = network.check_route_entry(w, "node1", subnet="10.1.17.0/24", gateway="10.1.17.0", dev="flannel.1")
    assert not c.ok and "None" not in c.message
    assert c.message == "node1 routes 10.1.17.0/24 directly (no gateway) on flannel.1, expected via 10.1.17.0"


def test_a_cell_run_too_early_says_what_to_do_first_in_one_line():
    from netlab.magic import first_what

    assert "run the cell above that builds the world first" in first_what(NameError("name 'world' is not defined",
                                                                                    name="world"))
    assert "`pc2_address` is not defined yet" in first_what(NameError("name 'pc2_address' is not defined"))
    assert "\n" not in first_what(NotImplementedError())
