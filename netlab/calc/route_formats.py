"""The four table formats, each read into :class:`~.routes.Route` s and printed back:
``route -n`` (net-tools), macOS ``netstat -nr``, ``ip route`` and ``ip -j route``.

A parser returns the routes in the order printed and notes about what it had to assume;
:func:`~.routetable.parse_routes` wraps them into a :class:`~.routetable.RouteTable`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import replace
from typing import Sequence

import netaddr

from ..inputs import one_line, quote, whole_number
from .routes import (FLAGS, MAC_RE, MAX_METRIC, ROUTE_TYPES, Route, RouteTableError, content_lines,
                     line_error, line_number, strict_ipv4)

# ---------------------------------------------------------------------------
# Linux route -n
# ---------------------------------------------------------------------------

_NET_NAMES = {"default": "0.0.0.0", "link-local": "169.254.0.0", "loopback": "127.0.0.0"}
_LINUX_COLUMNS = ["Destination", "Gateway", "Genmask", "Flags", "Metric", "Ref", "Use", "Iface"]
_LINUX_EXPECTED = ("the columns Destination Gateway Genmask Flags Metric Ref Use Iface, "
                   "as `route -n` prints them")


def _parse_linux_route(text: str) -> tuple[list[Route], tuple[str, ...]]:
    fmt = "linux-route"
    columns: list[str] | None = None
    routes: list[Route] = []
    for lineno, line in content_lines(text):
        words = line.split()
        if line.strip() == "Kernel IP routing table":
            continue
        if words[0] == "Destination":
            missing = [c for c in ("Destination", "Gateway", "Genmask", "Flags", "Iface")
                       if c not in words]
            if missing:
                raise line_error(fmt, lineno, line, f"the header lacks {', '.join(missing)}",
                           _LINUX_EXPECTED)
            columns = words
            continue
        cols = columns or _LINUX_COLUMNS
        if len(words) != len(cols):
            raise line_error(fmt, lineno, line,
                       f"it has {len(words)} fields but the header names {len(cols)}",
                       one_line(" ".join(cols), 120))
        row = dict(zip(cols, words))
        routes.append(_linux_row(fmt, lineno, line, row))
    return routes, ()


def _linux_row(fmt: str, lineno: int, line: str, row: dict[str, str]) -> Route:
    dest_text, gw_text, mask_text = row["Destination"], row["Gateway"], row["Genmask"]
    flags = row["Flags"]
    dest = _NET_NAMES.get(dest_text, dest_text)
    if strict_ipv4(dest) is None:
        if re.fullmatch(r"[\w.-]+", dest_text) and not re.fullmatch(r"[\d.]+", dest_text):
            raise line_error(fmt, lineno, line,
                       f"the destination {quote(dest_text)} is a name, not an address",
                       "numbers: run `route -n` instead of `route`")
        raise line_error(fmt, lineno, line, f"the destination {quote(dest_text)} is not an IPv4 address",
                   "an address such as 10.6.0.0 in the Destination column")
    if strict_ipv4(mask_text) is None:
        raise line_error(fmt, lineno, line, f"the genmask {quote(mask_text)} is not an IPv4 netmask",
                   "a netmask such as 255.255.0.0 in the Genmask column")
    try:
        net = ipaddress.IPv4Network(f"{dest}/{mask_text}", strict=True)
    except ValueError as exc:
        raise line_error(fmt, lineno, line, f"{quote(dest + '/' + mask_text)} is not a network ({one_line(exc, 120)})",
                   "a contiguous netmask and a destination with no host bits set")
    if not re.fullmatch(r"[A-Za-z!]+", flags):
        raise line_error(fmt, lineno, line, f"the flags {quote(flags)} are not flag letters",
                   "letters such as U, UG or UGH in the Flags column")
    gateway: str | None
    if gw_text in ("0.0.0.0", "*", "-"):
        gateway = None
    elif strict_ipv4(gw_text) is not None or re.fullmatch(r"[A-Za-z_][\w.-]*", gw_text):
        gateway = gw_text  # a name such as `_gateway` when `route` ran without -n
    else:
        raise line_error(fmt, lineno, line, f"the gateway {quote(gw_text)} is not an IPv4 address",
                   "an address, 0.0.0.0 or * in the Gateway column")
    metric = 0
    if "Metric" in row:
        metric = line_number(fmt, lineno, line, row["Metric"], "the metric",
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
            raise line_error(fmt, lineno, line, f"{quote(text)} is an IPv6 destination",
                       "IPv4 routes from the Internet: section (the Internet6: section is skipped)")
        raise line_error(fmt, lineno, line, f"the destination {quote(text)} is not an IPv4 network",
                   "default, an address or an abbreviated network such as 10.64.1/24 or 169.254")
    padded = ".".join(parts + ["0"] * (4 - len(parts)))
    if plen_text:
        plen = line_number(fmt, lineno, line, plen_text, "the prefix length", "a destination such as 10.64.1/24",
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
        raise line_error(fmt, lineno, line, f"{padded}/{plen} has host bits set",
                   "a network address whose host part is zero")
    return netaddr.IPNetwork(str(net))


def _parse_macos(text: str) -> tuple[list[Route], tuple[str, ...]]:
    fmt = "macos-netstat"
    routes: list[Route] = []
    notes: list[str] = []
    section = None  # None before any header, "inet", or "inet6"
    columns: list[str] | None = None
    for lineno, line in content_lines(text):
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
                raise line_error(fmt, lineno, line, f"the header lacks {', '.join(missing)}",
                           _MAC_EXPECTED)
            columns, section = words, "inet"
            continue
        if columns is None:
            raise line_error(fmt, lineno, line, "a route comes before the header line", _MAC_EXPECTED)
        has_expire = "Expire" in columns
        if len(words) == len(columns) or (has_expire and len(words) == len(columns) - 1):
            row = dict(zip(columns, words))
        else:
            raise line_error(fmt, lineno, line,
                       f"it has {len(words)} fields but the header names {len(columns)}",
                       one_line(" ".join(columns), 120))
        flags = row["Flags"]
        if not re.fullmatch(r"[A-Za-z0-9]+", flags):
            raise line_error(fmt, lineno, line, f"the flags {quote(flags)} are not flag letters",
                       "letters such as UGSc or UCS in the Flags column")
        dest = _mac_destination(fmt, lineno, line, row["Destination"], flags)
        gw_text = row["Gateway"].split("%", 1)[0]
        gateway = link = None
        if "G" in flags and strict_ipv4(gw_text) is not None:
            gateway = gw_text
        elif gw_text.startswith("link#") or MAC_RE.fullmatch(gw_text) or strict_ipv4(gw_text) \
                or re.fullmatch(r"[A-Za-z][\w.-]*", gw_text):
            link = row["Gateway"]
        else:
            raise line_error(fmt, lineno, line, f"the gateway {quote(gw_text)} is not understood",
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
    return routes, tuple(notes)


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
        raise line_error(fmt, lineno, line, f"{quote(text)} is an IPv6 destination",
                   "IPv4 routes (`ip -4 route`)")
    try:
        net = ipaddress.IPv4Network(text, strict=True)
    except ValueError as exc:
        if "/" not in text and strict_ipv4(text) is None:
            raise line_error(fmt, lineno, line, f"{quote(text)} is not a route type or an IPv4 destination",
                       _IP_EXPECTED)
        raise line_error(fmt, lineno, line, f"the destination {quote(text)} is not a network ({one_line(exc, 120)})",
                   "a destination such as 10.168.0.0/24, an address or default")
    return netaddr.IPNetwork(str(net))


def _parse_ip_line(fmt: str, lineno: int, line: str) -> Route:
    words = line.split()
    i = 0
    rtype = "unicast"
    if words[0] in ROUTE_TYPES:
        rtype = words[0]
        i = 1
        if len(words) < 2:
            raise line_error(fmt, lineno, line, f"{quote(rtype)} has no destination after it", _IP_EXPECTED)
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
                raise line_error(fmt, lineno, line, f"{quote(w)} has no value after it", _IP_EXPECTED)
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
        raise line_error(fmt, lineno, line, f"{quote(w)} is not a word ip route prints", _IP_EXPECTED)
    gateway = attrs.get("via")
    if gateway is not None and strict_ipv4(gateway) is None:
        raise line_error(fmt, lineno, line, f"the gateway {quote(gateway)} after via is not an IPv4 address",
                   "via followed by an address such as 10.168.0.1")
    src = attrs.get("src")
    if src is not None and strict_ipv4(src) is None:
        raise line_error(fmt, lineno, line, f"the source {quote(src)} after src is not an IPv4 address",
                   "src followed by an address such as 10.168.0.2")
    metric = 0
    if "metric" in attrs:
        metric = line_number(fmt, lineno, line, attrs["metric"], "the metric", "metric followed by a whole number")
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
        raise line_error(fmt, lineno, line, f"{quote(w)} is not a word of a nexthop line",
                   "nexthop via ADDR dev NAME weight N")
    if "via" in got and strict_ipv4(got["via"]) is None:
        raise line_error(fmt, lineno, line, f"the nexthop gateway {quote(got['via'])} is not an IPv4 address",
                   "nexthop via ADDR dev NAME weight N")
    if "weight" in got:  # 1-256 in ip-route(8)
        line_number(fmt, lineno, line, got["weight"], "the weight", "nexthop via ADDR dev NAME weight N", hi=256)
    return got.get("via"), got.get("dev"), got.get("weight")


def _parse_iproute(text: str) -> tuple[list[Route], tuple[str, ...]]:
    fmt = "iproute2"
    routes: list[Route] = []
    for lineno, line in content_lines(text):
        if line.split()[0] == "nexthop":
            if not routes:
                raise line_error(fmt, lineno, line, "a nexthop line comes before any route",
                           "nexthop lines indented under a multipath route")
            hop = _parse_nexthop(fmt, lineno, line)
            prev = routes[-1]
            changes = {"nexthops": prev.nexthops + (hop,)}
            if not prev.nexthops and prev.gateway is None and prev.interface is None:
                changes.update(gateway=hop[0], interface=hop[1])
            routes[-1] = replace(prev, **changes)
            continue
        routes.append(_parse_ip_line(fmt, lineno, line))
    return routes, ()


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
    if value is not None and strict_ipv4(value) is None:
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


def _parse_json(text: str) -> tuple[list[Route], tuple[str, ...]]:
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
        if rtype not in ROUTE_TYPES:
            raise RouteTableError(f"{where} has type {quote(rtype)}; expected one of {', '.join(ROUTE_TYPES)}.")
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
    return routes, ()


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


PARSERS = {
    "linux-route": _parse_linux_route,
    "macos-netstat": _parse_macos,
    "iproute2": _parse_iproute,
    "iproute2-json": _parse_json,
}
RENDERERS = {
    "linux-route": _render_linux_route,
    "macos-netstat": _render_macos,
    "iproute2": _render_iproute,
    "iproute2-json": _render_json,
}
