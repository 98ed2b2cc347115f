"""Root-mode worlds: what each topology feature builds, read back from the live kernel."""

import os
import re

import pytest

from netlab import (GATEWAY_MAC, BuildError, CommandError, End, Topology, World, WorldError, check_neighbour,
                    check_route, check_routers_crossed, check_walk, flannel_vxlan, kernel, pc_pair, pc_pair_with_router)

pytestmark = pytest.mark.root


def docker0():
    """The seed's single-host Docker bridge: node1 with docker0, nginx-1 on veth9c02e56."""
    t = Topology("docker0")
    t.add_node("node1", sysctls={"net.ipv4.ip_forward": 1})
    t.add_node("nginx-1")
    t.add_bridge("node1", "docker0", address="172.17.0.1/16", mac="02:42:d8:e4:df:c1")
    t.add_link(End("nginx-1", "eth0", "172.17.0.2/16", mac="02:42:ac:11:00:02"),
               End("node1", "veth9c02e56", master="docker0", mac="52:81:0b:24:3d:da"))
    t.add_route("nginx-1", "default", via="172.17.0.1")
    t.add_iptables("node1", "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE", table="nat")
    t.add_iptables("node1", "-N DOCKER", table="nat")
    t.add_iptables("node1", "-A DOCKER -i docker0 -j RETURN", table="nat")
    t.add_sysctl("node1", "net.ipv4.conf.docker0.proxy_arp", 1)
    t.add_sysctl("node1", "net.ipv4.conf.all.rp_filter", 2)
    return t


def test_pc_pair_network_unreachable():
    with World(pc_pair()) as w:
        assert w.nodes == ["pc1", "pc2", "lan"]
        r = w.run("pc1", "ping -c 1 -W 1 192.168.0.192", check=False)
        assert r.returncode == 2
        assert str(r) == "$ ip netns exec pc1 ping -c 1 -W 1 192.168.0.192\nping: connect: Network is unreachable"
        r = w.run("pc1", "ip route get 192.168.0.192", check=False)
        assert r.stderr == "RTNETLINK answers: Network is unreachable\n"
        assert kernel.route_get(w, "pc1", "192.168.0.192") is None
        check = check_route(w, "pc1", dst="192.168.0.192", via="192.168.0.1")
        assert not check.ok and "answers 'Network is unreachable' for 192.168.0.192" in check.message
        assert "expected via 192.168.0.1" in check.message and "ip route add" not in check.message
        with pytest.raises(CommandError) as e:
            w.run("pc1", "ping -c 1 -W 1 192.168.0.192")
        msg = str(e.value)
        assert "`ip netns exec pc1 ping -c 1 -W 1 192.168.0.192` in node pc1 exited with code 2" in msg
        assert "Network is unreachable" in msg and "check=False" not in msg  # no invitation to silence it
        assert e.value.result.returncode == 2


def test_pc_pair_same_subnet_pings():
    with World(pc_pair("192.168.0.4/26")) as w:
        assert "1 received" in w.ping("pc1", "192.168.0.4").stdout
        assert check_route(w, "pc1", dst="192.168.0.4", dev="eth0").ok


def test_router_forwards():
    with World(pc_pair_with_router()) as w:
        r = w.run("pc1", "ping -c 1 -W 1 192.168.0.192")
        assert "ttl=63" in r.stdout  # one router on the way
        assert kernel.route_get(w, "pc1", "192.168.0.192").gateway == "192.168.0.1"
        assert check_route(w, "pc1", dst="192.168.0.192", via="192.168.0.1", dev="eth0").ok
        bad = check_route(w, "pc1", dst="192.168.0.192", via="192.168.0.2")
        assert not bad and "via 192.168.0.1" in bad.message
        assert w.run("r1", "sysctl -n net.ipv4.ip_forward").stdout == "1\n"
        assert kernel.routes(w, "pc1")[0] == kernel.Route("default", "192.168.0.1", "eth0")
        assert kernel.addresses(w, "r1")["eth1"] == ["192.168.0.193/26"]
        nb = kernel.neighbours(w, "pc1")
        assert nb[0].dst == "192.168.0.1" and nb[0].lladdr == GATEWAY_MAC
        assert check_neighbour(w, "pc1", ip="192.168.0.1", mac=GATEWAY_MAC, dev="eth0").ok


