"""netlab.routetable: parsing the seed's three table formats and explaining lookups."""

import argparse
import io
import ipaddress

import netaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.calc.route_cli import add_routes_command, run_routes_command
from netlab.calc.route_lookup import lookup
from netlab.calc.routes import FLAGS, Route, RouteTableError, explain_flags
from netlab.calc.routetable import SEED_TABLES, RouteTable, detect_format, parse_routes

# Captured on Linux 6.1 / iproute2 6.1 / net-tools in an unprivileged user+net namespace.
LINUX_IP = """\
default via 10.0.0.2 dev d0 metric 50 
default via 10.0.0.1 dev d0 metric 100 
10.0.0.0/24 dev d0 proto kernel scope link src 10.0.0.5 
10.3.0.0/24 dev d1 proto kernel scope link src 10.3.0.1 linkdown 
10.5.0.0/24 via 10.5.0.0 dev d0 onlink 
unreachable 10.8.0.0/16 
blackhole 10.9.0.0/16 
169.254.0.0/16 dev d0 scope link metric 1000 
192.168.5.5 via 10.0.0.1 dev d0 proto static 
"""
LINUX_JSON = (
    '[{"dst":"default","gateway":"10.0.0.2","dev":"d0","metric":50,"flags":[]},'
    '{"dst":"default","gateway":"10.0.0.1","dev":"d0","metric":100,"flags":[]},'
    '{"dst":"10.0.0.0/24","dev":"d0","protocol":"kernel","scope":"link","prefsrc":"10.0.0.5","flags":[]},'
    '{"dst":"10.3.0.0/24","dev":"d1","protocol":"kernel","scope":"link","prefsrc":"10.3.0.1","flags":["linkdown"]},'
    '{"dst":"10.5.0.0/24","gateway":"10.5.0.0","dev":"d0","flags":["onlink"]},'
    '{"type":"unreachable","dst":"10.8.0.0/16","flags":[]},'
    '{"type":"blackhole","dst":"10.9.0.0/16","flags":[]},'
    '{"dst":"169.254.0.0/16","dev":"d0","scope":"link","metric":1000,"flags":[]},'
    '{"dst":"192.168.5.5","gateway":"10.0.0.1","dev":"d0","protocol":"static","flags":[]}]\n'
)
LINUX_ROUTE_N = """\
Kernel IP routing table
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface
0.0.0.0         10.0.0.2        0.0.0.0         UG    50     0        0 d0
0.0.0.0         10.0.0.1        0.0.0.0         UG    100    0        0 d0
10.0.0.0        0.0.0.0         255.255.255.0   U     0      0        0 d0
10.3.0.0        0.0.0.0         255.255.255.0   U     0      0        0 d1
10.5.0.0        10.5.0.0        255.255.255.0   UG    0      0        0 d0
10.8.0.0        -               255.255.0.0     !     0      -        0 -
10.9.0.0        0.0.0.0         255.255.0.0     U     0      0        0 *
169.254.0.0     0.0.0.0         255.255.0.0     U     1000   0        0 d0
192.168.5.5     10.0.0.1        255.255.255.255 UGH   0      0        0 d0
"""
LINUX_ROUTE_NAMES = LINUX_ROUTE_N.replace("0.0.0.0         10.0.0", "default         10.0.0") \
    .replace("169.254.0.0 ", "link-local  ")

# A macOS table with the older Refs/Use columns, ARP entries, scoped defaults and IPv6.
MAC_FULL = """\
Routing tables

Internet:
Destination        Gateway            Flags        Refs      Use   Netif Expire
default            10.10.10.1         UGSc           20       16     en0
default            192.168.0.1        UGScI           1        0     en1
10.10.10/24        link#4             UCS             1        0     en0
10.10.10.1/32      link#4             UCS             1        0     en0
10.10.10.1         bc:67:1c:40:3:f6   UHLWIir        21       14     en0   1193
127                127.0.0.1          UCS             0        0     lo0
127.0.0.1          127.0.0.1          UH             54  2734893     lo0
169.254            link#4             UCS             0        0     en0
172.16.111/24      link#11            UC              1        0  vmnet1
192.168.220        link#12            UC              1        0  vmnet8
192.168.0/24       link#6             UCSI            1        0     en1
224.0.0/4          link#4             UmCS            2        0     en0
10.99/16           10.10.10.1         UGSR            0        0     en0
10.98/16           10.10.10.1         UGSB            0        0     en0

Internet6:
Destination                             Gateway                         Flags         Netif Expire
default                                 fe80::1%en0                     UGcg            en0
::1                                     ::1                             UHL             lo0
"""


