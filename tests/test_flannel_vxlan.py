"""Chapter 6: the VXLAN flanneld programs neighbour, FDB and route entries; the frame on the wire."""

import json
import os

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

import netlab
from netlab import flannel
from netlab.flannel import vxlan
from netlab.flannel.store import MemoryStore
from netlab.packets import vxlan as frames

IS_ROOT = os.geteuid() == 0
root = pytest.mark.skipif(not IS_ROOT, reason="live worlds in this file run as root")


def _lease(public_ip, vtep_mac):
    return flannel.lease_value(public_ip, "vxlan", {"VNI": 1, "VtepMAC": vtep_mac})


def test_lease_value_is_flannels():
    v = json.loads(flannel.lease_value("10.168.0.3", "vxlan", {"VNI": 1, "VtepMAC": "5e:f8:4f:00:e3:37"}))
    assert v == {"PublicIP": "10.168.0.3", "PublicIPv6": None, "BackendType": "vxlan",
                 "BackendData": {"VNI": 1, "VtepMAC": "5e:f8:4f:00:e3:37"}}


def test_commands_in_flannels_order():
    peer = vxlan.parse_peer("/coreos.com/network/subnets/10.1.16.0-24",
                            _lease("10.168.0.3", "5e:f8:4f:00:e3:37"))
    cmds = vxlan.add_commands(peer)
    assert cmds == ["ip neigh replace 10.1.16.0 lladdr 5e:f8:4f:00:e3:37 dev flannel.1 nud permanent",
                    "bridge fdb replace 5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent",
                    "ip route replace 10.1.16.0/24 via 10.1.16.0 dev flannel.1 onlink"]
    assert [c.split()[:2] for c in vxlan.del_commands(peer)] == [["ip", "neigh"], ["bridge", "fdb"], ["ip", "route"]]


def test_udp_leases_and_own_lease_are_ignored():
    leases = {"/coreos.com/network/subnets/10.1.15.0-24": _lease("10.168.0.2", "5e:f8:4f:00:e3:36"),
              "/coreos.com/network/subnets/10.1.16.0-24": _lease("10.168.0.3", "5e:f8:4f:00:e3:37"),
              "/coreos.com/network/subnets/10.1.17.0-24": '{"PublicIP":"10.168.0.4","BackendType":"udp"}'}
    import ipaddress
    peers = vxlan.peers_from_leases(leases, ipaddress.IPv4Network("10.1.15.0/24"))
    assert list(map(str, peers)) == ["10.1.16.0/24"]


def test_config_must_be_vxlan():
    c = flannel.Config.parse(json.dumps(flannel.VXLAN_NETWORK_CONFIG))
    assert c.backend == "vxlan" and c.vni == 1 and c.port == 0 and str(next(c.candidates())) == "10.1.1.0/24"
    store = MemoryStore()
    store.set(flannel.CONFIG_KEY, '{"Network": "10.1.0.0/16", "Backend": {"Type": "udp"}}')
    with pytest.raises(flannel.FlannelError, match="not 'vxlan'"):
        vxlan.VxlanFlanneld(store, iface="lo").start()  # refused before any device is made


def test_acquire_preferred_then_restart():
    store = MemoryStore()
    store.set(flannel.CONFIG_KEY, json.dumps(flannel.VXLAN_NETWORK_CONFIG))
    cfg = flannel.Config.parse(store.get(flannel.CONFIG_KEY))
    value = _lease("10.168.0.3", "5e:f8:4f:00:e3:37")
    assert str(flannel.acquire_lease(store, cfg, "10.168.0.3", value, "10.1.16.0/24")) == "10.1.16.0/24"
    assert str(flannel.acquire_lease(store, cfg, "10.168.0.3", value)) == "10.1.16.0/24"  # ours again
    assert str(flannel.acquire_lease(store, cfg, "10.168.0.2", value)) == "10.1.1.0/24"