def test_docker0_bridge_iptables_sysctls():
    with World(docker0()) as w:
        nat = w.run("node1", "iptables -t nat -S").stdout
        assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in nat
        assert "-A DOCKER -i docker0 -j RETURN" in nat
        assert w.run("node1", "sysctl -n net.ipv4.ip_forward net.ipv4.conf.docker0.proxy_arp"
                              " net.ipv4.conf.all.rp_filter").stdout.split() == ["1", "1", "2"]
        assert w.run("node1", "sysctl -n net.ipv6.conf.all.disable_ipv6").stdout == "1\n"
        assert "master docker0 state forwarding" in w.run("node1", "bridge link").stdout
        assert w.run("nginx-1", "ip route").stdout == (
            "default via 172.17.0.1 dev eth0 \n172.17.0.0/16 dev eth0 proto kernel scope link src 172.17.0.2 \n")
        assert "link/ether 02:42:ac:11:00:02" in w.run("nginx-1", "ip link show eth0").stdout
        assert "1 received" in w.run("node1", "ping -c 1 -W 1 172.17.0.2").stdout
        assert "inet6" not in w.run("nginx-1", "ip addr").stdout  # IPv6 off unless asked for


def test_vxlan_reproduces_the_seed():
    with World(flannel_vxlan()) as w:
        assert w.run("node1", "ip neigh show dev flannel.1").stdout.rstrip() == \
            "10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT"
        assert w.run("node1", "bridge fdb show | grep 5e:f8").stdout == \
            "5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent\n"
        assert "10.1.16.0/24 via 10.1.16.0 dev flannel.1 onlink" in w.run("node1", "ip route").stdout
        assert "vxlan id 1 local 10.168.0.2 dev eth0 srcport 0 0 dstport 8472 nolearning" in \
            w.run("node1", "ip -d link show flannel.1").stdout
        assert "ttl=62" in w.run("container-1", "ping -c 1 -W 1 10.1.16.2").stdout


def test_tun_and_ipv6_opt_in():
    t = Topology("tun")
    t.add_node("node1", ipv6=True)
    t.add_tun("node1", "flannel0", address=["100.96.1.0/16", "fd00:96::1/64"], mtu=1472)
    with World(t) as w:
        out = w.run("node1", "ip -d addr show flannel0").stdout
        assert "mtu 1472" in out and "tun type tun" in out and "inet 100.96.1.0/16" in out
        assert "inet6 fd00:96::1/64" in out
        assert w.run("node1", "sysctl -n net.ipv6.conf.all.disable_ipv6").stdout == "0\n"


def test_background_process_and_top_namespace():
    with World(pc_pair_with_router()) as w:
        name = w.start("pc2", "iperf3 -s -1", name="iperf3")
        for _ in range(50):  # wait for the server socket
            if ":5201" in w.run("pc2", "ss -ltn").stdout:
                break
        client = w.run("pc1", "iperf3 -c 192.168.0.192 -n 10M -J")
        assert '"bits_per_second"' in client.stdout
        server = w.stop(name)
        assert "Server listening on 5201" in server.stdout
        top = w.run(None, "ip netns list").stdout
        assert sorted(l.split()[0] for l in top.splitlines()) == ["pc1", "pc2", "r1"]
        assert w.run(None, "ip -o link").stdout.count("\n") == 1  # the top namespace holds only lo
        assert str(w.run(None, "ip -o link show lo")).startswith("$ ip -o link show lo\n1: lo:")
        with pytest.raises(WorldError, match="no node named 'pc9'"):
            w.run("pc9", "true")


def test_pid_1_reaps_orphans():
    """A command that leaves a child behind (a daemon's double fork does the same) makes an orphan;
    PID 1 of the world must reap it, or it stays a zombie until the world closes."""
    with World(pc_pair()) as w:
        for _ in range(5):
            w.run("pc1", "sh -c 'sleep 0.1 & exit 0'")
        w.run(None, "sleep 0.5")
        states = w.run(None, "ps -eo stat=,pid=,ppid=,comm=").stdout
        assert not [l for l in states.splitlines() if l.split()[0].startswith("Z")], states
        init = [l.split() for l in states.splitlines() if l.split()[1] == "1"]
        assert init and init[0][3].startswith("python"), states  # PID 1 is the agent's reaper


