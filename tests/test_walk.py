"""The packet walk on topologies whose answer is known: bridge, router, NAT, black hole, DROP, VXLAN."""

import json

import pytest

import netlab
from netlab import World, kernel, pc_pair, pc_pair_with_router, trace, walk_nat
from netlab.packets.frames import GATEWAY_MAC, PC1_MAC, PC2_MAC
from netlab import WalkError
from netlab.walk.decisions import Neighbour, Route
from netlab.walk.headers import header_summary

R1_ETH1_MAC = "02:42:c0:a8:00:c1"


def where(walk):
    return [(h.node, h.interface, h.direction) for h in walk.hops]


# ------------------------------------------------------------------ no kernel needed
def test_iptables_counters_are_keyed_per_rule_and_policy():
    """The keys the walk compares two readings by (kernel.Iptables.counters)."""
    text = ("*filter\n:INPUT ACCEPT [3:252]\n:FORWARD DROP [1:84]\n:DOCKER - [0:0]\n"
            "[2:168] -A FORWARD -d 10.0.0.0/8 -j ACCEPT\n[0:0] -A FORWARD -d 10.0.0.0/8 -j ACCEPT\nCOMMIT\n"
            "*nat\n[1:84] -A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE\nCOMMIT\n")
    assert kernel.parse_iptables_save(text).counters() == {
        ("filter", "INPUT policy ACCEPT", 0): (3, 252), ("filter", "FORWARD policy DROP", 0): (1, 84),
        ("filter", "-A FORWARD -d 10.0.0.0/8 -j ACCEPT", 1): (2, 168),
        ("filter", "-A FORWARD -d 10.0.0.0/8 -j ACCEPT", 2): (0, 0),
        ("nat", "-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE", 1): (1, 84)}


def test_header_summary_opens_vxlan_and_flannel_udp():
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    inner = (Ether(src="5e:f8:4f:00:e3:36", dst="5e:f8:4f:00:e3:37")
             / IP(src="10.1.15.2", dst="10.1.16.2", ttl=63) / ICMP())
    pkt = Ether(bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:03") / IP(src="10.168.0.2", dst="10.168.0.3")
                      / UDP(sport=44800, dport=8472) / VXLAN(vni=1) / inner))
    assert header_summary(pkt) == (
        "eth 02:00:00:00:00:02 > 02:00:00:00:00:03 | ip 10.168.0.2 > 10.168.0.3 ttl 64 | udp <flow-hash> > 8472"
        " | vxlan vni 1 | eth 5e:f8:4f:00:e3:36 > 5e:f8:4f:00:e3:37 | ip 10.1.15.2 > 10.1.16.2 ttl 63"
        " | icmp echo-request seq 0")
    udp = Ether(bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:03") / IP(src="10.168.0.2", dst="10.168.0.3")
                      / UDP(sport=8285, dport=8285) / IP(src="10.1.15.2", dst="10.1.16.2") / ICMP(type=0)))
    assert header_summary(udp).endswith("udp 8285 > 8285 | ip 10.1.15.2 > 10.1.16.2 ttl 64 | icmp echo-reply seq 0")
    err = Ether(bytes(Ether() / IP(src="192.168.0.1", dst="192.168.0.3") / ICMP(type=11)
                      / IP(src="192.168.0.3", dst="192.168.0.192", ttl=0) / ICMP()))
    assert header_summary(err).endswith("ip 192.168.0.1 > 192.168.0.3 ttl 64 | icmp time-exceeded code 0")


def test_a_route_keeps_the_kernels_words_and_the_fields_the_walk_reads():
    via = Route.parse("10.1.16.2 via 10.168.0.3 dev eth0 src 10.168.0.2 uid 0 cache")
    assert (via.via, via.resolves, via.local, via.failed) == ("10.168.0.3", ("eth0", "10.168.0.3"), False, False)
    assert via.text() == "route: 10.1.16.2 via 10.168.0.3 dev eth0 src 10.168.0.2 uid 0 cache"
    direct = Route.parse("192.168.0.192 from 192.168.0.3 dev eth1 cache iif eth0")
    assert (direct.via, direct.resolves) == (None, ("eth1", "192.168.0.192"))
    local = Route.parse("local 192.168.0.192 from 192.168.0.3 dev lo cache <local> iif eth0")
    assert local.local and local.resolves is None
    assert Route.parse("RTNETLINK answers: Network is unreachable").failed


