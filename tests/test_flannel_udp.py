"""Chapter 5: the lease store, the UDP flanneld, and what they do between two nodes in a world."""

import contextlib
import dataclasses
import inspect
import ipaddress
import json
import os
import sys
import threading

import pytest
from scapy.layers.inet import ICMP, IP, UDP

import netlab
from netlab import flannel
from netlab.packets import flannel as packets
from netlab.flannel.store import MemoryStore
from netlab.flannel.subnet import Config, Daemon, acquire_lease, lease_value
from netlab.flannel.udp import decide, decide_from_udp, decrement_ttl, net_unreachable

CONFIG = json.dumps(flannel.NETWORK_CONFIG)


def store_contract(store):
    """The client API every store must honour; returns the number of checks that ran.

    Shipped by source into a node, so it imports what it uses and raises AssertionError.
    """
    import time as _time
    d = "/netlab-contract"
    assert store.get(d + "/missing") is None
    idx = store.set(d + "/a", "1")
    assert isinstance(idx, int) and idx > 0
    assert store.get(d + "/a") == "1"
    store.set(d + "/a", "2")
    assert store.get(d + "/a") == "2"
    assert store.create(d + "/b", "x") is True
    assert store.create(d + "/b", "y") is False, "prevExist=false must refuse an existing key"
    assert store.get(d + "/b") == "x"
    assert store.ls(d) == [d + "/a", d + "/b"]
    items, index = store.items(d)
    assert items == {d + "/a": "2", d + "/b": "x"} and index >= idx
    assert store.watch(d, index, timeout=0.3) == []
    store.set(d + "/c", "3", ttl=600)
    ev = store.watch(d, index, timeout=2)
    assert len(ev) == 1 and ev[0].key == d + "/c" and ev[0].value == "3" and ev[0].index == index + 1
    assert store.delete(d + "/c") is True and store.delete(d + "/c") is False
    ev = store.watch(d, index + 1, timeout=2)
    assert ev[0].action == "delete" and ev[0].value is None
    results = []
    t0 = _time.monotonic()
    import threading as _th
    w = _th.Thread(target=lambda: results.extend(store.watch(d, index + 2, timeout=5)))
    w.start()
    _time.sleep(0.2)
    store.set(d + "/d", "4")
    w.join()
    assert [e.key for e in results] == [d + "/d"] and _time.monotonic() - t0 < 5
    assert store.ls(d + "/nothing-here") == []
    return 11


# ------------------------------------------------------------------ no privileges
def test_memory_store_contract():
    assert store_contract(MemoryStore()) == 11


def test_subnet_keys():
    assert flannel.subnet_key("100.96.1.0/24") == "/coreos.com/network/subnets/100.96.1.0-24"
    assert flannel.key_subnet("/coreos.com/network/subnets/100.96.2.0-24") == "100.96.2.0/24"


def test_config_defaults_like_flannel():
    c = Config.parse(CONFIG)
    assert c.network == ipaddress.IPv4Network("100.96.0.0/16") and c.subnet_len == 24 and c.port == 8285
    cands = list(c.candidates())
    assert cands[0] == ipaddress.IPv4Network("100.96.1.0/24")  # SubnetMin skips the first subnet
    assert cands[-1] == ipaddress.IPv4Network("100.96.255.0/24") and len(cands) == 255
    with pytest.raises(flannel.FlannelError, match="bad network config"):
        Config.parse('{"Net": 1}')


def test_skeleton_removes_then_adds_each_changed_peer_once():
    """The daemon skeleton's diff: what a backend (UDP, VXLAN, host-gw) programs per peer lease."""
    calls = []

    class Recording(Daemon):
        def add_peer(self, subnet, entry):
            calls.append(("add", str(subnet), entry))

        def remove_peer(self, subnet, entry):
            calls.append(("remove", str(subnet), entry))
    d = Recording(MemoryStore())
    a, b = ipaddress.IPv4Network("100.96.2.0/24"), ipaddress.IPv4Network("100.96.3.0/24")
    d.set_peers({a: "10.168.0.3", b: "10.168.0.4"})
    d.set_peers({a: "10.168.0.3"})
    d.set_peers({a: "10.168.0.5"})
    assert calls == [("add", "100.96.2.0/24", "10.168.0.3"), ("add", "100.96.3.0/24", "10.168.0.4"),
                     ("remove", "100.96.3.0/24", "10.168.0.4"),
                     ("remove", "100.96.2.0/24", "10.168.0.3"), ("add", "100.96.2.0/24", "10.168.0.5")]


