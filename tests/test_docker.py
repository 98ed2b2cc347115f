"""Chapters 3 and 4: Docker's bridge and NAT built by hand (netlab.docker), its checks (netlab.checks.docker)."""
import os

import pytest

import netlab
from netlab import docker
from netlab.docker.widgets import BridgeSnapshot, bridge_explorer, bridge_walk, render_bridge_walk

root = pytest.mark.skipif(os.geteuid() != 0, reason="builds a live world with iptables and tcpdump: needs root")

SNAP = {"node": "node1", "bridge": "docker0", "bridge_ip": "172.17.0.1", "bridge_mac": "02:42:15:82:98:cb",
        "ports": {"veth9c02e56": {"endpoint": "nginx-1", "ip": "172.17.0.2", "mac": "02:42:ac:11:00:02"},
                  "veth49a9513": {"endpoint": "nginx-2", "ip": "172.17.0.3", "mac": "02:42:ac:11:00:03"},
                  "vethb83ae6e": {"endpoint": "nginx-3", "ip": "172.17.0.4", "mac": "02:42:ac:11:00:04"}},
        "fdb": {}}


def test_docker_mac_and_veth_names():
    assert docker.container_mac("172.17.0.2") == "02:42:ac:11:00:02"
    assert docker.container_mac("172.17.255.254") == "02:42:ac:11:ff:fe"
    assert docker.veth_name("nginx-1") == "veth9c02e56"
    for name in ("nginx-2", "nginx-3", "web"):
        v = docker.veth_name(name)
        assert len(v) == 11 and v.startswith("veth") and int(v[4:], 16) >= 0


def test_topology_has_docker_rules_and_seed_names():
    t = docker.docker_node()
    node1 = t.node("node1")
    assert node1.interfaces["docker0"].mac == "02:42:15:82:98:cb"
    assert node1.interfaces["docker0"].addresses == ["172.17.0.1/16"]
    assert node1.interfaces["veth9c02e56"].master == "docker0"
    assert ("nat", docker.MASQUERADE_RULE) in node1.iptables
    assert ("nat", "-A DOCKER -i docker0 -j RETURN") in node1.iptables
    assert t.node("nginx-1").interfaces["eth0"].mac == "02:42:ac:11:00:02"
    broken = docker.docker_node(nat=False, attach=False, bridge_address=False)
    assert broken.node("node1").iptables == []
    assert broken.node("node1").interfaces["veth9c02e56"].master is None
    with pytest.raises(ValueError):
        docker.docker_node(containers=4)


def test_publish_rules_are_dockers():
    rules = docker.publish_rules("172.17.0.2", 8080, 80)
    assert ("nat", "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80") in rules


def test_both_publishing_modes_are_built_as_dockerd_builds_them():
    """The rules and link settings tests/test_docker_engine.py checks against the real dockerd, without a kernel."""
    proxy = docker.docker_node(publish=[("nginx-1", 8080, 80)]).node("node1")
    plain = docker.docker_node(publish=[("nginx-1", 8080, 80)], userland_proxy=False).node("node1")
    assert ("filter", "-P FORWARD DROP") in proxy.iptables and ("filter", "-P FORWARD DROP") in plain.iptables
    assert [r for r in proxy.iptables if r[0] == "filter"] == [r for r in plain.iptables if r[0] == "filter"]
    assert ("filter", "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT") \
        in proxy.iptables
    assert ("nat", "-A DOCKER -i docker0 -j RETURN") in proxy.iptables
    assert ("nat", "-A DOCKER -i docker0 -j RETURN") not in plain.iptables
    assert ("nat", "-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80") in plain.iptables
    assert ("net.ipv4.conf.docker0.route_localnet", "1") in plain.sysctls
    assert not any("route_localnet" in k for k, _ in proxy.sysctls)
    assert [i.hairpin for i in plain.interfaces.values() if i.master] == [True, True]
    assert not any(i.hairpin for i in proxy.interfaces.values())
    assert {i.txqueuelen for n, i in plain.interfaces.items() if n != "eth0"} == {0}
    assert proxy.interfaces["docker0"].broadcast
    # dockerd --ip-forward=false keeps FORWARD's policy; --iptables=false adds no rule in any table
    assert ("filter", "-P FORWARD DROP") not in docker.docker_node(ip_forward=False).node("node1").iptables
    assert docker.docker_node(nat=False, userland_proxy=False).node("node1").iptables == []
    script = docker.docker_node(userland_proxy=False).script()
    for line in ("ip -n node1 link set dev docker0 txqueuelen 0", "ip -n node1 addr add 172.17.0.1/16 brd + dev docker0",
                 "ip -n node1 link set dev veth9c02e56 type bridge_slave hairpin on",
                 "ip netns exec node1 iptables -t filter -P FORWARD DROP"):
        assert line in script.splitlines()


def test_hairpin_needs_a_bridge_port():
    t = netlab.engine.topology.Topology("t")
    t.add_node("a")
    t.add_node("b")
    with pytest.raises(netlab.engine.topology.TopologyError, match="hairpin is a bridge port's setting"):
        t.add_link(netlab.engine.topology.End("a", "eth0", hairpin=True), "b:eth0")
    with pytest.raises(netlab.engine.topology.TopologyError, match="txqueuelen"):
        t.add_bridge("a", "br0", txqueuelen=-1)