def test_a_neighbour_is_rendered_from_its_state():
    assert Neighbour("10.0.0.1", "eth0").unresolved
    assert str(Neighbour("10.0.0.1", "eth0", state="failed")) == \
        "neighbour 10.0.0.1 on eth0: ARP got no answer (INCOMPLETE, then FAILED)"
    known = Neighbour("10.0.0.1", "eth0", "02:42:c0:a8:00:c1", "learned")
    assert not known.unresolved and known.text() == "neighbour 10.0.0.1 lladdr 02:42:c0:a8:00:c1 dev eth0 (learned by ARP)"


def test_a_walk_renders_its_decisions_as_text_and_html():
    hop = netlab.Hop("pc1", "eth0", "out", "eth a > b", 64, [Route.parse("local 10.0.0.1 dev lo"), Neighbour("10.0.0.1", "eth0")])
    walk = netlab.Walk("pc1", "pc2", "icmp", [hop], False, "pc1", "why")
    assert hop.decision == "route: local 10.0.0.1 dev lo; neighbour 10.0.0.1 on eth0: no entry" \
                           " (`ip neigh show 10.0.0.1 dev eth0` is empty)"
    assert str(walk) == walk.text() == repr(walk) and walk._repr_html_() == walk.html()
    assert "<td>local delivery, no neighbour</td>" in walk.html()  # the summary; the full text folded:
    assert "<details><summary>" in walk.html() and "route: local 10.0.0.1 dev lo\n     neighbour" in walk.html()


class _Paper:  # a world that was never built: trace must refuse bad arguments before running anything
    topology = pc_pair_with_router()

    def run(self, *a, **k):
        raise AssertionError("nothing may run for a bad argument")


@pytest.mark.parametrize("kw, message", [
    (dict(src="pc9", dst="pc2"), "source 'pc9' is not a node"),
    (dict(src="pc1", dst="pc2", proto="sctp"), "protocol 'sctp' is not one of icmp, udp, tcp"),
    (dict(src="pc1", dst="nowhere"), "neither a node of this world"),
])
def test_bad_arguments_say_what_is_wrong(kw, message):
    with pytest.raises(WalkError, match=message):
        trace(_Paper(), **kw)


# ------------------------------------------------------------------ live kernels
root = pytest.mark.root


@root
def test_same_bridge_names_the_fdb_entry():
    with World(pc_pair("192.168.0.4/26")) as w:
        walk = trace(w, "pc1", "pc2")
        # the bridge's promiscuous copy may or may not share the port's timestamp: the order must not vary
        assert {trace(w, "pc1", "pc2").text() for _ in range(5)} == {walk.text()}
    assert where(walk) == [("pc1", "eth0", "out"), ("lan", "port1", "in"), ("lan", "br0", "in"),
                           ("lan", "port2", "out"), ("pc2", "eth0", "in")]
    assert walk.delivered and walk.dropped_at is None
    assert "bridge br0 FDB: 02:42:c0:a8:00:c0 dev port2 master br0 (port port2)" in walk.hops[1].lines()
    assert {h.headers for h in walk.hops} == {
        f"eth {PC1_MAC} > {PC2_MAC} | ip 192.168.0.3 > 192.168.0.4 ttl 64 | icmp echo-request seq 1"}
    assert where(walk.reply) == [("pc2", "eth0", "out"), ("lan", "port2", "in"), ("lan", "br0", "in"),
                                 ("lan", "port1", "out"), ("pc1", "eth0", "in")]
    assert walk.reply.delivered and walk.reply.kind == "reply"