def test_lease_value_fields():
    assert json.loads(lease_value("10.168.0.3")) == {"PublicIP": "10.168.0.3", "PublicIPv6": None,
                                                     "BackendType": "udp", "BackendData": None}


def test_leases_never_collide_under_a_race():
    store = MemoryStore()
    store.set(flannel.CONFIG_KEY, json.dumps({"Network": "100.96.0.0/22", "SubnetLen": 24}))
    config = Config.parse(store.get(flannel.CONFIG_KEY))
    got, barrier = {}, threading.Barrier(3)

    def node(ip):
        barrier.wait()
        got[ip] = acquire_lease(store, config, ip)
    threads = [threading.Thread(target=node, args=(f"10.168.0.{i}",)) for i in (2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, got.values())) == ["100.96.1.0/24", "100.96.2.0/24", "100.96.3.0/24"]
    with pytest.raises(flannel.FlannelError, match="no free subnet"):
        acquire_lease(store, config, "10.168.0.5")


def test_restart_reuses_its_lease():
    store = MemoryStore()
    store.set(flannel.CONFIG_KEY, CONFIG)
    config = Config.parse(CONFIG)
    first = acquire_lease(store, config, "10.168.0.3", preferred="100.96.2.0/24")
    logs = []
    again = acquire_lease(store, config, "10.168.0.3", log=logs.append)
    assert first == again == ipaddress.IPv4Network("100.96.2.0/24")
    assert "reusing" in logs[0] and store.ls(flannel.SUBNETS) == [flannel.subnet_key("100.96.2.0/24")]
    assert 86000 < store.ttl(flannel.subnet_key("100.96.2.0/24")) <= 86400


def _echo(dst="100.96.2.3", ttl=63):
    return bytes(IP(src="100.96.1.2", dst=dst, ttl=ttl) / ICMP(id=7, seq=1) / b"abcdefgh")


def _probe(dst="100.96.2.3", ttl=63, **ip):
    return bytes(IP(src="100.96.1.2", dst=dst, ttl=ttl, **ip) / UDP(sport=40000, dport=53) / b"abcdefgh")


def test_forwarding_decisions():
    routes = flannel.routes_from_leases(
        {flannel.subnet_key("100.96.1.0/24"): lease_value("10.168.0.2"),
         flannel.subnet_key("100.96.2.0/24"): lease_value("10.168.0.3")},
        own=ipaddress.IPv4Network("100.96.1.0/24"))
    assert routes == {ipaddress.IPv4Network("100.96.2.0/24"): "10.168.0.3"}  # our own lease is left out
    d = decide(_echo(), routes, "100.96.1.0")
    assert d.action == "send" and d.peer == ("10.168.0.3", 8285)
    assert IP(d.data).ttl == 62 and IP(d.data)[ICMP].seq == 1
    d = decide(_echo("100.96.9.9"), routes, "100.96.1.0")
    assert d.action == "drop" and "RFC 792" in d.reason  # no lease, but ICMP: flannel answers nothing
    d = decide(_probe("100.96.9.9"), routes, "100.96.1.0")
    assert d.action == "reply"
    reply = IP(d.data)
    assert (reply.src, reply.dst, reply.ttl) == ("100.96.1.0", "100.96.1.2", 8)
    assert (reply[ICMP].type, reply[ICMP].code) == (3, 0)
    assert decide(_echo(ttl=1), routes, "100.96.1.0").action == "drop"
    assert decide(b"\x60" + bytes(39), routes, "100.96.1.0").action == "drop"


