"""Pictures of a topology and of a walk (the path numbered in order, devices made at run time
included), a walk's HTML (drawing, summary, folded text), and header stacks with byte offsets."""

import base64
import hashlib
import json
import subprocess
import sys
from html.parser import HTMLParser

import pytest

import netlab
from netlab import Hop, Walk, draw_topology, draw_walk, flannel, header_stack, pc_pair_with_router
from netlab.engine.topology import Interface
from netlab.walk.decisions import Neighbour, Rewrite, Route, TunHandoff, UserSocket
from netlab.walk.draw import stack
from netlab.walk.figure import figure_png
from netlab.walk.scene import IF_W, layout, scene
from netlab.walk.summary import rows, word
from netlab.walk.widgets import destinations, render_walk, walk_explorer


def _walk():
    topo = pc_pair_with_router()
    hops = [Hop("pc1", "eth0", "out", "", 64), Hop("r1", "eth0", "in", "", 64),
            Hop("r1", "eth1", "out", "", 63), Hop("pc2", "eth0", "in", "", 63)]
    back = [Hop(h.node, h.interface, "in" if h.direction == "out" else "out", "", 64) for h in reversed(hops)]
    w = Walk("pc1", "pc2", "icmp", hops, True, topology=topo)
    w.reply = Walk("pc2", "pc1", "icmp", back, True, topology=topo, kind="reply")
    return w


def _texts(fig):
    return {t.get_gid(): t for t in fig.axes[0].texts if t.get_gid()}


def test_nodes_and_interfaces_are_labelled_with_their_names():
    texts = _texts(draw_walk(_walk()))
    for n in ("pc1", "r1", "pc2"):
        assert texts[f"node:{n}"].get_text() == n
    assert texts["iface:r1:eth1"].get_text() == "eth1"


def test_path_is_numbered_in_hop_order_at_each_hop_interface():
    walk = _walk()
    fig = draw_walk(walk)
    texts = _texts(fig)
    pos = layout(scene(walk.topology))["ifaces"]
    for kind, w in (("request", walk), ("reply", walk.reply)):
        for k, h in enumerate(w.hops, 1):
            t = texts[f"hop:{kind}:{k}"]
            assert t.get_text() == str(k)
            x, y = t.get_position()
            cx, cy = pos[(h.node, h.interface)]
            assert abs(x - cx) < IF_W / 2 and abs(y - cy) < 0.3  # on that interface's box
    xs = [texts[f"hop:request:{k}"].get_position()[0] for k in range(1, 5)]
    assert xs == sorted(xs)  # left to right: pc1, r1, pc2
    assert "hop:request:5" not in texts


def test_layout_columns_follow_the_cables():
    pos = layout(scene(netlab.flannel_vxlan()))["nodes"]
    order = [n for n, _ in sorted(pos.items(), key=lambda kv: kv[1][0])]
    assert order == ["container-1", "node1", "node2", "container-2"]


def test_drawing_is_deterministic():
    a, b = figure_png(draw_walk(_walk())), figure_png(draw_walk(_walk()))
    assert a == b and a.startswith(b"\x89PNG")
    assert figure_png(header_stack(_vxlan_packet())) == figure_png(header_stack(_vxlan_packet()))


def _vxlan_packet():
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    inner = (Ether(src="5e:f8:4f:00:e3:36", dst="5e:f8:4f:00:e3:37")
             / IP(src="10.1.15.2", dst="10.1.16.2", ttl=63) / ICMP() / (b"\x00" * 56))
    return Ether(bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:03") / IP(src="10.168.0.2", dst="10.168.0.3")
                       / UDP(sport=44800, dport=8472) / VXLAN(vni=1) / inner))


