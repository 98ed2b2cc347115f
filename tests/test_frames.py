"""netlab.frames: the first frame toward a destination, compared as exact bytes.

Expected bytes are built here independently (hex strings and struct, our own
checksum), not with scapy."""

import struct

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from netlab.packets.frames import (
    ECHO_PAYLOAD,
    GATEWAY_MAC,
    PC1_MAC,
    FirstFrame,
    FrameError,
    NetworkUnreachable,
    first_frame,
)


def mac(s):
    return bytes.fromhex(s.replace(":", ""))


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def arp_request(src_mac, src_ip, target_ip):
    return (
        bytes.fromhex("ffffffffffff") + mac(src_mac) + bytes.fromhex("0806")
        + bytes.fromhex("0001 0800 06 04 0001".replace(" ", ""))
        + mac(src_mac) + ip4(src_ip) + bytes(6) + ip4(target_ip)
    )


def echo_frame(dst_mac, src_mac, src_ip, dst_ip):
    payload = bytes(16) + bytes(range(0x10, 0x38))
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0x4000, 64, 1, 0, ip4(src_ip), ip4(dst_ip))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return mac(dst_mac) + mac(src_mac) + bytes.fromhex("0800") + hdr + icmp


def test_seed_pc1_to_pc2_without_gateway_is_unreachable():
    with pytest.raises(NetworkUnreachable, match=r"^Network is unreachable: 192\.168\.0\.192 is not on 192\.168\.0\.0/26.*no route"):
        first_frame()


def test_unreachable_is_a_frame_error():
    assert issubclass(NetworkUnreachable, FrameError) and issubclass(FrameError, ValueError)


def test_on_link_unknown_mac_is_arp_for_dst():
    f = first_frame(dst="192.168.0.10")
    assert isinstance(f, FirstFrame) and f.kind == "arp-request" and f.on_link and f.next_hop == "192.168.0.10"
    assert bytes(f.packet) == arp_request("02:42:c0:a8:00:03", "192.168.0.3", "192.168.0.10")
    assert bytes(f.packet)[:6] == b"\xff" * 6 and len(bytes(f)) == 42
    assert "on-link" in f.reason and f.reason.count(".") >= 1


def test_arp_bytes_literal_hex():
    # One fully literal expectation, as a reader would see it in a hexdump.
    expected = bytes.fromhex(
        "ffffffffffff0242c0a800030806"  # Ethernet: broadcast <- PC1, ARP
        "0001080006040001"  # Ethernet/IPv4, hlen 6, plen 4, request
        "0242c0a80003c0a80003"  # sender PC1 MAC, 192.168.0.3
        "000000000000c0a80001"  # target MAC unknown, 192.168.0.1
    )
    assert bytes(first_frame(gateway="192.168.0.1")) == expected


def test_off_link_with_gateway_arps_for_gateway_not_dst():
    f = first_frame(gateway="192.168.0.1")
    assert f.kind == "arp-request" and not f.on_link and f.next_hop == "192.168.0.1"
    assert f.packet[ARP].pdst == "192.168.0.1"
    assert "gateway" in f.reason and "not for 192.168.0.192" in f.reason


def test_off_link_gateway_mac_known_sends_echo_to_gateway_mac():
    f = first_frame(gateway="192.168.0.1", gateway_mac=GATEWAY_MAC)
    assert f.kind == "ipv4"
    assert bytes(f.packet) == echo_frame(GATEWAY_MAC, PC1_MAC, "192.168.0.3", "192.168.0.192")
    assert f.packet[Ether].dst == GATEWAY_MAC and f.packet[IP].dst == "192.168.0.192"
    assert f.packet[IP].ttl == 64 and f.packet[ICMP].type == 8


def test_gateway_mac_from_neighbour_table():
    f = first_frame(gateway="192.168.0.1", known_neighbours={"192.168.0.1": GATEWAY_MAC.upper()})
    assert bytes(f) == echo_frame(GATEWAY_MAC, PC1_MAC, "192.168.0.3", "192.168.0.192")


def test_on_link_known_neighbour_sends_echo_directly():
    f = first_frame(dst="192.168.0.10", known_neighbours={"192.168.0.10": "02-42-C0-A8-00-0A"})
    assert bytes(f) == echo_frame("02:42:c0:a8:00:0a", PC1_MAC, "192.168.0.3", "192.168.0.10")


def test_pc2_side_same_rule():
    f = first_frame(src="192.168.0.192/26", src_mac="02:42:c0:a8:00:c0", dst="192.168.0.200")
    assert bytes(f) == arp_request("02:42:c0:a8:00:c0", "192.168.0.192", "192.168.0.200")


def test_directed_broadcast():
    f = first_frame(dst="192.168.0.63")
    assert bytes(f) == echo_frame("ff:ff:ff:ff:ff:ff", PC1_MAC, "192.168.0.3", "192.168.0.63")


def test_hexdump_is_stable():
    a = first_frame(gateway="192.168.0.1", gateway_mac=GATEWAY_MAC).hexdump()
    b = first_frame(gateway="192.168.0.1", gateway_mac=GATEWAY_MAC).hexdump()
    assert a == b and a.startswith("0000  02 42 C0 A8 00 01 02 42 C0 A8 00 03 08 00 45 00")
    assert len(ECHO_PAYLOAD) == 56


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(gateway="10.0.0.1"), r"gateway 10\.0\.0\.1 is not on 192\.168\.0\.0/26"),
        (dict(gateway="192.168.0.3"), r"this host's own address"),
        (dict(dst="192.168.0.3"), r"own address; the kernel delivers it over lo"),
        (dict(dst="127.0.0.1"), r"loopback"),
        (dict(dst="224.0.0.1"), r"multicast"),
        (dict(dst="1.2.3"), r"dst: .*exactly 4 octets"),
        (dict(src="192.168.0.3"), r"src: .*no prefix length"),
        (dict(src="192.168.0.3/33"), r"out of range 0-32"),
        (dict(src_mac="zz:zz"), r"src_mac 'zz:zz' is not a MAC address"),
        (dict(src_mac="ff:ff:ff:ff:ff:ff"), r"group \(multicast/broadcast\) address"),
        (dict(src="2001:db8::1/64", dst="2001:db8::2"), r"Neighbour Discovery"),
        (dict(dst="2001:db8::2"), r"dst 2001:db8::2 is IPv6"),
        (dict(gateway="192.168.0.1", gateway_mac="nope"), r"gateway_mac 'nope'"),
        (dict(known_neighbours={"192.168.0.10": "x"}), r"MAC of neighbour 192\.168\.0\.10"),
        (dict(known_neighbours={"bad": PC1_MAC}), r"known_neighbours key"),
    ],
)
def test_errors(kwargs, pattern):
    with pytest.raises(FrameError, match=pattern):
        first_frame(**kwargs)