@root
def test_router_lowers_ttl_and_changes_macs_not_ips():
    with World(pc_pair_with_router()) as w:
        walk = trace(w, "pc1", "pc2")
        again = {trace(w, "pc1", "pc2").text() for _ in range(5)}
    assert where(walk) == [("pc1", "eth0", "out"), ("r1", "eth0", "in"), ("r1", "eth1", "out"),
                           ("pc2", "eth0", "in")]
    assert [h.ttl for h in walk.hops] == [64, 64, 63, 63]
    macs = [h.headers.split(" | ")[0] for h in walk.hops]
    assert macs == [f"eth {PC1_MAC} > {GATEWAY_MAC}"] * 2 + [f"eth {R1_ETH1_MAC} > {PC2_MAC}"] * 2
    assert all("ip 192.168.0.3 > 192.168.0.192" in h.headers for h in walk.hops)
    assert walk.hops[0].lines()[:2] == [
        "route: 192.168.0.192 via 192.168.0.1 dev eth0 src 192.168.0.3 uid 0 cache",
        f"neighbour 192.168.0.1 lladdr {GATEWAY_MAC} dev eth0 (learned by ARP)"]
    assert walk.hops[1].lines() == ["route: 192.168.0.192 from 192.168.0.3 dev eth1 cache iif eth0"]
    assert walk.hops[3].lines() == ["route: local 192.168.0.192 from 192.168.0.3 dev lo cache <local> iif eth0"]
    assert again == {walk.text()}  # deterministic: no timestamps, ids or ports that vary
    assert walk.text().endswith("delivered to pc1") and "reply: icmp pc2 -> pc1" in walk.text()
    html = walk._repr_html_()
    assert html.count("<tr><td>") == 8 and "r1</td><td><code>eth1 out</code>" in html


@root
def test_masquerade_rewrites_the_source_and_names_the_rule():
    with World(walk_nat()) as w:
        walk = trace(w, "ctr", "server")
    assert where(walk) == [("ctr", "eth0", "out"), ("gw", "eth0", "in"), ("gw", "eth1", "out"),
                           ("server", "eth0", "in")]
    assert "ip 172.17.0.2 > 10.0.0.2" in walk.hops[1].headers
    assert "ip 10.0.0.1 > 10.0.0.2" in walk.hops[2].headers
    assert walk.hops[2].lines()[:2] == [
        "iptables -t nat: -A POSTROUTING -s 172.17.0.0/16 -o eth1 -j MASQUERADE [0:0 -> 1:84]",
        "source rewritten: 172.17.0.2 -> 10.0.0.1 (SNAT/MASQUERADE)"]
    assert walk.delivered and walk.reply.delivered
    assert walk.reply.hops[-1].node == "ctr"
    assert "destination rewritten before routing: 10.0.0.1 -> 172.17.0.2 (conntrack: the reverse of the NAT)" \
        in walk.reply.hops[1].lines()


@root
def test_blackhole_route_ends_the_walk_with_the_kernels_reason():
    with World(pc_pair_with_router()) as w:
        w.run("r1", "ip route add blackhole 192.168.0.192/32")
        walk = trace(w, "pc1", "pc2")
    assert where(walk) == [("pc1", "eth0", "out"), ("r1", "eth0", "in")]
    assert not walk.delivered and walk.dropped_at == "r1" and walk.reply is None
    assert walk.reason == ("no route: `ip route get 192.168.0.192 from 192.168.0.3 iif eth0` says"
                           " 'RTNETLINK answers: Invalid argument';"
                           " the route that matched is 'blackhole 192.168.0.192'")


@root
def test_iptables_drop_in_forward_is_named():
    t = pc_pair_with_router()
    t.add_iptables("r1", "-A FORWARD -d 192.168.0.192/32 -p icmp -j DROP")
    with World(t) as w:
        walk = trace(w, "pc1", "pc2")
    assert where(walk)[-1] == ("r1", "eth0", "in") and walk.dropped_at == "r1"
    assert walk.reason == "dropped by iptables -t filter: -A FORWARD -d 192.168.0.192/32 -p icmp -j DROP [0:0 -> 1:84]"


@root
def test_no_route_at_the_source_the_chapter_1_case():
    with World(pc_pair_with_router(default_routes=False)) as w:
        walk = trace(w, "pc1", "pc2")
        w.run("pc1", "ip route add default via 192.168.0.1")
        w.run("pc2", "ip route add default via 192.168.0.193")
        fixed = trace(w, "pc1", "pc2")
    assert walk.hops == [] and walk.dropped_at == "pc1"
    assert walk.reason == "no route: `ip route get 192.168.0.192` says 'RTNETLINK answers: Network is unreachable'"
    assert fixed.delivered and [h.node for h in fixed.hops] == ["pc1", "r1", "r1", "pc2"]