def test_ttl_and_checksums_match_scapy():
    out = decrement_ttl(_echo(ttl=63))
    rebuilt = IP(out)
    del rebuilt.chksum
    assert bytes(IP(bytes(rebuilt))) == out and IP(out).ttl == 62
    err = net_unreachable(_probe("100.96.9.9"), "100.96.1.0")
    p = IP(err)
    ref = IP(src="100.96.1.0", dst="100.96.1.2", ttl=8, id=0) / ICMP(type=3, code=0) / _probe("100.96.9.9")[:28]
    assert err == bytes(ref)
    assert net_unreachable(err, "100.96.1.0") is None  # never an error about an error
    assert p[ICMP].type == 3


def test_the_receiving_daemon_decrements_the_ttl_too():
    """proxy_amd64.c calls decrement_ttl in udp_to_tun as in tun_to_udp: 64 - 4 = 60 end to end."""
    d = decide_from_udp(_echo(ttl=62))
    assert d.action == "write" and IP(d.data).ttl == 61
    rebuilt = IP(d.data)
    del rebuilt.chksum
    assert bytes(IP(bytes(rebuilt))) == d.data  # the checksum follows the TTL
    assert decide_from_udp(_echo(ttl=1)).action == "drop"  # TTL runs out in the daemon: no ICMP either
    assert decide_from_udp(b"\x60" + bytes(39)).action == "drop"


def test_no_net_unreachable_about_icmp_or_later_fragments():
    """send_net_unreachable: nothing about any ICMP packet (RFC 792) or a non-first fragment."""
    routes = {}
    assert net_unreachable(_echo("100.96.9.9"), "100.96.1.0") is None  # an echo request, not only errors
    later = _probe("100.96.9.9", frag=185, flags="MF")  # offset 1480 bytes
    assert net_unreachable(later, "100.96.1.0") is None
    d = decide(later, routes, "100.96.1.0")
    assert d.action == "drop" and "first fragment" in d.reason
    first = _probe("100.96.9.9", flags="MF")  # the first fragment is answered
    assert IP(decide(first, routes, "100.96.1.0").data)[ICMP].type == 3
    echo_reply = bytes(IP(src="100.96.1.2", dst="100.96.9.9") / ICMP(type=0))
    assert decide(echo_reply, routes, "100.96.1.0").action == "drop"


def test_encapsulation_builder():
    inner = IP(src="100.96.1.2", dst="100.96.2.3", ttl=64) / ICMP() / (b"x" * 56)
    built = packets.encapsulate(inner, "10.168.0.2", "10.168.0.3")
    assert len(bytes(built)) == len(bytes(inner)) + 28
    assert built[UDP].dport == 8285 and built[UDP][IP].ttl == 62
    assert "84 bytes + outer IP 20 + UDP 8 = 112" in packets.overhead(84)


def test_topology_is_the_seeds():
    t = netlab.flannel_udp()
    assert list(t.nodes) == ["lan", "node1", "container-1", "node2", "container-2"]
    assert t.nodes["container-1"].interfaces["eth0"].addresses == ["100.96.1.2/24"]
    assert t.nodes["container-2"].interfaces["eth0"].addresses == ["100.96.2.3/24"]
    assert t.nodes["node2"].interfaces["docker0"].addresses == ["100.96.2.1/24"]
    assert t.nodes["lan"].interfaces["br0"].addresses == ["10.168.0.1/24"]
    assert "node3" in netlab.flannel_udp(nodes=3).nodes


# ------------------------------------------------------------------ root: live worlds
IS_ROOT = os.geteuid() == 0
root = pytest.mark.skipif(not IS_ROOT, reason="TUN devices need real root (/dev/net/tun)")


def _contract_in_node(w, node, url):
    code = "\n".join(["from netlab.flannel.store import EtcdV2Client", inspect.getsource(store_contract),
                      f"print(store_contract(EtcdV2Client({url!r})))"])
    return w.run(node, [sys.executable, "-c", code], timeout=60)


