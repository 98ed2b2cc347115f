"""One comparison of a captured packet with a built one: do the kernel and scapy agree, byte for
byte, and where they differ, which field is it and who chose it?

The chapters compare three kinds of packets, and only the report differs (``encapsulation``):

- ``None``, a plain frame (chapter 3's ARP and ping frames): the fields the kernel and ping fill
  at send time (the IP id; ping's send time in the first 16 payload bytes) are copied from the
  capture first, the checksums recomputed, then the bytes must be equal;
- ``"udp"``, flannel's UDP backend (chapter 5): field by field, outer IP, outer UDP, inner IP;
- ``"vxlan"``, the kernel's VXLAN device (chapter 6): the differing bytes named by field, then
  which fields the kernel chose and which checksums agree.

A UDP checksum that holds only the pseudo-header sum is checksum offload's unfinished work (veth
never finishes it), and is said so in both encapsulations' words.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

# scapy at the top, as in packets.frames: this module is only ever loaded on first use of
# netlab.compare_packets, never by the engine or the daemons
from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Raw

from .vxlan import dissect
from .flannel import bind_flannel_udp

ENCAPSULATIONS = (None, "udp", "vxlan")
#: Linux's VXLAN source-port range by default: the namespace's ip_local_port_range.
PORT_RANGE = (32768, 60999)
#: Byte offsets of a VXLAN frame's outer fields that the kernel chooses or computes.
VXLAN_OFFSETS = {40: "outer UDP checksum", 41: "outer UDP checksum", 18: "outer IP id", 19: "outer IP id",
                 34: "outer UDP source port", 35: "outer UDP source port", 24: "outer IP checksum",
                 25: "outer IP checksum"}


@dataclass
class Comparison:
    """What :func:`compare_packets` found; ``text()`` (and ``str``) is its report, one line per fact."""

    captured: object = field(repr=False)
    built: object = field(repr=False)
    encapsulation: str | None
    equal: bool
    diff: list[int]
    filled: list[str]
    lines: list[str]

    def text(self) -> str:
        return "\n".join(self.lines)

    __str__ = text


def pseudo_header_sum(ip) -> int:
    """The UDP pseudo-header sum, folded and not complemented: what a checksum-offloading sender leaves
    in the checksum field for the NIC to finish (Linux ``udp4_hwcsum``). veth never finishes it, so
    tcpdump on the LAN sees this value."""
    data = socket.inet_aton(ip.src) + socket.inet_aton(ip.dst) + struct.pack("!BBH", 0, 17, ip[UDP].len)
    s = sum(struct.unpack("!6H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _udp_checksum(cap, ref) -> str:
    """"equal", "offload" (the capture holds only the pseudo-header sum) or "different"."""
    got, full = cap[UDP].chksum, ref[UDP].chksum
    if got == full:
        return "equal"
    return "offload" if got == pseudo_header_sum(cap[IP]) else "different"


def compare_packets(captured, built, *, encapsulation: str | None = None) -> Comparison:
    """Compare CAPTURED (from a capture) with BUILT (scapy's), byte for byte and field by field.

    ENCAPSULATION (None, "udp" or "vxlan") says what the packets are and so how the report reads
    (see the module's docstring). ``equal`` is the byte-for-byte verdict, ``diff`` the differing
    byte offsets, ``filled`` the fields copied from the capture first (plain frames only).
    """
    if encapsulation not in ENCAPSULATIONS:
        raise ValueError(f"encapsulation must be one of {', '.join(map(repr, ENCAPSULATIONS))}, not {encapsulation!r}")
    filled: list[str] = []
    if encapsulation is None:
        built = _fill(captured, built, filled)
        built = built.__class__(bytes(built))
    elif encapsulation == "udp":
        bind_flannel_udp()
        captured, built = IP(bytes(captured[IP])), IP(bytes(built))
    a, b = bytes(captured), bytes(built)
    diff = [i for i in range(min(len(a), len(b))) if a[i] != b[i]]
    result = Comparison(captured, built, encapsulation, a == b, diff, filled, [])
    result.lines = {None: _frame_lines, "udp": _udp_lines, "vxlan": _vxlan_lines}[encapsulation](result)
    return result


def _fill(captured, built, filled: list[str]):
    """BUILT with the fields the kernel and ping fill at send time copied from CAPTURED, and the
    names of those fields appended to FILLED. Everything else must already agree."""
    pkt = built.copy()
    if pkt.haslayer(IP) and captured.haslayer(IP):
        pkt[IP].id = captured[IP].id
        pkt[IP].chksum = None
        filled.append("IP id (and so the IP checksum)")
    if pkt.haslayer(ICMP) and captured.haslayer(Raw) and pkt.haslayer(Raw):
        pkt[Raw].load = bytes(captured[Raw].load[:16]) + bytes(pkt[Raw].load[16:])
        pkt[ICMP].chksum = None
        filled.append("payload bytes 0-15 = ping's send time (and so the ICMP checksum)")
    return pkt


def _frame_lines(c: Comparison) -> list[str]:
    return [f"equal: {c.equal}   filled by the kernel/ping: {'; '.join(c.filled) or 'nothing'}"]


def _udp_lines(c: Comparison) -> list[str]:
    """Field by field, = where captured and built agree, ≠ where they differ, ~ for offload."""
    cap, ref = c.captured, c.built
    lines = []
    rows = [("outer IP", cap, ref, ("src", "dst", "proto", "ttl", "flags", "len")),
            ("outer UDP", cap[UDP], ref[UDP], ("sport", "dport", "len", "chksum")),
            ("inner IP", cap[UDP][IP], ref[UDP][IP], ("src", "dst", "proto", "ttl", "len", "chksum"))]
    for name, a, b, fields in rows:
        for f in fields:
            va, vb = a.getfieldval(f), b.getfieldval(f)
            mark = "=" if va == vb else "≠"
            note = ""
            if mark == "≠" and name == "outer UDP" and f == "chksum" and _udp_checksum(cap, ref) == "offload":
                mark, note = "~", "  (checksum offload: only the pseudo-header sum, never finished on veth)"
            if f == "chksum":  # checksums cover ping's ids and timestamps: show agreement, not values
                lines.append(f"{mark} {name:9} {f:6} captured and built {'agree' if va == vb else 'differ'}{note}")
                continue
            lines.append(f"{mark} {name:9} {f:6} captured {va!s:>12}  built {vb!s:>12}{note}")
    same = bytes(cap[UDP].payload) == bytes(ref[UDP].payload)
    lines.append(f"{'=' if same else '≠'} UDP payload (the inner IP packet): {len(bytes(cap[UDP].payload))} bytes,"
                 f" {'identical byte for byte' if same else 'different'}")
    return lines


_VXLAN_UDP_CHECKSUM = {
    "equal": "  outer UDP checksum: equal (the kernel computed it in full)",
    "offload": ("  outer UDP checksum: the capture holds only the pseudo-header sum (checksum offload,"
                " never finished on veth); the built frame has the full one"),
    "different": "  outer UDP checksum: different",
}


def _vxlan_lines(c: Comparison) -> list[str]:
    """The differing bytes named by field, which fields the kernel chose, which checksums agree."""
    a, b = bytes(c.captured), bytes(c.built)
    cap, ref = dissect(c.captured), dissect(c.built)
    where = sorted({VXLAN_OFFSETS.get(i, f"byte {i}") for i in c.diff})
    sport = cap[UDP].sport
    return [f"captured {len(a)} bytes, built {len(b)} bytes: "
            + ("identical byte for byte" if c.equal else
               f"{len(c.diff)} bytes differ (offsets {', '.join(map(str, c.diff[:8]))}: {', '.join(where)})"),
            "chosen by the kernel for this packet (copied from the capture into the built frame):",
            f"  outer UDP source port: from the inner flow's hash, in {PORT_RANGE[0]}-{PORT_RANGE[1]}:"
            f" {PORT_RANGE[0] <= sport <= PORT_RANGE[1]}",
            "  outer IP id: DF is not set on VXLAN's outer packet, so the kernel numbers it",
            "computed, and equal in both:",
            f"  outer IP header checksum: {'equal' if IP(a[14:]).chksum == IP(b[14:]).chksum else 'different'}",
            _VXLAN_UDP_CHECKSUM[_udp_checksum(cap, ref)],
            f"  inner IP checksum (recomputed for TTL {cap[IP:2].ttl}):"
            f" {'equal' if cap[IP:2].chksum == ref[IP:2].chksum else 'different'}"]
