"""Captures come back as scapy packets, byte for byte what the kernel sent."""

import pytest

from netlab import PC1_MAC, PC2_MAC, World, pc_pair, pc_pair_with_router

pytestmark = pytest.mark.root


def test_capture_matches_a_scapy_built_echo_request():
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    with World(pc_pair("192.168.0.4/26")) as w:
        with w.capture("pc2", "eth0", "icmp") as cap:
            w.run("pc1", "ping -c 1 -W 1 192.168.0.4")
        packets = cap.packets
    assert [p.summary() for p in packets] == [
        "Ether / IP / ICMP 192.168.0.3 > 192.168.0.4 echo-request 0 / Raw",
        "Ether / IP / ICMP 192.168.0.4 > 192.168.0.3 echo-reply 0 / Raw"]
    req = packets[0]
    built = (Ether(src=PC1_MAC, dst=PC2_MAC)
             / IP(src="192.168.0.3", dst="192.168.0.4", id=req[IP].id, flags="DF", ttl=64)
             / ICMP(type="echo-request", id=req[ICMP].id, seq=1)
             / Raw(req[Raw].load))  # ping: a struct timeval, then 0x10 0x11 ...
    assert bytes(built) == bytes(req)  # checksums computed by scapy agree with the kernel's
    assert req[Raw].load[16:] == bytes(range(0x10, 0x38))  # after the 16-byte timeval


def test_capture_stop_is_explicit_and_empty_capture_is_empty():
    with World(pc_pair_with_router()) as w:
        cap = w.capture("r1", "eth1", "udp")
        w.run("pc1", "ping -c 1 -W 1 192.168.0.192")
        assert len(cap.stop()) == 0
        cap = w.capture("r1", "eth1")
        w.run("pc1", "ping -c 2 -i 0.01 -W 1 192.168.0.192")
        pkts = cap.stop()
        icmp = [p for p in pkts if p.haslayer("ICMP")]
        assert len(icmp) == 4 and icmp[0]["IP"].ttl == 63  # forwarded: r1 decremented the TTL
        assert cap.stop() is pkts


def test_capture_error_names_the_interface():
    from netlab import CaptureError
    with World(pc_pair()) as w:
        with pytest.raises(CaptureError, match="pc1:eth7"):
            w.capture("pc1", "eth7")


def test_a_fresh_process_decodes_captures(tmp_path):
    """netlab imports scapy lazily: a capture must still decode as Ethernet/IP in a process where
    nothing else has loaded scapy's layers (it once came back as Raw)."""
    import subprocess
    import sys
    code = ("from netlab import World, pc_pair\n"
            "with World(pc_pair('192.168.0.4/26')) as w:\n"
            "    with w.capture('pc2', 'eth0', 'icmp') as cap:\n"
            "        w.run('pc1', 'ping -c 1 -W 1 192.168.0.4')\n"
            "print(cap.packets[0].summary())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.startswith("Ether / IP / ICMP 192.168.0.3 > 192.168.0.4 echo-request")
