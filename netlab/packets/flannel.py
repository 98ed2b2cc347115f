"""flannel UDP datagrams with scapy: build the one flanneld should send, and take a captured one apart.

flannel's UDP backend adds no header of its own: the UDP payload *is* the original IP packet
(with its TTL one lower, decremented by the daemon). So the whole encapsulation is
``IP(node1 -> node2) / UDP(8285 -> 8285) / <the container's IP packet>``: 28 bytes of overhead.
"""

from __future__ import annotations

from ..flannel.udp import DEFAULT_PORT, ENCAP_OVERHEAD


def bind_flannel_udp(port: int = DEFAULT_PORT) -> None:
    """Let scapy dissect UDP port PORT's payload as an IP packet (flannel's UDP backend)."""
    from scapy.layers.inet import IP, UDP
    from scapy.packet import bind_layers
    bind_layers(UDP, IP, dport=port)  # flannel UDP: the payload is the inner IP packet
    bind_layers(UDP, IP, sport=port)


def encapsulate(inner, src: str, dst: str, port: int = DEFAULT_PORT, hops_before: int = 1):
    """The datagram flanneld on SRC sends to DST for INNER as it left the container.

    HOPS_BEFORE is how many times the TTL was decremented before the daemon read the packet (the
    node forwarding it from docker0 to flannel0: 1); the daemon takes one more.
    """
    from scapy.layers.inet import IP, UDP
    bind_flannel_udp(port)
    packet = IP(bytes(inner[IP]))
    packet.ttl -= hops_before + 1
    packet.chksum = None
    return IP(src=src, dst=dst, flags="DF") / UDP(sport=port, dport=port) / IP(bytes(packet))


def pseudo_header_sum(ip) -> int:
    """The UDP pseudo-header sum, folded and not complemented: what a checksum-offloading sender leaves
    in the checksum field for the NIC to finish (Linux ``udp4_hwcsum``). veth never finishes it, so
    tcpdump on the LAN sees this value."""
    import socket
    import struct
    from scapy.layers.inet import UDP
    data = socket.inet_aton(ip.src) + socket.inet_aton(ip.dst) + struct.pack("!BBH", 0, 17, ip[UDP].len)
    s = sum(struct.unpack("!6H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def compare(captured, built) -> list[str]:
    """Lines saying, field by field, where CAPTURED and BUILT agree (=) or differ (≠), outer and inner.

    A UDP checksum left unfinished by checksum offload is marked ``~`` and explained.
    """
    from scapy.layers.inet import IP, UDP
    bind_flannel_udp()
    cap, ref = IP(bytes(captured[IP])), IP(bytes(built))
    lines = []
    rows = [("outer IP", cap, ref, ("src", "dst", "proto", "ttl", "flags", "len")),
            ("outer UDP", cap[UDP], ref[UDP], ("sport", "dport", "len", "chksum")),
            ("inner IP", cap[UDP][IP], ref[UDP][IP], ("src", "dst", "proto", "ttl", "len", "chksum"))]
    for name, a, b, fields in rows:
        for f in fields:
            va, vb = a.getfieldval(f), b.getfieldval(f)
            mark = "=" if va == vb else "≠"
            note = ""
            if mark == "≠" and name == "outer UDP" and f == "chksum" and va == pseudo_header_sum(cap):
                mark, note = "~", "  (checksum offload: only the pseudo-header sum, never finished on veth)"
            if f == "chksum":  # checksums cover ping's ids and timestamps: show agreement, not values
                lines.append(f"{mark} {name:9} {f:6} captured and built {'agree' if va == vb else 'differ'}{note}")
                continue
            lines.append(f"{mark} {name:9} {f:6} captured {va!s:>12}  built {vb!s:>12}{note}")
    same = bytes(cap[UDP].payload) == bytes(ref[UDP].payload)
    lines.append(f"{'=' if same else '≠'} UDP payload (the inner IP packet): {len(bytes(cap[UDP].payload))} bytes,"
                 f" {'identical byte for byte' if same else 'different'}")
    return lines


def overhead(inner_len: int) -> str:
    """One line: inner size, outer size, the 28 bytes flannel's UDP backend adds."""
    outer = inner_len + ENCAP_OVERHEAD
    return (f"inner IP packet {inner_len} bytes + outer IP 20 + UDP 8 = {outer} bytes on the LAN"
            f" ({100 * ENCAP_OVERHEAD / outer:.1f}% overhead)")