@contextlib.contextmanager
def udp_world(name: str, **flanneld_options):
    """Chapter 5's two nodes with a store, the network config and a flanneld on each, peers known;
    ``world.store`` is the store. FLANNELD_OPTIONS go to both daemons (tun_standin, tun_prefix32)."""
    with netlab.World(netlab.flannel_udp(), name=name) as w:
        w.store = flannel.start_store(w)
        flannel.put_config(w, w.store)
        for node in ("node1", "node2"):
            flannel.start_flanneld(w, node, w.store, **flanneld_options)
        flannel.wait_for_peers(w, ["node1", "node2"])
        yield w


@pytest.fixture(scope="module")
def world():
    if not IS_ROOT:
        pytest.skip("TUN devices need real root (/dev/net/tun)")
    with udp_world("test_flannel_udp") as w:
        yield w


@pytest.mark.root
@root
@pytest.mark.skipif(flannel.etcd_version() is None, reason="etcd is not installed (Debian etcd-server)")
def test_contract_against_real_etcd():
    with netlab.World(netlab.flannel_udp(nodes=1), name="test_flannel_etcd") as w:
        store = flannel.start_store(w, embedded=False)
        assert store.kind == "etcd"
        assert _contract_in_node(w, "node1", store.url).stdout.strip() == "11"


@pytest.mark.root
@root
def test_contract_against_embedded_store():
    with netlab.World(netlab.flannel_udp(nodes=1), name="test_flannel_embedded") as w:
        store = flannel.start_store(w, embedded=True)
        assert store.kind == "embedded" and "embedded store" in str(store)
        assert _contract_in_node(w, "node1", store.url).stdout.strip() == "11"
        flannel.put_config(w, store)
        flannel.start_flanneld(w, "node1", store)
        assert flannel.etcdctl(w, "node1", store, "ls", flannel.SUBNETS).stdout == \
            "/coreos.com/network/subnets/100.96.1.0-24\n"


@pytest.mark.root
def test_lease_layout_and_seed_outputs(world):
    ls = flannel.etcdctl(world, "node1", world.store, "ls", "--sort", flannel.SUBNETS)
    assert ls.stdout == ("/coreos.com/network/subnets/100.96.1.0-24\n"
                         "/coreos.com/network/subnets/100.96.2.0-24\n")
    get = flannel.etcdctl(world, "node1", world.store, "get", flannel.subnet_key("100.96.2.0/24"))
    assert json.loads(get.stdout)["PublicIP"] == "10.168.0.3"
    r1 = world.run("node1", "ip route").stdout
    assert "100.96.0.0/16 dev flannel0 proto kernel scope link src 100.96.1.0" in r1
    assert "100.96.1.0/24 dev docker0 proto kernel scope link src 100.96.1.1" in r1
    assert "default via 10.168.0.1 dev eth0" in r1
    link = json.loads(world.run("node1", "ip -j -d link show dev flannel0").stdout)[0]
    assert link["mtu"] == 1500 - 28 and link["linkinfo"]["info_kind"] == "tun"
    assert link["linkinfo"]["info_data"]["pi"] is False  # IFF_NO_PI
    assert netlab.kernel.route_get(world, "node1", "100.96.2.3").dev == "flannel0"


@pytest.mark.root
def test_ping_through_the_daemons(world):
    r = world.run("container-1", "ping -c 2 -i 0.2 -W 2 100.96.2.3")
    assert "2 received" in r.stdout
    assert "ttl=60" in r.stdout  # node2, node2's flanneld, node1's flanneld, node1: four decrements


@pytest.mark.root
def test_traceroute_stars_at_both_daemons(world):
    r = world.run("container-1", "traceroute -n -q 1 -w 1 100.96.2.3", check=False)
    hops = [l.split()[1] for l in r.stdout.splitlines()[1:]]
    assert hops == ["100.96.1.1", "*", "*", "100.96.2.0", "100.96.2.3"], r.stdout