def net(text):
    return netaddr.IPNetwork(text)


# ---------------------------------------------------------------- seed tables


def test_seed_mac_host_a_parses_abbreviated_destinations():
    t = parse_routes(SEED_TABLES["mac-host-a"])
    assert t.format == "macos-netstat"
    assert [str(r.destination) for r in t] == ["0.0.0.0/0", "10.64.1.0/24", "10.64.1.1/32"]
    assert t[0].gateway == "10.64.1.1" and t[0].interface == "en0" and t[0].flags == "UGSc"
    assert t[1].gateway is None and t[1].link == "link#5" and t[1].expire == "!"
    assert t[0].metric is None


def test_seed_mac_host_a_reaches_vm_b_through_default_route():
    res = lookup(parse_routes(SEED_TABLES["mac-host-a"]), "10.6.8.1")
    assert res.index == 0 and res.outcome == "gateway" and res.next_hop == "10.64.1.1"
    assert res.reason == ("10.6.8.1 is not on any connected network, so the default route sends "
                          "it to gateway 10.64.1.1 on en0.")


def test_seed_mac_host_a_gateway_is_on_link():
    res = lookup(parse_routes(SEED_TABLES["mac-host-a"]), "10.64.1.1")
    assert res.index == 2 and res.outcome == "onlink"
    assert "link#5" in res.reason and "interface index 5" in res.reason
    assert [c.prefixlen for c in res.candidates] == [0, 24, 32]


def test_seed_vm_b_route_n():
    t = parse_routes(SEED_TABLES["vm-b"])
    assert t.format == "linux-route"
    assert [(str(r.destination), r.gateway, r.metric, r.flags, r.interface) for r in t] == [
        ("0.0.0.0/0", "10.6.0.1", 100, "UG", "ens192"),
        ("10.6.0.0/16", None, 100, "U", "ens192")]
    res = lookup(t, "10.6.8.1")
    assert res.index == 1 and res.outcome == "onlink" and res.next_hop == "10.6.8.1"
    assert res.reason.startswith("10.6.8.1 is on the directly connected network 10.6.0.0/16")
    back = lookup(t, "10.64.1.46")
    assert back.route.gateway == "10.6.0.1" and back.interface == "ens192"


def test_seed_node1_old_two_space_ip_route():
    t = parse_routes(SEED_TABLES["node1"])
    assert t.format == "iproute2" and len(t) == 4
    r = t[1]
    assert (str(r.destination), r.interface, r.proto, r.scope, r.src) == (
        "100.96.0.0/16", "flannel0", "kernel", "link", "100.96.1.0")
    res = lookup(t, "100.96.2.3")  # container-2 on Node 2, as the seed explains
    assert res.route is t[1] and res.interface == "flannel0"
    assert "100.96.0.0/16" in res.reason and "default /0" in res.reason
    assert lookup(t, "100.96.1.2").interface == "docker0"
    assert lookup(t, "10.168.0.3").interface == "eth0" and lookup(t, "10.168.0.3").outcome == "onlink"


def test_seed_node2():
    t = parse_routes(SEED_TABLES["node2"])
    assert [r.interface for r in t] == ["eth0", "flannel0", "docker0"]
    assert lookup(t, "100.96.2.3").interface == "docker0"
    assert lookup(t, "100.96.1.2").interface == "flannel0"
    assert lookup(t, "10.168.0.2").route.gateway == "10.168.0.1"  # the seed lists no eth0 subnet


