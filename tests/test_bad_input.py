"""Issue 20: bad input never reaches a traceback.

Property tests generate junk for every surface (CIDR calculators, the routes reader and its CLI,
the topology API, the widgets' renderers) and check that only the project's own error escapes,
with one bounded sentence; the CLI answers with exit 2 and one stderr line. Each reproducer from
the issue is a regression test. Time is bounded by design (small inputs, bounded limits), never
by a timed assertion.
"""

import contextlib
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netlab import cli
from netlab.calc.cidr import CidrError, describe, same_subnet, split, supernet
from netlab.inputs import InputError, one_line, quote, whole_number
from netlab.calc.route_lookup import lookup
from netlab.calc.routes import RouteTableError
from netlab.calc.routetable import SEED_TABLES, parse_routes
from netlab.calc.route_widgets import render_route_lookup
from netlab.engine.topology import End, Topology, TopologyError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_MESSAGE = 600  # characters: one sentence quoting bounded excerpts

UNICODE_DIGITS = ["²", "١", "⑦", "٣", "𝟗", "߂", "१"]
HOSTILE = ["\n", "\x00", "'", '"', "#", "\\", "é", "\u2028", "\r", "/", "..", " "]
junk_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(list("0123456789./:-") + UNICODE_DIGITS + HOSTILE), max_size=40).map("".join),
    st.builds(lambda d: f"1.2.3.4/{d}", st.sampled_from(UNICODE_DIGITS + ["9" * 5000])),
)
junk_value = st.one_of(junk_text, st.none(), st.booleans(), st.integers(), st.floats(),
                       st.binary(max_size=10), st.lists(st.integers(), max_size=3),
                       st.just(10 ** 5000))


def _one_sentence(exc):
    text = str(exc)
    assert "\n" not in text and len(text) <= MAX_MESSAGE, text[:200]


# ------------------------------------------------------------------ the one number parser

@pytest.mark.parametrize("value", ["²", "١0", "⑦", " 1_0 ", "-1", "9" * 5000, True, 1.0, None, b"7"])
def test_whole_number_takes_ascii_digits_and_ints_only(value):
    with pytest.raises(InputError) as exc:
        whole_number(value, "the metric", hi=2 ** 32 - 1)
    _one_sentence(exc.value)


def test_whole_number_bounds_and_quote():
    assert whole_number(" 42 ", "n", hi=42) == 42 and whole_number(7, "n") == 7
    with pytest.raises(InputError, match=r"out of range: it must be 0 to 2\*\*128"):
        whole_number(2 ** 128 + 1, "n", hi=2 ** 128)
    assert quote(10 ** 5000) == "a number of about 5,001 digits"
    assert len(quote("x" * 10 ** 7)) < 100 and one_line("a\nb\x00") == "a\\nb\\x00"


# ------------------------------------------------------------------ CIDR calculators

@FAST
@given(junk_value, junk_value)
def test_cidr_functions_raise_only_cidr_error(a, b):
    for call in (lambda: describe(a), lambda: same_subnet(a, b), lambda: supernet([a, b]),
                 lambda: split("10.0.0.0/8", count=a), lambda: split("10.0.0.0/8", new_prefix=a),
                 lambda: split("::/0", new_prefix=128, limit=a)):
        try:
            call()
        except CidrError as exc:
            _one_sentence(exc)


@pytest.mark.parametrize("kw", [dict(count="²"), dict(count=1, limit=None), dict(count=1, limit=-1),
                                dict(count=1, limit=10 ** 9), dict(new_prefix=True), dict(count=10 ** 5000)])
def test_split_reproducers(kw):
    with pytest.raises(CidrError):
        split("10.0.0.0/8", **kw)


def test_split_limit_bounds_the_work():
    r = split("::/0", new_prefix=128, limit=4096)
    assert len(r.subnets) == 4096 and r.truncated


# ------------------------------------------------------------------ CLI

