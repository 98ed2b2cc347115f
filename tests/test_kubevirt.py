"""Chapter 9: KubeVirt's names, its single-client DHCP server as bytes, the two bindings' commands and
NAT rules, and both bindings live in a world with a real guest kernel (User-mode Linux on tap0)."""

import gzip
import shutil
import struct

import pytest
from scapy.layers.dhcp import BOOTP, DHCP  # binds UDP 67/68 to BOOTP, so captures dissect as DHCP

import netlab
from netlab.checks import kubevirt as checks
from netlab.kubevirt import binding, dhcp, guest, names, pods, vm

POD_IP, POD_MAC = "10.244.1.2/24", "0a:58:0a:f4:01:02"
GUEST = pytest.mark.skipif(not shutil.which("linux.uml") or not shutil.which("busybox"),
                           reason="the guest needs user-mode-linux and busybox-static")


# ------------------------------------------------------------------ names (pkg/network/link/names.go)
def test_names_are_kubevirts():
    assert names.tap_name("eth0") == "tap0"
    assert names.bridge_name("eth0") == "k6t-eth0"
    assert names.nic_name("eth0") == "eth0-nic"
    assert names.fake_bridge_ip(0) == "169.254.75.10/32"
    assert names.fake_bridge_ip(3) == "169.254.75.13/32"


@pytest.mark.parametrize("bad", ["", "a/b", "averylongname", None, 7])
def test_bad_interface_names_say_why(bad):
    with pytest.raises(names.KubevirtError) as e:
        names.bridge_name(bad)
    assert "eth0" in str(e.value)


def test_kubevirt_error_is_one_line_in_a_notebook():
    err = names.KubevirtError("x is wrong: build the binding first")
    assert err._render_traceback_() == ["KubevirtError: x is wrong: build the binding first"]


# ------------------------------------------------------------------ DHCP (pkg/network/dhcp/server/server.go)
def discover(mac=POD_MAC, kind=dhcp.DISCOVER, xid=0x11223344, flags=0x8000):
    head = struct.pack("!BBBBIHH", 1, 1, 6, 0, xid, 0, flags) + bytes(16)
    head += bytes.fromhex(mac.replace(":", "")) + bytes(10) + bytes(192)
    return head + dhcp.MAGIC + bytes([53, 1, kind, 255])


ROUTES = [("10.244.0.0/16", "10.244.1.1"), ("0.0.0.0/0", "10.244.1.1")]  # the pod's, as the CNI set them


def config():
    return dhcp.Config(**vm.dhcp_settings("bridge", POD_IP, POD_MAC, routes=ROUTES))


def test_classless_routes_are_rfc3442_default_last():
    assert dhcp.classless_routes([("0.0.0.0/0", "10.244.1.1"), ("10.244.0.0/16", "10.244.1.1")]) == \
        bytes([16, 10, 244, 10, 244, 1, 1, 0, 10, 244, 1, 1])
    assert dhcp.classless_routes([("192.168.1.0/24", "192.168.2.3")]) == bytes([24, 192, 168, 1, 192, 168, 2, 3])
    assert dhcp.classless_routes([("10.0.0.0/8", "10.1.2.3")]) == bytes([8, 10, 10, 1, 2, 3])  # KubeVirt's own example


def test_offer_bytes_field_by_field():
    out = dhcp.reply(discover(), config())
    assert len(out) == 300  # BOOTP 236 + magic 4 + options 59 + end 1: above the 272-byte minimum
    op, htype, hlen, hops, xid, secs, flags = struct.unpack("!BBBBIHH", out[:12])
    assert (op, htype, hlen, hops, xid, secs, flags) == (2, 1, 6, 0, 0x11223344, 0, 0x8000)
    assert out[12:16] == bytes(4)                                  # ciaddr
    assert out[16:20] == bytes([10, 244, 1, 2])                    # yiaddr: the pod's address
    assert out[20:28] == bytes(8)                                  # siaddr, giaddr
    assert out[28:34] == bytes.fromhex("0a580af40102") and out[34:44] == bytes(10)
    assert out[236:240] == b"\x63\x82\x53\x63"
    assert out[240:] == bytes.fromhex(
        "350102"                          # 53 message type: OFFER
        "3604a9fe4b0a"                    # 54 server identifier 169.254.75.10
        "330405250a80"                    # 51 lease time 86313600 s = 999 days
        "0104ffffff00"                    # 1 subnet mask 255.255.255.0
        "03040af40101"                    # 3 router 10.244.1.1
        "06040a60000a"                    # 6 DNS 10.96.0.10
        "0c0674657374766d"                # 12 hostname "testvm"
        "1a0205aa"                        # 26 interface MTU 1450
        "790c100af40af40101000af40101"    # 121 10.244.0.0/16 via 10.244.1.1, default via 10.244.1.1
        "ff")                             # end


