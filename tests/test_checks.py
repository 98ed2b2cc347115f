"""netlab.checks: one vocabulary of lab checks, and netlab.compare_packets. No privileges: the checks
read recorded kernel output through a stand-in world; the comparisons run on frames built with scapy.
Live runs of the same checks are in the chapters' tests and the labs' nbval runs."""

import inspect
import json

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

import netlab
from netlab.checks import docker as docker_checks, flannel as flannel_checks, network
from netlab import flannel

from test_kernel import World

CHECKS = ["check_bridge_port", "check_counters", "check_datagram", "check_default_gateway", "check_default_route",
          "check_fdb", "check_flannel_routes", "check_lease", "check_link", "check_nat_rule", "check_neighbour",
          "check_path", "check_renumbered", "check_route", "check_route_entry", "check_route_error", "check_routers_crossed", "check_vtep", "check_walk",
          # labs 3, 5 and 6 (issue 15)
          "check_bridge_address", "check_client", "check_forwarding", "check_mtu_overhead", "check_ping",
          "check_route_choice", "check_vxlan_frame", "check_watched"]


def test_every_check_is_a_top_level_name_with_keyword_arguments():
    for name in CHECKS:
        check = getattr(netlab, name)
        params = list(inspect.signature(check).parameters.values())
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional in (["world", "node"], ["walk"], ["before", "after"], ["captured"]), (name, positional)
    assert netlab.diagnose_docker is docker_checks.diagnose


FDB = {("node1", "bridge -j fdb show br docker0"): json.dumps([
           {"mac": "02:42:ac:11:00:02", "ifname": "veth9c02e56", "master": "docker0", "state": ""},
           {"mac": "02:42:ac:11:00:03", "ifname": "veth9c02e56", "master": "docker0", "state": ""}]),
       ("node1", "bridge -j fdb show dev flannel.1"): json.dumps([
           {"mac": "5e:f8:4f:00:e3:37", "ifname": "flannel.1", "dst": "10.168.0.3", "state": "permanent"},
           {"mac": "5e:f8:4f:00:e3:38", "ifname": "flannel.1", "dst": "10.168.0.4"}])}


def test_check_fdb_keeps_both_questions_apart():
    w = World(FDB)
    learned = netlab.check_fdb(w, "node1", mac="02:42:AC:11:00:02", bridge="docker0", port="veth9c02e56")
    assert learned and learned.message == "docker0 on node1 has learned 02:42:ac:11:00:02 on port veth9c02e56"
    moved = netlab.check_fdb(w, "node1", mac="02:42:ac:11:00:03", bridge="docker0", port="veth49a9513")
    assert moved.message == "docker0 learned 02:42:ac:11:00:03 on veth9c02e56; expected on veth49a9513"
    remote = netlab.check_fdb(w, "node1", mac="5e:f8:4f:00:e3:37", dev="flannel.1", dst="10.168.0.3")
    assert remote.message == "flannel.1 in node1 sends frames for 5e:f8:4f:00:e3:37 to 10.168.0.3 (self permanent)"
    assert "but not permanent" in netlab.check_fdb(w, "node1", mac="5e:f8:4f:00:e3:38", dev="flannel.1",
                                                   dst="10.168.0.4").message
    assert "has no FDB entry" in netlab.check_fdb(w, "node1", mac="5e:f8:4f:00:e3:39", dev="flannel.1",
                                                  dst="10.168.0.5").message
    for wrong in ({"bridge": "docker0"}, {"dev": "flannel.1"}, {"bridge": "docker0", "port": "p", "dev": "x", "dst": "y"}):
        with pytest.raises(ValueError):
            netlab.check_fdb(w, "node1", mac="02:42:ac:11:00:02", **wrong)


def test_check_neighbour_permanent_is_a_parameter():
    w = World({("node1", "ip -j neigh show dev flannel.1"): json.dumps([
        {"dst": "10.1.16.0", "dev": "flannel.1", "lladdr": "5e:f8:4f:00:e3:37", "state": ["REACHABLE"]}])})
    plain = netlab.check_neighbour(w, "node1", ip="10.1.16.0", mac="5e:f8:4f:00:e3:37", dev="flannel.1")
    assert plain.message == "node1 maps 10.1.16.0 to 5e:f8:4f:00:e3:37 on flannel.1 (REACHABLE)"
    strict = netlab.check_neighbour(w, "node1", ip="10.1.16.0", mac="5e:f8:4f:00:e3:37", dev="flannel.1", permanent=True)
    assert not strict and "as REACHABLE; expected a PERMANENT entry" in strict.message and "nud" not in strict.message
    assert w.asked == [("node1", "ip -j neigh show dev flannel.1")] * 2  # one read per check


