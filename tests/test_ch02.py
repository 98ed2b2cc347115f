"""Chapter 2 (gateways, routers and routing tables): what the chapter and its lab teach, on a live kernel.

Unprivileged tests check the declared topologies and the seed's tables; root tests build the
worlds and check the kernel's answers the chapter prints: A reaches B via C, fails via D with D's
"Destination Net Unreachable", ttl=60 across four routers, the frame A emits, and the lab's checks
failing before its fixes and passing after.
"""

import re
import shutil
from pathlib import Path

import nbformat
import pytest

import netlab
from netlab import kernel, magic
from netlab.checks import network

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "labs" / "lab02_gateways.ipynb"
CHAIN_HOPS = ["10.64.1.1", "172.16.1.2", "172.16.2.2", "172.16.3.2", "10.6.8.1"]


# ----------------------------------------------------------------------------- declarations


def test_office_network_has_the_seed_addresses_and_macs():
    t = netlab.office_network()
    a, b, c, d = (t.nodes[n] for n in "ABCD")
    assert a.interfaces["en0"].addresses == ["10.64.1.46/24"]
    assert a.interfaces["en0"].mac == "d0:81:7a:9d:e9:62"  # the seed's macOS ifconfig
    assert b.interfaces["ens192"].addresses == ["10.6.8.1/16"]
    assert b.interfaces["ens192"].mac == "00:50:56:b4:92:2d"  # the seed's VM ifconfig
    assert c.interfaces["eth0"].addresses == ["10.64.1.1/24"]
    assert c.interfaces["eth1"].addresses == ["10.6.0.1/16"]
    assert d.interfaces["eth0"].addresses == ["10.64.1.254/24"]
    assert [(r.dst, r.via) for r in a.routes] == [("default", "10.64.1.1")]
    assert [(r.dst, r.via, r.metric) for r in b.routes] == [("default", "10.6.0.1", 100)]
    assert [(r.dst, r.via) for r in netlab.office_network(via="D").nodes["A"].routes] == [("default", "10.64.1.254")]
    assert netlab.office_network(via=None, vm_gateway=False).nodes["A"].routes == []
    assert netlab.office_network(via=None, vm_gateway=False).nodes["B"].routes == []
    with pytest.raises(ValueError, match="choose 'C'"):
        netlab.office_network(via="E")


def test_router_chain_declares_every_route_unless_omitted():
    t = netlab.router_chain(4)
    assert list(t.nodes) == ["A", "r1", "r2", "r3", "r4", "B"]
    routes = {n: sorted((r.dst, r.via) for r in t.nodes[n].routes) for n in ("r1", "r2", "r3", "r4")}
    assert routes["r1"] == [("10.6.0.0/16", "172.16.1.2")]
    assert routes["r3"] == [("10.6.0.0/16", "172.16.3.2"), ("10.64.1.0/24", "172.16.2.1")]
    assert routes["r4"] == [("10.64.1.0/24", "172.16.3.1")]
    gone = netlab.router_chain(4, omit=[("r3", "10.64.1.0/24")])
    assert [(r.dst, r.via) for r in gone.nodes["r3"].routes] == [("10.6.0.0/16", "172.16.3.2")]
    with pytest.raises(ValueError, match="omit="):
        netlab.router_chain(4, omit=[("r9", "10.64.1.0/24")])
    with pytest.raises(ValueError, match="n=0"):
        netlab.router_chain(0)


def test_seed_tables_parse_and_look_up_as_the_chapter_says():
    mac_a = netlab.parse_routes(netlab.SEED_ROUTE_TABLES["mac-host-a"])
    vm_b = netlab.parse_routes(netlab.SEED_ROUTE_TABLES["vm-b"])
    assert netlab.lookup_route(mac_a, "10.6.8.1").next_hop == "10.64.1.1"
    assert netlab.lookup_route(mac_a, "10.64.1.1").route.prefixlen == 32
    assert netlab.lookup_route(mac_a, "10.64.1.200").next_hop == "10.64.1.200"
    assert netlab.lookup_route(vm_b, "10.64.1.46").next_hop == "10.6.0.1"
    assert vm_b.text("linux-route") == netlab.SEED_ROUTE_TABLES["vm-b"]