def test_request_gets_ack_and_others_nothing():
    assert dhcp.parse(dhcp.reply(discover(kind=dhcp.REQUEST), config()))["type"] == "ACK"
    assert dhcp.reply(discover(mac="02:00:00:00:00:99"), config()) is None   # not our client
    assert dhcp.reply(discover(kind=dhcp.RELEASE), config()) is None          # unhandled type
    assert dhcp.reply(b"junk", config()) is None
    reply = bytearray(dhcp.reply(discover(), config()))
    reply[0] = 2
    assert dhcp.reply(bytes(reply), config()) is None                         # a BOOTREPLY is no request


def test_options_table_decodes_121_and_the_lease():
    rows = {code: text for code, _, text in dhcp.describe_options(dhcp.parse(dhcp.reply(discover(), config()))["options"])}
    assert rows[121] == "10.244.0.0/16 via 10.244.1.1; 0.0.0.0/0 via 10.244.1.1"
    assert rows[51] == "86313600 s (999 days)" and rows[26] == "1450" and rows[12] == "testvm"


def test_scapy_reads_the_offer_as_kubevirts_options():
    p = BOOTP(dhcp.reply(discover(), config()))
    opts = dict(o for o in p[DHCP].options if isinstance(o, tuple))
    assert p.yiaddr == "10.244.1.2" and opts["message-type"] == 2 and opts["lease_time"] == 999 * 86400
    assert opts["subnet_mask"] == "255.255.255.0" and opts["router"] == "10.244.1.1"
    assert opts["name_server"] == "10.96.0.10" and opts["interface-mtu"] == 1450


def test_masquerade_offer_is_10_0_2_2():
    c = dhcp.Config(**vm.dhcp_settings("masquerade", POD_IP, vm.MASQUERADE_VM_MAC))
    m = dhcp.parse(dhcp.reply(discover(mac=vm.MASQUERADE_VM_MAC), c))
    assert m["yiaddr"] == "10.0.2.2" and m["options"][3] == bytes([10, 0, 2, 1]) and 121 not in m["options"]


@pytest.mark.parametrize("kwargs, words", [
    ({"client_mac": "nope"}, "six hex pairs"),
    ({"client_ip": "10.244.1.2"}, "needs its prefix"),
    ({"client_ip": "x/24"}, "IPv4 with its prefix"),
    ({"mtu": 20}, "68 to 65535"),
    ({"routes": [("bad", "10.244.1.1")]}, "IPv4 network"),
])
def test_bad_dhcp_settings_say_why(kwargs, words):
    settings = dict(vm.dhcp_settings("bridge", POD_IP, POD_MAC), **kwargs)
    with pytest.raises(names.KubevirtError, match=words):
        dhcp.Config(**settings)


# ------------------------------------------------------------------ bindings and their NAT
def test_bridge_binding_commands_in_kubevirts_order():
    cmds = binding.bridge_binding_commands(POD_IP, POD_MAC)
    assert cmds[:3] == ["ip link set eth0 down", "ip link set eth0 name eth0-nic", "ip addr flush dev eth0-nic"]
    assert "ip addr add 169.254.75.10/32 dev k6t-eth0" in cmds
    assert "bridge link set dev eth0-nic learning off" in cmds
    assert f"ip link add eth0 address {POD_MAC} mtu 1450 type dummy" in cmds
    assert "sysctl -qw net.ipv4.conf.all.arp_ignore=1" in cmds
    with pytest.raises(names.KubevirtError, match="dummy"):
        binding.bridge_binding_commands(POD_IP, POD_MAC, dummy="veth")


