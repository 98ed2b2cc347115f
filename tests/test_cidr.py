"""netlab.cidr: the seed's worked values, edge cases, and ipaddress as an oracle."""

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.calc.cidr import CidrError, describe, network, same_subnet, seed_tables, split, supernet

SEED = "10.233.64.0/18"

# --------------------------------------------------------------------------- seed values


def test_seed_table_1_network_address():
    t = seed_tables(SEED).tables[0]
    assert [(r.binary, r.decimal) for r in t.rows] == [
        ("00001010.11101001.01000000.00000000", "10.233.64.0"),
        ("11111111.11111111.11000000.00000000", "255.255.192.0"),
        ("00001010.11101001.01000000.00000000", "10.233.64.0"),
    ]
    assert "网络地址" in t.title and "子网掩码" in t.rows[1].label and "IP地址" in t.rows[0].label


def test_seed_table_2_host_part_of_mask():
    t = seed_tables(SEED).tables[1]
    assert [(r.binary, r.decimal) for r in t.rows] == [
        ("11111111.11111111.11000000.00000000", "255.255.192.0"),
        ("00000000.00000000.00111111.11111111", "0.0.63.255"),
    ]
    assert "子网掩码中主机地址" in t.result.label


def test_seed_table_3_max_ip():
    st3 = seed_tables(SEED)
    t = st3.tables[2]
    assert [(r.binary, r.decimal) for r in t.rows] == [
        ("00001010.11101001.01000000.00000000", "10.233.64.0"),
        ("00000000.00000000.00111111.11111111", "0.0.63.255"),
        ("00001010.11101001.01111111.11111111", "10.233.127.255"),
    ]
    assert "最大IP地址" in t.result.label and "broadcast" in t.result.label
    assert any("broadcast" in n and "10.233.127.254" in n for n in st3.notes)


def test_seed_tables_text_aligned_and_complete():
    text = seed_tables(SEED).text()
    for s in ["10.233.64.0", "255.255.192.0", "0.0.63.255", "10.233.127.255", "10.233.127.254",
              "00001010.11101001.01111111.11111111"]:
        assert s in text
    # Within each table the binary column starts at the same display column.
    block = text.split("\n\n")[1].splitlines()[1:]
    cols = [line.index("0000101") if "0000101" in line else line.index("1111") for line in block]
    from netlab.calc.cidr import _display_width

    assert len({_display_width(line[:c]) for line, c in zip(block, cols)}) == 1


def test_seed_tables_html_colours_network_and_host_bits():
    h = seed_tables(SEED).html()
    nets = re.findall(r"<span class='netbits'[^>]*>([01.]+)</span>", h)
    hosts = re.findall(r"<span class='hostbits'[^>]*>([01.]+)</span>", h)
    # First row: 18 network bits, 14 host bits.
    assert nets[0] == "00001010.11101001.01"
    assert hosts[0] == "000000.00000000"
    assert "background:#1f3a93" in h and "background:#ffd54f" in h
    assert "legend" in h and "network bits" in h and "host bits" in h


def test_seed_tables_ipv6_uses_16_bit_groups():
    t = seed_tables("2001:db8::1/64")
    r = t.tables[0].rows[0]
    assert r.binary.split(":")[0] == "0010000000000001" and len(r.binary.split(":")) == 8
    assert t.tables[2].result.decimal == "2001:db8::ffff:ffff:ffff:ffff"
    assert "no broadcast" in " ".join(t.notes)


def test_describe_seed():
    d = describe(SEED)
    assert (d.network, d.netmask, d.hostmask, d.broadcast) == (
        "10.233.64.0", "255.255.192.0", "0.0.63.255", "10.233.127.255")
    assert (d.first_host, d.last_host) == ("10.233.64.1", "10.233.127.254")
    assert (d.num_addresses, d.usable_hosts, d.prefixlen, d.version) == (16384, 16382, 18, 4)
    assert not d.host_bits_set


def test_describe_host_with_host_bits():
    d = describe("192.168.0.3/26")
    assert d.host_bits_set and d.network == "192.168.0.0" and d.broadcast == "192.168.0.63"
    assert any("192.168.0.0/26" in n for n in d.notes)


