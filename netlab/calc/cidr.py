"""CIDR arithmetic for the "basics" chapter, built on netaddr.

This is the code behind the seed's first section (计算网络地址、子网掩码中主机地址、
最大 IP 地址): the network address is ``IP AND mask``, the host part of the mask is
``NOT mask``, and the "max IP" is ``network OR hostmask`` (for a /30 or shorter
IPv4 prefix that is the broadcast address, RFC 919/922).  Special cases follow
RFC 3021 (IPv4 /31 point-to-point links), RFC 6164 (IPv6 /127) and RFC 4291
(IPv6 has no broadcast; the all-zero host is the Subnet-Router anycast address).

Public API (re-exported from :mod:`netlab`):

* :func:`describe` / :func:`network`: one prefix, explained.
* :func:`seed_tables`: the seed's three bitwise tables, as text or coloured HTML.
* :func:`same_subnet`: the seed's PC1/PC2 question, with the working shown.
* :func:`split` and :func:`supernet`: carving and aggregating prefixes.

Every parse goes through :func:`parse`, so bad input raises :class:`CidrError`
with one specific sentence; no netaddr exception escapes.
"""

from __future__ import annotations

import html
import ipaddress
import itertools
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Iterator

import netaddr

from ..inputs import quote, whole_number

__all__ = [
    "CidrError",
    "Description",
    "Row",
    "Table",
    "SeedTables",
    "SameSubnet",
    "SplitResult",
    "SupernetResult",
    "parse",
    "parse_address",
    "describe",
    "network",
    "seed_tables",
    "same_subnet",
    "split",
    "supernet",
    "NET_STYLE",
    "HOST_STYLE",
]

_MAX_PREFIX = {4: 32, 6: 128}
_EXAMPLE = "10.233.64.0/18"
#: The longest prefix text worth reading: 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128' is 49.
_MAX_TEXT = 100
#: At most this many subnets are listed by :func:`split` (describing 4,096 takes about a second).
MAX_SPLIT_LIMIT = 4096
#: At most this many prefixes are aggregated by :func:`supernet`.
MAX_PREFIXES = 4096

#: Inline styles for the coloured bit strings (white on dark blue, black on amber:
#: both above 7:1 contrast).  The classes ``netbits`` / ``hostbits`` mark them too.
NET_STYLE = "background:#1f3a93;color:#ffffff;"
HOST_STYLE = "background:#ffd54f;color:#000000;"
_ERROR_STYLE = (
    "color:#8b0000;background:#fff0f0;border:1px solid #8b0000;"
    "padding:4px 8px;font-family:sans-serif;"
)


class CidrError(ValueError):
    """Bad CIDR input; the message is one sentence naming the problem."""


def _s(obj) -> str:
    """Text of a netaddr address or network.  IPv6 follows RFC 5952 via ipaddress:
    netaddr defers to the C library's inet_ntop, which prints some addresses in the
    deprecated IPv4-compatible form (``::2.0.0.0`` instead of ``::200:0``)."""
    if obj is None:
        return None
    if obj.version == 4:
        return str(obj)
    if isinstance(obj, netaddr.IPNetwork):
        return f"{ipaddress.IPv6Address(int(obj.ip))}/{obj.prefixlen}"
    return str(ipaddress.IPv6Address(int(obj)))


# --------------------------------------------------------------------------- parsing


def _check_text(text, what: str = "a CIDR prefix") -> str:
    if not isinstance(text, str):
        raise CidrError(
            f"expected {what} as a string like '{_EXAMPLE}', got {type(text).__name__} {quote(text)}"
        )
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT:
        raise CidrError(
            f"{quote(stripped)} is {len(stripped):,} characters long; {what} is at most {_MAX_TEXT}, "
            f"e.g. '{_EXAMPLE}'"
        )
    if not stripped:
        raise CidrError(f"empty input: enter {what} such as '{_EXAMPLE}'")
    if any(ch.isspace() for ch in stripped):
        raise CidrError(
            f"{stripped!r} contains whitespace; write {what} without spaces, e.g. '{_EXAMPLE}'"
        )
    return stripped


