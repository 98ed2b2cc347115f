"""BGP messages in a capture, read with scapy's BGP layer (``scapy.contrib.bgp``, RFC 4271).

A capture of TCP port 179 between two BIRDs holds OPEN, KEEPALIVE and UPDATE messages. An UPDATE
carries the path attributes (ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF for iBGP) and the prefixes
(NLRI) they apply to, or the prefixes withdrawn. With ``add paths on`` negotiated (Calico's
template), each NLRI entry carries a 4-byte path identifier first (RFC 7911); scapy's
``BGPNLRI_IPv4`` does not read it, so :func:`updates` decodes the NLRI bytes itself when the
session negotiated it, and says so.

scapy is imported on first use (lazy), as everywhere in netlab.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class Update:
    """What one BGP UPDATE says: from whom, the prefixes announced and withdrawn, and their next hop."""

    src: str
    dst: str
    announced: tuple[str, ...]
    withdrawn: tuple[str, ...]
    next_hop: str | None
    attributes: tuple[str, ...]

    def text(self) -> str:
        parts = [f"UPDATE {self.src} -> {self.dst}:"]
        if self.announced:
            parts.append(f"announces {', '.join(self.announced)} with NEXT_HOP {self.next_hop}")
        if self.withdrawn:
            parts.append(f"withdraws {', '.join(self.withdrawn)}")
        if not self.announced and not self.withdrawn:
            parts.append("End-of-RIB (no prefix)")
        return " ".join(parts) + (f"  [attributes: {', '.join(self.attributes)}]" if self.attributes else "")

    __str__ = __repr__ = text


def _prefixes(data: bytes, add_paths: bool) -> list[str]:
    """NLRI or withdrawn-routes bytes as prefixes: [path id (4 bytes, add-paths)] length, prefix bytes."""
    out, i = [], 0
    while i < len(data):
        if add_paths:
            i += 4
        n = data[i]
        size = (n + 7) // 8
        raw = data[i + 1:i + 1 + size] + bytes(4 - size)
        out.append(f"{ipaddress.IPv4Address(raw)}/{n}")
        i += 1 + size
    return out


#: RFC 4271's path attribute type codes, by name.
ATTRIBUTES = {1: "ORIGIN", 2: "AS_PATH", 3: "NEXT_HOP", 4: "MULTI_EXIT_DISC", 5: "LOCAL_PREF"}


def bgp_layers():
    """scapy's BGP classes, loaded on first use (importing the module binds TCP port 179).

    BIRD announces 4-byte AS numbers (RFC 6793), so scapy is told so before it loads the layer
    (it otherwise prints a warning and assumes 2-byte ones).
    """
    from scapy.config import conf  # lazy: scapy
    conf.contribs.setdefault("bgp", {})["use_2_bytes_asn"] = False
    from scapy.contrib import bgp  # lazy: scapy
    return bgp


def updates(packets, add_paths: bool = True) -> list[Update]:
    """Every BGP UPDATE in PACKETS (a capture), in order, read with scapy's BGP layer."""
    bgp = bgp_layers()
    from scapy.layers.l2 import Ether  # lazy: scapy
    out = []
    for p in packets:
        frame = Ether(bytes(p))
        if not frame.haslayer(bgp.BGPUpdate):
            continue
        layer = frame.getlayer(bgp.BGPUpdate)
        while layer is not None:
            attrs, next_hop = [], None
            for a in layer.path_attr:
                attrs.append(ATTRIBUTES.get(a.type_code, str(a.type_code)))
                if a.type_code == 3:
                    next_hop = a.attribute.next_hop
            nlri = b"".join(bytes(x) for x in layer.nlri)
            withdrawn = b"".join(bytes(x) for x in layer.withdrawn_routes)
            out.append(Update(frame["IP"].src, frame["IP"].dst, tuple(_prefixes(nlri, add_paths)),
                              tuple(_prefixes(withdrawn, add_paths)), next_hop, tuple(attrs)))
            nxt = layer.payload.getlayer(bgp.BGPUpdate) if layer.payload else None
            layer = nxt
    return out