def test_network_strict_message():
    with pytest.raises(CidrError, match=r"^192\.168\.0\.3/26 has host bits set; the network is 192\.168\.0\.0/26$"):
        network("192.168.0.3/26")
    assert str(network("192.168.0.3/26", strict=False)) == "192.168.0.0/26"


def test_slash_31_point_to_point():
    d = describe("10.0.0.0/31")
    assert d.broadcast is None and (d.first_host, d.last_host, d.usable_hosts) == ("10.0.0.0", "10.0.0.1", 2)
    assert any("RFC 3021" in n for n in d.notes)


@pytest.mark.parametrize("cidr", ["10.0.0.5/32", "2001:db8::5/128"])
def test_single_host(cidr):
    d = describe(cidr)
    assert d.num_addresses == d.usable_hosts == 1 and d.first_host == d.last_host == cidr.split("/")[0]
    assert any("single host" in n for n in d.notes)


def test_ipv6_no_broadcast_and_anycast_note():
    d = describe("2001:db8::/64")
    assert d.broadcast is None and d.first_host == "2001:db8::1"
    assert d.last_host == "2001:db8::ffff:ffff:ffff:ffff" and d.usable_hosts == 2**64 - 1
    assert any("Subnet-Router anycast" in n for n in d.notes)
    assert any("no broadcast" in n for n in d.notes)


def test_dotted_netmask_accepted():
    assert describe("10.233.64.0/255.255.192.0").prefixlen == 18


@pytest.mark.parametrize(
    "bad, pattern",
    [
        ("10.233.64.0/33", r"prefix length /33 is out of range 0-32 for IPv4"),
        ("2001:db8::/129", r"prefix length /129 is out of range 0-128 for IPv6"),
        ("300.1.1.1/8", r"octet 300 is out of range 0-255"),
        ("abc", r"'abc' is not an IP address"),
        ("", r"empty input"),
        ("   ", r"empty input"),
        ("1.2.3/24", r"has 3 parts; an IPv4 address has exactly 4 octets"),
        ("1.2.3.4.5/24", r"has 5 parts"),
        ("10.0.0.0 /8", r"contains whitespace"),
        ("10.0.0.0/", r"nothing after '/'"),
        ("/8", r"nothing before '/'"),
        ("10.0.0.0/8/9", r"more than one '/'"),
        ("10.0.0.0/x", r"prefix length 'x' is not a number"),
        ("10.0.0.0/+8", r"prefix length '\+8' is not a number"),
        ("10..0.0/8", r"octet 2 is empty"),
        ("10.a.0.0/8", r"octet 2 'a' is not a decimal number"),
        ("010.0.0.0/8", r"leading zero"),
        ("10.0.0.0", r"has no prefix length"),
        ("10.0.0.0/255.0.255.0", r"not a netmask"),
        ("2001:db8::g/64", r"not a valid IPv6 address"),
        ("fe80::1%eth0/64", r"zone indexes"),
        (None, r"got NoneType"),
        (42, r"got int"),
    ],
)
def test_bad_input_messages(bad, pattern):
    with pytest.raises(CidrError, match=pattern) as exc:
        describe(bad)
    assert "\n" not in str(exc.value)


def test_cidr_error_is_value_error():
    assert issubclass(CidrError, ValueError)


# --------------------------------------------------------------------------- same_subnet


def test_seed_same_subnet_exercise():
    r = same_subnet("192.168.0.3/26", "192.168.0.192/26")
    assert r.same is False and not r
    assert (r.a_network, r.b_network) == ("192.168.0.0", "192.168.0.192")
    assert "gateway" in r.message
    a, b = r.working
    assert a.rows[0].binary == "11000000.10101000.00000000.00000011"
    assert a.rows[1].binary == "11111111.11111111.11111111.11000000"
    assert a.rows[2].decimal == "192.168.0.0" and b.rows[2].decimal == "192.168.0.192"
    assert "network address of 192.168.0.192/26" in r.message


def test_same_subnet_yes():
    r = same_subnet("192.168.0.3/26", "192.168.0.60/26")
    assert r.same and r.a_sees_b_on_link and r.b_sees_a_on_link