def test_vxlan_header_stack_offsets_and_sizes():
    rows = stack(_vxlan_packet())
    assert [(r["name"], r["offset"], r["size"]) for r in rows] == [
        ("outer Ethernet", 0, 14), ("outer IPv4", 14, 20), ("outer UDP", 34, 8), ("VXLAN", 42, 8),
        ("inner Ethernet", 50, 14), ("inner IPv4", 64, 20), ("inner ICMP", 84, 8), ("payload", 92, 56)]
    assert rows[1]["info"] == "10.168.0.2 > 10.168.0.3 ttl 64 proto 17"
    assert rows[2]["info"] == "port <flow-hash> > 8472"  # seeded at boot: named, never printed
    texts = _texts(header_stack(_vxlan_packet()))
    assert [k for k in texts if k.startswith("layer:")] == [f"layer:{r['name']}" for r in rows]


def test_flannel_udp_header_stack_has_no_inner_ethernet():
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    pkt = Ether(bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:03") / IP(src="10.168.0.2", dst="10.168.0.3")
                      / UDP(sport=8285, dport=8285) / IP(src="10.1.15.2", dst="10.1.16.2") / ICMP() / (b"\x00" * 56)))
    assert [(r["name"], r["offset"], r["size"]) for r in stack(pkt)] == [
        ("outer Ethernet", 0, 14), ("outer IPv4", 14, 20), ("outer UDP", 34, 8),
        ("inner IPv4", 42, 20), ("inner ICMP", 62, 8), ("payload", 70, 56)]
    assert stack(pkt)[2]["info"] == "port 8285 > 8285"  # flannel UDP's port is fixed: printed
    plain = Ether(bytes(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:03") / IP() / ICMP()))
    assert [r["name"] for r in stack(plain)] == ["Ethernet", "IPv4", "ICMP"]


class _World:
    topology = pc_pair_with_router()


def test_destinations_come_from_the_world():
    assert destinations(_World())[:2] == [("pc1 192.168.0.3 (eth0)", "192.168.0.3"),
                                          ("pc2 192.168.0.192 (eth0)", "192.168.0.192")]


def test_render_reports_bad_input_inline():
    out = render_walk(_World(), "pc1", "not-an-address", "icmp")
    assert out.startswith("<p style='color:#b03a2e'>") and "neither a node of this world" in out


@pytest.mark.root
def test_widget_updates_the_walk_and_diagram():
    with netlab.World(pc_pair_with_router()) as w:
        box = walk_explorer(w, src="pc1", dst="192.168.0.192")
        first = box.result.value
        assert "request: icmp pc1 &rarr; 192.168.0.192" in first and "data:image/png;base64," in first
        box.children[0].children[2].value = "udp"
        assert "request: udp pc1" in box.result.value and "error: icmp" in box.result.value
        box.children[0].children[1].value = "192.168.0.3"
        assert "request: udp pc1 &rarr; 192.168.0.3" in box.result.value


# ----------------------------------------------------------------- the topology drawn
BOOK_TOPOLOGIES = {"pc_pair": netlab.pc_pair, "pc_pair_with_router": netlab.pc_pair_with_router,
                   "office_network": netlab.office_network, "router_chain": netlab.router_chain,
                   "docker_node": netlab.docker_node, "docker_two_nodes": netlab.docker_two_nodes,
                   "flannel_udp": netlab.flannel_udp, "flannel_vxlan_nodes": netlab.flannel_vxlan_nodes,
                   "flannel_vxlan": netlab.flannel_vxlan}


def test_topology_drawing_names_every_node_interface_and_address():
    topo = netlab.flannel_vxlan()
    texts = _texts(draw_topology(topo))
    for n, node in topo.nodes.items():
        assert texts[f"node:{n}"].get_text() == n
        for i in node.interfaces.values():
            assert texts[f"iface:{n}:{i.name}"].get_text() == i.name
            if i.addresses:
                assert texts[f"note:{n}:{i.name}"].get_text() == i.addresses[0]
    assert texts["tunnel:node1:node2"].get_text() == "VXLAN vni 1 (UDP 8472)"
    assert texts["key"].get_text().startswith("flannel_vxlan: solid line: veth cable")


_DIGEST = ("import hashlib, netlab; from netlab.walk.figure import figure_png; "
           "print(hashlib.sha256(figure_png(netlab.draw_topology(netlab.{}()))).hexdigest())")


@pytest.mark.parametrize("name", sorted(BOOK_TOPOLOGIES))
def test_topology_drawing_is_the_same_bytes_in_another_process(name):
    here = hashlib.sha256(figure_png(draw_topology(BOOK_TOPOLOGIES[name]()))).hexdigest()
    assert here == hashlib.sha256(figure_png(draw_topology(BOOK_TOPOLOGIES[name]()))).hexdigest()
    if name in ("pc_pair", "flannel_udp"):  # a fresh interpreter (fonts, caches) draws the same bytes
        other = subprocess.run([sys.executable, "-c", _DIGEST.format(name)], capture_output=True, text=True, check=True)
        assert other.stdout.strip() == here


class _FlannelWorld:
    """A world whose kernels report flanneld's flannel0 (`ip -j -d addr show`), as after the daemon ran."""

    topology = netlab.flannel_udp()
    commands = []

    def run(self, node, command, check=True):
        self.commands.append((node, command))
        links = [{"ifname": "lo", "addr_info": []}, {"ifname": "eth0", "address": "02:00:0a:a8:00:02"}]
        if node.startswith("node"):
            i = node[-1]
            links.append({"ifname": "flannel0", "mtu": 1472, "linkinfo": {"info_kind": "tun"},
                          "addr_info": [{"family": "inet", "local": f"100.96.{i}.0", "prefixlen": 16}]})
        return type("R", (), {"ok": True, "stdout": json.dumps(links)})()


def test_a_world_adds_the_devices_a_daemon_made():
    world = _FlannelWorld()
    texts = _texts(draw_topology(world))
    assert {c for _, c in world.commands} == {"ip -j -d addr show"}
    for n in ("node1", "node2"):
        assert texts[f"iface:{n}:flannel0"].get_text() == "flannel0"
    assert texts["note:node2:flannel0"].get_text() == "100.96.2.0/16"
    assert "tunnel:node1:node2" in texts and "made at run time" in texts["key"].get_text()
    assert "iface:node1:flannel0" not in _texts(draw_topology(world.topology))  # declared: not there yet


# ----------------------------------------------------------------- devices made at run time in a walk
def _flannel_walk():
    topo = netlab.flannel_udp()
    devices = (Interface("node1", "flannel0", "tun", mtu=1472), Interface("node2", "flannel0", "tun", mtu=1472))
    path = [("container-1", "eth0", "out"), ("node1", "veth1", "in"), ("node1", "docker0", "in"),
            ("node1", "flannel0", "out"), ("node1", "eth0", "out"), ("lan", "port1", "in"), ("lan", "br0", "in"),
            ("lan", "port2", "out"), ("node2", "eth0", "in"), ("node2", "flannel0", "in"), ("node2", "docker0", "out"),
            ("node2", "veth2", "out"), ("container-2", "eth0", "in")]
    hops = [Hop(n, i, d, f"ip 100.96.1.2 > 100.96.2.3 ttl {64 - k // 4}", 64 - k // 4)
            for k, (n, i, d) in enumerate(path)]
    hops[0].decisions = [Route.parse("100.96.2.3 via 100.96.1.1 dev eth0 src 100.96.1.2"),
                         Neighbour("100.96.1.1", "eth0", "02:42:64:60:01:01", "learned")]
    hops[3].decisions = [TunHandoff("flannel0", ("flanneld",))]
    hops[8].decisions = [UserSocket(8285, ("flanneld",), "flannel0")]
    hops[9].decisions = [TunHandoff("flannel0", ("flanneld",), wrote=True)]
    hops[12].decisions = [Route.parse("local 100.96.2.3 from 100.96.1.2 dev lo")]
    return Walk("container-1", "100.96.2.3", "icmp", hops, True, topology=topo, devices=devices)


def test_a_walk_through_flannel0_is_drawn_on_it():
    walk = _flannel_walk()
    texts = _texts(draw_walk(walk))
    pos = layout(scene(walk.topology, walk.devices))["ifaces"]
    for k in (4, 10):  # the hops on node1's and node2's flannel0, which the topology does not declare
        h = walk.hops[k - 1]
        assert h.interface == "flannel0" and h.interface not in walk.topology.nodes[h.node].interfaces
        x, y = texts[f"hop:request:{k}"].get_position()
        cx, cy = pos[(h.node, "flannel0")]
        assert abs(x - cx) < IF_W / 2 and abs(y - cy) < 0.3
    assert [f"hop:request:{k}" in texts for k in range(1, 15)] == [True] * 13 + [False]
    assert texts["iface:node2:flannel0"].get_text() == "flannel0" and "tunnel:node1:node2" in texts
    assert figure_png(draw_walk(walk)) == figure_png(draw_walk(_flannel_walk()))


# ----------------------------------------------------------------- the walk as HTML
class _Tree(HTMLParser):
    """The elements in document order as (tag, attributes), and the text inside each <pre>."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.pre, self._in_pre = [], [], False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_pre = self._in_pre or tag == "pre"

    def handle_endtag(self, tag):
        self._in_pre = self._in_pre and tag != "pre"

    def handle_data(self, data):
        if self._in_pre:
            self.pre.append(data)


def test_html_is_the_drawing_a_summary_and_the_text_folded():
    walk = _walk()
    tree = _Tree(walk.html())
    order = [t for t, _ in tree.tags if t in ("img", "table", "details", "summary", "pre")]
    assert order == ["img", "table", "table", "details", "summary", "pre"]  # request, reply, then folded
    img = dict(tree.tags)["img"]
    assert img["src"] == "data:image/png;base64," + base64.b64encode(figure_png(walk.draw())).decode()
    assert "open" not in dict(tree.tags)["details"]  # folded on the static site
    assert "".join(tree.pre) == walk.text() and str(walk) == walk.text()
    assert walk.html() == _walk().html()  # same walk, same bytes


def test_summary_rows_name_each_decision_in_a_word_or_two():
    got = rows(_flannel_walk())
    assert got[0] == (1, "container-1", "eth0 out", "route, ARP", "64")
    assert [r[3] for r in got[3:4] + got[8:10]] == ["TUN read", "daemon decap", "TUN write"]
    assert got[1][3] == "\u2014" and got[-1] == (13, "container-2", "eth0 in", "local delivery", "61")
    html = _flannel_walk().html()
    assert html.count("<tr><td>") == 13 and "<td><code>flannel0 out</code></td><td>TUN read</td><td>64</td>" in html
    assert "<i>delivered to container-2</i>" in html


@pytest.mark.root
def test_a_traced_walk_through_flanneld_knows_flannel0_and_draws_it():
    with netlab.World(netlab.flannel_udp(), name="test_walk_draw_flannel0") as w:
        store = flannel.start_store(w)
        flannel.put_config(w, store)
        for node in ("node1", "node2"):
            flannel.start_flanneld(w, node, store)
        flannel.wait_for_peers(w, ["node1", "node2"])
        walk = w.trace("container-1", "100.96.2.3")
    assert sorted((i.node, i.name, i.kind) for i in walk.devices) == [("node1", "flannel0", "tun"),
                                                                      ("node2", "flannel0", "tun")]
    assert walk.reply.devices == walk.devices
    on_tun = [k for k, h in enumerate(walk.hops, 1) if h.interface == "flannel0"]
    texts = _texts(walk.draw())
    assert len(on_tun) == 2 and all(f"hop:request:{k}" in texts for k in on_tun)
    assert "iface:node1:flannel0" in texts and "made at run time" in texts["key"].get_text()


def test_nat_words_tell_a_rule_from_conntrack_undoing_it():
    assert word(Rewrite("source", "172.17.0.2", "10.168.0.2", "SNAT/MASQUERADE")) == "SNAT"
    assert word(Rewrite("destination", "10.168.0.2:8080", "172.17.0.2:80", "DNAT")) == "DNAT"
    assert word(Rewrite("destination", "10.168.0.2", "172.17.0.2", "conntrack: the reverse of the NAT",
                        when=" before routing")) == "NAT undone"
