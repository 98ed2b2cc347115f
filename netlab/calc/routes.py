"""One route, whatever tool printed it: the four table formats, their flags, :class:`Route`,
:class:`RouteTableError`, and the line helpers every format's parser shares.

The formats and the tools' flag meanings are described in :mod:`.routetable`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

import netaddr

from ..inputs import quote, whole_number

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


def norm_format(fmt: str | None) -> str | None:
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
    fmt = norm_format(fmt) or "linux-route"
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


ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "anycast", "blackhole",
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



# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

_PROMPT_RE = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*[#$%]|[#$%>]|➜\s+\S+|\S+@\S+?[:~ ]\S*\s*[#$%])\s*"
    r"(?:sudo\s+)?(?:route|netstat|ip)\b")
_FENCE_RE = re.compile(r"^\s*```")
MAC_RE = re.compile(r"[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5}")
#: The largest table read, in characters (and bytes from a file): real tables are a few kilobytes,
#: and a bound keeps /dev/zero or a stray log file from filling the memory.
MAX_TABLE_CHARS = 1 << 20
#: A metric is a u32 in the kernel (RTA_PRIORITY).
MAX_METRIC = 2 ** 32 - 1


def strict_ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def content_lines(text: str) -> list[tuple[int, str]]:
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


def line_error(fmt: str, lineno: int, line: str, problem: str, expected: str) -> RouteTableError:
    return RouteTableError(
        f"Line {lineno} of the {FORMATS[fmt]} table could not be read: {quote(line.strip())}: "
        f"{problem}; expected {expected}.",
        lineno=lineno, line=line, expected=expected)


def line_number(fmt: str, lineno: int, line: str, text: str, what: str, expected: str,
            hi: int = MAX_METRIC) -> int:
    """A number in a table line (ASCII digits, 0..hi), or an error naming the line."""
    try:
        return whole_number(text, what, hi=hi, error=RouteTableError)
    except RouteTableError as exc:
        raise line_error(fmt, lineno, line, str(exc), expected) from None