def test_seed_container_plain_route_prints_default():
    t = parse_routes(SEED_TABLES["nginx-1"])
    assert t[0].is_default and t[0].gateway == "172.17.0.1"
    assert lookup(t, "172.17.0.1").index == 1


def test_seed_code_block_with_prompt_and_comment_parses():
    block = "```bash\n# 在 Node 1 上\n$ ip route\n" + SEED_TABLES["node1"] + "```\n"
    assert parse_routes(block) == parse_routes(SEED_TABLES["node1"])
    block = "[root@10-6-8-1 ~]# route -n\n" + SEED_TABLES["vm-b"]
    assert parse_routes(block) == parse_routes(SEED_TABLES["vm-b"])
    block = "➜  ~ netstat -nr\n" + SEED_TABLES["mac-host-a"]
    assert parse_routes(block) == parse_routes(SEED_TABLES["mac-host-a"])


@pytest.mark.parametrize("key", ["mac-host-a", "vm-b", "nginx-1"])
def test_to_text_reproduces_seed_route_n_and_netstat_exactly(key):
    text = SEED_TABLES[key]
    if key == "nginx-1":  # plain `route` printed "default"; the canonical form is numeric
        text = text.replace("default         ", "0.0.0.0         ")
    assert parse_routes(SEED_TABLES[key]).text() == text


def test_to_text_ip_route_uses_single_spaces():
    out = parse_routes(SEED_TABLES["node1"]).text()
    assert "100.96.0.0/16 dev flannel0 proto kernel scope link src 100.96.1.0\n" in out
    assert "  " not in out


def test_headerless_route_n_rows_and_host_route_to_zero():
    rows = "0.0.0.0         10.6.0.1        0.0.0.0         UG    100    0        0 ens192\n"
    assert detect_format(rows) == "linux-route"
    assert detect_format("0.0.0.0 via 10.0.0.1 dev eth0\n") == "iproute2"


@pytest.mark.parametrize("key", sorted(SEED_TABLES))
def test_detect_format_on_seed(key):
    expected = {"mac-host-a": "macos-netstat", "vm-b": "linux-route", "nginx-1": "linux-route",
                "node1": "iproute2", "node2": "iproute2"}[key]
    assert detect_format(SEED_TABLES[key]) == expected


# ---------------------------------------------------------------- other real outputs


def test_linux_ip_route_kinds():
    t = parse_routes(LINUX_IP)
    assert [r.type for r in t][5:7] == ["unreachable", "blackhole"]
    assert t[3].linkdown and t[4].onlink and t[8].prefixlen == 32 and t[8].proto == "static"
    assert t[7].metric == 1000 and t[0].metric == 50


def test_linux_json_matches_ip_route():
    tj, ti = parse_routes(LINUX_JSON), parse_routes(LINUX_IP)
    assert tj.format == "iproute2-json"
    strip = lambda t: [(r.destination, r.gateway, r.interface, r.metric, r.type, r.onlink,
                        r.linkdown, r.src, r.proto, r.scope) for r in t]
    assert strip(tj) == strip(ti)
    assert tj.text() == LINUX_JSON


def test_linux_route_n_reject_and_blackhole():
    t = parse_routes(LINUX_ROUTE_N)
    assert t[5].type == "unreachable" and t[5].interface is None and t[5].gateway is None
    assert t[6].type == "blackhole"
    assert t[8].flags == "UGH" and t[8].prefixlen == 32
    assert t.text() == LINUX_ROUTE_N


def test_linux_plain_route_names():
    t = parse_routes(LINUX_ROUTE_NAMES)
    assert t[0].is_default and t[7].destination == net("169.254.0.0/16")
    assert [lookup(t, a).index for a in ("1.1.1.1", "169.254.9.9")] == [0, 7]


def test_route_n_with_netstat_columns():
    text = ("Kernel IP routing table\n"
            "Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n"
            "0.0.0.0         192.0.2.1       0.0.0.0         UG        0 0          0 eth0\n"
            "192.0.2.0       0.0.0.0         255.255.255.0   U         0 0          0 eth0\n")
    t = parse_routes(text)
    assert t[0].gateway == "192.0.2.1" and t[0].metric == 0 and lookup(t, "192.0.2.9").index == 1