def test_lab_has_solution_blocks_and_the_chapter_is_executed():
    for path in (LAB, ROOT / "book" / "ch02_gateways.ipynb"):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in code), f"{path.name} is not executed"
        assert not any(o.output_type == "error" for c in code for o in c.outputs)
    assert len(_solutions()) == 4


# ----------------------------------------------------------------------------- live kernel


def _solutions() -> list:
    """The lab's solution blocks, in order, each as a function of (world, namespace) that does what
    running its cell does: Python is executed, a `%%node NODE` cell's commands run in that node."""
    nb = nbformat.read(LAB, as_version=4)
    found = []
    for cell in nb.cells:
        m = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
        if cell.cell_type != "code" or not m:
            continue
        first = cell.source.split("\n", 1)[0]
        if first.startswith("%%node "):
            found.append(lambda w, ns, node=first.split()[1], text=m.group(1):
                         magic.run_commands(w, node, magic.commands(text)))
        else:
            found.append(lambda w, ns, code=m.group(1): exec(code, ns))
    return found


@pytest.mark.root
def test_a_reaches_b_via_c():
    with netlab.World(netlab.office_network("C")) as w:
        r = w.run("A", "ip route get 10.6.8.1")
        assert r.stdout == "10.6.8.1 via 10.64.1.1 dev en0 src 10.64.1.46 uid 0 \n    cache \n"
        assert w.run("A", "ip route get 10.64.1.254").stdout.startswith("10.64.1.254 dev en0 src 10.64.1.46 ")
        ping = w.run("A", "ping -c 3 10.6.8.1").stdout
        assert ping.count("ttl=63") == 3 and "3 received, 0% packet loss" in ping
        # C owns both gateways: B's neighbour entry for 10.6.0.1 is C's eth1 MAC
        assert network.check_neighbour(w, "B", ip="10.6.0.1", mac=netlab.ROUTER_C_SERVER_MAC, dev="ens192").ok
        # longest prefix, then metric, as section 2.1 shows
        w.run("A", "ip route add 10.6.8.0/24 via 10.64.1.254")
        assert kernel.route_get(w, "A", "10.6.8.1").gateway == "10.64.1.254"
        assert kernel.route_get(w, "A", "10.6.9.1").gateway == "10.64.1.1"
        w.run("A", "ip route del 10.6.8.0/24")
        w.run("A", "ip route add default via 10.64.1.254 metric 200")
        assert kernel.route_get(w, "A", "10.6.8.1").gateway == "10.64.1.1"
        assert kernel.default_gateways(w, "A") == ["10.64.1.1", "10.64.1.254"]
        # without B's default route the reply cannot leave B: silent loss at A
        w.run("B", "ip route del default")
        assert kernel.route_get(w, "B", "10.64.1.46") is None
        lost = w.run("A", "ping -c 1 -W 1 10.6.8.1", check=False)
        assert "100% packet loss" in lost.stdout and "Unreachable" not in lost.stdout


@pytest.mark.root
def test_a_fails_via_d_with_ds_error():
    with netlab.World(netlab.office_network("D")) as w:
        assert kernel.route_get(w, "A", "10.6.8.1").gateway == "10.64.1.254"
        r = w.run("D", "ip route get 10.6.8.1", check=False)
        assert r.returncode != 0 and r.stderr == "RTNETLINK answers: Network is unreachable\n"
        with w.capture("A", "en0", "icmp") as cap:
            ping = w.run("A", "ping -c 1 -W 1 10.6.8.1", check=False)
        assert ping.returncode == 1
        assert "From 10.64.1.254 icmp_seq=1 Destination Net Unreachable" in ping.stdout
        errors = [p for p in cap.packets if p["ICMP"].type == 3]
        assert len(errors) == 1 and errors[0]["ICMP"].code == 0 and errors[0]["IP"].src == "10.64.1.254"