def test_same_subnet_different_prefix_views():
    r = same_subnet("10.0.0.1/8", "10.1.0.2/24")
    assert not r.same and r.a_sees_b_on_link and not r.b_sees_a_on_link
    assert "10.1.0.2/24 sees 10.0.0.1 as off-link" in r.message


def test_same_subnet_mixed_families():
    with pytest.raises(CidrError, match="cannot compare IPv4 192.168.0.3/26 with IPv6 2001:db8::1/64"):
        same_subnet("192.168.0.3/26", "2001:db8::1/64")


# --------------------------------------------------------------------------- split / supernet


def test_split_count_rounds_up():
    r = split(SEED, count=3)
    assert r.new_prefix == 20 and r.num_subnets == 4
    assert list(r) == ["10.233.64.0/20", "10.233.80.0/20", "10.233.96.0/20", "10.233.112.0/20"]
    assert any("rounded up to 4" in n for n in r.notes)


def test_split_exact_power_has_no_rounding_note():
    assert not any("rounded" in n for n in split(SEED, count=4).notes)


def test_split_new_prefix_and_truncation():
    r = split("10.0.0.0/8", new_prefix=24, limit=10)
    assert r.num_subnets == 65536 and len(r) == 10 and r.truncated
    assert r.subnets[-1] == "10.0.9.0/24"
    assert sum(1 for _ in r.iter_all()) == 65536


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(prefix="10.0.0.0/30", count=8), r"needs /33, but IPv4 prefixes stop at /32"),
        (dict(prefix="10.0.0.0/24", new_prefix=16), r"shorter than"),
        (dict(prefix="10.0.0.0/24", new_prefix=33), r"out of range 0-32"),
        (dict(prefix="10.0.0.0/24"), r"exactly one of count"),
        (dict(prefix="10.0.0.0/24", count=2, new_prefix=25), r"exactly one of count"),
        (dict(prefix="10.0.0.0/24", count=0), r"at least 1"),
        (dict(prefix="10.0.0.0/24", count="many"), r"whole number"),
        (dict(prefix="10.0.0.1/24", count=2), r"host bits set; the network is 10.0.0.0/24"),
    ],
)
def test_split_errors(kwargs, pattern):
    with pytest.raises(CidrError, match=pattern):
        split(**kwargs)


def test_supernet_seed_pods():
    r = supernet(["10.233.64.0/18", "10.233.128.0/18"])
    assert r.supernet == "10.233.0.0/16" and r.merged == ("10.233.64.0/18", "10.233.128.0/18")
    assert r.extra_addresses == 2**16 - 2 * 2**14


def test_supernet_exact_merge_and_string_input():
    r = supernet("10.0.0.0/24, 10.0.1.0/24\n10.0.2.0/23")
    assert r.supernet == "10.0.0.0/22" and r.merged == ("10.0.0.0/22",) and r.extra_addresses == 0


def test_supernet_single():
    assert supernet(["10.0.0.0/24"]).supernet == "10.0.0.0/24"


@pytest.mark.parametrize(
    "arg, pattern",
    [
        ([], r"no prefixes given"),
        ("", r"no prefixes given"),
        (["10.0.0.0/8", "::/0"], r"cannot mix IPv4"),
        (["10.0.0.1/8"], r"host bits set"),
        (5, r"expected a list of prefixes"),
    ],
)
def test_supernet_errors(arg, pattern):
    with pytest.raises(CidrError, match=pattern):
        supernet(arg)


# --------------------------------------------------------------------------- oracle properties

EDGE4 = st.sampled_from([0, 1, 8, 30, 31, 32])
EDGE6 = st.sampled_from([0, 1, 64, 126, 127, 128])


@st.composite
def interfaces(draw, version=None):
    v = draw(st.sampled_from([4, 6])) if version is None else version
    bits = 32 if v == 4 else 128
    p = draw(st.one_of(st.integers(0, bits), EDGE4 if v == 4 else EDGE6))
    addr = draw(st.one_of(st.integers(0, 2**bits - 1), st.integers(0, 2**32)))
    cls = ipaddress.IPv4Interface if v == 4 else ipaddress.IPv6Interface
    return cls((addr % 2**bits, p))


