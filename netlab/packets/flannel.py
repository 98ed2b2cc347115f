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


def overhead(inner_len: int) -> str:
    """One line: inner size, outer size, the 28 bytes flannel's UDP backend adds."""
    outer = inner_len + ENCAP_OVERHEAD
    return (f"inner IP packet {inner_len} bytes + outer IP 20 + UDP 8 = {outer} bytes on the LAN"
            f" ({100 * ENCAP_OVERHEAD / outer:.1f}% overhead)")
