"""Chapter 7, sections 7.3 and 7.4: Calico's names and plumbing, IPAM blocks, BIRD's configuration as
confd renders it, a real BIRD mesh in a world (sessions, proto bird routes, blackhole, withdrawal),
BGP UPDATEs read with scapy, and the checks failing with what they found."""

import ipaddress
import shutil

import pytest

import netlab
from netlab.calico import bird, ipam, names, packets, plumbing
from netlab.checks import calico as checks


def test_veth_name_is_calicos():
    assert names.veth_name("pod-1") == "cali83dbd022cd5"
    assert len(names.veth_name("a-very-long-pod-name", "kube-system")) == 15
    with pytest.raises(ValueError, match="pod must be a non-empty name"):
        names.veth_name("")


def test_pod_commands_in_the_cni_plugins_order():
    pod = plumbing.Pod("pod-1", "node1", "10.244.1.2", "02:42:0a:f4:01:02")
    cmds = [c for _, c in plumbing.pod_commands(pod)]
    assert cmds[0].startswith("ip link add cali83dbd022cd5 address ee:ee:ee:ee:ee:ee type veth peer name eth0")
    assert "ip addr add 10.244.1.2/32 dev eth0" in cmds
    assert cmds.index("ip route add 169.254.1.1 dev eth0 scope link") < \
        cmds.index("ip route add default via 169.254.1.1 dev eth0")
    assert cmds[-1] == "ip route add 10.244.1.2 dev cali83dbd022cd5 scope link"
    with pytest.raises(ValueError, match="not an IPv4 address"):
        plumbing.pod_commands(plumbing.Pod("pod-1", "node1", "10.244.1", "02:42:0a:f4:01:02"))


def test_block_plan():
    plan = ipam.BlockPlan.make("10.244.0.0/16", 26, held={"node1": "10.244.1.0/26", "node2": 8})
    assert (plan.count, plan.per_block) == (1024, 64)
    assert str(plan.node_block("node2")) == "10.244.2.0/26"
    assert "held by node2" in plan.locate("10.244.2.40")
    assert "which no node holds yet" in plan.locate("10.244.0.70")
    assert "not in the pool" in plan.locate("10.0.0.1")
    for bad, msg in ((dict(pool="10.244.0.0/33"), "not an IPv4 network"), (dict(block_size=8), "between"),
                     (dict(block_size="26"), "whole number"), (dict(held={"n": 5000}), "no block 5000")):
        with pytest.raises(ipam.IpamError, match=msg):
            ipam.BlockPlan.make(**bad)
    with pytest.raises(ipam.IpamError, match="not an IPv4 address"):
        plan.locate("ten")


def test_render_follows_calicos_templates():
    node = bird.BirdNode("node1", "10.168.0.2", "10.244.1.0/26", ("10.168.0.3", "10.168.0.4"))
    text = bird.render(node)
    for line in ("router id 10.168.0.2;", "route 10.244.1.0/26 blackhole;", "learn;", "persist;",
                 "scan time 2;", "local as 64512;", "gateway recursive;", "add paths on;",
                 "protocol bgp Mesh_10_168_0_3 from bgp_template {", "source address 10.168.0.2;",
                 "if ( net = 10.244.1.0/26 ) then { accept; }", "if ( net ~ 10.244.1.0/26 ) then { reject; }",
                 "hold time 9;  # lab timer: production 240"):
        assert line in text, line
    # passive toward every higher address, and node3 (the highest) is passive toward nobody
    assert text.count("passive on;") == 2
    node3 = bird.BirdNode("node3", "10.168.0.4", "10.244.3.0/26", ("10.168.0.2", "10.168.0.3"))
    assert "passive on" not in bird.render(node3)


def test_parse_protocols():
    text = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
