"""Pictures of a walk: the path numbered in order on the topology; header stacks with byte offsets."""

import pytest

import netlab
from netlab import Hop, Walk, draw_walk, header_stack, pc_pair_with_router
from netlab.walk.draw import layout, stack
from netlab.walk.draw import figure_png
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
    pos = layout(walk.topology)["ifaces"]
    for kind, w in (("request", walk), ("reply", walk.reply)):
        for k, h in enumerate(w.hops, 1):
            t = texts[f"hop:{kind}:{k}"]
            assert t.get_text() == str(k)
            x, y = t.get_position()
            cx, cy = pos[(h.node, h.interface)]
            assert abs(x - cx) < 0.6 and abs(y - cy) < 0.3  # on that interface's box
    xs = [texts[f"hop:request:{k}"].get_position()[0] for k in range(1, 5)]
    assert xs == sorted(xs)  # left to right: pc1, r1, pc2
    assert "hop:request:5" not in texts


def test_layout_columns_follow_the_cables():
    pos = layout(netlab.flannel_vxlan())["nodes"]
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
