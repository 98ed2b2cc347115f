"""Chapter 7's packets: the ARP reply proxy ARP sends for 169.254.1.1, built with scapy; and BGP
messages in a capture, read with scapy's BGP layer (``scapy.contrib.bgp``, RFC 4271).

Proxy ARP: a host whose interface has ``proxy_arp=1`` answers an ARP request for an address it
would route out of another interface, with the MAC of the interface the request came in on (Linux
``net/ipv4/arp.c``, ``arp_process``: ``IN_DEV_PROXY_ARP`` and ``arp_fwd_proxy``). On a Calico host
that MAC is ``ee:ee:ee:ee:ee:ee`` and the address is the pods' gateway 169.254.1.1, which no
interface owns.

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
import logging
from dataclasses import dataclass


def proxy_arp_reply(pod_ip: str, pod_mac: str, gateway: str = "169.254.1.1", host_mac: str = "ee:ee:ee:ee:ee:ee"):
    """The ARP reply a Calico host sends a pod asking for GATEWAY: "GATEWAY is at HOST_MAC", to the pod."""
    from scapy.layers.l2 import ARP, Ether  # lazy: scapy
    return (Ether(src=host_mac, dst=pod_mac) /
            ARP(op=2, hwsrc=host_mac, psrc=gateway, hwdst=pod_mac, pdst=pod_ip))


@dataclass(frozen=True)
class Update:
    """What one BGP UPDATE says: from whom, the prefixes announced and withdrawn, and their next hop."""

    src: str
    dst: str
    announced: tuple[str, ...]
    withdrawn: tuple[str, ...]
    next_hop: str | None
    attributes: tuple[str, ...]
    fields: tuple[str, ...] = ()

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

    def explain(self) -> str:
        """Each path attribute with its value as scapy read it, then the prefixes: the UPDATE field by field."""
        return "\n".join([f"BGP UPDATE {self.src} -> {self.dst}", *self.fields])


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


def _value(a) -> str:
    """One path attribute's value in words (ORIGIN's code, AS_PATH's segments, an address, a number)."""
    v = a.attribute
    if a.type_code == 1:
        return {0: "IGP", 1: "EGP", 2: "INCOMPLETE"}.get(v.origin, str(v.origin))
    if a.type_code == 2:
        segs = [" ".join(str(x) for x in s.segment_value) for s in (v.segments or [])]
        return " ".join(segs) or "(empty: the route never left this AS, iBGP)"
    if a.type_code == 3:
        return v.next_hop
    if a.type_code == 4:
        return str(v.med)
    if a.type_code == 5:
        return str(v.local_pref)
    return bytes(v).hex()


def bgp_layers():
    """scapy's BGP classes, loaded on first use (importing the module binds TCP port 179).

    scapy logs its module configuration as a warning when the module loads; that line is kept out
    of the page. BIRD speaks 4-byte AS numbers (RFC 6793), so the module is told so once loaded.
    """
    from scapy.error import log_runtime  # lazy: scapy
    level = log_runtime.level
    log_runtime.setLevel(logging.ERROR)
    try:
        from scapy.contrib import bgp  # lazy: scapy
    finally:
        log_runtime.setLevel(level)
    bgp.bgp_module_conf.use_2_bytes_asn = False
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
            attrs, next_hop, fields = [], None, []
            for a in layer.path_attr:
                name = ATTRIBUTES.get(a.type_code, str(a.type_code))
                attrs.append(name)
                fields.append(f"  path attribute {name:10} (type {a.type_code}, flags {int(a.type_flags):#04x}):"
                              f" {_value(a)}")
                if a.type_code == 3:
                    next_hop = a.attribute.next_hop
            nlri = b"".join(bytes(x) for x in layer.nlri)
            withdrawn = b"".join(bytes(x) for x in layer.withdrawn_routes)
            announced, gone = _prefixes(nlri, add_paths), _prefixes(withdrawn, add_paths)
            fields += [f"  NLRI (announced)    : {p}" + ("  (after a 4-byte path id: add-paths)" if add_paths else "")
                       for p in announced]
            fields += [f"  withdrawn route     : {p}" for p in gone]
            out.append(Update(frame["IP"].src, frame["IP"].dst, tuple(announced), tuple(gone), next_hop,
                              tuple(attrs), tuple(fields)))
            nxt = layer.payload.getlayer(bgp.BGPUpdate) if layer.payload else None
            layer = nxt
    return out


#: RFC 4486's Cease subcodes (NOTIFICATION error code 6).
CEASE = {1: "Maximum Number of Prefixes Reached", 2: "Administrative Shutdown", 3: "Peer De-configured",
         4: "Administrative Reset", 5: "Connection Rejected", 6: "Other Configuration Change"}


def notifications(packets) -> list[str]:
    """Every BGP NOTIFICATION in PACKETS, one line each: who told whom which error (RFC 4271 section 4.5)."""
    bgp = bgp_layers()
    from scapy.layers.l2 import Ether  # lazy: scapy
    out = []
    for p in packets:
        frame = Ether(bytes(p))
        if frame.haslayer(bgp.BGPNotification):
            n = frame[bgp.BGPNotification]
            what = (f"Cease, subcode {n.error_subcode}: {CEASE.get(n.error_subcode, 'unknown')}" if n.error_code == 6
                    else f"error code {n.error_code}, subcode {n.error_subcode}")
            out.append(f"NOTIFICATION {frame['IP'].src} -> {frame['IP'].dst}: {what}")
    return out


def ipip_packet(inner, src: str, dst: str, src_mac: str = "02:00:0a:a8:00:02", dst_mac: str = "02:00:0a:a8:00:01"):
    """INNER (a pod's IP packet) wrapped as IPIP (RFC 2003): an outer IPv4 header, protocol 4, from SRC
    to DST (the nodes), in an Ethernet frame to the next hop. No UDP and no inner Ethernet header."""
    from scapy.layers.inet import IP  # lazy: scapy
    from scapy.layers.l2 import Ether  # lazy: scapy
    return Ether(src=src_mac, dst=dst_mac) / IP(src=src, dst=dst, proto=4, ttl=64) / IP(bytes(inner))
