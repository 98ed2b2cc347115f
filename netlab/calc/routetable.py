"""Read routing tables as the three tools print them (the lookup is :mod:`.route_lookup`).

The seed's sections "网关和路由器" and "主机（Mac OS）和 vSphere 虚拟机网络互通原理"
print a macOS ``netstat -nr`` (host A) and a Linux ``route -n`` (vSphere VM B);
the Flannel sections print ``ip route`` on Node 1 and Node 2. This module parses
all three (and ``ip -j route`` JSON); :func:`.route_lookup.lookup` picks the route a
kernel would use for a destination, and says why in one sentence::

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

import re
from dataclasses import dataclass, field
from typing import Iterator

from ..inputs import quote
from .route_formats import PARSERS, RENDERERS
from .routes import (FORMATS, MAX_TABLE_CHARS, Route, RouteTableError, content_lines, norm_format,
                     strict_ipv4)

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

    def text(self, fmt: str | None = None) -> str:
        """The table in the canonical, aligned form of its format (or of ``fmt``).

        ``route -n`` and ``netstat -nr`` use the tools' own column widths;
        ``ip route`` uses today's single spaces; ``ip -j route`` gives JSON.
        Converting to another format keeps what that format can show.
        """
        fmt = norm_format(fmt) or self.format
        return RENDERERS[fmt](self.routes)

    def __str__(self) -> str:
        return self.text()


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
    lines = content_lines(_check_text(text))
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
    if (len(words) == 8 and strict_ipv4(words[0]) and strict_ipv4(words[2])
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
    fmt = norm_format(fmt) or detect_format(text)
    routes, notes = PARSERS[fmt](text)
    return RouteTable(routes, fmt, notes)
