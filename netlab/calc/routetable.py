"""Read routing tables as the three tools print them, and explain a lookup.

The seed's sections "网关和路由器" and "主机（Mac OS）和 vSphere 虚拟机网络互通原理"
print a macOS ``netstat -nr`` (host A) and a Linux ``route -n`` (vSphere VM B);
the Flannel sections print ``ip route`` on Node 1 and Node 2. This module parses
all three (and ``ip -j route`` JSON), picks the route a kernel would use for a
destination, and says why in one sentence::

    >>> table = parse_routes(SEED_TABLES["mac-host-a"])
    >>> lookup(table, "10.6.8.1").reason
    '10.6.8.1 is not on any connected network, so the default route sends it to gateway 10.64.1.1 on en0.'

Formats (``RouteTable.format``):

``linux-route``
    net-tools ``route -n`` (and plain ``route``, which prints ``default``,
    ``link-local`` and ``*`` instead of numbers). Flags from ``man 8 route``
    (net-tools): U up, H host, G gateway, R reinstate, D dynamic, M modified,
    A addrconf, C cache, ! reject.
``macos-netstat``
    macOS ``netstat -nr``: the ``Internet:`` section. Destinations are
    abbreviated the BSD way (``10.64.1/24``, ``127``, ``169.254``); without a
    ``/len`` the mask is the classful one (Apple's ``netstat`` omits it when it
    equals the class A/B/C mask). Gateways may be ``link#5`` (directly connected
    on interface index 5) or a MAC address (an ARP entry). Flags from
    ``man 1 netstat`` on macOS (RTF_* names in ``<net/route.h>``).
``iproute2``
    ``ip route``, both today's single-space form and the seed's older form with
    two spaces between fields.
``iproute2-json``
    ``ip -j route``: handy for labs that read the kernel's state.

Lookup follows the kernel: longest prefix first; on Linux the lowest metric
breaks a tie (then the first route listed); macOS has no metric and an ordinary
(unscoped) lookup skips routes scoped to one interface (flag ``I``). With no
match Linux says "Network is unreachable" (ENETUNREACH) and macOS "No route to
host" (EHOSTUNREACH: ``bsd/netinet/ip_output.c`` in xnu). On Linux a
``blackhole`` route fails with "Invalid argument", ``unreachable`` with "No
route to host", ``prohibit`` with "Permission denied", and ``throw`` moves on
to the next table (checked with ``ip route get`` on Linux 6.1, iproute2 6.1).
"""

from __future__ import annotations

import argparse
import html
import ipaddress
import json
import re
import sys
from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence

import netaddr

from ..inputs import one_line, quote, whole_number

__all__ = [
    "FLAGS",
    "FORMATS",
    "SEED_TABLES",
    "Candidate",
    "Lookup",
    "Route",
    "RouteTable",
    "RouteTableError",
    "add_routes_command",
    "detect_format",
    "explain_flags",
    "lookup",
    "parse_routes",
    "run_routes_command",
]

# ---------------------------------------------------------------------------
# The seed's tables, verbatim (command output only; prompt lines left out).
# ---------------------------------------------------------------------------

SEED_TABLES: dict[str, str] = {
    # Mac host A (seed: 主机（Mac OS）和 vSphere 虚拟机网络互通原理)
    "mac-host-a": (
        "Routing tables\n"
        "\n"
        "Internet:\n"
        "Destination        Gateway            Flags        Netif Expire\n"
        "default            10.64.1.1          UGSc           en0\n"
        "10.64.1/24         link#5             UCS            en0      !\n"
        "10.64.1.1/32       link#5             UCS            en0      !\n"
    ),
    # vSphere VM B, same section
    "vm-b": (
        "Kernel IP routing table\n"
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n"
        "0.0.0.0         10.6.0.1        0.0.0.0         UG    100    0        0 ens192\n"
        "10.6.0.0        0.0.0.0         255.255.0.0     U     100    0        0 ens192\n"
    ),
    # Node 1 in "Flannel - UDP" (old iproute2: two spaces between fields)
    "node1": (
        "default via 10.168.0.1 dev eth0\n"
        "100.96.0.0/16 dev flannel0  proto kernel  scope link  src 100.96.1.0\n"
        "100.96.1.0/24 dev docker0  proto kernel  scope link  src 100.96.1.1\n"
        "10.168.0.0/24 dev eth0  proto kernel  scope link  src 10.168.0.2\n"
    ),
    # Node 2 in "Flannel - UDP" (the seed prints no 10.168.0.0/24 line here)
    "node2": (
        "default via 10.168.0.1 dev eth0\n"
        "100.96.0.0/16 dev flannel0  proto kernel  scope link  src 100.96.2.0\n"
        "100.96.2.0/24 dev docker0  proto kernel  scope link  src 100.96.2.1\n"
    ),
    # The nginx-1 container's plain `route` (section "Docker 容器之间的通信原理（单节点）")
    "nginx-1": (
        "Kernel IP routing table\n"
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n"
        "default         172.17.0.1      0.0.0.0         UG    0      0        0 eth0\n"
        "172.17.0.0      0.0.0.0         255.255.0.0     U     0      0        0 eth0\n"
    ),
}

# ---------------------------------------------------------------------------
# Formats and flags
# ---------------------------------------------------------------------------

FORMATS: dict[str, str] = {
    "linux-route": "Linux route -n",
    "macos-netstat": "macOS netstat -nr",
    "iproute2": "ip route",
    "iproute2-json": "ip -j route",
}

_FORMAT_ALIASES = {
    "linux-route": "linux-route", "route": "linux-route", "route -n": "linux-route",
    "linux": "linux-route",
    "macos-netstat": "macos-netstat", "netstat": "macos-netstat", "netstat -nr": "macos-netstat",
    "netstat -rn": "macos-netstat", "macos": "macos-netstat", "mac": "macos-netstat",
    "iproute2": "iproute2", "ip": "iproute2", "ip route": "iproute2", "ip-route": "iproute2",
    "iproute2-json": "iproute2-json", "json": "iproute2-json", "ip -j route": "iproute2-json",
    "ip-json": "iproute2-json",
}

FLAGS: dict[str, dict[str, str]] = {
    # man 8 route (net-tools), section OUTPUT, "Flags"
    "linux-route": {
        "U": "up: the route is usable",
        "H": "host: the target is a single host (mask 255.255.255.255)",
        "G": "gateway: packets are sent to the gateway, not straight to the destination",
        "R": "reinstate: route reinstated for dynamic routing",
        "D": "dynamic: installed by a routing daemon or an ICMP redirect",
        "M": "modified: changed by a routing daemon or an ICMP redirect",
        "A": "addrconf: installed by address autoconfiguration",
        "C": "cache: a routing-cache entry",
        "!": "reject: the destination is unreachable; the lookup fails",
    },
    # man 1 netstat on macOS, the RTF_* flag table
    "macos-netstat": {
        "1": "RTF_PROTO1: protocol-specific routing flag #1",
        "2": "RTF_PROTO2: protocol-specific routing flag #2",
        "3": "RTF_PROTO3: protocol-specific routing flag #3",
        "B": "RTF_BLACKHOLE: just discard packets (during updates)",
        "b": "RTF_BROADCAST: the route represents a broadcast address",
        "C": "RTF_CLONING: generate new routes on use",
        "c": "RTF_PRCLONING: protocol-specified generate new routes on use",
        "D": "RTF_DYNAMIC: created dynamically (by redirect)",
        "G": "RTF_GATEWAY: destination requires forwarding by intermediary (a gateway)",
        "g": "RTF_GLOBAL: route to a destination of the global internet (policy hint)",
        "H": "RTF_HOST: host entry (net otherwise)",
        "I": "RTF_IFSCOPE: route is associated with an interface scope",
        "i": "RTF_IFREF: route is holding a reference to the interface",
        "L": "RTF_LLINFO: valid protocol to link address translation (an ARP entry)",
        "M": "RTF_MODIFIED: modified dynamically (by redirect)",
        "m": "RTF_MULTICAST: the route represents a multicast address",
        "R": "RTF_REJECT: host or net unreachable",
        "r": "RTF_ROUTER: host is a default router",
        "S": "RTF_STATIC: manually added",
        "U": "RTF_UP: route usable",
        "W": "RTF_WASCLONED: route was generated as a result of cloning",
        "X": "RTF_XRESOLVE: external daemon translates proto to link address",
        "Y": "RTF_PROXY: proxying; cloned routes will not be scoped",
    },
    # ip-route(8): words printed after a route
    "iproute2": {
        "onlink": "pretend the gateway is directly attached to the device, "
                  "even if no address of the device covers it",
        "linkdown": "the device has no carrier; the route stays in the table",
        "dead": "the nexthop is dead (its device is down)",
        "pervasive": "the route is used even by recursive nexthop resolution",
        "offload": "the route is offloaded to hardware",
        "trap": "matching packets are trapped to the CPU by hardware",
        "notify": "user space is notified when the route changes (ip route get)",
        "rt_offload": "the route is offloaded to hardware",
        "rt_trap": "the route traps packets to the CPU",
        "rt_offload_failed": "offloading the route to hardware failed",
    },
}
FLAGS["iproute2-json"] = FLAGS["iproute2"]


