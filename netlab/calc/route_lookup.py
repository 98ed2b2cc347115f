"""Choose the route the kernel would use for an address, and say why in one sentence.

Longest prefix first; on Linux the lowest metric breaks a tie (then the first route listed);
macOS has no metric and an ordinary (unscoped) lookup skips routes scoped to one interface
(flag ``I``). Choosing (:func:`choose`) and explaining (the ``_explain_*`` functions, one per
kind of outcome) are apart, so each reads on one screen.
"""

from __future__ import annotations

import html
import ipaddress
import re
from dataclasses import dataclass
from typing import Sequence

import netaddr

from ..inputs import quote
from .routes import MAC_RE, Route, RouteTableError
from .routetable import RouteTable, parse_routes

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

    def text(self) -> str:
        lines = [self.reason]
        for c in self.candidates:
            mark = "*" if c.index == self.index else " "
            note = f"  ({c.note})" if c.note else ""
            lines.append(f" {mark} /{c.prefixlen:<2} {c.route.describe()}{note}")
        return "\n".join(lines)

    def html(self) -> str:
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
    dest = str(_parse_lookup_address(destination))
    candidates = _candidates(table, dest)
    chosen, thrown = choose(table, candidates)
    if chosen is None:
        return _explain_no_route(table, dest, candidates, thrown)
    r, mac = chosen.route, table.format == "macos-netstat"
    if r.type in ("blackhole", "unreachable", "prohibit") or (mac and r.type != "unicast"):
        explain = _explain_rejected
    elif r.type in ("local", "broadcast", "multicast", "anycast", "nat"):
        explain = _explain_special
    elif r.gateway:
        explain = _explain_gateway
    else:
        explain = _explain_direct
    return explain(table, dest, chosen, candidates)


def _candidates(table: RouteTable, dest: str) -> list[Candidate]:
    """Every route whose destination holds ``dest``; on macOS, interface-scoped routes of another
    interface than the primary one (that of the unscoped default route) are not eligible."""
    mac = table.format == "macos-netstat"
    target = netaddr.IPAddress(dest)
    primary = next((r.interface for r in table.routes
                    if mac and r.is_default and "I" not in r.flags), None)
    candidates = []
    for i, r in enumerate(table.routes):
        if target not in r.destination:
            continue
        if mac and "I" in r.flags and r.interface != primary:
            candidates.append(Candidate(i, r, r.prefixlen, False, (
                f"scoped to {r.interface} (flag I): used only by traffic bound to that "
                "interface, skipped by an ordinary lookup")))
        else:
            candidates.append(Candidate(i, r, r.prefixlen))
    return candidates


def choose(table: RouteTable, candidates: Sequence[Candidate]) -> tuple[Candidate | None, list[Candidate]]:
    """The route the kernel uses (or None), and the throw routes that sent the lookup on.

    Tables in the kernel's order (local, main, default, others); in each, the longest prefix,
    then the lowest metric, then the first listed.
    """
    mac = table.format == "macos-netstat"
    thrown: list[Candidate] = []
    for tbl in ([None] if mac else _table_order(table.routes)):
        pool = [c for c in candidates if c.eligible and
                (mac or (None if c.route.table in (None, "main", "254") else c.route.table) == tbl)]
        if not pool:
            continue
        best = max(c.prefixlen for c in pool)
        top = sorted((c for c in pool if c.prefixlen == best), key=lambda c: ((c.route.metric or 0), c.index))
        if top[0].route.type == "throw":
            thrown.append(top[0])
            continue
        return top[0], thrown
    return None, thrown


def _explain_no_route(table, dest, candidates, thrown) -> Lookup:
    mac = table.format == "macos-netstat"
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
    return Lookup(table, dest, None, None, tuple(candidates), reason, "no-route", errtext)


@dataclass(frozen=True)
class _Asides:
    """What every explanation may add: the routes of the same prefix length (the tie), the
    shorter ones that also matched, and where and in which table the route sends the packet."""

    same_len: list
    tie: str
    longer: str
    where: str
    tbl: str


def _asides(table: RouteTable, chosen: Candidate, candidates: Sequence[Candidate]) -> _Asides:
    r, mac = chosen.route, table.format == "macos-netstat"
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
    return _Asides(same_len, tie, longer, where, tbl)