def _main(argv, capsys=None):
    # redirected here rather than by capsys, so hypothesis can call it many times in one test
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@FAST
@given(st.sampled_from(["cidr", "same-subnet", "split", "supernet", "routes"]),
       st.lists(junk_text, min_size=0, max_size=3),
       st.sampled_from([[], ["-n"], ["-p"], ["--limit"], ["-l"], ["--json"]]))
def test_cli_junk_exits_2_with_one_line(command, words, options):
    # routes reads standard input when given no file: give it an empty one
    argv = [command] + options + words
    if command == "routes" and not words:
        argv.append("/dev/null")
    code, out, err = _main(argv)
    assert code in (0, 1, 2)
    if code == 2:
        assert len(err.splitlines()) == 1 and err.startswith("netlab") and len(err) <= 500, err[:300]
        assert err.count("error:") <= 1 or "netlab routes" in err
    else:
        assert err == ""


@pytest.mark.parametrize("argv, needle", [
    (["cidr", "1.2.3.4/" + "9" * 5000], "characters long"),
    (["same-subnet", "1.2.3.4/" + "9" * 5000, "1.2.3.4/8"], "characters long"),
    (["supernet", "1.2.3.4/" + "9" * 5000], "characters long"),
    (["split", "::/0", "-p", "128", "--limit", "100000000"], "--limit 100000000 is out of range"),
    (["split", "10.0.0.0/8", "-n", "²"], "is not a whole number"),
    (["cidr", "1.2.3.4\n5/24"], r"'1.2.3.4\n5/24' contains whitespace"),
    (["cidr", "1.2.3.4/24", "--x\ny"], r"unrecognized arguments: --x\ny"),
])
def test_cli_reproducers(capsys, argv, needle):
    code, out, err = _main(argv, capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and needle in err, err
    assert err.startswith("netlab") and err.count("error:") == 1  # prefixed once, not twice


def test_routes_file_name_with_a_nul(capsys):
    """Found by test_cli_junk_exits_2_with_one_line: open() raises ValueError for such a name."""
    code, out, err = _main(["routes", "\x00"], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert "the file name has a NUL character" in err


def test_split_error_is_prefixed_once(capsys):
    code, _, err = _main(["split", "10.0.0.0/8"], capsys)
    assert code == 2 and err.startswith("netlab split: error: one of the arguments") and err.count("error:") == 1


def _routes(tmp_path, capsys, content, *options):
    path = tmp_path / "table.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return _main(["routes", str(path), *options], capsys)


@pytest.mark.parametrize("content, options, needle", [
    ("default via 10.0.0.1 dev eth0\n", ["-l", "1.2.3.²"], "'²' is not a number"),
    ("default via 10.0.0.1 dev eth0\n", ["-l", "١0.0.0.1"], "is not a number"),
    (SEED_TABLES["vm-b"].replace("UG    100", "UG    ⑦"), [], "the metric '⑦' is not a whole number"),
    ("default via 10.0.0.1 dev eth0 metric ³\n", [], "the metric '³'"),
    ("Internet:\nDestination Gateway Flags Netif Expire\n10.²/16 link#5 UCS en0\n", [], "not an IPv4 network"),
    ('[{"dst":"10.0.0.0/8","nexthops":5}]', [], '"nexthops": 5, not a list'),
    ('[{"dst":"10.0.0.0/8","nexthops":[{"gateway":"10.0.0.1","weight":"x"}]}]', [], "the weight 'x'"),
    ('[{"dst":"10.0.0.0/8","table":["main"]}]', ["-l", "10.1.1.1"], '"table": ["main"], not a string'),
    ('[{"dst":"10.0.0.0/8","dev":5}]', ["-l", "10.1.1.1"], '"dev": 5, not a string'),
    ('[{"dst":"10.0.0.0/8","metric":' + "9" * 5000 + "}]", [], "5,000 digits"),
    ("[" * 100_000, [], "nests brackets more than 16 deep"),
    ("default via 10.0.0.1 dev eth0 metric " + "9" * 5000 + "\n", [], "has 5,000 digits"),
    ("x" * 10_000_000, [], "larger than 1,024 KiB"),
    (b"default via\x00 10.0.0.1\n", [], "binary file"),
])
def test_routes_reproducers(tmp_path, capsys, content, options, needle):
    code, out, err = _routes(tmp_path, capsys, content, *options)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and len(err) <= 500, err[:300]
    assert needle in err, err


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_routes_reads_a_bounded_amount(capsys, device):
    code, _, err = _main(["routes", device], capsys)
    assert code == 2 and "larger than 1,024 KiB" in err and len(err.splitlines()) == 1


def test_routes_no_route_still_exits_1(tmp_path, capsys):
    code, out, err = _routes(tmp_path, capsys, "10.0.0.0/8 dev eth0\n", "-l", "192.0.2.1")
    assert code == 1 and "Network is unreachable" in out and err == ""


# ------------------------------------------------------------------ routes library

json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                      max_size=3),
                          max_leaves=8)