def test_overhead_is_50_and_mtu_1450():
    assert sum(s for n, s in frames.header_sizes() if n != "outer Ethernet") == frames.VXLAN_OVERHEAD == 50
    assert "1500 - 50 = 1450" in frames.overhead(1500)


def _inner():
    return IP(src="10.1.15.2", dst="10.1.16.3", ttl=64, id=7, flags="DF") / ICMP(id=1, seq=1) / (b"x" * 56)


def _frame(**kw):
    args = dict(lan_src_mac="02:00:0a:a8:00:02", lan_dst_mac="02:00:0a:a8:00:03", src="10.168.0.2",
                dst="10.168.0.3", vtep_src_mac="5e:f8:4f:00:e3:36", vtep_dst_mac="5e:f8:4f:00:e3:37",
                sport=40000, ip_id=1)
    args.update(kw)
    return frames.build_frame(_inner(), **args)


def test_built_frame_layout():
    raw = bytes(_frame())
    assert len(raw) == 14 + 20 + 8 + 8 + 14 + 84
    assert raw[36:38] == (8472).to_bytes(2, "big")  # UDP destination port
    assert raw[42:50] == bytes([0x08, 0, 0, 0, 0, 0, 1, 0])  # VXLAN: I flag, VNI 1
    assert raw[50:56] == bytes.fromhex("5ef84f00e337")  # inner destination MAC: the neighbour entry
    pkt = frames.dissect(raw)
    assert pkt[VXLAN].vni == 1 and pkt[IP:2].ttl == 63 and pkt[Ether:2].dst == "5e:f8:4f:00:e3:37"


def test_dissect_binds_locally_on_4789_frames_too():
    raw = bytes(Ether() / IP() / UDP(sport=1, dport=4789) / VXLAN(vni=7) / Ether() / IP())
    assert frames.dissect(raw)[VXLAN].vni == 7


def test_compare_names_differences():
    a, b = _frame(), _frame(sport=40001)
    assert netlab.compare_packets(a, a, encapsulation="vxlan").lines[0].endswith("identical byte for byte")
    assert "outer UDP source port" in netlab.compare_packets(a, b, encapsulation="vxlan").lines[0]


def test_topology_is_the_seeds():
    t = netlab.topologies.flannel_vxlan_nodes()
    addrs = {n: [a for i in node.interfaces.values() for a in i.addresses] for n, node in t.nodes.items()}
    assert "10.1.15.2/24" in addrs["container-1"] and "10.1.16.3/24" in addrs["container-2"]
    assert "10.168.0.3/24" in addrs["node2"] and "10.168.0.1/24" in addrs["lan"]
    assert not any(i.kind == "vxlan" for node in t.nodes.values() for i in node.interfaces.values())
    assert "node3" in netlab.topologies.flannel_vxlan_nodes(3).nodes


# ------------------------------------------------------------------ live
@pytest.fixture(scope="module")
def world():
    if not IS_ROOT:
        pytest.skip("live worlds in this file run as root")
    with netlab.World(netlab.topologies.flannel_vxlan_nodes(), name="t_vxlan") as w:
        store = netlab.flannel.start_store(w)
        netlab.flannel.put_config(w, store, config=flannel.VXLAN_NETWORK_CONFIG)
        flannel.start_flanneld(w, "node1", store, backend="vxlan", subnet="10.1.15.0/24", vtep_mac=flannel.NODE1_VTEP_MAC)
        flannel.start_flanneld(w, "node2", store, backend="vxlan", subnet="10.1.16.0/24", vtep_mac=flannel.SEED_VTEP_MAC)
        flannel.wait_for_entries(w, "node1", ["10.1.16.0/24"])
        flannel.wait_for_entries(w, "node2", ["10.1.15.0/24"])
        w.store = store
        yield w


