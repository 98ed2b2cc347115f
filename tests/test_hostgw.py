"""Chapter 7, section 7.1: flanneld's host-gw backend writes one route per remote lease, replaces a
conflicting one, re-adds a deleted one, refuses a NAT, and logs the kernel's refusal of a gateway
that is not on the interface's subnet."""

import ipaddress
import json
import time

import pytest

import netlab
from netlab import flannel
from netlab.flannel import hostgw
from netlab.flannel.store import MemoryStore

HOSTGW = flannel.HOSTGW_NETWORK_CONFIG


def test_route_is_flannels_get_route():
    assert hostgw.route_command(ipaddress.IPv4Network("10.1.16.0/24"), "10.168.0.3", "eth0") == \
        "ip route add 10.1.16.0/24 via 10.168.0.3 dev eth0"
    assert "onlink" not in hostgw.route_command("10.1.16.0/24", "10.168.0.3", "eth0")


def test_only_other_host_gw_leases_become_routes():
    leases = {"/coreos.com/network/subnets/10.1.15.0-24": flannel.lease_value("10.168.0.2", "host-gw"),
              "/coreos.com/network/subnets/10.1.16.0-24": flannel.lease_value("10.168.0.3", "host-gw"),
              "/coreos.com/network/subnets/10.1.17.0-24": flannel.lease_value("10.168.0.4", "vxlan"),
              "/coreos.com/network/subnets/10.1.18.0-24": "not json"}
    table = hostgw.hostgw_leases(leases, ipaddress.IPv4Network("10.1.15.0/24"))
    assert table == {ipaddress.IPv4Network("10.1.16.0/24"): "10.168.0.3"}


def test_config_must_be_host_gw():
    store = MemoryStore()
    store.set(flannel.CONFIG_KEY, json.dumps(flannel.VXLAN_NETWORK_CONFIG))
    with pytest.raises(flannel.FlannelError, match="not 'host-gw'"):
        hostgw.HostgwFlanneld(store, iface="lo").start()


def test_cli_has_host_gw():
    from netlab.flannel.__main__ import parser
    args = parser().parse_args(["host-gw", "--etcd", "http://10.168.0.1:2379", "--check-every", "2"])
    assert args.cmd == "host-gw" and args.check_every == 2


def _start(world, store, node, subnet, **kw):
    return flannel.start_flanneld(world, node, store, backend="host-gw", subnet=subnet, check_every=1, **kw)


@pytest.mark.root
def test_routes_walk_check_and_replace(root_only):
    with netlab.World(netlab.flannel_vxlan_nodes(), name="t_hostgw", record=False) as w:
        store = flannel.start_store(w, embedded=True)
        flannel.put_config(w, store, config=HOSTGW)
        _start(w, store, "node1", "10.1.15.0/24")
        _start(w, store, "node2", "10.1.16.0/24")
        flannel.wait_for_entries(w, "node1", ["10.1.16.0/24"], dev="eth0")
        flannel.wait_for_entries(w, "node2", ["10.1.15.0/24"], dev="eth0")
        r = [x for x in netlab.kernel.routes(w, "node1") if x.dst == "10.1.16.0/24"][0]
        assert (r.gateway, r.dev, "onlink" in r.flags) == ("10.168.0.3", "eth0", False)
        walk = w.trace("container-1", "10.1.16.3")
        assert walk.delivered and walk.reply is not None and walk.reply.delivered
        assert "FLANNEL_MTU=1500" in w.run("node1", "cat /run/flannel/subnet-10.168.0.2.env").stdout
        # deleted by hand: the route check puts it back
        w.run("node1", "ip route del 10.1.16.0/24")
        flannel.wait_for_entries(w, "node1", ["10.1.16.0/24"], dev="eth0", timeout=5)
        assert "Route recovered 10.1.16.0/24 : 10.168.0.3" in flannel.flanneld_log(w, "node1").stdout
        # a conflicting route is replaced when the daemon starts again
        w.stop("flanneld-node1")
        w.run("node1", "ip route replace 10.1.16.0/24 via 10.168.0.1 dev eth0")
        _start(w, store, "node1", "10.1.15.0/24")
        deadline = time.monotonic() + 5
        while "via 10.168.0.3" not in w.run("node1", "ip route show 10.1.16.0/24").stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert "Replacing existing route to 10.1.16.0/24 via 10.168.0.1" in flannel.flanneld_log(w, "node1").stdout


@pytest.mark.root
def test_nat_is_refused_with_flannels_message(root_only):
    with netlab.World(netlab.flannel_vxlan_nodes(), name="t_hostgw_nat", record=False) as w:
        store = flannel.start_store(w, embedded=True)
        flannel.put_config(w, store, config=HOSTGW)
        with pytest.raises(RuntimeError, match="PublicIP differs from interface IP.*not supported by host-gw"):
            flannel.start_flanneld(w, "node1", store, backend="host-gw", public_ip="192.0.2.1")


@pytest.mark.root
def test_a_gateway_off_the_subnet_is_refused_and_logged(root_only):
    """A lease whose PublicIP is not on eth0's subnet: the kernel says "Nexthop has invalid gateway"."""
    with netlab.World(netlab.flannel_vxlan_nodes(), name="t_hostgw_far", record=False) as w:
        store = flannel.start_store(w, embedded=True)
        flannel.put_config(w, store, config=HOSTGW)
        _start(w, store, "node1", "10.1.15.0/24")
        far = flannel.lease_value("10.99.0.3", "host-gw")
        code = (f"from netlab.flannel.store import EtcdV2Client; EtcdV2Client({store.url!r}).set("
                f"'/coreos.com/network/subnets/10.1.20.0-24', {far!r})")
        w.run("lan", ["python3", "-c", code])
        flannel.wait_for_log(w, "node1", "Error adding route to 10.1.20.0/24 via 10.99.0.3 dev eth0")
        log = flannel.flanneld_log(w, "node1").stdout
        assert "Nexthop has invalid gateway" in log


def test_direct_routing_is_read_from_the_config():
    cfg = flannel.Config.parse('{"Network": "10.1.0.0/16", "Backend": {"Type": "vxlan", "DirectRouting": true}}')
    assert cfg.direct_routing and not flannel.Config.parse(json.dumps(flannel.VXLAN_NETWORK_CONFIG)).direct_routing


@pytest.mark.root
def test_direct_routing_chooses_per_peer(root_only):
    with netlab.World(netlab.calico.two_subnets(), name="t_direct", record=False) as w:
        store = flannel.start_store(w, node="r1", address="10.168.0.1", embedded=True)
        flannel.put_config(w, store, config={"Network": "10.1.0.0/16", "SubnetLen": 24,
                                             "Backend": {"Type": "vxlan", "VNI": 1, "DirectRouting": True}})
        for i in (1, 2, 3):
            flannel.start_flanneld(w, f"node{i}", store, backend="vxlan", subnet=f"10.1.{14 + i}.0/24")
        flannel.wait_for_entries(w, "node1", ["10.1.16.0/24"], dev="eth0")
        flannel.wait_for_entries(w, "node1", ["10.1.17.0/24"])
        flannel.wait_for_entries(w, "node3", ["10.1.15.0/24", "10.1.16.0/24"])
        flannel.wait_for_entries(w, "node2", ["10.1.17.0/24"])
        for dst in ("10.1.16.3", "10.1.17.4"):
            walk = w.trace("container-1", dst)
            assert walk.delivered and walk.reply.delivered, dst