@root
def test_ttl_exceeded_and_the_error_walk_back():
    with World(pc_pair_with_router()) as w:
        walk = trace(w, "pc1", "pc2", ttl=1)
    assert where(walk) == [("pc1", "eth0", "out"), ("r1", "eth0", "in")]
    assert walk.dropped_at == "r1"
    assert walk.reason == "TTL exceeded: 192.168.0.1 sent ICMP time-exceeded (the packet arrived with ttl 1)"
    assert walk.reply.kind == "error" and walk.reply.delivered
    assert "icmp time-exceeded code 0" in walk.reply.hops[0].headers


@root
def test_no_neighbour_when_arp_gets_no_answer():
    with World(pc_pair_with_router()) as w:
        w.run("pc2", "ip addr flush dev eth0")
        walk = trace(w, "pc1", "pc2")
    assert walk.dropped_at == "r1"
    # INCOMPLETE or FAILED depending on when it is read: the text is the same either way
    assert walk.reason == "no neighbour: neighbour 192.168.0.192 on eth1: ARP got no answer (INCOMPLETE, then FAILED)"


@root
def test_udp_and_tcp():
    with World(pc_pair_with_router()) as w:
        udp = trace(w, "pc1", "pc2", proto="udp", port=5000)
        tcp = trace(w, "pc1", "pc2", proto="tcp", port=5000)
    assert udp.delivered and "udp 40000 > 5000" in udp.hops[-1].headers
    assert udp.reply.kind == "error" and "icmp dest-unreach code 3" in udp.reply.hops[0].headers
    assert tcp.delivered and "tcp 40000 > 5000 [S]" in tcp.hops[0].headers
    assert tcp.reply.kind == "reply" and "tcp 5000 > 40000 [RA]" in tcp.reply.hops[0].headers  # no listener: RST


@root
def test_flannel_vxlan_inner_and_outer_headers():
    with World(netlab.flannel_vxlan()) as w:
        walk = trace(w, "container-1", "10.1.16.2")
    assert where(walk) == [
        ("container-1", "eth0", "out"), ("node1", "veth101", "in"), ("node1", "cni0", "in"),
        ("node1", "flannel.1", "out"), ("node1", "eth0", "out"), ("node2", "eth0", "in"),
        ("node2", "flannel.1", "in"), ("node2", "cni0", "out"), ("node2", "veth201", "out"),
        ("container-2", "eth0", "in")]
    vtep = walk.hops[3]
    assert "VXLAN FDB: 5e:f8:4f:00:e3:37 dst 10.168.0.3 self permanent (remote VTEP 10.168.0.3)" in vtep.lines()
    assert "neighbour 10.1.16.0 lladdr 5e:f8:4f:00:e3:37 dev flannel.1 (PERMANENT)" in vtep.lines()
    wire = walk.hops[4].headers.split(" | ")
    assert wire[1] == "ip 10.168.0.2 > 10.168.0.3 ttl 64" and wire[2].endswith("> 8472")
    assert wire[3:] == ["vxlan vni 1", "eth 5e:f8:4f:00:e3:36 > 5e:f8:4f:00:e3:37", "ip 10.1.15.2 > 10.1.16.2 ttl 63",
                        "icmp echo-request seq 1"]
    assert walk.hops[5].lines() == [
        "UDP 8472 is the kernel's VXLAN socket (no process holds it): kernel VXLAN decapsulation, VNI 1 is"
        " flannel.1's, so the outer headers are stripped and the inner frame enters flannel.1"]
    assert walk.hops[6].lines()[0] == "route: 10.1.16.2 from 10.1.15.2 dev cni0 cache iif flannel.1"
    assert [h.ttl for h in walk.hops] == [64, 64, 64, 63, 63, 63, 63, 62, 62, 62]
    assert walk.delivered and walk.reply.delivered and walk.reply.hops[-1].node == "container-1"