def _norm_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    key = fmt.strip().lower() if isinstance(fmt, str) else None
    if key not in _FORMAT_ALIASES:
        raise RouteTableError(
            f"Unknown table format {quote(fmt)}: use one of {', '.join(FORMATS)} "
            "(or leave it out to detect the format).")
    return _FORMAT_ALIASES[key]


def explain_flags(flags: str, fmt: str = "linux-route") -> str:
    """Explain each flag, one line per letter (or word, for ``ip route``).

    ``explain_flags("UGSc", "macos-netstat")`` gives four lines, starting
    ``U  RTF_UP: route usable``. Letters follow ``man 1 netstat`` on macOS and
    ``man 8 route`` on Linux (net-tools); ``ip route`` flags are words
    (``onlink``, ``linkdown``...) as in ip-route(8). An unknown letter gets a
    line saying so rather than an error.
    """
    fmt = _norm_format(fmt) or "linux-route"
    if not isinstance(flags, str):
        raise RouteTableError(f"Flags must be text such as 'UGSc', not {type(flags).__name__} {quote(flags)}.")
    table = FLAGS[fmt]
    tool = FORMATS[fmt]
    items: list[str] = flags.split() if fmt.startswith("iproute2") else list(flags.strip())
    lines = []
    for item in items:
        meaning = table.get(item)
        if meaning is None:
            lines.append(f"{item}  (not a flag {tool} prints; check the tool's manual page)")
        else:
            lines.append(f"{item}  {meaning}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


class RouteTableError(ValueError):
    """A table or an address could not be read.

    ``lineno`` (1-based, in the text given) and ``line`` name the offending
    line when there is one; ``expected`` says what would have been accepted.
    """

    def __init__(self, message: str, *, lineno: int | None = None, line: str | None = None,
                 expected: str | None = None):
        self.lineno = lineno
        self.line = line
        self.expected = expected
        super().__init__(message)


_ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "anycast", "blackhole",
                "unreachable", "prohibit", "throw", "nat")


@dataclass(frozen=True)
class Route:
    """One route, whatever tool printed it.

    ``destination`` is a :class:`netaddr.IPNetwork` (a CIDR string is converted).
    ``gateway`` is the next hop (an IPv4 address, or the name plain ``route``
    printed, such as ``_gateway``), ``None`` when directly connected.
    ``metric`` is ``None`` where the tool prints none (macOS). ``flags`` is the
    tool's flag string (letters; for ``ip route`` the flag words). ``link`` is
    what macOS prints in the Gateway column of a connected route (``link#5``, a
    MAC address or the interface's own address).
    """

    destination: netaddr.IPNetwork
    gateway: str | None = None
    interface: str | None = None
    metric: int | None = 0
    flags: str = ""
    source: str = "iproute2"
    line: str = field(default="", compare=False)
    type: str = "unicast"
    scope: str | None = None
    proto: str | None = None
    src: str | None = None
    onlink: bool = False
    linkdown: bool = False
    table: str | None = None
    link: str | None = None
    expire: str | None = None
    ref: str | None = field(default=None, compare=False)
    use: str | None = field(default=None, compare=False)
    nexthops: tuple = ()
    extra: tuple = ()
    lineno: int | None = field(default=None, compare=False)

    def __post_init__(self):
        dest = self.destination
        if not isinstance(dest, netaddr.IPNetwork):
            try:
                net = ipaddress.IPv4Network(str(dest), strict=True)
            except ValueError as exc:
                raise RouteTableError(f"Route destination {quote(dest)} is not an IPv4 network: {exc}.")
            dest = netaddr.IPNetwork(str(net))
            object.__setattr__(self, "destination", dest)
        if dest.version != 4:
            raise RouteTableError(f"Route destination {dest} is IPv6; only IPv4 tables are supported.")

    @property
    def prefixlen(self) -> int:
        return self.destination.prefixlen

    @property
    def is_default(self) -> bool:
        return self.destination.prefixlen == 0

    @property
    def dest_text(self) -> str:
        """``default`` or the CIDR, as ``ip route`` writes it (hosts without /32)."""
        if self.is_default:
            return "default"
        if self.prefixlen == 32:
            return str(self.destination.ip)
        return str(self.destination.cidr)

    def describe(self) -> str:
        """A one-line ``ip route``-like description, e.g. ``default via 10.64.1.1 dev en0``."""
        parts = [] if self.type == "unicast" else [self.type]
        parts.append("default" if self.is_default else str(self.destination.cidr))
        if self.gateway:
            parts += ["via", self.gateway]
        if self.interface:
            parts += ["dev", self.interface]
        if self.link and not self.gateway:
            parts += [f"({self.link})"]
        if self.metric:
            parts += ["metric", str(self.metric)]
        return " ".join(parts)


@dataclass(frozen=True)
class RouteTable:
    """A parsed table: ``routes`` in the order printed, and the ``format`` name."""

    routes: tuple[Route, ...]
    format: str
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        object.__setattr__(self, "routes", tuple(self.routes))
        object.__setattr__(self, "notes", tuple(self.notes))

    def __iter__(self) -> Iterator[Route]:
        return iter(self.routes)

    def __len__(self) -> int:
        return len(self.routes)

    def __getitem__(self, index: int) -> Route:
        return self.routes[index]

    @property
    def format_name(self) -> str:
        return FORMATS[self.format]

    def lookup(self, destination: str) -> "Lookup":
        return lookup(self, destination)

    def to_text(self, fmt: str | None = None) -> str:
        """The table in the canonical, aligned form of its format (or of ``fmt``).

        ``route -n`` and ``netstat -nr`` use the tools' own column widths;
        ``ip route`` uses today's single spaces; ``ip -j route`` gives JSON.
        Converting to another format keeps what that format can show.
        """
        fmt = _norm_format(fmt) or self.format
        return _RENDERERS[fmt](self.routes)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

_PROMPT_RE = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*[#$%]|[#$%>]|➜\s+\S+|\S+@\S+?[:~ ]\S*\s*[#$%])\s*"
    r"(?:sudo\s+)?(?:route|netstat|ip)\b")
_FENCE_RE = re.compile(r"^\s*```")
_MAC_RE = re.compile(r"[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5}")
#: The largest table read, in characters (and bytes from a file): real tables are a few kilobytes,
#: and a bound keeps /dev/zero or a stray log file from filling the memory.
MAX_TABLE_CHARS = 1 << 20
#: A metric is a u32 in the kernel (RTA_PRIORITY).
MAX_METRIC = 2 ** 32 - 1