def _explain_rejected(table, dest, chosen, candidates) -> Lookup:
    """A blackhole, unreachable or prohibit route (macOS: flags B and R)."""
    r, a = chosen.route, _asides(table, chosen, candidates)
    if table.format == "macos-netstat":
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
    reason = (f"{dest} matches the {kind} {r.dest_text}{a.tbl} (/{chosen.prefixlen}), so the "
              f"kernel {what}.{a.longer}{a.tie}{caveat}")
    return Lookup(table, dest, r, chosen.index, tuple(candidates), reason, r.type, error)


def _explain_special(table, dest, chosen, candidates) -> Lookup:
    """A local, broadcast, multicast, anycast or nat route."""
    r, a = chosen.route, _asides(table, chosen, candidates)
    what = {"local": f"{dest} is an address of this host, so the packet is delivered "
                     f"locally{(' via ' + r.interface) if r.interface else ''}",
            "broadcast": f"{dest} is a broadcast address, so the packet is sent as a "
                         f"link-layer broadcast{a.where}",
            }.get(r.type, f"{dest} matches the {r.type} route {r.dest_text}{a.where}")
    reason = f"{what} (route {r.dest_text}{a.tbl}, /{chosen.prefixlen}).{a.longer}{a.tie}"
    outcome = r.type if r.type in ("local", "broadcast", "multicast") else "onlink"
    return Lookup(table, dest, r, chosen.index, tuple(candidates), reason, outcome, None)


def _linkdown_note(r: Route) -> str:
    return (f" Note: {r.interface} has no carrier (linkdown); Linux still uses the route unless "
            "net.ipv4.conf.*.ignore_routes_with_linkdown is set.") if r.linkdown else ""


def _explain_gateway(table, dest, chosen, candidates) -> Lookup:
    r, a = chosen.route, _asides(table, chosen, candidates)
    onlink = (f" The route is onlink, so the kernel takes {r.gateway} as directly reachable "
              f"on {r.interface} without checking any subnet.") if r.onlink else ""
    if r.is_default:
        others = [c for c in candidates if c.index != chosen.index]
        head = (f"{dest} matches no more specific route" if others and not a.same_len
                else f"{dest} is not on any connected network")
        reason = (f"{head}, so the default route{a.tbl} sends it to gateway "
                  f"{r.gateway}{a.where}.{a.tie}{onlink}{_linkdown_note(r)}")
    else:
        reason = (f"{dest} matches {r.dest_text}{a.tbl} (/{chosen.prefixlen}, the longest "
                  f"matching prefix), so it is sent to gateway {r.gateway}{a.where}."
                  f"{a.longer}{a.tie}{onlink}{_linkdown_note(r)}")
    return Lookup(table, dest, r, chosen.index, tuple(candidates), reason, "gateway", None)


def _explain_direct(table, dest, chosen, candidates) -> Lookup:
    """A connected network or a host route without a gateway: the destination is the next hop."""
    r, a = chosen.route, _asides(table, chosen, candidates)
    mac = table.format == "macos-netstat"
    link_note = ""
    if mac and r.link:
        if r.link.startswith("link#"):
            link_note = f" ({r.link}: directly connected on interface index {r.link[5:]})"
        elif MAC_RE.fullmatch(r.link):
            link_note = f" to MAC address {r.link} (an ARP entry)"
    if r.prefixlen == 32:
        head = f"{dest} has a host route {r.dest_text}{a.tbl} (/32)"
    else:
        head = (f"{dest} is on the directly connected network {r.destination.cidr}{a.tbl} "
                f"(/{chosen.prefixlen}, the longest matching prefix)")
    out = f" out of {r.interface}" if r.interface else ""
    if r.interface and re.fullmatch(r"lo\d*", r.interface):
        hop = ": it loops back inside this host"
    elif mac and r.link and MAC_RE.fullmatch(r.link):
        hop = ""
    else:
        hop = f": {dest} itself is the next hop"
    reason = (f"{head}, so it is sent directly{out}{link_note} with no gateway{hop}."
              f"{a.longer}{a.tie}{_linkdown_note(r)}")
    return Lookup(table, dest, r, chosen.index, tuple(candidates), reason, "onlink", None)