@root
def test_a_recorded_walk_replays_to_the_same_text(tmp_path, monkeypatch):
    with World(pc_pair_with_router(), record=True, recordings_dir=str(tmp_path)) as w:
        live = trace(w, "pc1", "pc2").text()
    kinds = {e["kind"] for e in json.load(open(tmp_path / "pc_pair_with_router.json"))["entries"]}
    assert kinds == {"run", "capture"}
    monkeypatch.setenv("NETLAB_MODE", "replay")
    monkeypatch.setenv("NETLAB_RECORDINGS", str(tmp_path))
    with World(pc_pair_with_router()) as w:
        assert w.mode == "replay"
        replayed = trace(w, "pc1", "pc2")
    assert replayed.text() == live and replayed.delivered


TUN_READER = ("python3 -c \"import fcntl,struct,os\nf=os.open('/dev/net/tun',os.O_RDWR)\n"
              "fcntl.ioctl(f,0x400454ca,struct.pack('16sH',b'tun0',0x1001))\nwhile True: os.read(f,2048)\"")


@root
def test_a_tun_device_hands_the_packet_to_the_process_reading_it():
    t = netlab.Topology("walk_tun")
    t.add_node("a")
    t.add_tun("a", "tun0", address="10.99.0.1/16")
    with World(t) as w:
        w.start("a", TUN_READER, name="reader")
        w.run("a", "sh -c 'for i in $(seq 100); do grep -qs tun0 /proc/[0-9]*/fdinfo/* && exit 0; sleep 0.05; done;"
                   " exit 1'")  # wait until the reader has attached
        walk = trace(w, "a", "10.99.0.7")
        local = trace(w, "a", "10.99.0.1")
    assert where(walk) == [("a", "tun0", "out")]
    assert walk.hops[0].headers == "ip 10.99.0.1 > 10.99.0.7 ttl 64 | icmp echo-request seq 1"
    assert "user space: python3 read it from TUN tun0" in walk.hops[0].lines()
    assert walk.reason == "left the kernel by TUN tun0: python3 read it from TUN tun0"
    assert local.delivered and local.hops == [] and local.text().endswith("through lo (it never reached a wire)")


def test_the_outer_vxlan_source_port_is_named_not_printed():
    """The kernel picks it from a flow hash seeded at boot: a number there would change between boots."""
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    inner = Ether() / IP(src="10.1.15.2", dst="10.1.16.3") / ICMP()
    texts = {header_summary(Ether(bytes(Ether() / IP() / UDP(sport=port, dport=8472) / VXLAN(vni=1) / inner)))
             for port in (32768, 44800, 60999)}
    assert len(texts) == 1 and "udp <flow-hash> > 8472 | vxlan vni 1" in texts.pop()
    plain = Ether(bytes(Ether() / IP() / UDP(sport=40000, dport=5000)))
    assert header_summary(plain).endswith("udp 40000 > 5000")  # other ports are fixed by netlab: printed


def _vteps_at_run_time(w, vni2=1):
    """flannel.1 on node1 and node2 made with `ip` commands after the world was built, as flanneld does."""
    for node, host, sub, mac, vni, peer in (("node1", "10.168.0.2", "10.1.15", "5e:f8:4f:00:e3:36", 1, 2),
                                            ("node2", "10.168.0.3", "10.1.16", "5e:f8:4f:00:e3:37", vni2, 1)):
        w.run(node, f"ip link add flannel.{vni} address {mac} type vxlan id {vni} local {host} dev eth0"
                    f" nolearning dstport 8472")
        w.run(node, f"ip link set flannel.{vni} mtu 1450")
        w.run(node, f"ip addr add {sub}.0/32 dev flannel.{vni}")
        w.run(node, f"ip link set flannel.{vni} up")
    for node, dev, sub, mac, host in (("node1", "flannel.1", "10.1.16", "5e:f8:4f:00:e3:37", "10.168.0.3"),
                                      ("node2", f"flannel.{vni2}", "10.1.15", "5e:f8:4f:00:e3:36", "10.168.0.2")):
        w.run(node, f"ip neigh add {sub}.0 lladdr {mac} dev {dev} nud permanent")
        w.run(node, f"bridge fdb add {mac} dev {dev} dst {host} self permanent")
        w.run(node, f"ip route add {sub}.0/24 via {sub}.0 dev {dev} onlink")