def test_check_route_asks_the_kernel_check_route_entry_reads_the_table():
    w = World({("node1", "ip -j route get 10.1.16.3"): json.dumps([{"dst": "10.1.16.3", "gateway": "10.1.16.0",
                                                                    "dev": "flannel.1", "flags": ["onlink"]}]),
               ("node1", "ip -j route show dev flannel.1"): json.dumps([{"dst": "10.1.16.0/24", "gateway": "10.1.16.0",
                                                                         "flags": []}])})
    assert netlab.check_route(w, "node1", dst="10.1.16.3", dev="flannel.1").message == \
        "node1 reaches 10.1.16.3 via 10.1.16.0 out of flannel.1"
    entry = netlab.check_route_entry(w, "node1", subnet="10.1.16.0/24", gateway="10.1.16.0", dev="flannel.1")
    assert not entry and entry.message.startswith("node1 routes 10.1.16.0/24 via 10.1.16.0 on flannel.1 without the onlink")


def test_docker_checks_read_the_nat_table_and_routes():
    w = World({("node1", "iptables -t nat -S -v"): "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE -c 2 168\n",
               ("nginx-1", "ip -j route show default"): "[]",
               ("node1", "ip -j link show master docker0"): json.dumps([{"ifname": "veth9c02e56", "flags": ["UP"]}])})
    rule = netlab.check_nat_rule(w, "node1", rule=netlab.docker.MASQUERADE_RULE, min_packets=1)
    assert rule and rule.given == 2
    assert not netlab.check_nat_rule(w, "node1", rule=netlab.docker.MASQUERADE_RULE, min_packets=3)
    assert "has no default route" in netlab.check_default_route(w, "nginx-1").message
    assert netlab.check_bridge_port(w, "node1", bridge="docker0", port="veth9c02e56")
    assert "its ports: veth9c02e56" in netlab.check_bridge_port(w, "node1", bridge="docker0", port="veth49a9513").message


def test_flannel_checks_without_a_world():
    assert not netlab.check_counters({"tun_reads": 0}, {"tun_reads": 3}, packets=1)
    ok = netlab.check_counters({}, {"tun_reads": 3, "udp_sends": 3, "udp_recvs": 3, "tun_writes": 3}, packets=3)
    assert ok and "tun_reads +3" in ok.message
    inner = IP(src="100.96.3.4", dst="100.96.1.2") / ICMP()
    datagram = Ether() / netlab.encapsulate_udp(Ether() / inner, "10.168.0.4", "10.168.0.2")
    found = netlab.check_datagram([datagram], outer=("10.168.0.4", "10.168.0.2"), inner=("100.96.3.4", "100.96.1.2"))
    assert found and found.message.startswith("a datagram 10.168.0.4 -> 10.168.0.2:8285 carried 100.96.3.4 -> 100.96.1.2")
    missed = netlab.check_datagram([datagram], outer=("10.168.0.2", "10.168.0.4"), inner=("100.96.1.2", "100.96.3.4"))
    assert "seen: 10.168.0.4 -> 10.168.0.2 carrying 100.96.3.4 -> 100.96.1.2" in missed.message


def test_check_vtep_names_what_differs():
    link = {"ifname": "flannel.1", "mtu": 1500, "flags": ["BROADCAST"],
            "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 2, "local": "10.168.0.4", "port": 8472,
                                                             "learning": True}}}
    w = World({("node3", "ip -j -d addr show flannel.1"): json.dumps([link]),
               ("node3", "ip -j link show dev eth0"): json.dumps([{"ifname": "eth0", "mtu": 1500}])})
    c = netlab.check_vtep(w, "node3", local="10.168.0.4", mac="5e:f8:4f:00:e3:38", address="10.1.17.0/32")
    assert c.message == ("flannel.1 in node3: VNI 2, expected 1; learning on, expected nolearning; MAC None, expected"
                         " 5e:f8:4f:00:e3:38; lower device none, expected eth0; MTU 1500, expected 1450 (eth0's 1500"
                         " minus VXLAN's 50); addresses none, expected 10.1.17.0/32 alone; down, expected up"
                         " (see chapter 6, section 6.3 The seed's five steps on the real kernel)")


# ------------------------------------------------------------------ one comparison, three reports
def _echo():
    frames = netlab.docker.echo_frames("172.17.0.2", "172.17.0.3")
    sent = frames["echo_request"].copy()
    sent[IP].id, sent[IP].chksum, sent[ICMP].chksum = 4242, None, None
    sent["Raw"].load = b"\x01" * 16 + bytes(sent["Raw"].load[16:])
    return Ether(bytes(sent)), frames["echo_request"]


def test_plain_frames_fill_what_the_kernel_and_ping_chose():
    captured, built = _echo()
    c = netlab.compare_packets(captured, built)
    assert c.equal and c.filled == ["IP id (and so the IP checksum)",
                                    "payload bytes 0-15 = ping's send time (and so the ICMP checksum)"]
    assert str(c).startswith("equal: True   filled by the kernel/ping: IP id")
    other = netlab.docker.echo_frames("172.17.0.2", "172.17.0.4")["echo_request"]
    assert not netlab.compare_packets(captured, other).equal


def test_udp_report_is_field_by_field():
    inner = Ether() / IP(src="100.96.1.2", dst="100.96.2.3", ttl=64) / ICMP()
    built = netlab.encapsulate_udp(inner, "10.168.0.2", "10.168.0.3")
    lines = netlab.compare_packets(Ether() / built, built, encapsulation="udp").lines
    assert all(l.startswith("=") for l in lines) and lines[-1].endswith("identical byte for byte")
    assert "= outer IP  ttl    captured           64  built           64" in lines