route_keys = st.sampled_from(["dst", "gateway", "dev", "metric", "flags", "table", "nexthops", "type",
                              "protocol", "scope", "prefsrc", "weight"])


@FAST
@given(st.lists(st.dictionaries(route_keys, json_value, max_size=5), max_size=3),
       st.sampled_from(["10.1.1.1", "1.2.3.²", "0.0.0.0"]))
def test_json_routes_wrong_types_raise_route_table_error(routes, destination):
    for r in routes:
        r.setdefault("dst", "10.0.0.0/8")
    text = json.dumps(routes)
    try:
        table = parse_routes(text)
        lookup(table, destination).text()
        table.text("iproute2")
        table.text("iproute2-json")
        table.text("linux-route")
    except RouteTableError as exc:
        _one_sentence(exc)


@FAST
@given(st.sampled_from(list(SEED_TABLES.values())), st.integers(0, 400), junk_text, junk_value)
def test_text_tables_with_junk_raise_route_table_error(table, at, insert, destination):
    text = table[:at] + insert + table[at:]
    try:
        lookup(parse_routes(text), destination)
    except RouteTableError as exc:
        _one_sentence(exc)
    html = render_route_lookup(text, destination if isinstance(destination, str) else "10.6.8.1")
    assert html and "Internal error" not in html


@pytest.mark.parametrize("value", [b"default via 10.0.0.1", 5, ["default"], "x" * (2 ** 20 + 1)])
def test_parse_routes_refuses_non_text_and_huge_text(value):
    with pytest.raises(RouteTableError) as exc:
        parse_routes(value)
    _one_sentence(exc.value)


def test_render_route_lookup_never_raises_on_unicode_digits():
    html = render_route_lookup(SEED_TABLES["vm-b"], "1.2.3.²")
    assert "netlab-error" in html and "Internal error" not in html


# ------------------------------------------------------------------ topology

def _base():
    t = Topology("t")
    t.add_node("a")
    t.add_node("b")
    t.add_link(End("a", "eth0", "10.0.0.1/24"), End("b", "eth0", "10.0.0.2/24"))
    return t


