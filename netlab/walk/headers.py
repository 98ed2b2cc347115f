"""One sighting of the packet, dissected: its layers outer first, tunnels opened, and a one-line summary.

scapy is imported inside the functions (the documented lazy import): the engine and the daemons import
netlab without scapy, and a walk is the first thing that needs it.
"""

from __future__ import annotations

SPORT = 40000  # the UDP/TCP sender's fixed source port
UDP_MARK = b"netlab packet walk"
VXLAN_PORTS = (8472, 4789)  # Linux/flannel's VXLAN port and the IANA one
FLANNEL_UDP_PORT = 8285  # flannel's UDP backend: the inner IP packet is the UDP payload


def layers(pkt) -> list:
    """The packet as a list of scapy layers, outer first, with tunnels opened.

    scapy already decodes UDP 8472 as VXLAN (its vxlan module binds the Linux port). Flannel's UDP
    backend (port 8285) carries a bare IP packet; it is decoded here, for this packet only, rather
    than with a global ``bind_layers`` that would change how every other UDP packet is dissected.
    """
    from scapy.packet import Raw
    out, layer = [], pkt
    while layer is not None and layer.__class__.__name__ not in ("NoPayload",):
        if isinstance(layer, Raw) or layer.__class__.__name__ == "Padding":
            break
        out.append(layer)
        if layer.__class__.__name__ == "ICMP" and layer.type not in (0, 8):
            break  # an ICMP error quotes the packet that caused it: not a header of this one
        opened = _opened(layer)
        layer = opened if opened is not None else layer.payload
    return out


def _opened(layer):
    """The packet a UDP datagram tunnels (flannel UDP's bare IP, VXLAN on a port scapy does not bind), or None."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.vxlan import VXLAN
    from scapy.packet import Raw
    if not (isinstance(layer, UDP) and isinstance(layer.payload, Raw)):
        return None
    data = bytes(layer.payload)
    if layer.dport == FLANNEL_UDP_PORT or layer.sport == FLANNEL_UDP_PORT:
        return IP(data)
    if layer.dport in VXLAN_PORTS and not isinstance(layer.payload, VXLAN):
        return VXLAN(data)
    return None


def tunnelled(pkt) -> bool:
    """Does this sighting carry a packet inside another (VXLAN, Flannel UDP)?"""
    return sum(1 for l in layers(pkt) if l.__class__.__name__ == "IP") > 1


def ip_headers(pkt) -> list:
    """The sighting's IP headers, outer first (two for a tunnelled packet)."""
    return [l for l in layers(pkt) if l.__class__.__name__ == "IP"]


def inner_ip(pkt):
    """The innermost IP header: the packet being walked, whatever carries it."""
    from scapy.layers.inet import IP
    ips = [l for l in layers(pkt) if isinstance(l, IP)]
    return ips[-1] if ips else None


def ether(pkt):
    """The sighting's Ethernet header, or None (a TUN device carries bare IP)."""
    from scapy.layers.l2 import Ether
    return pkt.getlayer(Ether)


def endpoint(ip, which: str) -> str:
    """``10.168.0.2:8080`` for a TCP/UDP packet's source or destination, the bare address otherwise."""
    from scapy.layers.inet import TCP, UDP
    addr = getattr(ip, which)
    l4 = ip.payload
    if isinstance(l4, (TCP, UDP)):
        return f"{addr}:{l4.dport if which == 'dst' else l4.sport}"
    return addr


def header_summary(pkt) -> str:
    """Every layer's addresses, outer to inner: ``eth A > B | ip S > D ttl 64 | icmp echo-request seq 1``."""
    parts = []
    stack = layers(pkt)
    for k, l in enumerate(stack):
        text = _layer_summary(l, stack[k + 1] if k + 1 < len(stack) else None)
        if text:
            parts.append(text)
        if l.__class__.__name__ == "ICMP" and l.type not in (0, 8):
            break  # the quoted packet inside an ICMP error is not a header of this one
    return " | ".join(parts)


def _layer_summary(l, below) -> str | None:
    """One layer's part of :func:`header_summary`; BELOW is the layer it carries (or None)."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    if isinstance(l, Ether):
        return f"eth {l.src} > {l.dst}"
    if isinstance(l, IP):
        return f"ip {l.src} > {l.dst} ttl {l.ttl}"
    if isinstance(l, UDP):
        # The outer source port of a VXLAN datagram is not a fixed number: the kernel takes it from
        # a hash of the inner flow (udp_flow_src_port), seeded at boot, so it changes from boot to
        # boot (and from world to world); the text names it rather than printing it.
        sport = "<flow-hash>" if isinstance(below, VXLAN) else l.sport
        return f"udp {sport} > {l.dport}"
    if isinstance(l, TCP):
        return f"tcp {l.sport} > {l.dport} [{l.sprintf('%TCP.flags%')}]"
    if isinstance(l, VXLAN):
        return f"vxlan vni {l.vni}"
    if isinstance(l, ICMP):
        kind = l.sprintf("%ICMP.type%")
        return f"icmp {kind} seq {l.seq}" if l.type in (0, 8) else f"icmp {kind} code {l.code}"
    return None