def test_transcript_and_close():
    w = World(pc_pair_with_router())
    r = w.run("pc1", "ip route")
    expected = ("$ ip netns exec pc1 ip route\ndefault via 192.168.0.1 dev eth0 \n"
                "192.168.0.0/26 dev eth0 proto kernel scope link src 192.168.0.3 ")
    assert repr(r) == str(r) == expected

    class Pretty:  # what IPython's pretty printer hands to _repr_pretty_
        def __init__(self):
            self.out = ""

        def text(self, s):
            self.out += s
    p = Pretty()
    r._repr_pretty_(p, False)
    assert p.out == expected
    r2 = w.run("pc1", "ip route show; echo err >&2")
    assert r2.transcript.endswith("src 192.168.0.3 \nerr\n")
    r3 = w.run("pc1", ["sh", "-c", "exit 3"], check=False)
    assert r3.returncode == 3 and r3.command == "sh -c 'exit 3'"
    slow = w.run("pc1", "sleep 5", timeout=0.2, check=False)
    assert slow.returncode == -9 and "timed out" in slow.stderr
    w.close()
    w.close()  # idempotent
    with pytest.raises(WorldError, match="is closed"):
        w.run("pc1", "true")


def test_build_error_names_command_and_kernel_error():
    t = pc_pair_with_router()
    t.add_vxlan("r1", "vx0", 42, "192.168.0.1", "eth0", mtu=9000)  # larger than eth0 allows
    seen = {}
    with pytest.raises(BuildError) as e:
        World(t, trace=lambda event, data: seen.setdefault(event, data))
    assert e.value.command == "ip -n r1 link set dev vx0 mtu 9000"
    assert str(e.value).startswith("building 'pc_pair_with_router': `ip -n r1 link set dev vx0 mtu 9000` failed: ")
    pid = seen["ready"]["unshare_pid"]
    assert not os.path.exists(f"/proc/{pid}/ns/net")  # the half-built world was torn down
    assert "mtu" in e.value.error.lower() or "invalid" in e.value.error.lower()
    t = pc_pair()
    t.add_iptables("lan", "-A FORWARD -j NO-SUCH-TARGET")
    with pytest.raises(BuildError, match="iptables-restore"):
        World(t)
    t = pc_pair()
    t.add_sysctl("pc1", "net.ipv4.conf.eth0.no_such_knob", 1)
    with pytest.raises(BuildError, match="no_such_knob"):
        World(t)


def _stable(text):
    return re.sub(r"(_timer)\s+[0-9.]+", r"\1 T", text)


def test_building_twice_gives_identical_outputs():
    outputs = []
    for _ in range(2):
        with World(flannel_vxlan()) as w:
            outputs.append({n: (_stable(w.run(n, "ip -d addr").stdout), w.run(n, "ip route").stdout,
                                w.run(n, "ip neigh show nud permanent").stdout) for n in w.nodes})
    assert outputs[0] == outputs[1]


def test_two_worlds_with_the_same_names():
    with World(pc_pair_with_router()) as a, World(pc_pair_with_router()) as b:
        a.run("pc1", "ip link add marker type bridge")
        assert "marker" in a.run("pc1", "ip -o link").stdout
        assert "marker" not in b.run("pc1", "ip -o link").stdout
        assert a.info()["nodes"]["pc1"] != b.info()["nodes"]["pc1"]
        assert a.info()["ns"]["net"] != b.info()["ns"]["net"]
        for w in (a, b):
            assert "1 received" in w.ping("pc1", "192.168.0.192").stdout
            assert sorted(w.run(None, "ls /run/netns").stdout.split()) == ["pc1", "pc2", "r1"]


def test_lab_router_variant_starts_without_default_routes_and_counts_routers():
    with World(pc_pair_with_router(default_routes=False)) as w:
        assert kernel.route_get(w, "pc1", "192.168.0.192") is None
        assert not check_routers_crossed(w, "pc1", dst="192.168.0.192", answer=1)  # no reply to count yet
        w.run("pc1", "ip route add default via 192.168.0.1")
        w.run("pc2", "ip route add default via 192.168.0.193")
        assert check_routers_crossed(w, "pc1", dst="192.168.0.192", answer=1).ok
        wrong = check_routers_crossed(w, "pc1", dst="192.168.0.192", answer=0)
        assert not wrong and "ttl=63" in wrong.message
        assert "whole number" in check_routers_crossed(w, "pc1", dst="192.168.0.192", answer="one").message


def test_check_walk_reads_the_path_and_the_verdict():
    with World(pc_pair_with_router()) as w:
        walk = w.trace("pc1", "192.168.0.192")
        assert check_walk(walk, through=["pc1", "r1", "pc2"]).ok
        assert "never reaching r2" in check_walk(walk, through=["pc1", "r2", "pc2"]).message
        w.run("r1", "ip route add blackhole 192.168.0.192/32")
        dropped = w.trace("pc1", "192.168.0.192")
        assert "died at r1" in check_walk(dropped).message
        assert check_walk(dropped, delivered=False).ok