def test_macos_full_table():
    t = parse_routes(MAC_FULL)
    assert t.format == "macos-netstat" and len(t) == 14
    assert any("Internet6" in n for n in t.notes)
    d = {str(r.destination): r for r in t}
    assert "127.0.0.0/8" in d and "169.254.0.0/16" in d and "192.168.220.0/24" in d
    assert "224.0.0.0/4" in d and "10.10.10.1/32" in d and "127.0.0.1/32" in d
    assert t[4].link == "bc:67:1c:40:3:f6" and t[4].expire == "1193"


def test_macos_abbreviation_without_prefix_means_octets():
    text = SEED_TABLES["mac-host-a"].replace("10.64.1/24        ", "10.64.1           ")
    t = parse_routes(text)
    assert t[1].destination == net("10.64.1.0/24")


def test_macos_scoped_default_is_skipped():
    t = parse_routes(MAC_FULL)
    res = lookup(t, "8.8.8.8")
    assert res.index == 0
    scoped = [c for c in res.candidates if c.index == 1][0]
    assert not scoped.eligible and "flag I" in scoped.note
    # a subnet scoped to en1 is skipped too; the default on en0 carries it
    assert lookup(t, "192.168.0.7").index == 0
    # the ARP entry on the primary interface (en0) is an ordinary host route
    assert lookup(t, "10.10.10.1").index in (3, 4)


def test_macos_reject_and_blackhole_flags():
    t = parse_routes(MAC_FULL)
    rej = lookup(t, "10.99.1.1")
    assert rej.outcome == "unreachable" and rej.error == "Network is unreachable"
    bh = lookup(t, "10.98.1.1")
    assert bh.outcome == "blackhole" and not bh.delivered


def test_macos_no_route_says_no_route_to_host():
    text = SEED_TABLES["mac-host-a"].replace(
        "default            10.64.1.1          UGSc           en0\n", "")
    res = lookup(parse_routes(text), "10.6.8.1")
    assert res.route is None and res.error == "No route to host"


def test_multipath_route():
    text = ("default proto static metric 10\n"
            "\tnexthop via 10.0.0.1 dev eth0 weight 1\n"
            "\tnexthop via 10.0.1.1 dev eth1 weight 2\n"
            "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5\n")
    t = parse_routes(text)
    assert len(t) == 2 and t[0].gateway == "10.0.0.1" and len(t[0].nexthops) == 2
    assert parse_routes(t.text()) == t


def test_table_local_is_consulted_first():
    text = ("local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1\n"
            "127.0.0.0/16 dev eth9\n")
    res = lookup(parse_routes(text), "127.0.0.5")
    assert res.outcome == "local" and res.index == 0


# ---------------------------------------------------------------- lookup decisions


def test_longest_prefix_beats_lower_metric():
    t = parse_routes("10.0.0.0/8 via 192.0.2.1 metric 1\n10.1.0.0/16 via 192.0.2.2 metric 500\n")
    assert lookup(t, "10.1.2.3").index == 1
    assert lookup(t, "10.2.2.3").index == 0


def test_metric_breaks_tie_and_reason_says_so():
    res = lookup(parse_routes(LINUX_IP), "1.2.3.4")
    assert res.index == 0 and res.route.gateway == "10.0.0.2"
    assert "lowest metric" in res.reason and "50 beats 100" in res.reason
    t2 = parse_routes("default via 10.0.0.1 dev a metric 100\ndefault via 10.0.0.2 dev b metric 5\n")
    assert lookup(t2, "1.2.3.4").route.interface == "b"


def test_equal_metric_first_listed():
    t = parse_routes("default via 10.0.0.1 dev a\ndefault via 10.0.0.2 dev b\n")
    res = lookup(t, "1.2.3.4")
    assert res.index == 0 and "first one listed" in res.reason


def test_unreachable_when_nothing_matches():
    no_default = RouteTable(parse_routes(SEED_TABLES["node2"]).routes[1:], "iproute2")
    res = lookup(no_default, "8.8.8.8")
    assert res.route is None and res.outcome == "no-route"
    assert res.error == "Network is unreachable"
    assert '"Network is unreachable"' in res.reason and "ENETUNREACH" in res.reason