@root
@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_the_proxy_relays_as_docker_proxy_does(proto):
    """docker-proxy's two protocols: the container sees the proxy (172.17.0.1) as its client."""
    with netlab.World(docker.docker_node(publish=[("nginx-1", 8080, 80)]), name="test_docker_proxy") as w:
        kind = "SOCK_STREAM" if proto == "tcp" else "SOCK_DGRAM"
        # a UDP reply leaves the proxy's unbound-address socket with the route's source, docker0's
        address = "10.168.0.2" if proto == "tcp" else "172.17.0.1"
        serve = ("import socket\ns = socket.socket(type=socket.%s)\ns.bind(('0.0.0.0', 80))\n"
                 "if s.type == socket.SOCK_STREAM:\n    s.listen()\n    while True:\n        c, peer = s.accept()\n"
                 "        c.recv(100); c.sendall(f'from {peer[0]}'.encode()); c.close()\n"
                 "while True:\n    data, peer = s.recvfrom(100); s.sendto(f'from {peer[0]}'.encode(), peer)\n") % kind
        w.start("nginx-1", ["python3", "-c", serve], name="server")
        names = netlab.start_docker_proxy(w, "172.17.0.2", 8080, 80, proto=proto)
        assert names == [f"docker-proxy-{proto}-v4-8080"]
        ask = ("import socket, time\nfor i in range(40):\n    s = socket.socket(type=socket.%s); s.settimeout(0.5)\n"
               "    try:\n        s.connect(('%s', 8080)); s.send(b'hello'); got = s.recv(100).decode()\n"
               "    except OSError:\n        got = ''\n"
               "    if got:\n        print(got); break\n    time.sleep(0.1)\n") % (kind, address)  # until the server listens
        got = w.run("nginx-2", ["python3", "-c", ask]).stdout
        assert got.strip() == "from 172.17.0.1"


def test_bridge_walk_floods_broadcast_and_unknown_unicast():
    snap = BridgeSnapshot.from_dict(SNAP)
    hops, fdb = bridge_walk(snap, "nginx-1", "nginx-2")
    assert [h.out_ports for h in hops] == [["veth49a9513", "vethb83ae6e", "docker0"], ["veth9c02e56"],
                                           ["veth49a9513"], ["veth9c02e56"]]
    assert fdb == {"02:42:ac:11:00:02": "veth9c02e56", "02:42:ac:11:00:03": "veth49a9513"}
    hops, _ = bridge_walk(snap, "nginx-1", "nginx-2", arp_cached=True)
    assert "unknown unicast" in hops[0].why and len(hops[0].out_ports) == 3
    hops, _ = bridge_walk(snap, "nginx-1", "node1 (docker0)", arp_cached=True)
    assert hops[0].out_ports == ["docker0"]


def test_bridge_explorer_bad_input_and_update():
    snap = BridgeSnapshot.from_dict(SNAP)
    assert "Pick again" in render_bridge_walk(snap, "nginx-1", "nginx-1")
    assert "Pick again" in render_bridge_walk(snap, "nginx-1", "nginx-9")
    box = bridge_explorer(SNAP, src="nginx-1", dst="nginx-2")
    html_out = box.children[-1]
    assert "flooded" in html_out.value
    before = html_out.value
    box.children[1].children[0].value = True  # ARP cached
    assert html_out.value != before and "ARP who-has" not in html_out.value
    box.children[0].children[1].value = "nginx-1"
    assert "Pick again" in html_out.value


def test_conntrack_parser_and_formatter():
    line = ("tcp      6 119 TIME_WAIT src=10.168.0.3 dst=10.168.0.2 sport=40000 dport=8080 src=172.17.0.2 "
            "dst=10.168.0.3 sport=80 dport=40000 [ASSURED] mark=0 use=1")

    class W:
        def run(self, node, cmd, check=True):
            assert (node, cmd) == ("node1", "conntrack -L")
            return netlab.CommandResult(node, cmd, line + "\n", "", 0)
    e = netlab.kernel.conntrack(W(), "node1")[0]
    assert e.state == "TIME_WAIT" and e.original["dport"] == "8080" and e.reply["src"] == "172.17.0.2"
    text = docker.format_conntrack([e])
    assert "40000" not in text and "sport=80" in text and "[ASSURED]" in text


@pytest.fixture(scope="module")
def world():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with netlab.World(docker.docker_node(containers=3, publish=[("nginx-1", 8080, 80)]),
                      name="test_docker") as w:
        yield w