def _check_ipv4(addr: str, original: str) -> None:
    """Raise a specific CidrError if ``addr`` is not a dotted-quad IPv4 address."""
    parts = addr.split(".")
    if not any(ch.isdigit() for ch in addr):
        raise CidrError(
            f"{original!r} is not an IP address: expected dotted decimal such as '{_EXAMPLE}'"
        )
    if len(parts) != 4:
        raise CidrError(
            f"{original!r}: the address {addr!r} has {len(parts)} part"
            f"{'s' if len(parts) != 1 else ''}; an IPv4 address has exactly 4 octets "
            f"separated by dots, e.g. 10.233.64.0"
        )
    for i, part in enumerate(parts, 1):
        if part == "":
            raise CidrError(f"{original!r}: octet {i} is empty (two dots in a row or a dot at an end)")
        if not part.isascii() or not part.isdigit():
            raise CidrError(f"{original!r}: octet {i} {part!r} is not a decimal number 0-255")
        if len(part) > 1 and part[0] == "0":
            raise CidrError(
                f"{original!r}: octet {i} {part!r} has a leading zero, which some tools read "
                f"as octal; write {int(part)}"
            )
        if int(part) > 255:
            raise CidrError(f"{original!r}: octet {int(part)} is out of range 0-255")


def _address(addr: str, original: str) -> netaddr.IPAddress:
    if ":" in addr:
        if "%" in addr:
            raise CidrError(f"{original!r}: zone indexes ('%eth0') are not supported here; drop them")
        try:
            return netaddr.IPAddress(addr, version=6)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise CidrError(
                f"{original!r}: {addr!r} is not a valid IPv6 address (8 groups of up to 4 hex "
                f"digits, '::' at most once, e.g. 2001:db8::1)"
            ) from None
    _check_ipv4(addr, original)
    try:
        return netaddr.IPAddress(addr, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):  # pragma: no cover - checked above
        raise CidrError(f"{original!r}: {addr!r} is not a valid IPv4 address") from None


def _prefixlen(prefix: str, version: int, original: str) -> int:
    limit = _MAX_PREFIX[version]
    family = f"IPv{version}"
    if prefix == "":
        raise CidrError(f"{original!r}: nothing after '/'; give a prefix length 0-{limit}")
    if prefix.isascii() and prefix.isdigit():
        value = int(prefix)
        if value > limit:
            raise CidrError(
                f"{original!r}: prefix length /{value} is out of range 0-{limit} for {family}"
            )
        return value
    if version == 4 and "." in prefix:
        # A dotted netmask (10.0.0.0/255.255.192.0) is accepted if it is a real netmask.
        _check_ipv4(prefix, original)
        bits = int(netaddr.IPAddress(prefix, version=4))
        ones = bin(bits).count("1")
        if bits != ((1 << 32) - 1) ^ ((1 << (32 - ones)) - 1):
            raise CidrError(
                f"{original!r}: {prefix} is not a netmask: its 1-bits must be contiguous "
                f"from the left (e.g. 255.255.192.0)"
            )
        return ones
    raise CidrError(
        f"{original!r}: prefix length {prefix!r} is not a number 0-{limit}"
    )


def parse(text, *, require_prefix: bool = True) -> netaddr.IPNetwork:
    """Parse ``'address/prefix'`` into a netaddr.IPNetwork, keeping the host bits.

    Raises :class:`CidrError` with a specific message for any bad input.
    """
    original = _check_text(text)
    if original.count("/") > 1:
        raise CidrError(f"{original!r} has more than one '/'; write address/prefix, e.g. '{_EXAMPLE}'")
    if "/" in original:
        addr, prefix = original.split("/")
    else:
        addr, prefix = original, None
    if addr == "":
        raise CidrError(f"{original!r}: nothing before '/'; write address/prefix, e.g. '{_EXAMPLE}'")
    ip = _address(addr, original)
    if prefix is None:
        if require_prefix:
            full = _MAX_PREFIX[ip.version]
            raise CidrError(
                f"{original!r} has no prefix length; write it as {addr}/<prefix>, "
                f"e.g. {addr}/{24 if ip.version == 4 else 64} (or /{full} for a single host)"
            )
        prefixlen = _MAX_PREFIX[ip.version]
    else:
        prefixlen = _prefixlen(prefix, ip.version, original)
    try:
        return netaddr.IPNetwork(f"{ip}/{prefixlen}", version=ip.version)
    except (netaddr.AddrFormatError, ValueError, TypeError):  # pragma: no cover - checked above
        raise CidrError(f"{original!r} is not a valid CIDR prefix") from None


def parse_address(text, what: str = "an IP address") -> netaddr.IPAddress:
    """Parse a bare address (no prefix); raises :class:`CidrError` on bad input."""
    original = _check_text(text, what)
    if "/" in original:
        raise CidrError(f"{original!r}: expected {what} without a '/prefix', e.g. 10.233.127.254")
    return _address(original, original)