@pytest.mark.parametrize("addr,kind,error", [
    ("10.8.1.1", "unreachable", "No route to host"),
    ("10.9.1.1", "blackhole", "Invalid argument"),
])
def test_reject_routes_named(addr, kind, error):
    res = lookup(parse_routes(LINUX_IP), addr)
    assert res.outcome == kind and res.error == error and kind in res.reason


def test_prohibit_and_throw():
    t = parse_routes("prohibit 10.7.0.0/16\nthrow 10.4.0.0/16\ndefault via 10.0.0.1 dev eth0\n")
    assert lookup(t, "10.7.0.1").error == "Permission denied"
    thrown = lookup(t, "10.4.0.1")
    assert thrown.route is None and thrown.error == "Network is unreachable"
    assert "throw" in thrown.reason


def test_onlink_and_linkdown_explained():
    t = parse_routes(LINUX_IP)
    assert "onlink" in lookup(t, "10.5.0.9").reason
    assert "linkdown" in lookup(t, "10.3.0.9").reason


def test_host_route_wins():
    res = lookup(parse_routes(LINUX_IP), "192.168.5.5")
    assert res.route.prefixlen == 32 and res.next_hop == "10.0.0.1"


def test_lookup_accepts_text():
    assert lookup(SEED_TABLES["vm-b"], "10.6.8.1").index == 1


@pytest.mark.parametrize("addr,words", [
    ("", "Enter a destination"),
    ("10.6.8.256", "256 is larger than 255"),
    ("10.6.8", "four numbers"),
    ("10.6.8.x", "'x' is not a number"),
    ("10.0.0.0/8", "is a network"),
    ("fe80::1", "IPv6"),
    ("010.1.1.1", "leading zero"),
])
def test_bad_destination_messages(addr, words):
    with pytest.raises(RouteTableError) as exc:
        lookup(parse_routes(SEED_TABLES["vm-b"]), addr)
    assert words in str(exc.value)


def test_lookup_html_marks_chosen_and_candidates():
    html = lookup(parse_routes(SEED_TABLES["node1"]), "100.96.2.3").html()
    rows = html.split("<tr ")[1:]
    assert len(rows) == 4
    assert 'class="netlab-route-chosen"' in rows[1] and "flannel0" in rows[1]
    assert 'class="netlab-route-match"' in rows[0]
    assert 'class="netlab-route-nomatch"' in rows[2] and 'netlab-route-nomatch' in rows[3]
    assert "longest" in html


def test_lookup_html_escapes():
    t = parse_routes("default via 10.0.0.1 dev <b>x\n")
    assert "<b>x" not in lookup(t, "1.1.1.1").html()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("text,fmt,words", [
    ("10.0.0.0/24 dev eth0 bogus 1\n", None, ["Line 1", "'bogus'", "expected"]),
    ("default via 10.0.0.1 dev eth0\n10.0.0.0/33 dev eth0\n", None, ["Line 2", "10.0.0.0/33"]),
    ("10.0.0.1/24 dev eth0\n", None, ["Line 1", "not a network"]),
    ("default via eth0\n", None, ["gateway 'eth0'", "via"]),
    ("default via 10.0.0.1 metric x\n", None, ["metric 'x'"]),
    ("2001:db8::/32 dev eth0\n", None, ["IPv6"]),
    ("Kernel IP routing table\nDestination Gateway Genmask Flags Metric Ref Use Iface\n"
     "10.0.0.0 0.0.0.0 255.0.255.0 U 0 0 0 eth0\n", None, ["Line 3", "255.0.255.0"]),
    ("Kernel IP routing table\nDestination Gateway Genmask Flags Metric Ref Use Iface\n"
     "10.0.0.0 0.0.0.0 255.0.0.0 U 0 0 eth0\n", None, ["Line 3", "7 fields", "8"]),
    ("Kernel IP routing table\nDestination Gateway Genmask Flags Metric Ref Use Iface\n"
     "myhost 0.0.0.0 255.255.255.255 UH 0 0 0 eth0\n", None, ["'myhost' is a name", "route -n"]),
    (SEED_TABLES["mac-host-a"] + "10.64.x/24  link#5  UCS  en0\n", None, ["Line 8", "10.64.x/24"]),
    ("Routing tables\n\nInternet:\ndefault 10.0.0.1 UGSc en0\n", None, ["Line 4", "header"]),
    ("[{\"dst\": \"default\",}]", None, ["not valid JSON", "Line 1"]),
    ("[{\"gateway\": \"10.0.0.1\"}]", None, ["Route 1", "\"dst\""]),
    ("default via 10.0.0.1\n", "carrier-pigeon", ["Unknown table format"]),
])
def test_error_messages(text, fmt, words):
    with pytest.raises(RouteTableError) as exc:
        parse_routes(text, fmt)
    for w in words:
        assert w in str(exc.value)