@pytest.mark.root
def test_seed_outputs_from_node1(world):
    assert world.run("node1", "ip neigh show dev flannel.1").stdout.strip() == \
        "10.1.16.0 lladdr 5e:f8:4f:00:e3:37 PERMANENT"
    assert world.run("node1", "sh -c 'bridge fdb show flannel.1 | grep 5e:f8:4f:00:e3:37'").stdout.strip() == \
        "5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent"
    assert world.run("node1", "bridge fdb show dev flannel.1").stdout.strip() == \
        "5e:f8:4f:00:e3:37 dst 10.168.0.3 self permanent"
    text = world.run("node1", "ip route show dev flannel.1").stdout.strip()
    assert text == "10.1.16.0/24 via 10.1.16.0 onlink"


@pytest.mark.root
def test_device_and_lease(world):
    link = json.loads(world.run("node1", "ip -j -d link show flannel.1").stdout)[0]
    info = link["linkinfo"]["info_data"]
    assert (info["id"], info["port"], info["learning"], link["mtu"]) == (1, 8472, False, 1450)
    value = json.loads(netlab.flannel.etcdctl(world, "node1", world.store, "get",
                                              "/coreos.com/network/subnets/10.1.16.0-24").stdout)
    assert value["BackendType"] == "vxlan" and value["BackendData"] == {"VNI": 1, "VtepMAC": "5e:f8:4f:00:e3:37"}


@pytest.mark.root
def test_ping_and_no_user_space_data_path(world):
    world.run("container-1", "ping -c 2 -i 0.2 -W 2 10.1.16.3")
    # the daemon has no socket on 8472: the kernel's VXLAN socket is the only one (no owning process)
    ss = world.run("node2", "ss -ulnp").stdout
    assert ":8472" in ss and "python" not in ss.split(":8472", 1)[1].split("\n", 1)[0]


@pytest.mark.root
def test_captured_frame_equals_scapy_frame(world):
    with world.capture("node1", "docker0", "icmp and dst host 10.1.16.3") as ci, \
            world.capture("lan", "port2", "udp port 8472 and src host 10.168.0.2") as co:
        world.run("container-1", "ping -c 1 -W 2 10.1.16.3")
    inner, outer = ci.packets[0], co.packets[0]
    pkt = frames.dissect(outer)
    assert pkt[VXLAN].vni == 1 and pkt[UDP].dport == 8472
    built = frames.build_frame(inner[IP], lan_src_mac="02:00:0a:a8:00:02", lan_dst_mac="02:00:0a:a8:00:03",
                              src="10.168.0.2", dst="10.168.0.3", vtep_src_mac=flannel.NODE1_VTEP_MAC,
                              vtep_dst_mac=flannel.SEED_VTEP_MAC, sport=pkt[UDP].sport, ip_id=pkt[IP].id)
    a, b = bytes(outer), bytes(built)
    assert len(a) == len(b)
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    assert differ in ([], [40, 41], [40], [41])  # at most the outer UDP checksum (offload)


@pytest.mark.root
def test_missing_fdb_drops_at_flannel1(world):
    world.run("node1", "bridge fdb del 5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self")
    try:
        before = json.loads(world.run("node1", "ip -j -s link show flannel.1").stdout)[0]["stats64"]["tx"]["dropped"]
        assert world.run("container-1", "ping -c 1 -W 1 10.1.16.3", check=False).returncode != 0
        after = json.loads(world.run("node1", "ip -j -s link show flannel.1").stdout)[0]["stats64"]["tx"]["dropped"]
        assert after > before
    finally:
        world.run("node1", "bridge fdb replace 5e:f8:4f:00:e3:37 dev flannel.1 dst 10.168.0.3 self permanent")
    world.run("container-1", "ping -c 1 -W 2 10.1.16.3")


@pytest.mark.root
def test_kernel_refuses_mtu_1500(world):
    r = world.run("node1", "ip link set flannel.1 mtu 1500", check=False)
    assert r.returncode != 0 and "Invalid argument" in r.stderr


