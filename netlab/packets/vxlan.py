"""VXLAN frames as Linux's VXLAN device sends them (RFC 7348), with scapy: build one, read one.

A VXLAN frame is ``Ether / IP / UDP(dport 8472) / VXLAN(VNI) / Ether / <the inner IP packet>``:
the inner frame whole, inside a UDP datagram between the two nodes. scapy binds VXLAN to IANA's
port 4789 only (``scapy/layers/vxlan.py``); Linux and flannel use 8472, so :func:`dissect` decodes
that port for one packet at a time instead of binding it globally.

Stdlib at import (the daemon in :mod:`netlab.flannel.vxlan` takes the ports from here); scapy is
imported inside the functions that build or read frames.
"""

from __future__ import annotations

KERNEL_DEFAULT_PORT = 8472  # drivers/net/vxlan: IANA's 4789 came later; Linux kept 8472
IANA_PORT = 4789
#: 14 (inner Ethernet) + 8 (VXLAN) + 8 (UDP) + 20 (outer IPv4): what flannel subtracts from the MTU.
VXLAN_OVERHEAD = 50


def dissect(frame):
    """FRAME with its UDP payload decoded as VXLAN when it is not already: a local bind, for this
    packet only (a global ``bind_layers(UDP, VXLAN, dport=8472)`` would change every dissection)."""
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    pkt = Ether(bytes(frame))
    udp = pkt.getlayer(UDP)
    if udp is not None and udp.dport in (KERNEL_DEFAULT_PORT, IANA_PORT) and not isinstance(udp.payload, VXLAN):
        udp.remove_payload()
        udp.add_payload(VXLAN(bytes(frame)[len(bytes(pkt)) - len(bytes(udp)) + 8:]))
    return pkt


def build_frame(inner_ip, *, lan_src_mac: str, lan_dst_mac: str, src: str, dst: str, vtep_src_mac: str,
                vtep_dst_mac: str, vni: int = 1, sport: int, ip_id: int, port: int = KERNEL_DEFAULT_PORT,
                forwarded: int = 1):
    """The frame Linux's VXLAN device sends for INNER_IP (as it left the container), built with scapy.

    From the tables: outer MACs (eth0's neighbour), outer IPs (``local`` and the FDB's ``dst``), VNI
    and port (the device), inner MACs (flannel.1's own and the neighbour entry). Chosen by the
    kernel per packet and passed in: SPORT (the flow hash) and IP_ID. The outer UDP checksum is
    computed by scapy (the device has ``udpcsum``); :func:`netlab.compare_packets` says
    how the kernel's compares. FORWARDED is how many times the inner TTL was decremented (node1 routing it: 1).
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    inner = IP(bytes(inner_ip))
    inner.ttl -= forwarded
    inner.chksum = None
    return (Ether(src=lan_src_mac, dst=lan_dst_mac) / IP(src=src, dst=dst, id=ip_id, flags=0, ttl=64)
            / UDP(sport=sport, dport=port) / VXLAN(flags="Instance", vni=vni)
            / Ether(src=vtep_src_mac, dst=vtep_dst_mac) / IP(bytes(inner)))


def header_sizes() -> list[tuple[str, int]]:
    """The headers VXLAN adds around an inner IP packet, outer first, with their sizes in bytes."""
    return [("outer Ethernet", 14), ("outer IPv4", 20), ("outer UDP", 8), ("VXLAN", 8), ("inner Ethernet", 14)]


def overhead(lan_mtu: int = 1500) -> str:
    """The derivation of flannel.1's MTU from the header sizes."""
    counted = [(n, s) for n, s in header_sizes() if n != "outer Ethernet"]
    total = sum(s for _, s in counted)
    return (" + ".join(f"{n} {s}" for n, s in counted) + f" = {total} bytes inside the LAN's IP MTU;\n"
            f"flannel.1 MTU = {lan_mtu} - {total} = {lan_mtu - total} (the outer Ethernet header, 14 more,"
            f" is not part of any MTU)")