def test_nft_rules_are_setupNATByFamilys():
    cmds = binding.nft_commands([80, ("udp", 53)])
    assert cmds[0] == "add table ip nat"
    assert "add chain ip nat prerouting { type nat hook prerouting priority -100; }" in cmds
    assert "add rule ip nat postrouting ip saddr 10.0.2.2 counter masquerade" in cmds
    assert "add rule ip nat prerouting iifname eth0 counter jump KUBEVIRT_PREINBOUND" in cmds
    assert "add rule ip nat KUBEVIRT_PREINBOUND tcp dport { 80 } counter dnat to 10.0.2.2" in cmds
    assert "add rule ip nat KUBEVIRT_PREINBOUND udp dport { 53 } counter dnat to 10.0.2.2" in cmds
    assert "add rule ip nat KUBEVIRT_POSTINBOUND tcp dport 80 ip saddr { 127.0.0.1 } counter snat to 10.0.2.1" in cmds
    everything = binding.nft_commands([])
    assert "add rule ip nat KUBEVIRT_PREINBOUND counter dnat to 10.0.2.2" in everything
    with pytest.raises(names.KubevirtError, match="protocol"):
        binding.nft_commands([("icmp", 1)])
    with pytest.raises(names.KubevirtError, match="1 to 65535"):
        binding.nft_commands([0])


def test_iptables_rules_match_the_nft_ones():
    lines = binding.iptables_rules([80])
    assert lines[0] == "*nat" and lines[-1] == "COMMIT"
    assert "-A KUBEVIRT_PREINBOUND -p tcp --dport 80 -j DNAT --to-destination 10.0.2.2" in lines
    assert "-A POSTROUTING -s 10.0.2.2/32 -j MASQUERADE" in lines


def test_initramfs_is_deterministic_and_holds_init():
    if not shutil.which("busybox"):
        pytest.skip("busybox-static is not installed")
    a, b = guest.initramfs(), guest.initramfs()
    assert a == b
    body = gzip.decompress(a)
    assert body.startswith(b"070701") and b"init\0" in body and b"TRAILER!!!" in body
    assert b"udhcpc -i eth0" in body


def test_pod_network_is_chapter_8s():
    t = pods.pod_network()
    assert set(t.nodes) == {"lan", "node1", "node2", "virt-launcher", "client"}
    assert not t.node("virt-launcher").interfaces  # the CNI plugins make its eth0 at run time


@pytest.mark.root
def test_the_pods_are_wired_by_the_cni_and_read_back_as_kubevirt_reads_them(root_only):
    with netlab.World(pods.pod_network(), name="t_kv_pods") as w:
        with pytest.raises(names.KubevirtError, match="first"):
            pods.pod_interface(w, "virt-launcher")
        pods.start_pod_network(w)
        p = pods.pod_interface(w, "virt-launcher")
        assert (p.address, p.mac, p.mtu, p.gateway) == (POD_IP, POD_MAC, 1450, "10.244.1.1")
        assert p.routes == tuple(ROUTES)


def test_binding_explorer_renders_both_and_bad_ports():
    assert "dnat to 10.0.2.2" in netlab.render_binding("masquerade", "80, 443")
    assert "k6t-eth0" in netlab.render_binding("bridge") and "yiaddr 10.244.1.2" in netlab.render_binding("bridge")
    assert "✗" in netlab.render_binding("masquerade", "80, x")


# ------------------------------------------------------------------ live: both bindings with a real guest
@pytest.mark.root
@GUEST
def test_bridge_binding_live_with_a_guest(root_only):
    with netlab.World(pods.pod_network(), name="t_kv_bridge") as w:
        pods.start_pod_network(w)
        assert not checks.check_bridge_binding(w, "virt-launcher")  # before: eth0 is still the pod's
        launcher = vm.bind(w, "virt-launcher", "bridge")
        assert checks.check_bridge_binding(w, "virt-launcher"), checks.check_bridge_binding(w, "virt-launcher")
        with w.capture("virt-launcher", "tap0", "udp port 67 or udp port 68") as cap:
            g = vm.boot_vm(launcher)
        kinds = [dhcp.parse(bytes(p[BOOTP]))["type"] for p in cap.packets]
        # each broadcast also comes back once: the bridge plugin puts the pod's veth in hairpin mode
        assert list(dict.fromkeys(kinds)) == ["DISCOVER", "OFFER", "REQUEST", "ACK"], kinds
        assert launcher.boot_seconds < 20
        assert checks.check_guest_lease(g, ip=POD_IP, router="10.244.1.1")
        assert not checks.check_guest_lease(g, ip="10.244.1.9/24")
        assert checks.check_vm_ping(w, "client", dst="10.244.1.2")
        assert "10.244.1.2/24" in w.run("client", "wget -qO- -T 3 http://10.244.1.2/").stdout
        walk = w.trace("client", "10.244.1.2")
        hops = [(h.node, h.interface, h.direction) for h in walk.hops]
        assert hops[-3:] == [("virt-launcher", "eth0-nic", "in"), ("virt-launcher", "k6t-eth0", "in"),
                             ("virt-launcher", "tap0", "out")]
        assert walk.delivered and walk.reply.delivered
        assert (walk.reply.hops[0].node, walk.reply.hops[0].interface) == ("virt-launcher", "tap0")
        g.stop()
        assert not checks.check_vm_ping(w, "client", dst="10.244.1.2")  # no VM: the tap swallows it