@pytest.mark.parametrize("call, needle", [
    (lambda t: t.add_node("n\n"), "node name"),
    (lambda t: Topology("x\n"), "topology name"),
    (lambda t: t.add_bridge("a", "br0", mac="02:00:00:00:00:01\n"), "is not a MAC address"),
    (lambda t: t.add_sysctl("a", "net.ipv4.ip_forward\n", 1), "net.* keys"),
    (lambda t: t.add_bridge("a", "é" * 9), "18 bytes (9 characters)"),
    (lambda t: t.add_bridge("a", "br#0"), "may use only"),
    (lambda t: t.add_bridge("a", "br'0"), "may use only"),
    (lambda t: t.add_bridge("a", "br\x000"), "may use only"),
    (lambda t: t.add_bridge("a", "br0\\"), "may use only"),
    (lambda t: t.add_vxlan("a", "vx", vni=True, local="10.0.0.1", dev="eth0"), "vni"),
    (lambda t: t.add_vxlan("a", "vx", vni=2 ** 24, local="10.0.0.1", dev="eth0"), "vni"),
    (lambda t: t.add_vxlan("a", "vx", vni=1, local="10.0.0.1", dev="eth0", dstport=True), "dstport"),
    (lambda t: t.add_route("a", "default", via="10.0.0.2", metric=2 ** 40), "metric"),
    (lambda t: t.add_route("a", "default", via="10.0.0.2", metric=True), "metric"),
    (lambda t: t.add_neigh("a", "eth0", "10.0.0.9", None), "MAC address"),
    
    (lambda t: t.add_node("c", sysctls=[("net.ipv4.ip_forward", "1")]), "must be a dict"),
    (lambda t: t.add_bridge("a", "br0", address=5), "address must be a string"),
    (lambda t: t.add_route("a", "default", dev=["eth0"]), "dev must be an interface name"),
    (lambda t: t.add_route(["a"], "default", via="10.0.0.2"), "a node is named by a string"),
    (lambda t: t.add_bridge("a", "br0", mtu=True), "mtu"),
    (lambda t: t.add_route("a", "default", via=167772162), "is not an IP address"),
    (lambda t: t.add_sysctl("a", "net.ipv4.ip_forward", "1\nx"), "one line"),
    (lambda t: t.add_iptables("a", "-A INPUT -j ACCEPT\r"), "iptables-save"),
])
def test_topology_reproducers(call, needle):
    with pytest.raises(TopologyError, match=None) as exc:
        call(_base())
    assert needle in str(exc.value)
    _one_sentence(exc.value)


names = st.one_of(st.text(max_size=20), st.lists(st.sampled_from(list("ab0_.-") + HOSTILE), max_size=20).map("".join),
                  st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2))


@FAST
@given(names, names, names, junk_value, junk_value)
def test_topology_api_raises_only_topology_error(node, ifname, other, number, address):
    t = _base()
    calls = [lambda: t.add_node(node), lambda: t.add_bridge("a", ifname, address=address, mtu=number),
             lambda: t.add_link(End("a", ifname, address), End("b", other)),
             lambda: t.add_vxlan("a", ifname, vni=number, local="10.0.0.1", dev=other),
             lambda: t.add_route("a", other, via=address, metric=number),
             lambda: t.add_sysctl(node, other, number), lambda: t.add_neigh("a", ifname, address, other),
             lambda: t.add_iptables("a", other, table=node)]
    for call in calls:
        try:
            call()
        except TopologyError as exc:
            _one_sentence(exc)
    # whatever was accepted is what the kernel and `ip -batch` take as it is
    for n in t.nodes.values():
        for i in n.interfaces.values():
            assert len(i.name.encode()) <= 15 and i.name.isascii() and i.name.isprintable()
            assert not set(i.name) & set(" #'\"\\/:")


# ------------------------------------------------------------------ widgets

def test_encapsulation_explorer_payload_text_is_a_clear_error():
    from netlab.flannel.widgets import encapsulation_explorer, encapsulation_html
    with pytest.raises(InputError, match="payload must be a number of bytes such as 56, not the text '56'"):
        encapsulation_explorer(payload="56")
    assert "Bad size." in encapsulation_html("100.96.1.2", "100.96.2.3", payload="²")
    assert "Not an address." in encapsulation_html(5, "100.96.2.3")


def test_bridge_explorer_on_a_bridge_without_ports_says_so():
    from netlab.docker.widgets import BridgeError, BridgeSnapshot, bridge_explorer
    box = bridge_explorer(BridgeSnapshot("node1", "docker0", "172.17.0.1", "02:42:00:00:00:01", {}))
    assert "has no ports" in box.children[0].value
    with pytest.raises(BridgeError, match="a bridge snapshot is a dict"):
        bridge_explorer({"node": "node1"})


@FAST
@given(junk_value, junk_value, junk_value)
def test_vxlan_frame_renderer_never_raises(vni, port, payload):
    from netlab.flannel.vxlan_widgets import frame_html
    assert frame_html(vni=vni, port=port, payload=payload)


def test_routes_stdin_bounded(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("x" * (2 ** 20 + 10)))
    code, _, err = _main(["routes"], capsys)
    assert code == 2 and "larger than" in err