def _pair_networks(items) -> list[netaddr.IPNetwork]:
    if isinstance(items, str):
        if len(items) > MAX_PREFIXES * _MAX_TEXT:
            raise CidrError(f"the list of prefixes is {len(items):,} characters long; give at most "
                            f"{MAX_PREFIXES:,} prefixes")
        items = [s for s in re.split(r"[\s,;]+", items) if s]
    try:
        items = list(itertools.islice(items, MAX_PREFIXES + 1))
    except TypeError:
        raise CidrError(
            f"expected a list of prefixes such as ['10.233.64.0/18', '10.233.128.0/18'], "
            f"got {type(items).__name__} {quote(items)}"
        ) from None
    if len(items) > MAX_PREFIXES:
        raise CidrError(f"more than {MAX_PREFIXES:,} prefixes given; aggregate at most {MAX_PREFIXES:,} at a time")
    if not items:
        raise CidrError("no prefixes given; enter at least one, e.g. 10.233.64.0/18")
    nets = [network(item) for item in items]
    versions = {n.version for n in nets}
    if len(versions) > 1:
        v4 = next(n for n in nets if n.version == 4)
        v6 = next(n for n in nets if n.version == 6)
        raise CidrError(f"cannot mix IPv4 ({_s(v4)}) and IPv6 ({_s(v6)}) prefixes in one calculation")
    return nets


# --------------------------------------------------------------------------- describe


@dataclass(frozen=True)
class Description:
    """Everything about one prefix, as strings and ints (JSON-ready via :meth:`to_dict`).

    ``address`` is the address as given (it may have host bits set); ``network`` is the
    network it belongs to.  ``broadcast`` is None for IPv6 and for /31 and /32.
    """

    cidr: str
    address: str
    network: str
    netmask: str
    hostmask: str
    broadcast: str | None
    first_host: str
    last_host: str
    num_addresses: int
    usable_hosts: int
    prefixlen: int
    version: int
    host_bits_set: bool
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def network_cidr(self) -> str:
        return f"{self.network}/{self.prefixlen}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    def text(self) -> str:
        rows = [
            ("Prefix", self.cidr),
            ("Network", self.network_cidr),
            ("Netmask", self.netmask),
            ("Hostmask", self.hostmask),
            ("Broadcast", self.broadcast or "none"),
            ("First host", self.first_host),
            ("Last host", self.last_host),
            ("Addresses", f"{self.num_addresses:,}"),
            ("Usable hosts", f"{self.usable_hosts:,}"),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = text

    def html(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='font-family:monospace'>{html.escape(str(v))}</td></tr>"
            for k, v in [
                ("Network", self.network_cidr),
                ("Netmask", self.netmask),
                ("Hostmask", self.hostmask),
                ("Broadcast", self.broadcast or "none"),
                ("First host", self.first_host),
                ("Last host", self.last_host),
                ("Addresses", f"{self.num_addresses:,}"),
                ("Usable hosts", f"{self.usable_hosts:,}"),
            ]
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div class='netlab-describe'><table>{body}</table>"
            + (f"<ul class='notes'>{notes}</ul>" if notes else "")
            + "</div>"
        )

    _repr_html_ = html


def _describe_net(net: netaddr.IPNetwork) -> Description:
    version, p = net.version, net.prefixlen
    size = net.size
    first, last = net.first, net.last
    notes: list[str] = []
    broadcast = None
    ip = net.ip
    host_bits = int(ip) != first
    if host_bits:
        notes.append(
            f"{_s(ip)} has host bits set: it is a host address inside the network {_s(net.cidr)}"
        )
    if version == 4:
        if p <= 30:
            broadcast = _s(net.broadcast)
            first_host, last_host, usable = first + 1, last - 1, size - 2
            notes.append(
                f"the max IP {broadcast} is the broadcast address, so the last usable host "
                f"is {netaddr.IPAddress(last_host, 4)}; the network address "
                f"{_s(net.network)} is not assigned to a host either"
            )
            if host_bits and int(ip) == last:
                notes.append(f"{_s(ip)} is the broadcast address of {_s(net.cidr)}, not a usable host")
        elif p == 31:
            first_host, last_host, usable = first, last, 2
            notes.append(
                "a /31 is a point-to-point link (RFC 3021): both addresses are usable "
                "hosts and there is no broadcast address"
            )
        else:
            first_host, last_host, usable = first, last, 1
            notes.append("a /32 is a single host: one address, no network or broadcast address")
    else:
        notes.append("IPv6 has no broadcast address; it uses multicast (ff02::1 reaches all nodes)")
        if p <= 126:
            first_host, last_host, usable = first + 1, last, size - 1
            notes.append(
                f"the all-zero host {_s(net.network)} is the Subnet-Router anycast address "
                f"(RFC 4291), so the first host is {_s(netaddr.IPAddress(first_host, 6))}"
            )
        elif p == 127:
            first_host, last_host, usable = first, last, 2
            notes.append(
                "a /127 is a point-to-point link (RFC 6164): both addresses are usable hosts"
            )
        else:
            first_host, last_host, usable = first, last, 1
            notes.append("a /128 is a single host: one address")
    return Description(
        cidr=f"{_s(ip)}/{p}",
        address=_s(ip),
        network=_s(net.network),
        netmask=_s(net.netmask),
        hostmask=_s(net.hostmask),
        broadcast=broadcast,
        first_host=_s(netaddr.IPAddress(first_host, version)),
        last_host=_s(netaddr.IPAddress(last_host, version)),
        num_addresses=size,
        usable_hosts=usable,
        prefixlen=p,
        version=version,
        host_bits_set=host_bits,
        notes=tuple(notes),
    )


def describe(cidr) -> Description:
    """Explain one prefix: network, masks, broadcast, host range, counts and notes.

    A host address with host bits set (``192.168.0.3/26``) is accepted; the result
    says which network it is in.  Use :func:`network` to require a network.

    >>> describe("10.233.64.0/18").broadcast
    '10.233.127.255'
    """
    return _describe_net(parse(cidr))


def network(cidr, strict: bool = True) -> netaddr.IPNetwork:
    """Parse a network prefix.  With ``strict`` (default), host bits set is an error.

    >>> network("192.168.0.3/26")
    Traceback (most recent call last):
    ...
    netlab.calc.cidr.CidrError: 192.168.0.3/26 has host bits set; the network is 192.168.0.0/26
    """
    net = parse(cidr)
    if net.ip != net.network:
        if strict:
            raise CidrError(f"{_s(net.ip)}/{net.prefixlen} has host bits set; the network is {_s(net.cidr)}")
    return net.cidr


# --------------------------------------------------------------------------- tables


def _bits(value: int, version: int) -> str:
    return netaddr.IPAddress(value, version).bits()


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))