@pytest.mark.root
@GUEST
def test_masquerade_binding_live_with_a_guest(root_only):
    with netlab.World(pods.pod_network(), name="t_kv_masq") as w:
        pods.start_pod_network(w)
        assert not checks.check_masquerade_port(w, "virt-launcher", port=80)
        launcher = vm.start_vm(w, "virt-launcher", "masquerade", ports=[80])
        assert checks.check_masquerade_port(w, "virt-launcher", port=80)
        assert not checks.check_masquerade_port(w, "virt-launcher", port=22)
        rules = binding.nft_rules(w, "virt-launcher")
        assert "tcp dport 80 counter dnat to 10.0.2.2" in rules["KUBEVIRT_PREINBOUND"]
        assert checks.check_guest_lease(launcher.guest, ip="10.0.2.2/24", router="10.0.2.1")
        assert "10.0.2.2/24" in w.run("client", "wget -qO- -T 3 http://10.244.1.2/").stdout
        # a ping is no declared port: the pod answers it, the VM never sees it
        assert netlab.check_ping(w, "client", dst="10.244.1.2")
        assert not checks.check_vm_ping(w, "client", dst="10.244.1.2")
        with w.capture("node1", "veth-virt-launc", "icmp") as cap:
            launcher.guest.run("ping -c 1 -W 2 10.244.2.2")
        assert {p["IP"].src for p in cap.packets} == {"10.244.1.2", "10.244.2.2"}  # masqueraded in the pod


@pytest.mark.root
def test_helpers_refuse_steps_out_of_order(root_only):
    with netlab.World(pods.pod_network(), name="t_kv_order") as w:
        pods.start_pod_network(w)
        with pytest.raises(names.KubevirtError, match="first"):
            guest.boot(w, "virt-launcher", "tap0", POD_MAC)
        with pytest.raises(names.KubevirtError, match="first"):
            vm.start_dhcp(w, "virt-launcher", vm.dhcp_settings("bridge", POD_IP, POD_MAC, routes=ROUTES))
        with pytest.raises(names.KubevirtError, match="dict"):
            vm.start_dhcp(w, "virt-launcher", "settings")
        with pytest.raises(names.KubevirtError, match="'bridge' or 'masquerade'"):
            vm.bind(w, "virt-launcher", "sriov")
        with pytest.raises(names.KubevirtError, match="not a pod"):
            vm.bind(w, "node9", "bridge")


def test_the_wait_stops_at_a_kernel_panic(tmp_path):
    console = tmp_path / "bg-vm.out"
    console.write_text("...\nKernel panic - not syncing: Attempted to kill init! exitcode=0x00000200\n")
    assert guest._wait(str(tmp_path), 20, str(console)) == 1  # at once, not after 20 s
    (tmp_path / "ready").touch()
    assert guest._wait(str(tmp_path), 0.1, str(console)) == 0


def test_why_names_the_panic_and_the_shells_last_words():
    why = guest._why("sh: x: bad\nKernel panic - not syncing: No working init found.\n")
    assert "sh: x: bad" in why and "No working init found" in why
    assert "/dev/net/tun" in guest._why("open: Permission denied\n")


class _World:
    def __init__(self, mode):
        self.mode = mode


@pytest.mark.parametrize("mode, words", [("uml", "start_userspace"), ("userns", "/dev/net/tun")])
def test_no_guest_where_none_can_boot(mode, words):
    with pytest.raises(names.KubevirtError, match=words):
        guest.boot(_World(mode), "virt-launcher", "tap0", POD_MAC)


def test_world_mode_is_live_only_as_root(monkeypatch):
    monkeypatch.setenv("NETLAB_MODE", "replay")
    assert guest.world_mode() == "replay"