@pytest.mark.root
def test_captured_datagram_matches_scapy(world):
    with world.capture("node1", "docker0", "icmp") as inner_cap, \
            world.capture("lan", "br0", "udp port 8285") as cap:
        world.run("container-1", "ping -c 1 -W 2 100.96.2.3")
    inner = [p for p in inner_cap.packets if p[IP].dst == "100.96.2.3"][0]
    packets.bind_flannel_udp()
    sent = [p for p in cap.packets if p[IP].src == "10.168.0.2"]
    assert len(sent) == 1
    outer = sent[0]
    assert (outer[UDP].sport, outer[UDP].dport) == (8285, 8285)
    assert outer[UDP][IP].src == "100.96.1.2" and outer[UDP][IP].dst == "100.96.2.3"
    assert len(outer[IP]) == len(inner[IP]) + 28
    built = packets.encapsulate(inner, "10.168.0.2", "10.168.0.3")
    lines = netlab.compare_packets(outer, built, encapsulation="udp").lines
    bad = [l for l in lines if not l.startswith("=") and not (l.startswith("~") and "chksum" in l)]
    assert not bad and "identical byte for byte" in lines[-1], "\n".join(lines)


@pytest.mark.root
def test_unknown_destination_ping_gets_silence_udp_gets_net_unreachable(world):
    with world.capture("node1", "flannel0", "icmp") as cap:
        r = world.run("container-1", "ping -c 1 -W 1 100.96.9.9", check=False)
    assert "1 packets transmitted, 0 received, 100% packet loss" in r.stdout and "Unreachable" not in r.stdout
    assert [p[ICMP].type for p in cap.packets] == [8]  # the echo request went in; nothing came out
    assert "as it is ICMP, and flannel sends no ICMP error about ICMP (RFC 792)" in \
        world.run("node1", "tail -n 1 /run/flannel/node1.log").stdout
    walk = world.trace("container-1", "100.96.9.9")
    assert not walk.delivered and walk.reply is None and "RFC 792" in walk.reason
    # A UDP probe is answered, from flannel0's own address: node1's kernel drops that as a martian.
    walk = world.trace("container-1", "100.96.9.9", proto="udp", port=53)
    err = walk.reply
    assert err is not None and err.kind == "error" and err.hops[0].packet[IP].src == "100.96.1.0"
    assert err.hops[0].packet[IP].ttl == 8 and not err.delivered and "martian" in err.reason
    world.run("node1", "sysctl -w net.ipv4.conf.flannel0.accept_local=1")
    try:
        r = world.run("container-1", "traceroute -n -q 1 -w 1 -m 2 100.96.9.9", check=False)
        assert "100.96.1.0" in r.stdout and "!N" in r.stdout, r.stdout
        assert world.trace("container-1", "100.96.9.9", proto="tcp", port=80).reply.delivered
    finally:
        world.run("node1", "sysctl -w net.ipv4.conf.flannel0.accept_local=0")


@pytest.mark.root
def test_flanneld_adds_the_flannel0_route_itself(world):
    """configureIface's RouteAdd: "File exists" with the /16 address (the kernel's route came first)..."""
    log = flannel.flanneld_log(world, "node1").stdout
    assert "$ ip route add 100.96.0.0/16 dev flannel0 scope global" in log and "File exists" in log


@pytest.mark.root
@root
def test_with_a_32_address_the_route_is_flanneld_s_own():
    """...and since flannel v0.11 a /32 address, so the kernel adds no route: only flanneld's makes one."""
    with udp_world("test_flannel_prefix32", tun_prefix32=True) as w:
        assert "inet 100.96.1.0/32 scope global flannel0" in w.run("node1", "ip addr show flannel0").stdout
        routes = w.run("node1", "ip route show dev flannel0").stdout
        assert routes.split("\n")[0].split() == ["100.96.0.0/16"]  # proto boot (not shown), no src
        assert "File exists" not in flannel.flanneld_log(w, "node1").stdout
        assert "ttl=60" in w.run("container-1", "ping -c 1 -W 2 100.96.2.3").stdout


