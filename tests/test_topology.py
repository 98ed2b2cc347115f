"""Topology validation: every bad declaration fails at once, naming the item; nothing is built."""

import pytest

from netlab import End, Topology, TopologyError, flannel_vxlan, pc_pair, pc_pair_with_router
from netlab.engine.build import build_plan


def two_nodes():
    t = Topology("t")
    t.add_node("a")
    t.add_node("b")
    return t


def test_duplicate_node():
    t = two_nodes()
    with pytest.raises(TopologyError, match="node 'a' is declared twice"):
        t.add_node("a")


def test_bad_node_name():
    with pytest.raises(TopologyError, match="node name 'a/b'"):
        Topology("t").add_node("a/b")


def test_duplicate_interface():
    t = two_nodes()
    t.add_link("a:eth0", "b:eth0")
    with pytest.raises(TopologyError, match="node a already has an interface named 'eth0'"):
        t.add_link("a:eth0", "b:eth1")
    assert "eth1" not in t.nodes["b"].interfaces  # the failed link left nothing behind
    t.add_bridge("b", "br0")
    with pytest.raises(TopologyError, match="node b already has an interface named 'br0'"):
        t.add_bridge("b", "br0")


def test_ifnamsiz():
    t = two_nodes()
    t.add_bridge("a", "x" * 15)  # exactly IFNAMSIZ is fine
    with pytest.raises(TopologyError, match=r"'veth1234567890ab' on a has 16 characters.*IFNAMSIZ"):
        t.add_link(End("a", "veth1234567890ab"), End("b", "eth0"))
    assert "veth1234567890ab" not in t.nodes["a"].interfaces
    assert "eth0" not in t.nodes["b"].interfaces  # nothing half-declared


def test_unknown_node():
    t = two_nodes()
    with pytest.raises(TopologyError, match="unknown node 'c'"):
        t.add_link("a:eth0", "c:eth0")
    with pytest.raises(TopologyError, match="unknown node 'zz'"):
        t.add_route("zz", "default", via="10.0.0.1")
    with pytest.raises(TopologyError, match="unknown node 'zz'"):
        t.add_sysctl("zz", "net.ipv4.ip_forward", 1)


@pytest.mark.parametrize("addr, msg", [("10.0.0.300/24", "not a valid CIDR"), ("10.0.0.1", "CIDR form"),
                                       ("fe80::1/64", "IPv6 but node a has IPv6 disabled")])
def test_bad_cidr(addr, msg):
    t = two_nodes()
    with pytest.raises(TopologyError, match=msg):
        t.add_link(End("a", "eth0", addr), End("b", "eth0"))


@pytest.mark.parametrize("mac, msg", [("5e:f8:4f:00:e3", "not a MAC"), ("zz:f8:4f:00:e3:37", "not a MAC"),
                                      ("01:00:5e:00:00:01", "multicast")])
def test_bad_mac(mac, msg):
    t = two_nodes()
    with pytest.raises(TopologyError, match=msg):
        t.add_link(End("a", "eth0", mac=mac), End("b", "eth0"))


def test_veth_ends_in_different_subnets():
    t = two_nodes()
    with pytest.raises(TopologyError, match=r"a:eth0 has 192.168.0.3/26 but b:eth0 has 192.168.0.192/26"):
        t.add_link(End("a", "eth0", "192.168.0.3/26"), End("b", "eth0", "192.168.0.192/26"))
    t.add_link(End("a", "eth0", "192.168.0.3/24"), End("b", "eth0", "192.168.0.192/24"))


def test_gateway_not_on_a_connected_subnet():
    t = two_nodes()
    t.add_link(End("a", "eth0", "10.0.0.1/24"), End("b", "eth0", "10.0.0.2/24"))
    t.add_route("a", "default", via="10.0.0.2")
    with pytest.raises(TopologyError, match=r"route 10.9.0.0/16 on a: gateway 10.1.16.0 is not on any subnet of a"):
        t.add_route("a", "10.9.0.0/16", via="10.1.16.0")
    t.add_route("a", "10.9.0.0/16", via="10.1.16.0", dev="eth0", onlink=True)
    with pytest.raises(TopologyError, match="onlink needs dev="):
        t.add_route("a", "10.8.0.0/16", via="10.1.16.0", onlink=True)
    with pytest.raises(TopologyError, match="destination must be 'default' or a network"):
        t.add_route("a", "10.8.0.1/16", via="10.0.0.2")


def test_master_must_be_a_bridge_on_the_same_node():
    t = two_nodes()
    t.add_bridge("b", "docker0", address="172.17.0.1/16")
    with pytest.raises(TopologyError, match="master 'docker0' is not a bridge on node a"):
        t.add_link(End("b", "eth0"), End("a", "veth0", master="docker0"))
    t.add_link(End("a", "eth0"), End("b", "veth0", master="docker0"))
    with pytest.raises(TopologyError, match="master 'veth0' is not a bridge on node b"):
        t.add_link(End("a", "eth1"), End("b", "veth1", master="veth0"))


def test_vxlan_fdb_neigh_validation():
    t = two_nodes()
    t.add_link(End("a", "eth0", "10.168.0.2/24"), End("b", "eth0", "10.168.0.3/24"))
    with pytest.raises(TopologyError, match="underlay device 'eth9' is not an interface of a"):
        t.add_vxlan("a", "flannel.1", 1, "10.168.0.2", "eth9")
    with pytest.raises(TopologyError, match="vni"):
        t.add_vxlan("a", "flannel.1", 2 ** 24, "10.168.0.2", "eth0")
    t.add_vxlan("a", "flannel.1", 1, "10.168.0.2", "eth0")
    with pytest.raises(TopologyError, match="needs a vxlan device, and eth0 is a veth"):
        t.add_fdb("a", "eth0", "5e:f8:4f:00:e3:37", "10.168.0.3")
    with pytest.raises(TopologyError, match="'not-an-ip' is not an IP address"):
        t.add_neigh("a", "flannel.1", "not-an-ip", "5e:f8:4f:00:e3:37")
    with pytest.raises(TopologyError, match="iptables-save"):
        t.add_iptables("a", "POSTROUTING -j MASQUERADE", table="nat")
    with pytest.raises(TopologyError, match="table 'nats'"):
        t.add_iptables("a", "-A POSTROUTING -j MASQUERADE", table="nats")


def test_repr_shows_nodes_interfaces_addresses():
    t = pc_pair()
    text = repr(t)
    assert "Topology 'pc_pair': 3 nodes, 2 links" in text
    assert "eth0 192.168.0.3/26 02:42:c0:a8:00:03 <-> lan:port1" in text
    assert "br0 (bridge)" in text
    assert repr(t.node("pc1")).startswith("Node pc1\n  eth0 192.168.0.3/26")


def test_macs_are_fixed():
    a, b = build_plan(flannel_vxlan()), build_plan(flannel_vxlan())
    assert repr(a) == repr(b)
    assert all(i.mac for n in pc_pair_with_router().nodes.values() for i in n.interfaces.values())


def test_plan_is_batched():
    plan = build_plan(flannel_vxlan())
    # netns, sysctls, veths, one chain per node, late settings, link sync
    assert len(plan) == 6
    assert plan[0][0][0].lines[:2] == ["netns add node1", "netns add container-1"]
    assert any("fdb add 5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent" in b.lines
               for chain in plan[3] for b in chain)