@dataclass(frozen=True)
class Row:
    label: str
    binary: str
    decimal: str
    #: how many leading bits are "network" bits (for colouring); the rest are host bits
    prefixlen: int


@dataclass(frozen=True)
class Table:
    title: str
    operation: str
    rows: tuple[Row, ...]

    @property
    def result(self) -> Row:
        return self.rows[-1]


def _html_bits(bits: str, prefixlen: int) -> str:
    """Wrap the network bits and the host bits of a dotted bit string in coloured spans."""
    count = 0
    cut = len(bits)
    for i, ch in enumerate(bits):
        if ch in "01":
            if count == prefixlen:
                cut = i
                break
            count += 1
    net, host = bits[:cut], bits[cut:]
    out = []
    if net:
        out.append(f"<span class='netbits' style='{NET_STYLE}'>{net}</span>")
    if host:
        out.append(f"<span class='hostbits' style='{HOST_STYLE}'>{host}</span>")
    return "".join(out)


def _legend() -> str:
    return (
        "<div class='legend' style='font-family:sans-serif;margin:4px 0'>"
        f"<span class='netbits' style='{NET_STYLE}padding:0 6px'>network bits (网络位)</span> "
        f"<span class='hostbits' style='{HOST_STYLE}padding:0 6px'>host bits (主机位)</span>"
        "</div>"
    )


@dataclass(frozen=True)
class SeedTables:
    """The seed's three tables for one prefix (see :func:`seed_tables`)."""

    cidr: str
    version: int
    prefixlen: int
    tables: tuple[Table, Table, Table]
    notes: tuple[str, ...]

    def text(self) -> str:
        out = [f"CIDR: {self.cidr}"]
        for t in self.tables:
            lw = max(_display_width(r.label) for r in t.rows)
            bw = max(len(r.binary) for r in t.rows)
            out.append("")
            out.append(f"{t.title}  [{t.operation}]")
            for r in t.rows:
                out.append(f"  {_pad(r.label, lw)}  {r.binary:<{bw}}  {r.decimal}")
        out.append("")
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    __str__ = text

    def html(self) -> str:
        parts = [
            f"<div class='netlab-seed-tables'>"
            f"<div style='font-family:sans-serif'><b>CIDR:</b> "
            f"<code>{html.escape(self.cidr)}</code></div>",
            _legend(),
        ]
        for t in self.tables:
            rows = "".join(
                "<tr>"
                f"<td style='padding-right:1em'>{html.escape(r.label)}</td>"
                f"<td style='font-family:monospace'>{_html_bits(r.binary, r.prefixlen)}</td>"
                f"<td style='font-family:monospace;padding-left:1em'>{html.escape(r.decimal)}</td>"
                "</tr>"
                for r in t.rows
            )
            parts.append(
                f"<p style='font-family:sans-serif;margin:8px 0 2px'><b>{html.escape(t.title)}</b> "
                f"({html.escape(t.operation)})</p>"
                "<table class='netlab-table' style='border-collapse:collapse'>"
                "<tr><th style='text-align:left'></th><th style='text-align:left'>bin</th>"
                "<th style='text-align:left;padding-left:1em'>"
                f"{'dec' if self.version == 4 else 'hex'}</th></tr>"
                f"{rows}</table>"
            )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        parts.append(f"<ul class='notes' style='font-family:sans-serif'>{notes}</ul></div>")
        return "".join(parts)

    _repr_html_ = html