@pytest.mark.root
def test_too_big_for_flannel0(world):
    r = world.run("container-1", "ping -c 1 -W 1 -M do -s 1472 100.96.2.3", check=False)
    assert "Frag needed and DF set (mtu = 1472)" in r.stdout
    with world.capture("lan", "br0", "udp port 8285 and src host 10.168.0.2") as cap:
        world.run("container-1", "ping -c 1 -W 2 -M dont -s 1472 100.96.2.3")
    assert len(cap.packets) == 2  # fragmented before flannel0, one datagram per fragment
    assert all(len(p[IP]) <= 1500 for p in cap.packets)


@pytest.mark.root
@root
def test_restart_reuses_lease_and_daemons_die_with_the_world():
    with netlab.World(netlab.flannel_udp(), name="test_flannel_life") as w:
        store = flannel.start_store(w)
        flannel.put_config(w, store)
        flannel.start_flanneld(w, "node2", store, subnet="100.96.2.0/24")
        w.stop("flanneld-node2")
        assert w.run("node2", "ip link show flannel0", check=False).returncode != 0  # TUN gone with its fd
        w.run("node2", "rm /run/flannel/node2.log")
        flannel.start_flanneld(w, "node2", store)
        assert "reusing it" in flannel.flanneld_log(w, "node2").stdout
        assert flannel.etcdctl(w, "node2", store, "ls", "--sort", flannel.SUBNETS).stdout == \
            "/coreos.com/network/subnets/100.96.2.0-24\n"
        netns = w.info()["nodes"]["node2"]
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _is_flanneld(p, netns)]
        assert len(pids) == 1
    assert not any(os.path.exists(f"/proc/{p}") and _is_flanneld(str(p), netns) for p in pids)


def _is_flanneld(pid, netns_inode):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        return b"netlab.flannel\0udp" in cmd and os.stat(f"/proc/{pid}/ns/net").st_ino == netns_inode
    except OSError:
        return False


# ------------------------------------------------------------------ the TTL update, buffers, the TUN stand-in
def test_incremental_ttl_checksum_equals_a_full_recompute():
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.integers(2, 255), st.integers(0, 0xFFFF), st.binary(min_size=8, max_size=8), st.integers(0, 255))
    def check(ttl, ident, addrs, tos):
        packet = bytes(IP(src=".".join(map(str, addrs[:4])), dst=".".join(map(str, addrs[4:])), ttl=ttl,
                          id=ident, tos=tos) / ICMP() / b"x")
        out = decrement_ttl(packet)
        full = bytearray(out[:20])
        full[10:12] = b"\0\0"
        assert out[8] == ttl - 1 and int.from_bytes(out[10:12], "big") == flannel.checksum(bytes(full))
    check()


def test_socket_buffers_are_raised():
    import socket
    from netlab.flannel.udp import SOCKET_BUFFER, set_buffers
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        default = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        rcv, snd = set_buffers(s)
    assert rcv > default and snd > default
    if IS_ROOT:  # SO_RCVBUFFORCE passes rmem_max; the kernel doubles what it was asked for
        assert rcv == snd == 2 * SOCKET_BUFFER


@pytest.mark.root
@root
def test_veth_standin_carries_packets_like_tun():
    with udp_world("test_flannel_standin", tun_standin="veth") as w:
        assert "the stand-in was asked for (--tun-standin veth)" in flannel.flanneld_log(w, "node1").stdout
        assert "veth stand-in" in flannel.lab.flannel0_device(w, "node1")
        link = json.loads(w.run("node1", "ip -j -d link show dev flannel0").stdout)[0]
        assert link["linkinfo"]["info_kind"] == "veth" and link["mtu"] == 1472 and "NOARP" in link["flags"]
        assert "100.96.0.0/16 dev flannel0 proto kernel scope link src 100.96.1.0" in w.run("node1", "ip route").stdout
        before = flannel.counters(w, "node1")
        r = w.run("container-1", "ping -c 2 -i 0.2 -W 2 100.96.2.3")
        assert "2 received" in r.stdout and "ttl=60" in r.stdout
        assert netlab.check_counters(before, flannel.counters(w, "node1"), packets=2)
        # TCP too: the stand-in's offloads are off, so no 64 KiB chunk or half-made checksum gets through.
        w.start("container-2", "iperf3 -s -1", name="iperf3")
        for _ in range(100):
            if ":5201" in w.run("container-2", "ss -ltn").stdout:
                break
        out = json.loads(w.run("container-1", "iperf3 -c 100.96.2.3 -t 1 -J", timeout=40).stdout)
        assert out["end"]["sum_received"]["bytes"] > 1_000_000
        with w.capture("lan", "br0", "udp port 8285") as cap:
            w.run("container-1", "ping -c 1 -W 2 100.96.2.3")
        assert netlab.check_datagram(cap.packets, outer=("10.168.0.2", "10.168.0.3"), inner=("100.96.1.2", "100.96.2.3"))