@root
def test_devices_made_at_run_time_are_captured_and_vxlan_is_kernel_decapsulation():
    topo = netlab.flannel_vxlan_nodes()
    assert "flannel.1" not in topo.nodes["node1"].interfaces  # not declared: made at run time
    with World(topo, name="test_walk_runtime_vteps") as w:
        _vteps_at_run_time(w)
        walk = trace(w, "container-1", "10.1.16.3")
        again = trace(w, "container-1", "10.1.16.3").text()
    assert ("node1", "flannel.1", "out") in where(walk) and ("node2", "flannel.1", "in") in where(walk)
    at_eth0 = next(h for h in walk.hops if (h.node, h.interface, h.direction) == ("node2", "eth0", "in"))
    assert at_eth0.lines() == [
        "UDP 8472 is the kernel's VXLAN socket (no process holds it): kernel VXLAN decapsulation, VNI 1 is"
        " flannel.1's, so the outer headers are stripped and the inner frame enters flannel.1"]
    assert not any("user-space" in d or "user space" in d for h in walk.hops for d in h.lines())
    vtep = next(h for h in walk.hops if (h.node, h.interface) == ("node1", "flannel.1"))
    assert "VXLAN FDB: 5e:f8:4f:00:e3:37 dst 10.168.0.3 self permanent (remote VTEP 10.168.0.3)" in vtep.lines()
    assert "udp <flow-hash> > 8472" in walk.text() and walk.text() == again
    assert walk.delivered and walk.reply.delivered


@root
def test_wrong_vni_on_one_side_stops_the_walk_at_the_receiving_eth0():
    with World(netlab.flannel_vxlan_nodes(), name="test_walk_wrong_vni") as w:
        _vteps_at_run_time(w, vni2=2)
        walk = trace(w, "container-1", "10.1.16.3")
    assert where(walk)[-1] == ("node2", "eth0", "in") and walk.dropped_at == "node2"
    assert walk.reason == ("the kernel's VXLAN socket on UDP 8472 took the datagram, but no VXLAN device in node2"
                           " has VNI 1 (flannel.2 has VNI 2): the frame is dropped, and no device counts it")


@root
def test_missing_fdb_entry_and_small_mtu_are_named():
    with World(netlab.flannel_vxlan_nodes(), name="test_walk_fdb_mtu") as w:
        _vteps_at_run_time(w)
        w.run("node1", "bridge fdb del 5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self")
        nofdb = trace(w, "container-1", "10.1.16.3")
        w.run("node1", "bridge fdb add 5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent")
        w.run("lan", "ip link set port1 mtu 1450")
        big = trace(w, "container-1", "10.1.16.3", size=1422)
        small = trace(w, "container-1", "10.1.16.3")
    assert where(nofdb)[-1] == ("node1", "flannel.1", "out")
    assert nofdb.reason.startswith("VXLAN FDB on flannel.1: no entry for 5e:f8:4f:00:e3:37")
    assert where(big)[-1] == ("node1", "eth0", "out")
    assert big.reason == ("the packet is 1500 bytes, but port1 in lan, the other end of the cable, has MTU 1450:"
                          " the veth drops it (RX dropped on port1), and no ICMP error is sent")
    assert small.delivered


# ------------------------------------------------------------------ Docker's node (chapters 3 and 4, lab 3)
SEED_VETH, VETH2 = "veth9c02e56", "veth49a9513"
DNAT_RULE = "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80"


def test_user_defined_chains_are_read_from_the_dump():
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n[1:60] -A PREROUTING -j DOCKER\nCOMMIT\n*filter\n:FOO - [0:0]\nCOMMIT\n"
    assert kernel.parse_iptables_save(text).user_chains == {("nat", "DOCKER"), ("filter", "FOO")}
    target = kernel.jump_target
    assert target("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER") == "DOCKER"
    assert target("-A FORWARD -g DOCKER-ISOLATION") == "DOCKER-ISOLATION" and target("-A FORWARD -s 1.2.3.4") is None