def seed_tables(cidr) -> SeedTables:
    """The seed's three tables: ``IP AND mask``, ``NOT mask``, ``network OR hostmask``.

    Each row has a label (English with the seed's Chinese), the address in dotted
    binary (IPv6: 16-bit groups separated by ':') and in dotted decimal (IPv6: hex).
    """
    net = parse(cidr)
    v, p = net.version, net.prefixlen
    ip, mask, hostmask = int(net.ip), int(net.netmask), int(net.hostmask)
    netaddr_int = ip & mask
    top = netaddr_int | hostmask
    all_ones = (1 << (32 if v == 4 else 128)) - 1
    assert hostmask == (~mask & all_ones)

    def row(label: str, value: int) -> Row:
        return Row(label, _bits(value, v), _s(netaddr.IPAddress(value, v)), p)

    d = _describe_net(net)
    if v == 4 and p <= 30:
        top_label = "Result: max IP / broadcast (结果 最大IP地址)"
        title3 = "Max IP / broadcast (最大IP地址)"
    else:
        top_label = "Result: max IP (结果 最大IP地址)"
        title3 = "Max IP (最大IP地址)"
    tables = (
        Table(
            "Network address (网络地址)",
            "IP AND mask (&&)",
            (
                row("IP address (IP地址)", ip),
                row("Subnet mask (子网掩码)", mask),
                row("Result: network address (结果 网络地址)", netaddr_int),
            ),
        ),
        Table(
            "Host part of the mask (子网掩码中主机地址)",
            "NOT mask (~)",
            (
                row("Subnet mask (子网掩码)", mask),
                row("Result: host part of the mask (结果 子网掩码中主机地址)", hostmask),
            ),
        ),
        Table(
            title3,
            "network OR hostmask (+)",
            (
                row("Network address (网络地址)", netaddr_int),
                row("Host part of the mask (子网掩码中主机地址)", hostmask),
                row(top_label, top),
            ),
        ),
    )
    top_s = _s(netaddr.IPAddress(top, v))
    if v == 4 and p <= 30:
        notes = [
            f"{top_s} is the broadcast address; the last usable host is {d.last_host} "
            f"and the first is {d.first_host} ({d.usable_hosts:,} usable hosts)"
        ]
    elif v == 4 and p == 31:
        notes = [f"/31 (RFC 3021): no broadcast; both {d.first_host} and {d.last_host} are usable hosts"]
    elif v == 4:
        notes = [f"/32: the single host {top_s}; no broadcast"]
    else:
        notes = [
            f"IPv6 has no broadcast: {top_s} is simply the last address and a usable host; "
            f"hosts run from {d.first_host} to {d.last_host}"
        ]
    if d.host_bits_set:
        notes.insert(0, f"{_s(net.ip)} has host bits set; its network is {_s(net.cidr)}")
    return SeedTables(cidr=f"{_s(net.ip)}/{p}", version=v, prefixlen=p, tables=tables, notes=tuple(notes))


# --------------------------------------------------------------------------- same subnet