@pytest.mark.root
def test_route_n_form_matches_the_seed_and_net_tools():
    with netlab.World(netlab.office_network("C")) as w:
        w.run("B", "ip addr replace 10.6.8.1/16 dev ens192 metric 100")
        rendered = netlab.parse_routes(w.run("B", "ip -j route").stdout).text("linux-route")
        assert rendered == netlab.SEED_ROUTE_TABLES["vm-b"]
        # net-tools is one of the lab tools (binder/apt.txt), which `make test` installs: the chapter runs
        # `route -n` live, and netlab's rendering (used by the route explorer) must print the same text.
        assert shutil.which("route"), "net-tools' route is missing: install binder/apt.txt (make test does)"
        assert w.run("B", "route -n").stdout == netlab.SEED_ROUTE_TABLES["vm-b"]
        for node in ("A", "B", "C", "D"):
            real = w.run(node, "route -n").stdout
            assert netlab.parse_routes(w.run(node, "ip -j route").stdout).text("linux-route") == real
            assert netlab.parse_routes(real).text("linux-route") == real


@pytest.mark.root
def test_frame_a_emits_equals_scapys_but_for_kernel_filled_fields():
    with netlab.World(netlab.office_network("C")) as w:
        with w.capture("A", "en0") as link_ac, w.capture("B", "ens192") as link_cb:
            w.run("A", "ping -c 1 -W 1 10.6.8.1")
        requests = [next(p for p in cap.packets if p.haslayer("ICMP") and p["ICMP"].type == 8)
                    for cap in (link_ac, link_cb)]
    frame = netlab.first_frame(src="10.64.1.46/24", src_mac=netlab.HOST_A_MAC, dst="10.6.8.1",
                               gateway="10.64.1.1", gateway_mac=netlab.ROUTER_C_LAN_MAC)
    sent = requests[0]
    assert bytes(frame.packet) != bytes(sent)  # the kernel-filled fields do differ
    built = frame.packet.copy()
    built["IP"].id = sent["IP"].id
    built["ICMP"].id = sent["ICMP"].id
    built["Raw"].load = sent["Raw"].load[:16] + built["Raw"].load[16:]
    del built["IP"].chksum, built["ICMP"].chksum
    assert bytes(built) == bytes(sent)
    # on the second link: new MAC pair, same IPs, TTL one lower
    first, second = requests
    assert (first.src, first.dst) == (netlab.HOST_A_MAC, netlab.ROUTER_C_LAN_MAC)
    assert (second.src, second.dst) == (netlab.ROUTER_C_SERVER_MAC, netlab.VM_B_MAC)
    assert (first["IP"].src, first["IP"].dst) == (second["IP"].src, second["IP"].dst) == ("10.64.1.46", "10.6.8.1")
    assert (first["IP"].ttl, second["IP"].ttl) == (64, 63)


@pytest.mark.root
def test_four_routers_give_ttl_60_and_traceroute_lists_them():
    with netlab.World(netlab.router_chain(4)) as w:
        ping = w.run("A", "ping -c 3 10.6.8.1").stdout
        assert ping.count("ttl=60") == 3
        assert network.trace_hops(w, "A", "10.6.8.1") == CHAIN_HOPS
        assert network.check_routers_crossed(w, "A", dst="10.6.8.1", answer=4).ok
        tracepath = w.run("A", "tracepath -n 10.6.8.1").stdout
        assert "reached" in tracepath and "hops 5 back 5" in tracepath
        links = [("A", "en0"), ("r1", "eth1"), ("r2", "eth1"), ("r3", "eth1"), ("B", "ens192")]
        caps = [w.capture(n, i, "icmp") for n, i in links]
        w.run("A", "ping -c 1 -W 1 10.6.8.1")
        requests = [next(p for p in c.stop() if p["ICMP"].type == 8) for c in caps]
    assert [p["IP"].ttl for p in requests] == [64, 63, 62, 61, 60]
    assert {(p["IP"].src, p["IP"].dst) for p in requests} == {("10.64.1.46", "10.6.8.1")}
    assert len({(p.src, p.dst) for p in requests}) == 5