@pytest.mark.root
def test_node_leaving_removes_its_entries(world):
    flannel.remove_lease(world, world.store, "10.1.16.0/24")
    flannel.wait_for_entries(world, "node1", ["10.1.16.0/24"], present=False)
    assert world.run("node1", "ip neigh show dev flannel.1").stdout.strip() == ""
    assert world.run("node1", "bridge fdb show dev flannel.1").stdout.strip() == ""


@pytest.mark.root
def test_lab_checks_fail_then_pass():
    with netlab.World(netlab.flannel_vxlan_nodes(3), name="t_vxlan_checks") as w:
        assert not netlab.check_vtep(w, "node3", local="10.168.0.4")
        w.run("node3", "ip link add flannel.1 type vxlan id 2 local 10.168.0.4 dev eth0 dstport 8472")
        c = netlab.check_vtep(w, "node3", local="10.168.0.4")
        assert not c and "VNI 2" in c.message and "learning on" in c.message
        w.run("node3", "ip link del flannel.1")
        w.run("node3", "ip link add flannel.1 type vxlan id 1 local 10.168.0.4 dev eth0 nolearning dstport 8472")
        w.run("node3", "ip link set flannel.1 mtu 1450 up")
        assert netlab.check_vtep(w, "node3", local="10.168.0.4")
        mac = flannel.SEED_VTEP_MAC
        assert not netlab.check_fdb(w, "node3", mac=mac, dev="flannel.1", dst="10.168.0.3")
        w.run("node3", f"bridge fdb add {mac} dev flannel.1 dst 10.168.0.2 self permanent")
        assert "to 10.168.0.2; expected 10.168.0.3" in netlab.check_fdb(w, "node3", mac=mac, dev="flannel.1", dst="10.168.0.3").message
        w.run("node3", f"bridge fdb replace {mac} dev flannel.1 dst 10.168.0.3 self permanent")
        assert netlab.check_fdb(w, "node3", mac=mac, dev="flannel.1", dst="10.168.0.3")
        w.run("node3", f"ip neigh add 10.1.16.0 lladdr {mac} dev flannel.1 nud reachable")
        assert "expected a PERMANENT entry" in netlab.check_neighbour(w, "node3", ip="10.1.16.0", mac=mac, dev="flannel.1", permanent=True).message
        w.run("node3", f"ip neigh replace 10.1.16.0 lladdr {mac} dev flannel.1 nud permanent")
        assert netlab.check_neighbour(w, "node3", ip="10.1.16.0", mac=mac, dev="flannel.1", permanent=True)
        assert not netlab.check_route_entry(w, "node3", subnet="10.1.16.0/24", gateway="10.1.16.0", dev="flannel.1")
        w.run("node3", "ip route add 10.1.16.0/24 via 10.1.16.0 dev flannel.1 onlink")
        assert netlab.check_route_entry(w, "node3", subnet="10.1.16.0/24", gateway="10.1.16.0", dev="flannel.1")


def test_frame_builder_widget():
    from netlab.flannel import vxlan_widgets
    box = vxlan_widgets.frame_builder()
    assert "148 B on the wire" in box.result.value and "1500 - 50 = 1450" in box.result.value
    box.inputs["vni"].value = 2 ** 24
    assert "does not fit the 24-bit field" in box.result.value
    box.inputs["vni"].value = 1
    box.inputs["inner_dst"].value = "10.1.16"
    assert "is not an IPv4 address" in box.result.value
    box.inputs["inner_dst"].value = "10.1.16.3"
    box.inputs["port"].value = 4789
    assert "listens on 8472" in box.result.value
    box.inputs["port"].value = 8472
    box.inputs["payload"].value = 1422
    assert f"{14 + 50 + 1450} B on the wire" in box.result.value


def test_tables_render():
    from netlab.flannel import vxlan_widgets
    html = vxlan_widgets.tables_html({"node1": "$ ip neigh show dev flannel.1\n10.1.16.0 lladdr x PERMANENT"})
    assert "node1" in html and "PERMANENT" in html