@dataclass(frozen=True)
class SameSubnet:
    """Answer to "are a and b on the same subnet?" with the bitwise working.

    ``same`` is True when both prefixes name the same network.  With different prefix
    lengths each side may still see the other as on-link; ``a_sees_b_on_link`` and
    ``b_sees_a_on_link`` give each side's view (its own mask applied to the other's
    address), which is what the kernel uses to decide ARP versus gateway.
    """

    a: str
    b: str
    same: bool
    a_network: str
    b_network: str
    a_sees_b_on_link: bool
    b_sees_a_on_link: bool
    working: tuple[Table, Table]
    message: str

    def __bool__(self) -> bool:
        return self.same

    def to_dict(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "same_subnet": self.same,
            "a_network": self.a_network,
            "b_network": self.b_network,
            "a_sees_b_on_link": self.a_sees_b_on_link,
            "b_sees_a_on_link": self.b_sees_a_on_link,
            "message": self.message,
        }

    def text(self) -> str:
        out = [f"Same subnet: {'yes' if self.same else 'no'}"]
        for t in self.working:
            lw = max(_display_width(r.label) for r in t.rows)
            out.append("")
            out.append(f"{t.title}  [{t.operation}]")
            out += [f"  {_pad(r.label, lw)}  {r.binary}  {r.decimal}" for r in t.rows]
        out += ["", self.message]
        return "\n".join(out)

    __str__ = text

    def html(self) -> str:
        colour = "#1b5e20" if self.same else "#8b0000"
        verdict = "yes (同一子网)" if self.same else "no (不同子网)"
        parts = [
            "<div class='netlab-same-subnet'>",
            f"<p class='verdict' style='font-family:sans-serif;font-weight:bold;color:{colour}'>"
            f"Same subnet: {verdict}</p>",
            _legend(),
        ]
        for t in self.working:
            rows = "".join(
                f"<tr><td style='padding-right:1em'>{html.escape(r.label)}</td>"
                f"<td style='font-family:monospace'>{_html_bits(r.binary, r.prefixlen)}</td>"
                f"<td style='font-family:monospace;padding-left:1em'>{html.escape(r.decimal)}</td></tr>"
                for r in t.rows
            )
            parts.append(
                f"<p style='font-family:sans-serif;margin:8px 0 2px'><b>{html.escape(t.title)}</b> "
                f"({html.escape(t.operation)})</p><table class='netlab-table'>{rows}</table>"
            )
        parts.append(f"<p style='font-family:sans-serif'>{html.escape(self.message)}</p></div>")
        return "".join(parts)

    _repr_html_ = html


def same_subnet(a, b) -> SameSubnet:
    """Are ``a`` and ``b`` (each ``address/prefix``) on the same subnet?

    The seed's exercise: ``same_subnet("192.168.0.3/26", "192.168.0.192/26")`` is
    False (192.168.0.0 versus 192.168.0.192), so PC1 and PC2 need a gateway.
    """
    na, nb = parse(a), parse(b)
    if na.version != nb.version:
        v4, v6 = (na, nb) if na.version == 4 else (nb, na)
        raise CidrError(
            f"cannot compare IPv4 {_s(v4.ip)}/{v4.prefixlen} with IPv6 {_s(v6.ip)}/{v6.prefixlen}: "
            "they are different address families and never share a subnet"
        )
    A, B = f"{_s(na.ip)}/{na.prefixlen}", f"{_s(nb.ip)}/{nb.prefixlen}"
    return SameSubnet(
        a=A,
        b=B,
        same=na.cidr == nb.cidr,
        a_network=_s(na.network),
        b_network=_s(nb.network),
        a_sees_b_on_link=nb.ip in na.cidr,
        b_sees_a_on_link=na.ip in nb.cidr,
        working=(_and_table("A", na), _and_table("B", nb)),
        message=_same_subnet_message(na, nb) + _own_address_notes(na, nb),
    )


def _and_table(who: str, n: netaddr.IPNetwork) -> Table:
    """The seed's working: the address AND the mask gives the network address."""
    return Table(
        f"{who}: {_s(n.ip)}/{n.prefixlen}",
        "IP AND mask",
        (
            Row(f"{who} IP address (IP地址)", n.ip.bits(), _s(n.ip), n.prefixlen),
            Row("Subnet mask (子网掩码)", n.netmask.bits(), _s(n.netmask), n.prefixlen),
            Row("Network address (网络地址)", n.network.bits(), _s(n.network), n.prefixlen),
        ),
    )


def _same_subnet_message(na: netaddr.IPNetwork, nb: netaddr.IPNetwork) -> str:
    A, B = f"{_s(na.ip)}/{na.prefixlen}", f"{_s(nb.ip)}/{nb.prefixlen}"
    if na.cidr == nb.cidr:
        return (
            f"Same subnet: both are in {_s(na.cidr)}, so they reach each other directly "
            f"(ARP{' ' if na.version == 4 else '/neighbour discovery '}on the link), no gateway needed."
        )
    if na.prefixlen == nb.prefixlen:
        return (
            f"Different subnets: {A} is in {_s(na.network)}/{na.prefixlen} but {B} is in "
            f"{_s(nb.network)}/{nb.prefixlen}, so they need a gateway (router) to talk."
        )
    # Prefix lengths differ: each side decides on-link or not with its own mask.
    a_sees_b, b_sees_a = nb.ip in na.cidr, na.ip in nb.cidr
    views = (f"{A} sees {_s(nb.ip)} as {'on-link' if a_sees_b else 'off-link (via a gateway)'}",
             f"{B} sees {_s(na.ip)} as {'on-link' if b_sees_a else 'off-link (via a gateway)'}")
    tail = (
        "both would ARP for each other directly, but their masks disagree: fix one of them."
        if a_sees_b and b_sees_a
        else "the asymmetric view means replies go a different way than requests: "
        "give both the same prefix."
        if a_sees_b or b_sees_a
        else "neither is on-link for the other, so they need a gateway."
    )
    return (
        f"Different subnets ({_s(na.cidr)} vs {_s(nb.cidr)}, prefix lengths differ): "
        f"{views[0]}; {views[1]}; {tail}"
    )