@pytest.mark.root
def test_lab_part_a_checks_fail_before_and_pass_after_the_fix():
    sol = _solutions()
    with netlab.World(netlab.office_network(via="D", vm_gateway=False)) as w:
        def checks():
            return [network.check_default_gateway(w, "A", gateway="10.64.1.1"),
                    network.check_route(w, "A", dst="10.6.8.1", via="10.64.1.1", dev="en0"),
                    network.check_default_gateway(w, "B", gateway="10.6.0.1"),
                    network.check_route(w, "B", dst="10.64.1.46", via="10.6.0.1", dev="ens192"),
                    network.check_path(w, "A", dst="10.6.8.1", hops=["10.64.1.1", "10.6.8.1"]),
                    network.check_walk(w.trace("A", "10.6.8.1"), through=["A", "C", "B"], reply=False),
                    network.check_walk(w.trace("A", "10.6.8.1"), through=["A", "C", "B"])]
        before = checks()
        assert not any(c.ok for c in before), [str(c) for c in before]
        assert "via 10.64.1.254 (metric 0), expected via 10.64.1.1" in before[0].message
        assert "died at D" in before[5].message and "Network is unreachable" in before[5].message
        sol[0](w, {"world": w, "netlab": netlab})
        mid = checks()
        assert [c.ok for c in mid] == [True, True, False, False, False, True, False]
        assert "did not come back" in mid[6].message
        sol[1](w, {"world": w, "netlab": netlab})
        after = checks()
        assert all(c.ok for c in after), [str(c) for c in after]


@pytest.mark.root
def test_lab_part_b_checks_fail_before_and_pass_after_the_fix():
    sol = _solutions()
    with netlab.World(netlab.router_chain(4, omit=[("r3", "10.64.1.0/24")])) as w:
        def checks():
            return [network.check_route(w, "r3", dst="10.64.1.46", via="172.16.2.1", dev="eth0"),
                    network.check_path(w, "A", dst="10.6.8.1", hops=CHAIN_HOPS),
                    network.check_routers_crossed(w, "A", dst="10.6.8.1", answer=4),
                    network.check_walk(w.trace("A", "B"), through=["A", "r1", "r2", "r3", "r4", "B"])]
        before = checks()
        assert not any(c.ok for c in before), [str(c) for c in before]
        assert "nothing answered at hop 3" in before[1].message
        sol[2](w, {"world": w, "netlab": netlab})
        ns = {"world": w, "netlab": netlab}
        sol[3](w, ns)
        assert ns["routers_crossed"] == 4
        after = checks()
        assert all(c.ok for c in after), [str(c) for c in after]
        assert not network.check_routers_crossed(w, "A", dst="10.6.8.1", answer=3).ok


@pytest.mark.root
def test_the_chapters_packet_walks():
    """Section 2.5 (dies at D with D's reason), 2.6 (through C, TTL 64 -> 63), 2.7 (TTL 64 -> 60)."""
    with netlab.World(netlab.office_network("D")) as w:
        walk = w.trace("A", "10.6.8.1")
        assert not walk.delivered and walk.dropped_at == "D"
        assert "Network is unreachable" in walk.reason
        assert [h.node for h in walk.hops][-1] == "D"
        assert walk.reply is not None and "dest-unreach" in walk.reply.hops[0].headers
        assert network.check_walk(walk, through=["A", "D"], delivered=False).ok
    with netlab.World(netlab.office_network("C")) as w:
        walk = w.trace("A", "10.6.8.1")
        assert walk.delivered and walk.reply.delivered
        assert network.check_walk(walk, through=["A", "office", "C", "B"]).ok
        ttls = {h.node: h.ttl for h in walk.hops if h.direction == "out" and h.node in ("A", "C")}
        assert ttls == {"A": 64, "C": 63}
        first, last = walk.hops[0].headers, walk.hops[-1].headers
        assert first.startswith(f"eth {netlab.HOST_A_MAC} > {netlab.ROUTER_C_LAN_MAC}")
        assert last.startswith(f"eth {netlab.ROUTER_C_SERVER_MAC} > {netlab.VM_B_MAC}")
        assert "ip 10.64.1.46 > 10.6.8.1" in first and "ip 10.64.1.46 > 10.6.8.1" in last
        assert walk.text() == w.trace("A", "10.6.8.1").text()  # the page's text is the same every run
    with netlab.World(netlab.router_chain(4)) as w:
        walk = w.trace("A", "B")
        assert network.check_walk(walk, through=["A", "r1", "r2", "r3", "r4", "B"]).ok
        assert (walk.hops[0].ttl, walk.hops[-1].ttl) == (64, 60)
        assert (walk.reply.hops[0].ttl, walk.reply.hops[-1].ttl) == (64, 60)
