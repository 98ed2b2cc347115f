"""The first frame a host puts on the wire toward a destination (scapy).

The decision is the kernel's (IPv4, RFC 826 ARP, RFC 1122 section 3.3.1):

1. Is the destination on-link, i.e. inside the source interface's prefix
   (``dst AND mask == src AND mask``, the seed's "network address" test)?
2. On-link: if the neighbour table knows the destination's MAC, send the IP packet
   straight to it; otherwise the first frame is an ARP who-has for the destination,
   broadcast to ff:ff:ff:ff:ff:ff.
3. Off-link: the packet goes to the gateway.  If the gateway's MAC is known, the first
   frame is the IP packet with the *gateway's* MAC and the *destination's* IP;
   otherwise it is an ARP who-has for the gateway.  With no gateway (no route) the
   kernel fails the send with ENETUNREACH, "Network is unreachable".

Everything is deterministic so ``hexdump()`` output is stable in the book: the
fixed MACs below, IP id :data:`IP_ID`, ICMP id/seq :data:`ICMP_ID`/:data:`ICMP_SEQ`
and the 56-byte :data:`ECHO_PAYLOAD`.  The MACs follow Docker's scheme (02:42
followed by the four bytes of the IPv4 address), which the seed's ``docker0``
chapter shows (172.17.0.2 -> 02:42:ac:11:00:02).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import netaddr
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw
from scapy.utils import hexdump as _scapy_hexdump

from ..calc.cidr import CidrError, parse, parse_address

__all__ = [
    "PC1",
    "PC2",
    "GATEWAY",
    "PC1_MAC",
    "PC2_MAC",
    "GATEWAY_MAC",
    "BROADCAST_MAC",
    "IP_ID",
    "ICMP_ID",
    "ICMP_SEQ",
    "ECHO_PAYLOAD",
    "FrameError",
    "NetworkUnreachable",
    "FirstFrame",
    "first_frame",
]

#: The seed's exercise (PC1 and PC2 in different /26 subnets, PC1's gateway) and their MACs:
#: defined with the topologies the lab builds, so a captured frame and a built one agree.
from ..topologies import GATEWAY, GATEWAY_MAC, PC1, PC1_MAC, PC2, PC2_MAC  # noqa: E402
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"

#: Fixed header values so the bytes are reproducible (a real kernel/ping varies them).
IP_ID = 1
ICMP_ID = 1
ICMP_SEQ = 1
#: iputils ping's 56 data bytes: a 16-byte struct timeval (fixed to zero here),
#: then the bytes 0x10, 0x11, ... 0x37.
ECHO_PAYLOAD = bytes(16) + bytes(range(0x10, 0x38))

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$")


class FrameError(ValueError):
    """The frame cannot be built; the message says why in one sentence."""


class NetworkUnreachable(FrameError):
    """No route to the destination (the kernel's ENETUNREACH)."""


def _mac(value, what: str) -> str:
    if not isinstance(value, str) or not _MAC_RE.match(value.strip()):
        raise FrameError(f"{what} {value!r} is not a MAC address like {PC1_MAC}")
    mac = value.strip().lower().replace("-", ":")
    if int(mac[:2], 16) & 1:
        raise FrameError(
            f"{what} {mac} is a group (multicast/broadcast) address; a NIC's own or a "
            f"neighbour's MAC must be unicast"
        )
    return mac


def _addr(text, what: str):
    try:
        return parse_address(text, what)
    except CidrError as exc:
        raise FrameError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class FirstFrame:
    """The first frame, why it is that frame, and where it is going."""

    packet: Packet
    reason: str
    #: "arp-request" or "ipv4"
    kind: str
    #: the IP whose MAC the frame is addressed to (or asks for)
    next_hop: str
    on_link: bool

    def __bytes__(self) -> bytes:
        return bytes(self.packet)

    def hexdump(self) -> str:
        """scapy's hexdump, as a string."""
        return _scapy_hexdump(self.packet, dump=True)

    def summary(self) -> str:
        return self.packet.summary()

    def show(self) -> str:
        return self.packet.show(dump=True)

    def __repr__(self) -> str:
        return f"<FirstFrame {self.kind}: {self.packet.summary()}; {self.reason}>"


def first_frame(
    src: str = PC1,
    src_mac: str = PC1_MAC,
    dst: str = "192.168.0.192",
    gateway: str | None = None,
    gateway_mac: str | None = None,
    known_neighbours: dict | None = None,
) -> FirstFrame:
    """The first frame ``src`` (``address/prefix`` of its interface) emits to reach
    ``dst`` with ``ping``: an ARP who-has, or an ICMP echo request in Ethernet.

    ``known_neighbours`` maps IP -> MAC, like ``ip neigh``'s REACHABLE entries.

    Raises :class:`NetworkUnreachable` when ``dst`` is off-link and there is no
    gateway, and :class:`FrameError` for any other impossible or malformed input.

    >>> first_frame().reason
    Traceback (most recent call last):
    ...
    netlab.packets.frames.NetworkUnreachable: Network is unreachable: ...
    """
    host = _Sender.parse(src, src_mac)
    target = _addr(dst, "dst")
    if target.version != 4:
        raise FrameError(f"dst {target} is IPv6 but src {host.iface.ip}/{host.iface.prefixlen} is IPv4")
    neigh = {str(_addr(ip, "known_neighbours key")): _mac(mac, f"MAC of neighbour {ip}")
             for ip, mac in (known_neighbours or {}).items()}
    _check_leaves_host(target, host)
    broadcast = str(host.iface.broadcast) if host.iface.broadcast is not None else None
    if str(target) == "255.255.255.255" or str(target) == broadcast:
        return FirstFrame(
            host.echo(target, BROADCAST_MAC),
            f"{target} is a broadcast address, so the echo request goes straight to "
            f"{BROADCAST_MAC} without ARP (ping needs -b for this).",
            "ipv4", str(target), True)
    if target in host.iface:
        return _on_link(host, target, neigh.get(str(target)))
    return _via_gateway(host, target, gateway, gateway_mac, neigh)


@dataclass(frozen=True)
class _Sender:
    """The sending interface: its address and prefix, and its MAC."""

    iface: netaddr.IPNetwork
    mac: str

    @classmethod
    def parse(cls, src: str, src_mac: str) -> "_Sender":
        try:
            iface = parse(src)
        except CidrError as exc:
            raise FrameError(f"src: {exc}") from None
        if iface.version != 4:
            raise FrameError(
                f"src {src}: first_frame models IPv4 and ARP; IPv6 finds neighbours with "
                f"Neighbour Discovery (ICMPv6), which is not modelled here"
            )
        return cls(iface, _mac(src_mac, "src_mac"))

    @property
    def prefix(self) -> str:
        return f"{self.iface.network}/{self.iface.prefixlen}"

    def echo(self, target, dst_mac: str) -> Packet:
        return (
            Ether(dst=dst_mac, src=self.mac)
            / IP(src=str(self.iface.ip), dst=str(target), ttl=64, id=IP_ID, flags="DF")
            / ICMP(type=8, code=0, id=ICMP_ID, seq=ICMP_SEQ)
            / Raw(ECHO_PAYLOAD)
        )

    def who_has(self, ip) -> Packet:
        return Ether(dst=BROADCAST_MAC, src=self.mac) / ARP(
            op="who-has", hwsrc=self.mac, psrc=str(self.iface.ip), hwdst="00:00:00:00:00:00", pdst=str(ip)
        )


def _check_leaves_host(target, host: _Sender) -> None:
    """A FrameError unless a packet to ``target`` leaves ``host`` as a unicast or broadcast frame."""
    if target == host.iface.ip:
        raise FrameError(
            f"{target} is this host's own address; the kernel delivers it over lo and no "
            f"frame leaves the NIC"
        )
    if target.is_loopback():
        raise FrameError(f"{target} is a loopback address; it never leaves the host, so there is no frame")
    if target.is_multicast():
        raise FrameError(
            f"{target} is a multicast address; multicast frames (01:00:5e:...) are not modelled here"
        )


def _on_link(host: _Sender, target, mac: str | None) -> FirstFrame:
    if mac:
        return FirstFrame(
            host.echo(target, mac),
            f"{target} is on-link ({host.prefix}) and its MAC {mac} is already in the "
            f"neighbour table, so the echo request goes straight to it.",
            "ipv4", str(target), True)
    return FirstFrame(
        host.who_has(target),
        f"{target} is on-link ({host.prefix}) but its MAC is unknown, so the host first "
        f"broadcasts an ARP who-has for {target}.",
        "arp-request", str(target), True)


def _via_gateway(host: _Sender, target, gateway: str | None, gateway_mac: str | None,
                 neigh: dict[str, str]) -> FirstFrame:
    me, prefix = host.iface.ip, host.prefix
    if gateway is None:
        raise NetworkUnreachable(
            f"Network is unreachable: {target} is not on {prefix} (its network address "
            f"differs) and there is no route: give a gateway on {prefix}"
        )
    gw = _addr(gateway, "gateway")
    if gw.version != 4:
        raise FrameError(f"gateway {gw} is IPv6 but src {me}/{host.iface.prefixlen} is IPv4")
    if gw == me:
        raise FrameError(f"gateway {gw} is this host's own address; the gateway must be another host on {prefix}")
    if gw not in host.iface:
        raise FrameError(
            f"gateway {gw} is not on {prefix}, so the host cannot reach it directly "
            f"(ip route says: Nexthop has invalid gateway)"
        )
    mac = _mac(gateway_mac, "gateway_mac") if gateway_mac is not None else neigh.get(str(gw))
    if mac:
        return FirstFrame(
            host.echo(target, mac),
            f"{target} is off-link (not in {prefix}), so the echo request for {target} is "
            f"sent to the gateway {gw}'s MAC {mac}.",
            "ipv4", str(gw), False)
    return FirstFrame(
        host.who_has(gw),
        f"{target} is off-link (not in {prefix}) and the gateway {gw}'s MAC is unknown, "
        f"so the host first broadcasts an ARP who-has for the gateway {gw}, not for {target}.",
        "arp-request", str(gw), False)