static1    Static     master4    up     02:41:18.811  
Mesh_10_168_0_3 BGP        ---        up     02:41:19.687  Established   
Mesh_10_168_0_4 BGP        ---        start  02:41:18.811  Passive       
"""
    ps = bird.parse_protocols(text)
    assert [(p.name, p.proto, p.state, p.info) for p in ps] == [
        ("static1", "Static", "up", ""), ("Mesh_10_168_0_3", "BGP", "up", "Established"),
        ("Mesh_10_168_0_4", "BGP", "start", "Passive")]


def test_missing_bird_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(bird, "_in_sbin", lambda name: False)
    with pytest.raises(bird.BirdError, match="install the Debian package bird2"):
        bird.require_bird()


def test_proxy_arp_reply_bytes():
    frame = packets.proxy_arp_reply("10.244.1.2", "02:42:0a:f4:01:02")
    assert bytes(frame).hex() == ("02420af40102eeeeeeeeeeee0806" "0001080006040002" "eeeeeeeeeeee" "a9fe0101"
                                  "02420af40102" "0af40102")


def test_prefixes_with_and_without_add_paths():
    assert packets._prefixes(bytes([0, 0, 0, 1, 26, 10, 244, 3, 0]), True) == ["10.244.3.0/26"]
    assert packets._prefixes(bytes([26, 10, 244, 3, 0, 24, 10, 1, 16]), False) == ["10.244.3.0/26", "10.1.16.0/24"]


# ------------------------------------------------------------------ live: a real BIRD in a world
def _world(name):
    t = netlab.calico_nodes(3)
    return netlab.World(t, name=name, record=False, leave_out=netlab.calico.pod_cables(t))


@pytest.mark.root
def test_mesh_routes_withdrawal_and_updates(root_only):
    with _world("t_calico") as w:
        mesh = netlab.calico.mesh(3)
        netlab.calico.plumb_pods(w, 3)
        for pod in netlab.calico.pods_of(3):
            assert checks.check_pod_plumbing(w, pod.node, pod=pod.name, ip=pod.ip)
        with w.capture("node1", "eth0", "tcp port 179") as cap:
            seconds = netlab.calico.start_mesh(w, mesh)
        assert seconds < 20
        for node in mesh:
            assert all(s == "Established" for s in netlab.calico.sessions(w, node).values())
            assert checks.check_blackhole(w, node.name, block=node.block)
        assert checks.check_bird_route(w, "node1", block="10.244.3.0/26", via="10.168.0.4")
        ups = [u for u in netlab.bgp_updates(cap.packets) if u.announced]
        assert any(u.src == "10.168.0.4" and u.announced == ("10.244.3.0/26",) and u.next_hop == "10.168.0.4"
                   for u in ups), ups
        # only blocks cross the wire: never a pod's /32
        assert all(ipaddress.IPv4Network(p).prefixlen == 26 for u in ups for p in u.announced)
        walk = w.trace("pod-1", "10.244.3.2")
        assert walk.delivered and walk.reply.delivered
        with w.capture("node1", "eth0", "tcp port 179") as cap:
            netlab.calico.stop_bird(w, mesh[2])
            netlab.calico.wait_routes(w, "node1", ["10.244.3.0/26"], present=False)
        assert any("Administrative Shutdown" in n for n in netlab.bgp_notifications(cap.packets))
        # persist: node3 keeps what its BIRD installed
        assert "10.244.1.0/26" in w.run("node3", "ip route show proto bird").stdout
        c = checks.check_bgp_session(w, "node1", peer="10.168.0.4")
        assert not c.ok and "not Established" in c.message
        c = checks.check_bgp_session(w, "node3", peer="10.168.0.2")
        assert not c.ok and "BIRD is not running in node3" in c.message


@pytest.mark.root
def test_a_configuration_error_shows_birds_message_and_line(root_only):
    with _world("t_calico_cfg") as w:
        node = netlab.calico.mesh(3)[0]
        broken = bird.render(node).replace("local as 64512;", "local as 64512")
        c = checks.check_bird_config(w, "node1", config=broken, start=True)
        assert not c.ok and "bird.cfg.try:" in c.message and "syntax error" in c.message, c
        assert not bird.running(w, node)  # nothing started on a refused file
        with pytest.raises(bird.BirdError, match=r"bird\.cfg:\d+:\d+ syntax error"):
            bird.start(w, node, broken)
        assert not checks.check_bird_config(w, "node1", config=None)
        assert checks.check_bird_config(w, "node1", config=bird.render(node))


@pytest.mark.root
def test_checks_fail_with_what_they_found(root_only):
    with _world("t_calico_checks") as w:
        pod = netlab.calico.pods_of(3)[0]
        c = checks.check_pod_plumbing(w, "node1", pod="pod-1", ip=pod.ip)
        assert not c.ok and "has no interface cali83dbd022cd5" in c.message
        plumbing.plumb_pod(w, pod)
        w.run("node1", f"sysctl -qw net.ipv4.conf.{pod.host_veth}.proxy_arp=0")
        c = checks.check_pod_plumbing(w, "node1", pod="pod-1", ip=pod.ip)
        assert not c.ok and "proxy_arp is 0, expected 1" in c.message
        w.run("pod-1", "ping -c 1 -W 1 10.168.0.2", check=False)
        assert not checks.check_proxy_arp(w, "node1", pod="pod-1")
        # a static route is not BGP's
        w.run("node1", "ip route add 10.244.3.0/26 via 10.168.0.4")
        c = checks.check_bird_route(w, "node1", block="10.244.3.0/26", via="10.168.0.4")
        assert not c.ok and "expected proto bird" in c.message and "typed by hand" in c.message
        w.run("node1", "ip route add blackhole 10.244.1.0/26")
        c = checks.check_blackhole(w, "node1", block="10.244.1.0/26")
        assert not c.ok and "expected proto bird" in c.message


def test_parse_protocols_reads_a_sanitized_recording_and_a_date():
    text = ("Mesh_10_168_0_3 BGP        ---        up     HH:MM:SS.MSEC  Established   \n"
            "Mesh_10_168_0_4 BGP        ---        up     2026-12-04 02:41:19.687  Established   \n")
    assert [p.info for p in bird.parse_protocols(text)] == ["Established", "Established"]


def test_felix_crosssubnet_and_always():
    from netlab.calico import felix
    eps = felix.endpoints(netlab.calico.two_subnets(pods=True))
    assert [(e.node, e.ip, e.block) for e in eps] == [("node1", "10.168.0.2/24", "10.244.1.0/26"),
                                                      ("node2", "10.168.0.3/24", "10.244.2.0/26"),
                                                      ("node3", "10.168.1.2/24", "10.244.3.0/26")]
    me, same, far = eps
    assert felix.peer_commands(me, same, "CrossSubnet") == ["ip route replace 10.244.2.0/26 via 10.168.0.3 dev eth0"]
    assert felix.peer_commands(me, far, "CrossSubnet")[-1] == \
        "ip route replace 10.244.3.0/26 via 10.244.3.0 dev vxlan.calico onlink"
    assert len(felix.peer_commands(me, same, "Always")) == 3
    assert "id 4096" in felix.device_commands(me)[0] and "dstport 4789" in felix.device_commands(me)[0]
    assert felix.ipip_route_command(far) == "ip route replace 10.244.3.0/26 via 10.168.1.2 dev tunl0 onlink"
    with pytest.raises(ValueError, match="choose one of Always, CrossSubnet"):
        felix.peer_commands(me, far, "Never")


def test_ipip_packet_adds_twenty_bytes():
    from scapy.layers.inet import ICMP, IP
    inner = IP(src="10.244.1.2", dst="10.244.3.2") / ICMP()
    p = packets.ipip_packet(inner, "10.168.0.2", "10.168.1.2")
    assert p["IP"].proto == 4 and len(p["IP"]) - len(inner) == 20


def test_widgets_say_what_each_mode_does():
    from netlab.calico import widgets
    across = {r["mode"]: r for r in widgets.modes(False)}
    assert not across["flannel host-gw"]["works"] and "Nexthop has invalid gateway" in across["flannel host-gw"]["why"]
    assert across["Calico IPIP Always"]["overhead"] == 20 and across["flannel VXLAN"]["overhead"] == 50
    assert all(r["works"] for r in widgets.modes(True))
    with pytest.raises(TypeError):
        widgets.modes("yes")
    assert "1024</b> blocks" in widgets.ipam_html("10.244.0.0/16", 26, 3)
    bad = widgets.ipam_html("10.244.0.0/16", 26, 0)
    assert "Cannot cut that pool" in bad and "1 to 64" in bad
    assert "Cannot cut that pool" in widgets.ipam_html("banana", 26, 3)
    assert netlab.ipam_calculator() is not None and netlab.mode_explorer() is not None


@pytest.mark.root
def test_crosssubnet_vxlan_calico_live(root_only):
    t = netlab.calico.two_subnets(pods=True)
    with netlab.World(t, name="t_calico_cross", record=False, leave_out=netlab.calico.pod_cables(t)) as w:
        for i in (1, 2, 3):
            plumbing.plumb_pod(w, plumbing.Pod(f"pod-{i}", f"node{i}", f"10.244.{i}.2", f"02:42:0a:f4:{i:02x}:02"))
        eps = netlab.calico.endpoints(t)
        for ep in eps:
            netlab.calico.program_felix(w, ep, eps)
        with w.capture("r1", "eth1", "udp port 4789") as wire:
            w.run("pod-1", "ping -c 1 -W 1 10.244.3.2")
        assert netlab.dissect_vxlan(wire.packets[0])["VXLAN"].vni == 4096
        with w.capture("lan", "port2", "udp port 4789") as lan:
            w.run("pod-1", "ping -c 1 -W 1 10.244.2.2")
        assert not lan.packets  # same subnet: no encapsulation


def test_checks_refuse_a_bad_block_in_a_sentence():
    assert "expected a block such as" in checks.check_bird_route(None, "node1", block="10.244.3", via="x").message
    assert "expected a block such as" in checks.check_blackhole(None, "node1", block=None).message


def test_ipip_commands_crosssubnet():
    from netlab.calico import felix
    eps = felix.endpoints(netlab.calico.two_subnets(pods=True))
    assert felix.ipip_commands(eps[0], eps) == [
        "ip addr add 10.244.1.0/32 dev tunl0", "ip link set tunl0 up",
        "ip route replace 10.244.2.0/26 via 10.168.0.3 dev eth0",
        "ip route replace 10.244.3.0/26 via 10.168.1.2 dev tunl0 onlink"]
    assert felix.ipip_commands(eps[0], eps, "Always")[2].endswith("dev tunl0 onlink")
    with pytest.raises(ValueError, match="ipipMode"):
        felix.ipip_commands(eps[0], eps, "Never")


@pytest.mark.root
def test_ipip_crosssubnet_live_in_uml_where_the_kernel_has_none(root_only):
    """tunl0 on this kernel or User-mode Linux's: the pod's packet crosses r1 inside protocol 4."""
    t = netlab.calico.two_subnets(pods=True)
    with netlab.calico.ipip_world(t, "t_calico_ipip", record=False, leave_out=netlab.calico.pod_cables(t)) as w:
        for i in (1, 2, 3):
            plumbing.plumb_pod(w, plumbing.Pod(f"pod-{i}", f"node{i}", f"10.244.{i}.2", f"02:42:0a:f4:{i:02x}:02"))
        eps = netlab.calico.endpoints(t)
        for ep in eps:
            netlab.calico.program_ipip(w, ep, eps)
        with w.capture("r1", "eth1", "ip proto 4") as wire:
            w.run("pod-1", "ping -c 1 -W 1 10.244.3.2")
        outer = wire.packets[0]
        assert (outer["IP"].proto, outer["IP"].payload.dst) == (4, "10.244.3.2")
        assert len(outer["IP"]) - len(outer["IP"].payload) == 20