def _own_address_notes(na: netaddr.IPNetwork, nb: netaddr.IPNetwork) -> str:
    notes = ""
    for n in (na, nb):
        if n.version == 4 and n.prefixlen <= 30 and int(n.ip) in (n.first, n.last):
            kind = "network" if int(n.ip) == n.first else "broadcast"
            notes += (
                f" Note: {_s(n.ip)} is itself the {kind} address of {_s(n.cidr)}; the comparison still "
                f"holds, but a host would not normally be given that address."
            )
    return notes


# --------------------------------------------------------------------------- split / supernet


@dataclass(frozen=True)
class SplitResult:
    """A prefix split into equal subnets.  ``subnets`` lists at most ``limit`` of them."""

    parent: str
    new_prefix: int
    num_subnets: int
    addresses_per_subnet: int
    subnets: tuple[str, ...]
    truncated: bool
    requested_count: int | None
    notes: tuple[str, ...]

    def __iter__(self) -> Iterator[str]:
        return iter(self.subnets)

    def __len__(self) -> int:
        return len(self.subnets)

    def iter_all(self) -> Iterator[str]:
        """Every subnet, lazily (there can be 2**128 of them)."""
        for n in netaddr.IPNetwork(self.parent).subnet(self.new_prefix):
            yield _s(n)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["subnets"] = list(self.subnets)
        data["notes"] = list(self.notes)
        return data

    def rows(self) -> list[Description]:
        return [describe(s) for s in self.subnets]

    def text(self) -> str:
        out = [
            f"{self.parent} split into {self.num_subnets:,} x /{self.new_prefix} "
            f"({self.addresses_per_subnet:,} addresses each)"
        ]
        descs = self.rows()
        w = max((len(d.network_cidr) for d in descs), default=6)
        fw = max([len("first host")] + [len(d.first_host) for d in descs])
        lw = max([len("last host")] + [len(d.last_host) for d in descs])
        out.append(f"  {'subnet':<{w}}  {'first host':<{fw}}  {'last host':<{lw}}  broadcast")
        for d in descs:
            out.append(
                f"  {d.network_cidr:<{w}}  {d.first_host:<{fw}}  {d.last_host:<{lw}}  "
                f"{d.broadcast or '-'}"
            )
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    __str__ = text

    def html(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(d.network_cidr)}</td><td>{html.escape(d.first_host)}</td>"
            f"<td>{html.escape(d.last_host)}</td><td>{html.escape(d.broadcast or '-')}</td>"
            f"<td style='text-align:right'>{d.usable_hosts:,}</td></tr>"
            for d in self.rows()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            "<div class='netlab-split' style='font-family:sans-serif'>"
            f"<p><b>{html.escape(self.parent)}</b> &rarr; {self.num_subnets:,} &times; "
            f"/{self.new_prefix} ({self.addresses_per_subnet:,} addresses each)</p>"
            "<table class='netlab-table' style='font-family:monospace'>"
            "<tr><th>subnet</th><th>first host</th><th>last host</th><th>broadcast</th>"
            f"<th>usable</th></tr>{rows}</table>"
            + (f"<ul class='notes'>{notes}</ul>" if notes else "")
            + "</div>"
        )

    _repr_html_ = html


def _whole(value, name: str, hi: int | None = None) -> int:
    """A count or a prefix length: an int, or digits (a prefix length may keep its '/')."""
    if isinstance(value, str) and value.strip().startswith("/"):
        value = value.strip()[1:]
    return whole_number(value, name, hi=hi, error=CidrError)