def _strict_ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def _content_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines worth parsing: no blanks, prompts, comments or ``` fences."""
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or _FENCE_RE.match(line) or stripped.startswith("#"):
            continue
        if _PROMPT_RE.match(line):
            continue
        out.append((n, line))
    return out


def _err(fmt: str, lineno: int, line: str, problem: str, expected: str) -> RouteTableError:
    return RouteTableError(
        f"Line {lineno} of the {FORMATS[fmt]} table could not be read: {quote(line.strip())}: "
        f"{problem}; expected {expected}.",
        lineno=lineno, line=line, expected=expected)


def _number(fmt: str, lineno: int, line: str, text: str, what: str, expected: str,
            hi: int = MAX_METRIC) -> int:
    """A number in a table line (ASCII digits, 0..hi), or an error naming the line."""
    try:
        return whole_number(text, what, hi=hi, error=RouteTableError)
    except RouteTableError as exc:
        raise _err(fmt, lineno, line, str(exc), expected) from None


def _check_text(text) -> str:
    """The table text, if it is text of a readable size."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise RouteTableError(_EMPTY_MESSAGE)
    if not isinstance(text, str):
        raise RouteTableError(f"The route table must be text (str), not {type(text).__name__} "
                              f"{quote(text)}; decode bytes first.")
    if len(text) > MAX_TABLE_CHARS:
        raise RouteTableError(f"The text is {len(text):,} characters long, more than a routing table "
                              f"({MAX_TABLE_CHARS:,} at most): is it the right file?")
    if "\0" in text:
        raise RouteTableError("The text has NUL characters, so it is not a table a tool printed: "
                              "paste the output of `route -n`, `netstat -nr` or `ip route`.")
    return text


_EMPTY_MESSAGE = ("The route table is empty: paste the output of `route -n` (Linux), "
                  "`netstat -nr` (macOS) or `ip route`.")


def detect_format(text: str) -> str:
    """Name the format of ``text``: one of :data:`FORMATS`' keys."""
    lines = _content_lines(_check_text(text))
    if not lines:
        raise RouteTableError(
            "The text has no route lines (only blank lines, prompts or comments): paste the "
            "output of `route -n`, `netstat -nr` or `ip route`.")
    first = lines[0][1].lstrip()
    if first.startswith("[") or first.startswith("{"):
        return "iproute2-json"
    for _, line in lines:
        s = line.strip()
        words = s.split()
        if s == "Kernel IP routing table" or (words[:1] == ["Destination"] and "Genmask" in words):
            return "linux-route"
        if s in ("Routing tables", "Internet:", "Internet6:") or (
                words[:1] == ["Destination"] and "Netif" in words):
            return "macos-netstat"
    # route -n rows pasted without their header
    words = first.split()
    if (len(words) == 8 and _strict_ipv4(words[0]) and _strict_ipv4(words[2])
            and re.fullmatch(r"[UGHRDMAC!]+", words[3]) and re.fullmatch(r"[0-9]+", words[4])):
        return "linux-route"
    return "iproute2"


def parse_routes(text: str, fmt: str | None = None) -> RouteTable:
    """Parse a routing table printed by ``route -n``, ``netstat -nr``, ``ip route``
    or ``ip -j route``; the format is detected unless ``fmt`` names it.

    Shell prompt lines (``$ ip route``), comment lines and Markdown fences are
    skipped, so a block copied from the book parses as is. Raises
    :class:`RouteTableError` naming the line that could not be read.
    """
    text = _check_text(text)
    fmt = _norm_format(fmt) or detect_format(text)
    return _PARSERS[fmt](text)


# ---------------------------------------------------------------------------
# Linux route -n
# ---------------------------------------------------------------------------

_NET_NAMES = {"default": "0.0.0.0", "link-local": "169.254.0.0", "loopback": "127.0.0.0"}
_LINUX_COLUMNS = ["Destination", "Gateway", "Genmask", "Flags", "Metric", "Ref", "Use", "Iface"]
_LINUX_EXPECTED = ("the columns Destination Gateway Genmask Flags Metric Ref Use Iface, "
                   "as `route -n` prints them")


def _parse_linux_route(text: str) -> RouteTable:
    fmt = "linux-route"
    columns: list[str] | None = None
    routes: list[Route] = []
    for lineno, line in _content_lines(text):
        words = line.split()
        if line.strip() == "Kernel IP routing table":
            continue
        if words[0] == "Destination":
            missing = [c for c in ("Destination", "Gateway", "Genmask", "Flags", "Iface")
                       if c not in words]
            if missing:
                raise _err(fmt, lineno, line, f"the header lacks {', '.join(missing)}",
                           _LINUX_EXPECTED)
            columns = words
            continue
        cols = columns or _LINUX_COLUMNS
        if len(words) != len(cols):
            raise _err(fmt, lineno, line,
                       f"it has {len(words)} fields but the header names {len(cols)}",
                       one_line(" ".join(cols), 120))
        row = dict(zip(cols, words))
        routes.append(_linux_row(fmt, lineno, line, row))
    return RouteTable(routes, fmt)


def _linux_row(fmt: str, lineno: int, line: str, row: dict[str, str]) -> Route:
    dest_text, gw_text, mask_text = row["Destination"], row["Gateway"], row["Genmask"]
    flags = row["Flags"]
    dest = _NET_NAMES.get(dest_text, dest_text)
    if _strict_ipv4(dest) is None:
        if re.fullmatch(r"[\w.-]+", dest_text) and not re.fullmatch(r"[\d.]+", dest_text):
            raise _err(fmt, lineno, line,
                       f"the destination {quote(dest_text)} is a name, not an address",
                       "numbers: run `route -n` instead of `route`")
        raise _err(fmt, lineno, line, f"the destination {quote(dest_text)} is not an IPv4 address",
                   "an address such as 10.6.0.0 in the Destination column")
    if _strict_ipv4(mask_text) is None:
        raise _err(fmt, lineno, line, f"the genmask {quote(mask_text)} is not an IPv4 netmask",
                   "a netmask such as 255.255.0.0 in the Genmask column")
    try:
        net = ipaddress.IPv4Network(f"{dest}/{mask_text}", strict=True)
    except ValueError as exc:
        raise _err(fmt, lineno, line, f"{quote(dest + '/' + mask_text)} is not a network ({one_line(exc, 120)})",
                   "a contiguous netmask and a destination with no host bits set")
    if not re.fullmatch(r"[A-Za-z!]+", flags):
        raise _err(fmt, lineno, line, f"the flags {quote(flags)} are not flag letters",
                   "letters such as U, UG or UGH in the Flags column")
    gateway: str | None
    if gw_text in ("0.0.0.0", "*", "-"):
        gateway = None
    elif _strict_ipv4(gw_text) is not None or re.fullmatch(r"[A-Za-z_][\w.-]*", gw_text):
        gateway = gw_text  # a name such as `_gateway` when `route` ran without -n
    else:
        raise _err(fmt, lineno, line, f"the gateway {quote(gw_text)} is not an IPv4 address",
                   "an address, 0.0.0.0 or * in the Gateway column")
    metric = 0
    if "Metric" in row:
        metric = _number(fmt, lineno, line, row["Metric"], "the metric",
                         "a whole number in the Metric column")
    iface = row["Iface"]
    rtype = "unicast"
    if "!" in flags:
        rtype = "unreachable"  # route -n prints unreachable and prohibit alike
    elif iface == "*":
        rtype = "blackhole"    # route -n prints blackhole (and throw) routes with Iface *
    return Route(
        destination=netaddr.IPNetwork(str(net)), gateway=gateway,
        interface=None if iface in ("*", "-") else iface, metric=metric, flags=flags,
        source=fmt, line=line, type=rtype, ref=row.get("Ref"), use=row.get("Use"),
        lineno=lineno)


def _render_linux_route(routes: Sequence[Route]) -> str:
    fmtline = "{:<15} {:<15} {:<15} {:<5} {:<6} {:<6} {:>3} {}"
    out = ["Kernel IP routing table",
           fmtline.format("Destination", "Gateway", "Genmask", "Flags", "Metric", "Ref", "Use",
                          "Iface")]
    for r in routes:
        reject = r.type in ("unreachable", "prohibit")
        noif = r.type in ("blackhole", "throw")
        flags = r.flags if r.source == "linux-route" else _generic_flags(r, "linux-route")
        gw = "-" if reject else (r.gateway or "0.0.0.0")
        ref = "-" if reject else (r.ref if r.ref is not None else "0")
        use = r.use if r.use is not None else "0"
        iface = "-" if reject else ("*" if noif else (r.interface or "*"))
        out.append(fmtline.format(str(r.destination.ip), gw, str(r.destination.netmask), flags,
                                  str(r.metric or 0), ref, use, iface).rstrip())
    return "\n".join(out) + "\n"


def _generic_flags(r: Route, fmt: str) -> str:
    if fmt == "linux-route":
        if r.type in ("unreachable", "prohibit"):
            return "!"
        f = "U" + ("G" if r.gateway else "") + ("H" if r.prefixlen == 32 else "")
        return f
    if fmt == "macos-netstat":
        f = "U" + ("G" if r.gateway else "") + ("H" if r.prefixlen == 32 else "")
        f += "R" if r.type in ("unreachable", "prohibit") else ""
        f += "B" if r.type == "blackhole" else ""
        return f + ("S" if (r.proto or "") == "static" else "")
    words = [w for w in ("onlink", "linkdown") if getattr(r, w)]
    return " ".join(words)


# ---------------------------------------------------------------------------
# macOS netstat -nr
# ---------------------------------------------------------------------------

_MAC_EXPECTED = "the columns Destination Gateway Flags Netif Expire, as `netstat -nr` prints them"


def _mac_destination(fmt: str, lineno: int, line: str, text: str, flags: str) -> netaddr.IPNetwork:
    if text == "default":
        return netaddr.IPNetwork("0.0.0.0/0")
    addr_text, _, plen_text = text.partition("/")
    addr_text = addr_text.split("%", 1)[0]  # drop a %en0 scope suffix
    parts = addr_text.split(".")
    if not (1 <= len(parts) <= 4) or not all(re.fullmatch(r"0|[1-9][0-9]{0,2}", p) and int(p) <= 255
                                            for p in parts):
        if ":" in text:
            raise _err(fmt, lineno, line, f"{quote(text)} is an IPv6 destination",
                       "IPv4 routes from the Internet: section (the Internet6: section is skipped)")
        raise _err(fmt, lineno, line, f"the destination {quote(text)} is not an IPv4 network",
                   "default, an address or an abbreviated network such as 10.64.1/24 or 169.254")
    padded = ".".join(parts + ["0"] * (4 - len(parts)))
    if plen_text:
        plen = _number(fmt, lineno, line, plen_text, "the prefix length", "a destination such as 10.64.1/24",
                       hi=32)
    elif "H" in flags:
        plen = 32
    else:
        # netstat leaves out /len when the mask is the classful one (Apple netstat's
        # forgemask()); it prints at most the class's octets, so take the larger.
        first = int(parts[0])
        classful = 8 if first < 128 else 16 if first < 192 else 24
        plen = max(classful, 8 * len(parts))
    try:
        net = ipaddress.IPv4Network(f"{padded}/{plen}", strict=True)
    except ValueError:
        raise _err(fmt, lineno, line, f"{padded}/{plen} has host bits set",
                   "a network address whose host part is zero")
    return netaddr.IPNetwork(str(net))


def _parse_macos(text: str) -> RouteTable:
    fmt = "macos-netstat"
    routes: list[Route] = []
    notes: list[str] = []
    section = None  # None before any header, "inet", or "inet6"
    columns: list[str] | None = None
    for lineno, line in _content_lines(text):
        s = line.strip()
        words = s.split()
        if s == "Routing tables":
            continue
        if s == "Internet:":
            section, columns = "inet", None
            continue
        if s == "Internet6:":
            section, columns = "inet6", None
            notes.append(f"Skipped the Internet6: (IPv6) section from line {lineno}; "
                         "lookups here are IPv4.")
            continue
        if section == "inet6":
            continue
        if words[0] == "Destination":
            missing = [c for c in ("Destination", "Gateway", "Flags", "Netif") if c not in words]
            if missing:
                raise _err(fmt, lineno, line, f"the header lacks {', '.join(missing)}",
                           _MAC_EXPECTED)
            columns, section = words, "inet"
            continue
        if columns is None:
            raise _err(fmt, lineno, line, "a route comes before the header line", _MAC_EXPECTED)
        has_expire = "Expire" in columns
        if len(words) == len(columns) or (has_expire and len(words) == len(columns) - 1):
            row = dict(zip(columns, words))
        else:
            raise _err(fmt, lineno, line,
                       f"it has {len(words)} fields but the header names {len(columns)}",
                       one_line(" ".join(columns), 120))
        flags = row["Flags"]
        if not re.fullmatch(r"[A-Za-z0-9]+", flags):
            raise _err(fmt, lineno, line, f"the flags {quote(flags)} are not flag letters",
                       "letters such as UGSc or UCS in the Flags column")
        dest = _mac_destination(fmt, lineno, line, row["Destination"], flags)
        gw_text = row["Gateway"].split("%", 1)[0]
        gateway = link = None
        if "G" in flags and _strict_ipv4(gw_text) is not None:
            gateway = gw_text
        elif gw_text.startswith("link#") or _MAC_RE.fullmatch(gw_text) or _strict_ipv4(gw_text) \
                or re.fullmatch(r"[A-Za-z][\w.-]*", gw_text):
            link = row["Gateway"]
        else:
            raise _err(fmt, lineno, line, f"the gateway {quote(gw_text)} is not understood",
                       "an address, link#N or a MAC address in the Gateway column")
        rtype = "blackhole" if "B" in flags else "unreachable" if "R" in flags else "unicast"
        routes.append(Route(
            destination=dest, gateway=gateway, interface=row["Netif"], metric=None, flags=flags,
            source=fmt, line=line, type=rtype, link=link, expire=row.get("Expire"),
            ref=row.get("Refs"), use=row.get("Use"), lineno=lineno))
    if columns is None and not routes and section != "inet6":
        raise RouteTableError(
            "The netstat -nr text has no header line 'Destination Gateway Flags Netif Expire': "
            "paste the whole output of `netstat -nr`.")
    return RouteTable(routes, fmt, notes)


def _mac_dest_text(r: Route) -> str:
    """The destination as Apple's netstat prints it (netname()/domask() in route.c)."""
    if r.is_default:
        return "default"
    ip = str(r.destination.ip)
    if r.prefixlen == 32 and ("H" in r.flags or r.source != "macos-netstat"):
        return ip
    octets = ip.split(".")
    first = int(octets[0])
    classful = 8 if first < 128 else 16 if first < 192 else 24
    # drop zero octets from the end, but never below the class's own octets
    keep = 4
    while keep > classful // 8 and octets[keep - 1] == "0":
        keep -= 1
    text = ".".join(octets[:keep])
    return text if r.prefixlen == classful else f"{text}/{r.prefixlen}"


def _render_macos(routes: Sequence[Route]) -> str:
    out = ["Routing tables", "", "Internet:",
           "{:<18} {:<18} {:<10}{:>8} {:>6}".format("Destination", "Gateway", "Flags", "Netif",
                                                   "Expire")]
    for r in routes:
        flags = r.flags if r.source == "macos-netstat" else _generic_flags(r, "macos-netstat")
        gw = r.gateway or r.link or (f"link#{r.interface}" if r.interface else "link#0")
        out.append("{:<18} {:<18} {:<10}{:>8} {:>6}".format(
            _mac_dest_text(r), gw, flags, r.interface or "", r.expire or "").rstrip())
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# ip route
# ---------------------------------------------------------------------------

_IP_VALUE_KEYS = {
    "via", "dev", "proto", "scope", "src", "metric", "table", "mtu", "advmss", "expires",
    "nhid", "tos", "dsfield", "realm", "realms", "hoplimit", "initcwnd", "initrwnd", "rtt",
    "rttvar", "rto_min", "window", "ssthresh", "cwnd", "reordering", "pref", "error", "from",
    "weight", "features", "congctl", "quickack", "fastopen_no_cookie", "ttl-propagate", "uid",
    "preference", "priority",
}
_IP_FLAG_WORDS = set(FLAGS["iproute2"])
_IP_EXPECTED = ("[type] destination followed by words such as via ADDR, dev NAME, proto P, "
                "scope S, src ADDR, metric N, onlink, linkdown")


def _ip_destination(fmt: str, lineno: int, line: str, text: str) -> netaddr.IPNetwork:
    if text == "default":
        return netaddr.IPNetwork("0.0.0.0/0")
    if ":" in text:
        raise _err(fmt, lineno, line, f"{quote(text)} is an IPv6 destination",
                   "IPv4 routes (`ip -4 route`)")
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        if "/" not in text and _strict_ipv4(text) is None:
            raise _err(fmt, lineno, line, f"{quote(text)} is not a route type or an IPv4 destination",
                       _IP_EXPECTED)
        raise _err(fmt, lineno, line, f"the destination {quote(text)} is not a network ({one_line(exc, 120)})",
                   "a destination such as 10.168.0.0/24, an address or default")
    return netaddr.IPNetwork(str(net))


def _parse_ip_line(fmt: str, lineno: int, line: str) -> Route:
    words = line.split()
    i = 0
    rtype = "unicast"
    if words[0] in _ROUTE_TYPES:
        rtype = words[0]
        i = 1
        if len(words) < 2:
            raise _err(fmt, lineno, line, f"{quote(rtype)} has no destination after it", _IP_EXPECTED)
    dest = _ip_destination(fmt, lineno, line, words[i])
    i += 1
    attrs: dict[str, str] = {}
    flags: list[str] = []
    extra: list[tuple[str, str]] = []
    while i < len(words):
        w = words[i]
        if w in _IP_FLAG_WORDS:
            flags.append(w)
            i += 1
            continue
        if w in _IP_VALUE_KEYS:
            if i + 1 >= len(words):
                raise _err(fmt, lineno, line, f"{quote(w)} has no value after it", _IP_EXPECTED)
            value = words[i + 1]
            i += 2
            if w == "via" and value in ("inet", "inet6") and i < len(words):
                value = words[i]
                i += 1
            if w == "mtu" and value == "lock" and i < len(words):
                value = "lock " + words[i]
                i += 1
            if w in ("via", "dev", "proto", "scope", "src", "metric", "table", "priority"):
                attrs["metric" if w == "priority" else w] = value
            else:
                extra.append((w, value))
            continue
        raise _err(fmt, lineno, line, f"{quote(w)} is not a word ip route prints", _IP_EXPECTED)
    gateway = attrs.get("via")
    if gateway is not None and _strict_ipv4(gateway) is None:
        raise _err(fmt, lineno, line, f"the gateway {quote(gateway)} after via is not an IPv4 address",
                   "via followed by an address such as 10.168.0.1")
    src = attrs.get("src")
    if src is not None and _strict_ipv4(src) is None:
        raise _err(fmt, lineno, line, f"the source {quote(src)} after src is not an IPv4 address",
                   "src followed by an address such as 10.168.0.2")
    metric = 0
    if "metric" in attrs:
        metric = _number(fmt, lineno, line, attrs["metric"], "the metric", "metric followed by a whole number")
    return Route(
        destination=dest, gateway=gateway, interface=attrs.get("dev"), metric=metric,
        flags=" ".join(flags), source=fmt, line=line, type=rtype, scope=attrs.get("scope"),
        proto=attrs.get("proto"), src=src, onlink="onlink" in flags,
        linkdown="linkdown" in flags, table=attrs.get("table"), extra=tuple(extra),
        lineno=lineno)


def _parse_nexthop(fmt: str, lineno: int, line: str) -> tuple[str | None, str | None, str | None]:
    words = line.split()[1:]
    got: dict[str, str] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w in _IP_FLAG_WORDS:
            i += 1
            continue
        if w in ("via", "dev", "weight") and i + 1 < len(words):
            value = words[i + 1]
            i += 2
            if w == "via" and value in ("inet", "inet6") and i < len(words):
                value = words[i]
                i += 1
            got[w] = value
            continue
        raise _err(fmt, lineno, line, f"{quote(w)} is not a word of a nexthop line",
                   "nexthop via ADDR dev NAME weight N")
    if "via" in got and _strict_ipv4(got["via"]) is None:
        raise _err(fmt, lineno, line, f"the nexthop gateway {quote(got['via'])} is not an IPv4 address",
                   "nexthop via ADDR dev NAME weight N")
    if "weight" in got:  # 1-256 in ip-route(8)
        _number(fmt, lineno, line, got["weight"], "the weight", "nexthop via ADDR dev NAME weight N", hi=256)
    return got.get("via"), got.get("dev"), got.get("weight")


def _parse_iproute(text: str) -> RouteTable:
    fmt = "iproute2"
    routes: list[Route] = []
    for lineno, line in _content_lines(text):
        if line.split()[0] == "nexthop":
            if not routes:
                raise _err(fmt, lineno, line, "a nexthop line comes before any route",
                           "nexthop lines indented under a multipath route")
            hop = _parse_nexthop(fmt, lineno, line)
            prev = routes[-1]
            changes = {"nexthops": prev.nexthops + (hop,)}
            if not prev.nexthops and prev.gateway is None and prev.interface is None:
                changes.update(gateway=hop[0], interface=hop[1])
            routes[-1] = replace(prev, **changes)
            continue
        routes.append(_parse_ip_line(fmt, lineno, line))
    return RouteTable(routes, fmt)


def _render_ip_line(r: Route) -> str:
    parts = [] if r.type == "unicast" else [r.type]
    parts.append(r.dest_text)
    if r.gateway and not r.nexthops:
        parts += ["via", r.gateway]
    if r.interface and not r.nexthops:
        parts += ["dev", r.interface]
    if r.table:
        parts += ["table", r.table]
    if r.proto:
        parts += ["proto", r.proto]
    if r.scope:
        parts += ["scope", r.scope]
    if r.src:
        parts += ["src", r.src]
    if r.metric:
        parts += ["metric", str(r.metric)]
    for key, value in r.extra:
        parts += [key, value]
    flags = r.flags if r.source.startswith("iproute2") else _generic_flags(r, "iproute2")
    if flags:
        parts += flags.split()
    text = " ".join(parts)
    for via, dev, weight in r.nexthops:
        hop = ["\tnexthop"]
        if via:
            hop += ["via", via]
        if dev:
            hop += ["dev", dev]
        if weight:
            hop += ["weight", weight]
        text += "\n" + " ".join(hop)
    return text


def _render_iproute(routes: Sequence[Route]) -> str:
    return "".join(_render_ip_line(r) + "\n" for r in routes)


# ---------------------------------------------------------------------------
# ip -j route
# ---------------------------------------------------------------------------

_JSON_KNOWN = {"type", "dst", "gateway", "dev", "protocol", "scope", "prefsrc", "metric",
               "flags", "table", "nexthops"}
#: ``ip -j route`` nests four deep (list, route, nexthops, nexthop); json.loads recurses once per
#: level, so a file of 100,000 '[' would end in RecursionError: refuse deep nesting before parsing.
_JSON_MAX_DEPTH = 16
#: What each string key holds, for the message when it holds something else.
_JSON_STRINGS = {"type": "unicast", "dst": "10.0.0.0/24", "gateway": "10.168.0.1", "dev": "eth0",
                 "protocol": "kernel", "scope": "link", "prefsrc": "10.168.0.2", "table": "main"}


def _json_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest in ``text`` (brackets inside strings do not count); stops
    counting past :data:`_JSON_MAX_DEPTH`. Linear: it visits only brackets, quotes and backslashes."""
    depth = deepest = 0
    in_string, escaped_at = False, -1
    for m in re.finditer(r'[\[\]{}"\\]', text):
        i, c = m.start(), m.group()
        if i == escaped_at:
            continue
        if in_string:
            if c == "\\":
                escaped_at = i + 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > _JSON_MAX_DEPTH:
                break
        elif c in "]}":
            depth -= 1
    return deepest


def _json_int(digits: str) -> int:
    # json.loads converts any run of digits, and past 4,300 digits Python refuses with ValueError.
    if len(digits.lstrip("-")) > 20:
        raise RouteTableError(f"The JSON has a number with {len(digits):,} digits; no field of "
                              "`ip -j route` is that large.")
    return int(digits)


def _json_excerpt(value) -> str:
    return one_line(json.dumps(value), 80)


def _json_value(item: dict, key: str, where: str):
    """item[key] if it is a string (or absent: None); a table may also be a number."""
    value = item.get(key)
    if key == "table" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is not None and not isinstance(value, str):
        raise RouteTableError(f"{where} has \"{key}\": {_json_excerpt(value)}, not a string; "
                              f"expected text such as \"{_JSON_STRINGS[key]}\".")
    return value


def _json_address(value, key: str, where: str):
    if value is not None and _strict_ipv4(value) is None:
        raise RouteTableError(f"{where} has {key} {quote(value)}, not an IPv4 address.")
    return value


def _json_hops(item: dict, where: str) -> list:
    hops = item.get("nexthops", [])
    if not isinstance(hops, list):
        raise RouteTableError(f"{where} has \"nexthops\": {_json_excerpt(hops)}, not a list; expected "
                              "[{\"gateway\": \"10.0.0.1\", \"dev\": \"eth0\", \"weight\": 1}, ...].")
    out = []
    for k, hop in enumerate(hops, start=1):
        here = f"{where}, nexthop {k}:"
        if not isinstance(hop, dict):
            raise RouteTableError(f"{here} it is {type(hop).__name__}, not an object; expected "
                                  "{\"gateway\": \"10.0.0.1\", \"dev\": \"eth0\", \"weight\": 1}.")
        weight = hop.get("weight")
        if weight is not None:  # 1-256 in ip-route(8)
            weight = str(whole_number(weight, f"{here} the weight", lo=1, hi=256, error=RouteTableError))
        out.append((_json_address(_json_value(hop, "gateway", here), "gateway", here),
                    _json_value(hop, "dev", here), weight))
    return out


def _parse_json(text: str) -> RouteTable:
    fmt = "iproute2-json"
    if _json_depth(text) > _JSON_MAX_DEPTH:
        raise RouteTableError(f"The JSON nests brackets more than {_JSON_MAX_DEPTH} deep, which `ip -j route` "
                              "never does; expected the list it prints.")
    try:
        data = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        bad = text.splitlines()[exc.lineno - 1] if exc.lineno - 1 < len(text.splitlines()) else ""
        raise RouteTableError(
            f"Line {exc.lineno} of the ip -j route output is not valid JSON ({exc.msg} at column "
            f"{exc.colno}): {quote(bad.strip())}; expected the list `ip -j route` prints.",
            lineno=exc.lineno, line=bad, expected="JSON from `ip -j route`")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise RouteTableError("The JSON is not a list of routes; expected what `ip -j route` prints.")
    routes = []
    for n, item in enumerate(data, start=1):
        where = f"Route {n} of the ip -j route JSON"
        if not isinstance(item, dict):
            raise RouteTableError(f"{where} is {type(item).__name__}, not an object; "
                                  "expected objects such as {\"dst\": \"default\", ...}.")
        if "dst" not in item:
            raise RouteTableError(f"{where} has no \"dst\" key: {_json_excerpt(item)}; "
                                  "expected a destination such as \"default\" or \"10.0.0.0/24\".")
        dst_text = _json_value(item, "dst", where)
        if dst_text is None:
            raise RouteTableError(f"{where} has \"dst\": null; expected a destination such as \"default\" or "
                                  "\"10.0.0.0/24\".")
        line = json.dumps(item)
        try:
            dest = _ip_destination(fmt, n, line, dst_text)
        except RouteTableError as exc:
            raise RouteTableError(f"{where}: {exc.args[0].split(': ', 2)[-1]}", expected=exc.expected)
        gateway = _json_address(_json_value(item, "gateway", where), "gateway", where)
        metric = whole_number(item.get("metric", 0), f"{where}: the metric", hi=MAX_METRIC,
                              error=RouteTableError)
        flags = item.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise RouteTableError(f"{where} has flags {_json_excerpt(flags)}, not a list of words "
                                  "such as [\"onlink\"].")
        rtype = _json_value(item, "type", where) or "unicast"
        if rtype not in _ROUTE_TYPES:
            raise RouteTableError(f"{where} has type {quote(rtype)}; expected one of {', '.join(_ROUTE_TYPES)}.")
        hops = _json_hops(item, where)
        extra = tuple((k, json.dumps(v, sort_keys=True)) for k, v in item.items()
                      if k not in _JSON_KNOWN)
        if gateway is None and hops:
            gateway = hops[0][0]
        routes.append(Route(
            destination=dest, gateway=gateway,
            interface=_json_value(item, "dev", where) or (hops[0][1] if hops else None),
            metric=metric, flags=" ".join(flags), source=fmt, line=line,
            type=rtype, scope=_json_value(item, "scope", where),
            proto=_json_value(item, "protocol", where),
            src=_json_address(_json_value(item, "prefsrc", where), "prefsrc", where),
            onlink="onlink" in flags, linkdown="linkdown" in flags,
            table=_json_value(item, "table", where), nexthops=tuple(hops), extra=extra, lineno=n))
    return RouteTable(routes, fmt)


def _render_json(routes: Sequence[Route]) -> str:
    items = []
    for r in routes:
        d: dict = {}
        if r.type != "unicast":
            d["type"] = r.type
        d["dst"] = r.dest_text
        if r.gateway and not r.nexthops:
            d["gateway"] = r.gateway
        if r.interface and not r.nexthops:
            d["dev"] = r.interface
        if r.table:
            d["table"] = r.table
        if r.proto:
            d["protocol"] = r.proto
        if r.scope:
            d["scope"] = r.scope
        if r.src:
            d["prefsrc"] = r.src
        if r.metric:
            d["metric"] = r.metric
        flags = r.flags if r.source.startswith("iproute2") else _generic_flags(r, "iproute2")
        d["flags"] = flags.split()
        if r.nexthops:
            d["nexthops"] = [{k: v for k, v in (("gateway", via), ("dev", dev),
                                                ("weight", int(w) if w else None)) if v is not None}
                             for via, dev, w in r.nexthops]
        for key, value in r.extra:
            try:
                d[key] = json.loads(value)
            except ValueError:
                d[key] = value
        items.append(d)
    return json.dumps(items, separators=(",", ":")) + "\n"


_PARSERS = {
    "linux-route": _parse_linux_route,
    "macos-netstat": _parse_macos,
    "iproute2": _parse_iproute,
    "iproute2-json": _parse_json,
}
_RENDERERS = {
    "linux-route": _render_linux_route,
    "macos-netstat": _render_macos,
    "iproute2": _render_iproute,
    "iproute2-json": _render_json,
}

# ---------------------------------------------------------------------------
# Lookup
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A route whose destination contains the address looked up."""

    index: int
    route: Route
    prefixlen: int
    eligible: bool = True
    note: str = ""


# outcome -> (what happens, error text the tools print or None)
_LINUX_REJECTS = {
    "blackhole": "Invalid argument",
    "unreachable": "No route to host",
    "prohibit": "Permission denied",
}


@dataclass(frozen=True)
class Lookup:
    """The route chosen for ``destination`` in ``table``, and why.

    ``outcome`` is one of ``gateway``, ``onlink``, ``local``, ``broadcast``,
    ``multicast``, ``blackhole``, ``unreachable``, ``prohibit`` or
    ``no-route``; ``error`` is what the kernel reports when the packet cannot be
    sent (``"Network is unreachable"``...), else ``None``.
    """

    table: RouteTable
    destination: str
    route: Route | None
    index: int | None
    candidates: tuple[Candidate, ...]
    reason: str
    outcome: str
    error: str | None = None

    @property
    def next_hop(self) -> str | None:
        """Where the frame goes: the gateway, or the destination itself when on-link."""
        if self.outcome == "gateway":
            return self.route.gateway
        if self.outcome in ("onlink", "local", "broadcast", "multicast"):
            return self.destination
        return None

    @property
    def interface(self) -> str | None:
        return self.route.interface if self.route is not None else None

    @property
    def delivered(self) -> bool:
        return self.error is None and self.outcome not in ("blackhole", "no-route")

    def to_text(self) -> str:
        lines = [self.reason]
        for c in self.candidates:
            mark = "*" if c.index == self.index else " "
            note = f"  ({c.note})" if c.note else ""
            lines.append(f" {mark} /{c.prefixlen:<2} {c.route.describe()}{note}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table of every route, the chosen one highlighted, matches marked."""
        esc = html.escape
        matched = {c.index: c for c in self.candidates}
        metric_col = self.table.format != "macos-netstat"
        head = ["", "Destination", "Gateway", "Interface"] + (["Metric"] if metric_col else []) + [
            "Flags / type", "Match"]
        rows = []
        for i, r in enumerate(self.table.routes):
            c = matched.get(i)
            if i == self.index:
                style = "background:#c8f7c5;font-weight:bold"
                mark, match = "&#9654;", f"chosen: /{r.prefixlen}"
                cls = "netlab-route-chosen"
            elif c is not None:
                style = "background:#fff3bf"
                mark = "&#10003;"
                match = f"matches /{c.prefixlen}" + (f" ({esc(c.note)})" if c.note else "")
                cls = "netlab-route-match"
            else:
                style, mark, match, cls = "color:#888", "", "no match", "netlab-route-nomatch"
            gateway = r.gateway or (f"{r.link} (on-link)" if r.link else "(on-link)")
            if r.type != "unicast" and not r.gateway:
                gateway = "-"
            kind = " ".join(x for x in (r.flags, "" if r.type == "unicast" else r.type) if x)
            cells = [mark, esc(r.dest_text), esc(gateway), esc(r.interface or "-")]
            if metric_col:
                cells.append(esc(str(r.metric if r.metric is not None else 0)))
            cells += [esc(kind), match if c is None and i != self.index else match]
            rows.append(f'<tr class="{cls}" style="{style}">' +
                        "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
        verdict = "" if self.error is None else (
            f'<p class="netlab-route-error" style="color:#b00020"><b>{esc(self.error)}</b></p>')
        return (
            '<div class="netlab-route-lookup">'
            f"<p><b>Route lookup for {esc(self.destination)}</b> "
            f"({esc(self.table.format_name)})</p>"
            '<table style="border-collapse:collapse;font-family:monospace">'
            "<thead><tr>" + "".join(f"<th style='text-align:left;padding:0 .6em'>{h}</th>"
                                    for h in head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>"
            f'<p class="netlab-route-reason">{esc(self.reason)}</p>{verdict}</div>')


def _parse_lookup_address(destination) -> ipaddress.IPv4Address:
    if isinstance(destination, ipaddress.IPv4Address):
        destination = str(destination)
    if destination is not None and not isinstance(destination, str):
        raise RouteTableError(f"The destination must be text such as '10.6.8.1', not "
                              f"{type(destination).__name__} {quote(destination)}.")
    text = "" if destination is None else destination.strip()
    if not text:
        raise RouteTableError("Enter a destination IPv4 address to look up, for example 10.6.8.1.")
    if "/" in text:
        raise RouteTableError(
            f"{quote(text)} is a network; a route lookup takes one address, for example "
            f"{quote(text.split('/')[0])}.")
    if ":" in text:
        raise RouteTableError(f"{quote(text)} is an IPv6 address; these tables are IPv4, so enter an "
                              "address such as 10.6.8.1.")
    parts = text.split(".")
    if len(parts) != 4:
        raise RouteTableError(f"{quote(text)} is not an IPv4 address: write four numbers 0-255 "
                              "separated by dots, for example 10.6.8.1.")
    for p in parts:
        if not re.fullmatch(r"[0-9]+", p):  # not isdigit(): it takes '²' and '١'
            raise RouteTableError(f"{quote(text)} is not an IPv4 address: {quote(p)} is not a number "
                                  "(write four numbers 0-255 in the digits 0-9, for example 10.6.8.1).")
        if len(p) > 3 or int(p) > 255:
            raise RouteTableError(f"{quote(text)} is not an IPv4 address: {p[:12] + ('…' if len(p) > 12 else '')} is larger than 255.")
        if len(p) > 1 and p.startswith("0"):
            raise RouteTableError(f"{quote(text)} is not an IPv4 address: {quote(p)} has a leading zero, "
                                  "which some tools read as octal; write it without.")
    return ipaddress.IPv4Address(text)


def _table_order(routes: Sequence[Route]) -> list[str | None]:
    seen: list[str | None] = []
    for r in routes:
        key = None if r.table in (None, "main", "254") else r.table
        if key not in seen:
            seen.append(key)
    rank = {"local": 0, None: 1, "default": 2}
    return sorted(seen, key=lambda t: rank.get(t, 3))


def lookup(table: RouteTable | str, destination: str) -> Lookup:
    """Choose the route for ``destination`` the way the kernel does, and say why.

    Longest prefix first; then (Linux) the lowest metric, then the first route
    listed. macOS skips interface-scoped (``I``) routes for an ordinary lookup.
    ``table`` may be text, parsed first. A bad address raises
    :class:`RouteTableError` with a specific message.
    """
    if not isinstance(table, RouteTable):
        table = parse_routes(table)
    addr = _parse_lookup_address(destination)
    dest = str(addr)
    mac = table.format == "macos-netstat"
    target = netaddr.IPAddress(dest)
    # macOS: the primary interface is the one of the unscoped default route; routes
    # scoped (flag I) to another interface serve only traffic bound to it.
    primary = next((r.interface for r in table.routes
                    if mac and r.is_default and "I" not in r.flags), None)
    candidates: list[Candidate] = []
    for i, r in enumerate(table.routes):
        if target in r.destination:
            note = ""
            eligible = True
            if mac and "I" in r.flags and r.interface != primary:
                eligible = False
                note = (f"scoped to {r.interface} (flag I): used only by traffic bound to that "
                        "interface, skipped by an ordinary lookup")
            candidates.append(Candidate(i, r, r.prefixlen, eligible, note))

    chosen: Candidate | None = None
    thrown: list[Candidate] = []
    for tbl in ([None] if mac else _table_order(table.routes)):
        pool = [c for c in candidates if c.eligible and
                (mac or (None if c.route.table in (None, "main", "254") else c.route.table) == tbl)]
        if not pool:
            continue
        best = max(c.prefixlen for c in pool)
        top = [c for c in pool if c.prefixlen == best]
        top.sort(key=lambda c: ((c.route.metric or 0), c.index))
        if top[0].route.type == "throw":
            thrown.append(top[0])
            continue
        chosen = top[0]
        break

    cands = tuple(candidates)
    if chosen is None:
        errtext = "No route to host" if mac else "Network is unreachable"
        errno = "EHOSTUNREACH" if mac else "ENETUNREACH"
        if thrown:
            t = thrown[-1].route
            reason = (f"{dest} matches the throw route {t.dest_text}, which sends the lookup on "
                      f"to the next table, and no later table has a route, so the kernel answers "
                      f"\"{errtext}\" ({errno}).")
        elif candidates:
            reason = (f"The only routes that match {dest} are scoped to one interface (flag I), "
                      f"so an ordinary lookup finds no route and macOS answers \"{errtext}\" "
                      f"({errno}).")
        else:
            reason = (f"No route matches {dest} and there is no default route, so the kernel "
                      f"answers \"{errtext}\" ({errno}).")
        return Lookup(table, dest, None, None, cands, reason, "no-route", errtext)

    r = chosen.route
    others = [c for c in candidates if c.index != chosen.index]
    same_len = [c for c in others if c.eligible and c.prefixlen == chosen.prefixlen
                and (c.route.table == r.table)]
    shorter = sorted({c.prefixlen for c in others if c.prefixlen < chosen.prefixlen})
    tie = ""
    if same_len and not mac:
        worse = ", ".join(str(c.route.metric or 0) for c in same_len)
        if all((c.route.metric or 0) > (r.metric or 0) for c in same_len):
            tie = (f" {len(same_len) + 1} routes match with /{chosen.prefixlen}; the lowest metric "
                   f"wins: {r.metric or 0} beats {worse}.")
        else:
            tie = (f" {len(same_len) + 1} routes match with /{chosen.prefixlen} and the same "
                   f"metric {r.metric or 0}; the first one listed is used.")
    longer = ""
    if shorter and not r.is_default:
        pl = ", ".join("default /0" if n == 0 else f"/{n}" for n in shorter)
        longer = f" It also matches shorter routes ({pl}), but the longest prefix wins."
    where = f" on {r.interface}" if r.interface else ""
    tbl = f" in table {r.table}" if r.table not in (None, "main", "254") else ""

    if r.type in ("blackhole", "unreachable", "prohibit") or (mac and r.type != "unicast"):
        if mac:
            kind = "blackhole (flag B)" if r.type == "blackhole" else "reject (flag R)"
            error = None if r.type == "blackhole" else (
                "No route to host" if r.prefixlen == 32 else "Network is unreachable")
            what = ("silently discards the packet" if r.type == "blackhole"
                    else f"refuses it: \"{error}\"")
        else:
            kind = f"{r.type} route"
            error = _LINUX_REJECTS[r.type]
            what = {
                "blackhole": f"drops the packet silently (a local sender gets \"{error}\")",
                "unreachable": f"drops it and answers \"{error}\" (ICMP host unreachable)",
                "prohibit": f"drops it and answers \"{error}\" (ICMP administratively "
                            "prohibited)",
            }[r.type]
        caveat = ""
        if table.format == "linux-route":
            caveat = (" (route -n prints unreachable and prohibit routes alike as !, and "
                      "blackhole and throw routes alike with Iface *; `ip route` tells them apart.)")
        reason = (f"{dest} matches the {kind} {r.dest_text}{tbl} (/{chosen.prefixlen}), so the "
                  f"kernel {what}.{longer}{tie}{caveat}")
        outcome = r.type
        return Lookup(table, dest, r, chosen.index, cands, reason, outcome, error)

    if r.type in ("local", "broadcast", "multicast", "anycast", "nat"):
        what = {"local": f"{dest} is an address of this host, so the packet is delivered "
                         f"locally{(' via ' + r.interface) if r.interface else ''}",
                "broadcast": f"{dest} is a broadcast address, so the packet is sent as a "
                             f"link-layer broadcast{where}",
                }.get(r.type, f"{dest} matches the {r.type} route {r.dest_text}{where}")
        reason = f"{what} (route {r.dest_text}{tbl}, /{chosen.prefixlen}).{longer}{tie}"
        outcome = r.type if r.type in ("local", "broadcast", "multicast") else "onlink"
        return Lookup(table, dest, r, chosen.index, cands, reason, outcome, None)

    link_note = ""
    if mac and r.link:
        if r.link.startswith("link#"):
            link_note = f" ({r.link}: directly connected on interface index {r.link[5:]})"
        elif _MAC_RE.fullmatch(r.link):
            link_note = f" to MAC address {r.link} (an ARP entry)"
    down = (f" Note: {r.interface} has no carrier (linkdown); Linux still uses the route unless "
            "net.ipv4.conf.*.ignore_routes_with_linkdown is set.") if r.linkdown else ""
    if r.gateway:
        onlink = (f" The route is onlink, so the kernel takes {r.gateway} as directly reachable "
                  f"on {r.interface} without checking any subnet.") if r.onlink else ""
        if r.is_default:
            if others and not same_len:
                head = f"{dest} matches no more specific route"
            else:
                head = f"{dest} is not on any connected network"
            reason = (f"{head}, so the default route{tbl} sends it to gateway "
                      f"{r.gateway}{where}.{tie}{onlink}{down}")
        else:
            reason = (f"{dest} matches {r.dest_text}{tbl} (/{chosen.prefixlen}, the longest "
                      f"matching prefix), so it is sent to gateway {r.gateway}{where}."
                      f"{longer}{tie}{onlink}{down}")
        return Lookup(table, dest, r, chosen.index, cands, reason, "gateway", None)

    if r.prefixlen == 32:
        head = f"{dest} has a host route {r.dest_text}{tbl} (/32)"
    else:
        head = (f"{dest} is on the directly connected network {r.destination.cidr}{tbl} "
                f"(/{chosen.prefixlen}, the longest matching prefix)")
    out = f" out of {r.interface}" if r.interface else ""
    if r.interface and re.fullmatch(r"lo\d*", r.interface):
        hop = ": it loops back inside this host"
    elif mac and r.link and _MAC_RE.fullmatch(r.link):
        hop = ""
    else:
        hop = f": {dest} itself is the next hop"
    reason = f"{head}, so it is sent directly{out}{link_note} with no gateway{hop}.{longer}{tie}{down}"
    return Lookup(table, dest, r, chosen.index, cands, reason, "onlink", None)


# ---------------------------------------------------------------------------
# CLI hook: `python -m netlab routes FILE --lookup 10.6.8.1`
# ---------------------------------------------------------------------------


def add_routes_command(subparsers) -> argparse.ArgumentParser:
    """Add the ``routes`` sub-command to an ``argparse`` sub-parsers object."""
    p = subparsers.add_parser(
        "routes", help="parse a routing table and explain route lookups",
        description="Read a table printed by `route -n`, `netstat -nr`, `ip route` or "
                    "`ip -j route` (from FILE, or standard input when FILE is - or left out), "
                    "print it in canonical form and explain each --lookup.")
    p.add_argument("file", nargs="?", default="-", help="file holding the table; - for stdin")
    p.add_argument("--lookup", "-l", action="append", default=[], metavar="ADDRESS",
                   help="explain which route carries ADDRESS (repeatable)")
    p.add_argument("--format", "-f", choices=sorted(FORMATS), default=None,
                   help="the table's format (default: detect it)")
    p.add_argument("--explain-flags", action="store_true",
                   help="explain the flags of every route")
    p.set_defaults(func=run_routes_command)
    return p


def _read_table(name: str, shown: str) -> str:
    """The table's text from a file or standard input ('-'), reading at most one byte more than
    :data:`MAX_TABLE_CHARS` (so /dev/zero or a disk image costs a megabyte, not the memory)."""
    if "\0" in name:  # open() would raise ValueError, which no caller expects
        raise RouteTableError("the file name has a NUL character in it; give the path of a text file.")
    try:
        if name == "-":
            stream = getattr(sys.stdin, "buffer", None)  # a StringIO (tests) has no buffer
            data = stream.read(MAX_TABLE_CHARS + 1) if stream else sys.stdin.read(MAX_TABLE_CHARS + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(MAX_TABLE_CHARS + 1)
    except OSError as exc:
        raise RouteTableError(f"cannot read it: {exc.strerror or exc}.") from None
    if len(data) > MAX_TABLE_CHARS:
        raise RouteTableError(f"it is larger than {MAX_TABLE_CHARS // 1024:,} KiB, far more than a routing "
                              "table: is it the right file?")
    if isinstance(data, str):
        return data
    if b"\0" in data:
        raise RouteTableError("it is a binary file (it has NUL bytes), not a table a tool printed; "
                              "save the output of `ip route` (or route -n, netstat -nr) as text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RouteTableError("it is not UTF-8 text; save the table as plain text.") from None


def run_routes_command(args, stdout=None, stderr=None) -> int:
    """Run ``routes``: 0 when every lookup finds a usable route, 1 when one does
    not (no route, blackhole, reject), 2 when the input cannot be read."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    name = getattr(args, "file", "-") or "-"
    shown = "standard input" if name == "-" else quote(name)
    try:
        text = _read_table(name, shown)
        table = parse_routes(text, getattr(args, "format", None))
        results = [lookup(table, a) for a in (getattr(args, "lookup", None) or [])]
    except RouteTableError as exc:
        # one line: file names and table text in the message are quoted, and the line is bounded
        print(one_line(f"netlab routes: {shown}: {exc}"), file=stderr)
        return 2
    print(f"# {table.format_name}, {len(table)} routes", file=stdout)
    for note in table.notes:
        print(f"# {note}", file=stdout)
    stdout.write(table.to_text())
    if getattr(args, "explain_flags", False):
        fmt = table.format
        seen: list[str] = []
        for r in table:
            items = r.flags.split() if fmt.startswith("iproute2") else list(r.flags)
            seen += [x for x in items if x not in seen]
        if seen:
            print("\nFlags:", file=stdout)
            print(explain_flags((" " if fmt.startswith("iproute2") else "").join(seen), fmt),
                  file=stdout)
    status = 0
    for res in results:
        print(f"\n{res.to_text()}", file=stdout)
        if not res.delivered:
            status = 1
    return status