def _oracle_hosts(net):
    if net.version == 4:
        if net.prefixlen <= 30:
            return net.network_address + 1, net.broadcast_address - 1, net.num_addresses - 2
        return net.network_address, net.broadcast_address, net.num_addresses
    if net.prefixlen <= 126:
        return net.network_address + 1, net.broadcast_address, net.num_addresses - 1
    return net.network_address, net.broadcast_address, net.num_addresses


@settings(max_examples=400, deadline=None)
@given(interfaces())
def test_describe_matches_ipaddress(iface):
    d = describe(iface.with_prefixlen)
    net = iface.network
    assert d.network == str(net.network_address)
    assert d.netmask == str(net.netmask)
    assert d.hostmask == str(net.hostmask)
    assert d.num_addresses == net.num_addresses
    assert d.prefixlen == net.prefixlen and d.version == net.version
    first, last, usable = _oracle_hosts(net)
    assert (d.first_host, d.last_host, d.usable_hosts) == (str(first), str(last), usable)
    if net.version == 4 and net.prefixlen <= 30:
        assert d.broadcast == str(net.broadcast_address)
    else:
        assert d.broadcast is None
    assert d.host_bits_set == (iface.ip != net.network_address)
    # Small networks: the host range agrees with ipaddress.hosts() itself.
    if net.num_addresses <= 1024:
        hosts = list(net.hosts())
        assert (str(hosts[0]), str(hosts[-1]), len(hosts)) == (d.first_host, d.last_host, d.usable_hosts)


@settings(max_examples=300, deadline=None)
@given(interfaces(4))
def test_seed_tables_bitwise_match_ipaddress(iface):
    net = iface.network
    t = seed_tables(iface.with_prefixlen)
    assert t.tables[0].result.decimal == str(net.network_address)
    assert t.tables[1].result.decimal == str(net.hostmask)
    assert t.tables[2].result.decimal == str(net.broadcast_address)
    assert t.tables[0].rows[0].binary.replace(".", "") == format(int(iface.ip), "032b")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_same_subnet_matches_ipaddress(data):
    a = data.draw(interfaces())
    b = data.draw(st.one_of(interfaces(a.version), st.builds(
        lambda h: type(a)((int(a.network.network_address) + h % a.network.num_addresses, a.network.prefixlen)),
        st.integers(0, 2**128))))
    r = same_subnet(a.with_prefixlen, b.with_prefixlen)
    assert r.same == (a.network == b.network)
    assert r.a_network == str(a.network.network_address) and r.b_network == str(b.network.network_address)
    assert r.a_sees_b_on_link == (b.ip in a.network)
    assert r.b_sees_a_on_link == (a.ip in b.network)


@settings(max_examples=300, deadline=None)
@given(interfaces(), st.integers(0, 8))
def test_split_matches_ipaddress(iface, extra):
    net = iface.network
    bits = 32 if net.version == 4 else 128
    target = net.prefixlen + extra
    if target > bits:
        with pytest.raises(CidrError):
            split(str(net), new_prefix=target)
        return
    r = split(str(net), new_prefix=target, limit=300)
    assert list(r.subnets) == [str(s) for s in net.subnets(new_prefix=target)]
    count = 2**extra - (1 if extra > 1 else 0)  # not a power of two when extra > 1
    r2 = split(str(net), count=count, limit=300)
    assert r2.new_prefix == target and r2.num_subnets == 2**extra


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([4, 6]).flatmap(lambda v: st.lists(interfaces(v), min_size=1, max_size=6)))
def test_supernet_matches_ipaddress(ifaces):
    nets = [i.network for i in ifaces]
    r = supernet([str(n) for n in nets])
    # merge == collapse_addresses
    assert list(r.merged) == [str(n) for n in ipaddress.collapse_addresses(nets)]
    # supernet: the smallest prefix containing the lowest and highest addresses
    lo = min(n.network_address for n in nets)
    hi = max(n.broadcast_address for n in nets)
    span = next(
        s for s in (ipaddress.ip_network((lo, p), strict=False) for p in range(lo.max_prefixlen, -1, -1))
        if hi in s
    )
    assert r.supernet == str(span)
    assert all(n.subnet_of(span) for n in nets)
    assert r.extra_addresses == span.num_addresses - sum(n.num_addresses for n in ipaddress.collapse_addresses(nets))