def split(prefix, count=None, new_prefix=None, *, limit: int = 256) -> SplitResult:
    """Split ``prefix`` into ``count`` equal subnets (rounded up to a power of two)
    or into subnets of length ``new_prefix``.  Give exactly one of the two.
    """
    parent = network(prefix)
    v, p = parent.version, parent.prefixlen
    full = _MAX_PREFIX[v]
    notes: list[str] = []
    if (count is None) == (new_prefix is None):
        raise CidrError("give exactly one of count (how many subnets) or new_prefix (their length)")
    limit = whole_number(limit, "limit", lo=1, hi=MAX_SPLIT_LIMIT, error=CidrError)
    requested = None
    if count is not None:
        count = _whole(count, "count", hi=1 << full)
        if count < 1:
            raise CidrError(f"count must be at least 1, got {count}")
        requested = count
        bits = (count - 1).bit_length()
        target = p + bits
        if target > full:
            raise CidrError(
                f"cannot split {_s(parent)} into {count:,} subnets: that needs /{target}, "
                f"but IPv{v} prefixes stop at /{full} ({_s(parent)} holds at most {parent.size:,} /{full}s)"
            )
        if 1 << bits != count:
            notes.append(
                f"{count:,} is not a power of two, so it was rounded up to {1 << bits:,} "
                f"subnets of /{target}"
            )
    else:
        target = _whole(new_prefix, "new_prefix")
        if target > full:
            shown = f"/{target}" if target < 10 ** 6 else quote(target)
            raise CidrError(f"new prefix {shown} is out of range 0-{full} for IPv{v}")
        if target < p:
            raise CidrError(
                f"new prefix /{target} is shorter than {_s(parent)}'s /{p}; a split needs a longer "
                f"prefix (/{p}-/{full}); to aggregate, use supernet()"
            )
    num = 1 << (target - p)
    subs = tuple(_s(n) for n in parent.subnet(target, count=min(num, limit)))
    truncated = num > len(subs)
    if truncated:
        notes.append(f"showing the first {len(subs):,} of {num:,} subnets")
    if v == 4 and target == 31:
        notes.append("/31 subnets are point-to-point links (RFC 3021): 2 usable hosts each")
    elif v == 4 and target == 32:
        notes.append("/32 subnets are single hosts")
    return SplitResult(
        parent=_s(parent),
        new_prefix=target,
        num_subnets=num,
        addresses_per_subnet=1 << (full - target),
        subnets=subs,
        truncated=truncated,
        requested_count=requested,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class SupernetResult:
    """``supernet``: the smallest single prefix covering all inputs; ``merged``: the
    exact aggregation (netaddr.cidr_merge), which covers exactly the inputs."""

    networks: tuple[str, ...]
    supernet: str
    merged: tuple[str, ...]
    extra_addresses: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        data = asdict(self)
        for k in ("networks", "merged", "notes"):
            data[k] = list(data[k])
        return data

    def text(self) -> str:
        out = [
            "Networks:        " + ", ".join(self.networks),
            f"Supernet:        {self.supernet}",
            "Exact CIDR merge: " + ", ".join(self.merged),
        ]
        out += [f"Note: {n}" for n in self.notes]
        return "\n".join(out)

    __str__ = text

    def html(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            "<div class='netlab-supernet' style='font-family:sans-serif'>"
            f"<p>Smallest single prefix covering all: <code class='supernet'>{html.escape(self.supernet)}</code></p>"
            "<p>Exact CIDR merge: "
            + ", ".join(f"<code class='merged'>{html.escape(m)}</code>" for m in self.merged)
            + "</p>"
            + (f"<ul class='notes'>{notes}</ul>" if notes else "")
            + "</div>"
        )

    _repr_html_ = html


def supernet(networks) -> SupernetResult:
    """Aggregate prefixes: the smallest covering prefix and the exact CIDR merge.

    ``networks`` is a list of prefixes or one string separated by commas/whitespace.
    """
    nets = _pair_networks(networks)
    # The smallest prefix holding the lowest and the highest address: keep the bits
    # they share.  (Not netaddr.spanning_cidr: in netaddr 1.3 it returns
    # 255.255.255.255/0 for [0.0.0.0/0, 0.0.0.0/0] and 0.0.0.0/1 for
    # [0.0.0.0/0, 0.0.0.0/2]; the property tests against ipaddress caught both.)
    lo, hi = min(n.first for n in nets), max(n.last for n in nets)
    bits = _MAX_PREFIX[nets[0].version]
    span = netaddr.IPNetwork((lo, bits - (lo ^ hi).bit_length()), version=nets[0].version).cidr
    merged = netaddr.cidr_merge(nets)
    covered = sum(m.size for m in merged)
    extra = span.size - covered
    notes = []
    if extra:
        notes.append(
            f"{_s(span)} also covers {extra:,} address{'es' if extra != 1 else ''} that are in "
            f"none of the inputs; the exact merge covers only the inputs"
        )
    else:
        notes.append(f"{_s(span)} covers exactly the inputs, nothing more")
    unique = {_s(n) for n in nets}
    if len(unique) < len(nets):
        notes.append("some inputs were given more than once")
    return SupernetResult(
        networks=tuple(_s(n) for n in nets),
        supernet=_s(span),
        merged=tuple(_s(m) for m in merged),
        extra_addresses=extra,
        notes=tuple(notes),
    )


def error_html(message: str) -> str:
    """An inline error box for widgets (class ``netlab-error``)."""
    return (
        f"<div class='netlab-error' style='{_ERROR_STYLE}'>"
        f"<b>&#10007; Error:</b> {html.escape(str(message))}</div>"
    )