def test_vxlan_report_names_the_bytes():
    inner = IP(src="10.1.15.2", dst="10.1.16.3", ttl=64) / ICMP()
    args = dict(lan_src_mac="02:00:0a:a8:00:02", lan_dst_mac="02:00:0a:a8:00:03", src="10.168.0.2", dst="10.168.0.3",
                vtep_src_mac=flannel.NODE1_VTEP_MAC, vtep_dst_mac=flannel.SEED_VTEP_MAC, ip_id=7)
    a, b = netlab.build_vxlan_frame(inner, sport=40000, **args), netlab.build_vxlan_frame(inner, sport=40001, **args)
    same = netlab.compare_packets(a, a, encapsulation="vxlan")
    assert same.equal and same.lines[0] == "captured 92 bytes, built 92 bytes: identical byte for byte"
    assert "outer UDP source port: from the inner flow's hash, in 32768-60999: True" in same.text()
    differ = netlab.compare_packets(a, b, encapsulation="vxlan")
    assert not differ.equal and "outer UDP source port" in differ.lines[0]
    assert UDP in differ.captured
    with pytest.raises(ValueError):
        netlab.compare_packets(a, b, encapsulation="gre")


# ------------------------------------------------------------------ the chapters' exercises (issue 15.4)
def test_exercise_checks_compute_the_answer_and_hint_without_giving_it():
    from netlab.checks import exercises

    mac_a = netlab.parse_routes(netlab.SEED_ROUTE_TABLES["mac-host-a"])
    cases = [  # (check, right, wrong, the right answer, which a wrong answer's message must not show)
        (lambda a: exercises.check_subnet_count("10.233.64.0/18", 24, a), 64, 32, "64"),
        (lambda a: exercises.check_nth_subnet("10.233.64.0/18", 24, 3, a), "10.233.66.0/24", "10.233.67.0/24",
         "10.233.66.0"),
        (lambda a: exercises.check_shared_prefix("192.168.0.3", "192.168.0.192", a), 24, 26, "/24"),
        (lambda a: exercises.check_next_hop(mac_a, "10.64.1.200", a), "10.64.1.200", "10.64.1.1", "on-link: the"),
        (lambda a: exercises.check_next_hop(mac_a, "8.8.8.8", a), "10.64.1.1", "10.64.1.254", "10.64.1.1"),
        (lambda a: exercises.check_routers_from_ttl(121, a), 7, 57, " 7"),
        (lambda a: exercises.check_container_mac("172.17.0.5", a), "02:42:ac:11:00:05", "02:42:ac:11:00:04",
         "ac:11:00:05"),
        (lambda a: exercises.check_return_route(a), "172.17.0.0/16 via 10.168.0.2", "172.17.0.0/16 via 10.168.0.3",
         "10.168.0.2"),
        (lambda a: exercises.check_tunnel_mtu(1450, a), 1422, 1450, "1422"),
        (lambda a: exercises.check_tunnel_mtu(1500, a, backend="vxlan"), 1450, 1472, "1450"),
        (lambda a: exercises.check_entry_order(a), "neigh fdb route", "route neigh fdb", "neigh, fdb, route"),
    ]
    for check, right, wrong, secret in cases:
        assert check(right).ok, check(right)
        bad = check(wrong)
        assert not bad and secret not in bad.message, bad
        for nothing in ("", None, "nonsense", 3.5j):
            c = check(nothing)
            assert not c.ok and c.message, c
    assert exercises.check_shared_prefix("192.168.0.3", "192.168.0.192", "/24")
    assert "longer prefix still does" in exercises.check_shared_prefix("192.168.0.3", "192.168.0.192", 16).message
    assert "number 2" in exercises.check_nth_subnet("10.233.64.0/18", 24, 3, "10.233.65.0/24").message
    assert "does not hold" in exercises.check_return_route("10.0.0.0/8 via 10.168.0.2").message
    assert exercises.check_return_route("ip route add 172.17.0.0/16 via 10.168.0.2")
    assert "the route last is right" in exercises.check_entry_order(["fdb", "neigh", "route"]).message


def test_the_exercise_cells_sit_beside_their_dropdowns_and_start_blank():
    import nbformat
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for name, count in (("ch01_cidr", 4), ("ch02_gateways", 2), ("ch03_docker_bridge", 1), ("ch04_docker_nat", 1),
                        ("ch05_flannel_udp", 1), ("ch06_flannel_vxlan", 1)):
        nb = nbformat.read(root / "book" / f"{name}.ipynb", as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# Exercise")]
        assert len(cells) == count, name
        for cell in cells:
            before = nb.cells[nb.cells.index(cell) - 1]
            assert before.cell_type == "markdown" and ":class: dropdown" in before.source
            shown = "".join(o.get("text", "") for o in cell.outputs) + "".join(
                o.get("data", {}).get("text/plain", "") for o in cell.outputs)
            assert "✗" in shown and "✓" not in shown and "Traceback" not in shown, (name, shown)