@root
def test_the_seeds_own_commands_run_live(world):
    """Chapter 3 runs net-tools' and bridge-utils' commands, installed with the lab tools (binder/apt.txt)."""
    brctl = world.run("node1", "brctl show").stdout.splitlines()
    assert brctl[0].split() == ["bridge", "name", "bridge", "id", "STP", "enabled", "interfaces"]
    assert brctl[1].split() == ["docker0", "8000.0242158298cb", "no", "veth49a9513"]
    assert [l.strip() for l in brctl[2:]] == ["veth9c02e56", "vethb83ae6e"]
    route_n = world.run("nginx-1", "route -n").stdout
    assert route_n == netlab.parse_routes(world.run("nginx-1", "ip -j route").stdout).text("linux-route")
    ifconfig = world.run("nginx-1", ["sh", "-c", "ifconfig eth0 | head -3"]).stdout
    assert "inet 172.17.0.2  netmask 255.255.0.0  broadcast 172.17.255.255" in ifconfig  # Docker 20.10: brd from netlink
    assert "ether 02:42:ac:11:00:02" in ifconfig and "flags=4163<UP,BROADCAST,RUNNING,MULTICAST>" in ifconfig


@root
def test_bridge_model_matches_kernel(world):
    world.run("node1", "bridge fdb flush dev docker0 dynamic", check=False)
    for c in ("nginx-1", "nginx-2"):
        world.run(c, "ip neigh flush dev eth0")
    snap = netlab.bridge_snapshot(world)
    for mac in list(snap.fdb):
        snap.fdb.pop(mac)
    hops, after = bridge_walk(snap, "nginx-1", "nginx-2")
    seen = netlab.observe_ports(world, "nginx-1", "172.17.0.3", ping="ping -c 1 -W 1 -e 1")
    assert [ports for _, ports in seen] == [sorted(p for p in h.out_ports + [h.in_port] if p != "docker0")
                                            for h in hops]
    assert netlab.check_fdb(world, "node1", mac="02:42:ac:11:00:02", bridge="docker0", port="veth9c02e56")


@root
def test_frames_match_scapy(world):
    world.run("nginx-1", "ip neigh flush dev eth0")
    with world.capture("nginx-1", "eth0", "arp or icmp") as cap:
        world.run("nginx-1", "ping -c 1 -W 1 -e 1 172.17.0.3")
    built = docker.echo_frames("172.17.0.2", "172.17.0.3")
    results = [netlab.compare_packets(p, built[k]).equal for p, k in zip(cap.packets, built)]
    assert results == [True, True, True, True]
    wrong = docker.echo_frames("172.17.0.2", "172.17.0.3", src_mac="02:42:ac:11:00:09")
    assert not netlab.compare_packets(cap.packets[0], wrong["arp_request"]).equal


@root
def test_masquerade_counters_and_rewrite(world):
    before = {r.text: r.packets for r in netlab.kernel.iptables_rules(world, "node1", "nat")}[docker.MASQUERADE_RULE]
    with world.capture("node1", "eth0", "icmp") as cap:
        world.run("nginx-1", "ping -c 1 -W 1 -e 31 10.168.0.3")
    after = {r.text: r.packets for r in netlab.kernel.iptables_rules(world, "node1", "nat")}[docker.MASQUERADE_RULE]
    assert after == before + 1
    assert [p["IP"].src for p in cap.packets] == ["10.168.0.2", "10.168.0.3"]


@root
def test_published_port_serves_http(world):
    docker.start_http_server(world, "nginx-1")
    assert world.run("node2", "curl -s -m 2 http://10.168.0.2:8080/").stdout.strip() == "Welcome to nginx-1"
    rule = docker.publish_rules("172.17.0.2", 8080, 80)[1][1]
    assert netlab.check_nat_rule(world, "node1", rule=rule, min_packets=1)


@root
@pytest.mark.parametrize("break_cmd,fix_cmd,node,step", [
    ("ip addr del 172.17.0.1/16 dev docker0", "ip addr add 172.17.0.1/16 brd + dev docker0", "node1", 1),
    ("ip link set veth9c02e56 nomaster", "ip link set veth9c02e56 master docker0", "node1", 1),
    ("ip route del default", "ip route add default via 172.17.0.1 dev eth0", "nginx-1", 2),
    ("sysctl -w net.ipv4.ip_forward=0", "sysctl -w net.ipv4.ip_forward=1", "node1", 3),
    ("iptables -t nat -D " + docker.MASQUERADE_RULE[3:], "iptables -t nat " + docker.MASQUERADE_RULE, "node1", 4),
])
def test_diagnose_finds_each_broken_link(world, break_cmd, fix_cmd, node, step):
    assert netlab.diagnose_docker(world, "nginx-1")
    world.run(node, break_cmd)
    try:
        d = netlab.diagnose_docker(world, "nginx-1")
        assert not d.ok and len(d.steps) == step and not d.steps[-1].ok
        assert all(s.ok for s in d.steps[:-1])
    finally:
        world.run(node, fix_cmd)
        world.run("node1", "conntrack -F")
    assert netlab.diagnose_docker(world, "nginx-1")


@root
def test_two_nodes_overlap():
    with netlab.World(docker.docker_two_nodes(), name="test_docker_two") as w:
        assert w.run("container-1", "ip route get 172.17.0.2").stdout.startswith("local")
        res = w.run("node1", "ip route add 172.17.0.0/16 via 10.168.0.3", check=False)
        assert res.returncode != 0 and "File exists" in res.stderr