def test_error_names_line_attributes():
    with pytest.raises(RouteTableError) as exc:
        parse_routes("default via 10.0.0.1 dev eth0\n\n10.1.0.0/16 frobnicate\n")
    assert exc.value.lineno == 3 and "frobnicate" in exc.value.line and exc.value.expected
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize("text", ["", "   \n\n", None])
def test_empty_input(text):
    with pytest.raises(RouteTableError, match="empty"):
        parse_routes(text)


def test_only_prompt_lines():
    with pytest.raises(RouteTableError, match="no route lines"):
        parse_routes("$ ip route\n")


def test_route_rejects_bad_destination():
    with pytest.raises(RouteTableError, match="not an IPv4 network"):
        Route("10.0.0.1/8")
    assert Route("10.0.0.0/8").destination == net("10.0.0.0/8")


# ---------------------------------------------------------------- flags


def test_flags_cover_documented_letters():
    assert set(FLAGS["linux-route"]) == set("UHGRDMAC!")
    assert set("UGSCcHLWIRBDMmbrXYig123") <= set(FLAGS["macos-netstat"])
    assert "RTF_IFSCOPE" in FLAGS["macos-netstat"]["I"]


def test_explain_flags_one_line_per_letter():
    lines = explain_flags("UGSc", "macos-netstat").splitlines()
    assert len(lines) == 4 and lines[0].startswith("U  RTF_UP") and "PRCLONING" in lines[3]
    lines = explain_flags("UG!", "linux-route").splitlines()
    assert [l[0] for l in lines] == ["U", "G", "!"] and "reject" in lines[2]
    assert "not a flag" in explain_flags("Q", "linux-route")
    assert explain_flags("onlink linkdown", "iproute2").count("\n") == 1


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("text", [SEED_TABLES[k] for k in sorted(SEED_TABLES)]
                         + [LINUX_IP, LINUX_JSON, LINUX_ROUTE_N, LINUX_ROUTE_NAMES, MAC_FULL])
def test_round_trip_examples(text):
    once = parse_routes(text)
    twice = parse_routes(once.text())
    assert twice == once
    assert twice.text() == once.text()


@pytest.mark.parametrize("fmt", ["linux-route", "iproute2", "iproute2-json", "macos-netstat"])
def test_convert_between_formats_keeps_lookups(fmt):
    t = parse_routes(SEED_TABLES["node1"])
    other = parse_routes(t.text(fmt))
    assert other.format == fmt
    for a in ("100.96.2.3", "100.96.1.9", "10.168.0.3", "8.8.8.8"):
        assert lookup(other, a).index == lookup(t, a).index


# ---------------------------------------------------------------- property tests

prefixes = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
    lambda t: ipaddress.IPv4Network((t[0] >> (32 - t[1]) << (32 - t[1]) if t[1] else 0, t[1])))
ip_routes = st.lists(
    st.tuples(prefixes, st.integers(0, 3), st.one_of(st.none(), st.integers(1, 254)),
              st.sampled_from(["eth0", "eth1", "docker0", "flannel0"])),
    min_size=0, max_size=12)