@root
def test_a_missing_reply_is_named_with_the_kernels_reason():
    with World(netlab.docker_node(nat=False), name="test_walk_no_reply") as w:
        walk = trace(w, "nginx-1", "10.168.0.3")
    assert walk.delivered and walk.reply is None
    assert walk.no_reply == ("no reply seen: node2's `ip route get 172.17.0.2 from 10.168.0.3` says"
                             " 'RTNETLINK answers: Network is unreachable'")
    assert walk.text().endswith("delivered to node2\n" + walk.no_reply)
    assert walk.no_reply in walk._repr_html_().replace("&#x27;", "'").replace("&#x60;", "`")


@root
def test_bridge_ports_plugged_at_run_time_come_from_the_kernel():
    """lab 3: the veths are made outside docker0 and plugged in by the learner; the walk must see the bridge."""
    t = netlab.docker_node(attach=False, publish=[("nginx-1", 8080, 80)])
    assert t.nodes["node1"].interfaces[SEED_VETH].master is None  # declared outside the bridge
    with World(t, name="test_walk_runtime_ports") as w:
        for veth in (SEED_VETH, VETH2):
            w.run("node1", f"ip link set {veth} master docker0")
        walk = trace(w, "nginx-1", "nginx-2")
        netlab.docker.start_http_server(w, "nginx-1")
        syn = trace(w, "node2", "10.168.0.2", proto="tcp", port=8080)
    assert where(walk) == [("nginx-1", "eth0", "out"), ("node1", SEED_VETH, "in"), ("node1", "docker0", "in"),
                           ("node1", VETH2, "out"), ("nginx-2", "eth0", "in")]
    assert walk.hops[1].lines() == [f"bridge docker0 FDB: 02:42:ac:11:00:03 dev {VETH2} master docker0 (port {VETH2})"]
    assert "route: " not in "".join(walk.hops[1].lines() + walk.hops[3].lines())
    assert walk.delivered and walk.reply.delivered
    # the SYN leaves node1 by the port towards nginx-1, and the PREROUTING rules are named once, where they ran
    assert where(syn) == [("node2", "eth0", "out"), ("node1", "eth0", "in"), ("node1", "docker0", "out"),
                          ("node1", SEED_VETH, "out"), ("nginx-1", "eth0", "in")]
    assert syn.hops[3].lines() == []
    assert syn.text().count("--dst-type LOCAL -j DOCKER [") == 1 and syn.text().count(DNAT_RULE) == 1


@root
def test_the_dnat_rule_in_dockers_chain_is_named_with_the_rewrite():
    with World(netlab.docker_node(publish=[("nginx-1", 8080, 80)]), name="test_walk_dnat") as w:
        netlab.docker.start_http_server(w, "nginx-1")
        walk = trace(w, "node2", "10.168.0.2", proto="tcp", port=8080)
        again = trace(w, "node2", "10.168.0.2", proto="tcp", port=8080)
    assert walk.hops[1].lines()[:4] == [
        "iptables -t nat: -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER [0:0 -> 1:60]",
        f"iptables -t nat: {DNAT_RULE} [0:0 -> 1:60]",
        "destination rewritten: 10.168.0.2:8080 -> 172.17.0.2:80 (DNAT)",
        "route: 172.17.0.2 from 10.168.0.3 dev docker0 cache iif eth0"]
    # then FORWARD, whose policy is DROP as dockerd sets it: Docker's ACCEPT for the published port lets it by
    assert ("iptables -t filter: -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80"
            " -j ACCEPT [0:0 -> 1:60]") in walk.hops[1].lines()[4:]
    assert where(walk)[3] == ("node1", SEED_VETH, "out") and walk.hops[3].lines() == []
    assert "tcp 80 > 40000 [SA]" in walk.reply.hops[0].headers and walk.reply.delivered and walk.no_reply is None
    # the same source port again (SO_REUSEADDR past TIME_WAIT): a new connection, the counters move again
    assert again.delivered and again.hops[1].lines()[1] == f"iptables -t nat: {DNAT_RULE} [1:60 -> 2:120]"