@pytest.mark.root
def test_flannel0_is_tun_as_root(world):
    assert flannel.lab.flannel0_device(world, "node1").startswith("flannel0 in node1 is a TUN device")
    assert "txqueuelen 5000" in flannel.flanneld_log(world, "node1").stdout
    assert "qlen 5000" in world.run("node1", "ip link show flannel0").stdout


def test_lab_checks_say_what_is_wrong():
    assert not netlab.check_counters({"tun_reads": 0}, {"tun_reads": 3}, packets=1)
    ok = netlab.check_counters({}, {"tun_reads": 3, "udp_sends": 3, "udp_recvs": 3, "tun_writes": 3}, packets=3)
    assert ok and "tun_reads +3" in ok.message
    assert "no flannel datagram at all" in netlab.check_datagram([], outer=("10.168.0.4", "10.168.0.2"),
                                                                 inner=("100.96.3.4", "100.96.1.2")).message


# ------------------------------------------------------------------ one set of measured figures per build
def test_a_measurement_is_saved_once_and_kept_while_it_says_the_same(tmp_path):
    from netlab.flannel import perf
    path = str(tmp_path / perf.SAVED)
    results = [perf.Result("veth", 30.0, 0.05, 0), perf.Result("host-gw", 20.0, 0.08, 0),
               perf.Result("vxlan", 16.0, 0.09, 0), perf.Result("udp", 0.4, 0.6, 0)]
    assert perf.save(results, path) is True
    again = [dataclasses.replace(r, gbits=r.gbits * 1.1) for r in results]  # another run, same facts
    assert perf.save(again, path) is False  # a second `make record` leaves git quiet
    assert [r.gbits for r in perf.saved(path=path)] == [30.0, 20.0, 16.0, 0.4]
    slower = [dataclasses.replace(r, gbits=25.0) if r.path == "udp" else r for r in results]
    assert perf.save(slower, path) is True  # the facts changed: the new figures replace the old


def test_chapters_5_and_6_print_the_same_saved_figures():
    """One measurement per build: chapter 6 prints chapter 5's saved rows, not a run of its own."""
    import nbformat
    from netlab.flannel import perf

    def printed(name):
        nb = nbformat.read(os.path.join(os.path.dirname(__file__), "..", "book", name), as_version=4)
        cells = [c for c in nb.cells if c.cell_type == "code" and "paths_report(" in c.source]
        assert len(cells) == 1, name
        return "".join(o.get("text", "") for o in cells[0].outputs)

    ch05, ch06 = printed("ch05_flannel_udp.ipynb"), printed("ch06_flannel_vxlan.ipynb")
    assert ch05.startswith(perf.measured_on()) and ch06.startswith(perf.measured_on())
    for label in ("host-gw routing", "kernel VXLAN", "flannel UDP (netlab"):
        row5 = [l for l in ch05.splitlines() if l.startswith(label)][0].split()
        row6 = [l for l in ch06.splitlines() if l.startswith(label)][0].split()
        assert row5[-4:-1] == row6[-3:], (row5, row6)  # Gbit/s, RTT, vs host-gw (ch05 adds vs veth)
    assert not any(c.cell_type == "code" and "measure_paths(" in c.source for c in nbformat.read(
        os.path.join(os.path.dirname(__file__), "..", "book", "ch06_flannel_vxlan.ipynb"), as_version=4).cells)