def _ip_line(p, metric, gw, dev):
    dst = "default" if p.prefixlen == 0 else str(p)
    via = f" via 10.0.0.{gw}" if gw else ""
    m = f" metric {metric}" if metric else ""
    return f"{dst}{via} dev {dev}{m}"


@settings(max_examples=300, deadline=None)
@given(ip_routes, st.integers(0, 2**32 - 1), st.booleans())
def test_lookup_agrees_with_bruteforce_oracle(routes, addr_int, two_spaces):
    lines = [_ip_line(*r) for r in routes]
    if two_spaces:
        lines = [l.replace(" dev ", " dev ").replace(" metric", "  metric") for l in lines]
    text = "\n".join(lines) + "\n"
    addr = ipaddress.IPv4Address(addr_int)
    matching = [(i, r) for i, r in enumerate(routes) if addr in r[0]]
    if not routes:
        with pytest.raises(RouteTableError):
            parse_routes(text)
        return
    table = parse_routes(text)
    res = lookup(table, str(addr))
    if not matching:
        assert res.route is None and res.error == "Network is unreachable"
        return
    best = max(r[0].prefixlen for _, r in matching)
    top = [(i, r) for i, r in matching if r[0].prefixlen == best]
    oracle = min(top, key=lambda ir: (ir[1][1], ir[0]))[0]
    assert res.index == oracle
    assert {c.index for c in res.candidates} == {i for i, _ in matching}


@settings(max_examples=200, deadline=None)
@given(ip_routes.filter(bool), st.sampled_from(["linux-route", "iproute2", "iproute2-json",
                                               "macos-netstat"]))
def test_round_trip_is_stable(routes, fmt):
    text = "\n".join(_ip_line(*r) for r in routes) + "\n"
    first = parse_routes(parse_routes(text).text(fmt))
    second = parse_routes(first.text())
    assert second == first
    assert [r.destination for r in first] == [netaddr.IPNetwork(str(r[0])) for r in routes]


# ---------------------------------------------------------------- CLI hook


def _cli(argv, stdin_text=None, monkeypatch=None):
    parser = argparse.ArgumentParser(prog="netlab")
    add_routes_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    if stdin_text is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin_text))
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_file_lookup(tmp_path):
    f = tmp_path / "mac.txt"
    f.write_text(SEED_TABLES["mac-host-a"])
    code, out, err = _cli(["routes", str(f), "--lookup", "10.6.8.1", "--explain-flags"])
    assert code == 0 and err == ""
    assert "gateway 10.64.1.1 on en0" in out and "RTF_STATIC" in out


def test_cli_stdin_unreachable(monkeypatch):
    code, out, _ = _cli(["routes", "-", "-l", "8.8.8.8"],
                        "10.0.0.0/24 dev eth0\n", monkeypatch)
    assert code == 1 and "Network is unreachable" in out


def test_cli_bad_input(tmp_path, monkeypatch):
    code, _, err = _cli(["routes", str(tmp_path / "missing.txt")])
    assert code == 2 and "cannot read" in err
    code, _, err = _cli(["routes", "-"], "default via nowhere\n", monkeypatch)
    assert code == 2 and "Line 1" in err
    code, _, err = _cli(["routes", "-", "-l", "1.2.3"], "default via 10.0.0.1\n", monkeypatch)
    assert code == 2 and "four numbers" in err


def test_run_routes_command_direct(tmp_path):
    f = tmp_path / "node1.txt"
    f.write_text(SEED_TABLES["node1"])
    args = argparse.Namespace(file=str(f), lookup=["100.96.2.3"], format="iproute2",
                              explain_flags=False)
    out, err = io.StringIO(), io.StringIO()
    assert run_routes_command(args, stdout=out, stderr=err) == 0
    assert out.getvalue().startswith("# ip route, 4 routes\n")
    assert "* /16 100.96.0.0/16 dev flannel0" in out.getvalue()


def test_explain_flags_iproute2_words_are_not_repeated():
    line = explain_flags("onlink", "iproute2")
    assert line.startswith("onlink  pretend the gateway")
    assert line.count("onlink") == 1
