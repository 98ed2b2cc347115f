"""The one reader of a node's kernel state: links, addresses, routes, neighbours, FDB, iptables
rules with their counters and conntrack entries, as small typed records.

The learner sees the ``ip`` command; the book's code uses its structured output (iproute2's
``-j`` JSON, ``bridge -j``, ``iptables-save -c``), never regexes over the text a person reads.
Each reader runs one command through ``world.run``, so it shows in transcripts and replays
like any other command: a reader's command text is part of every recording that used it, so
a reader never changes the command it runs. The checks built on these readers are in
:mod:`netlab.checks`. Standard library only: the engine and the daemons import it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .engine.result import CommandError

#: The command whose output :func:`iptables` parses (comments dropped, so a transcript is stable).
IPTABLES_SAVE = "iptables-save -c | grep -v '^#'"


def _json(world, node: str, command: str, check: bool = True) -> list:
    """The JSON list COMMAND prints in NODE ([] for no output); None when an unchecked command failed."""
    res = world.run(node, command, check=check)
    if res.returncode != 0:
        return None
    out = res.stdout.strip()
    return json.loads(out) if out else []


# ------------------------------------------------------------------ links and addresses
@dataclass(frozen=True)
class Address:
    """One address of a link: family ("inet", "inet6"), the address and its prefix length, and the
    broadcast address the kernel holds for it (``brd``; None when it has none)."""

    family: str
    local: str
    prefixlen: int
    broadcast: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.local}/{self.prefixlen}"


@dataclass(frozen=True)
class Link:
    """One link as ``ip -j [-d] link|addr show`` reports it.

    ``kind`` (veth, bridge, vxlan, tun, ...) and ``info`` (the kind's settings: a VXLAN's id,
    local, port, learning) come with ``-d`` only; ``addresses`` with ``addr show`` only.
    ``peer_index`` is a veth's peer's ifindex (iproute2's ``link_index``).
    """

    ifname: str
    ifindex: int | None = None
    mac: str | None = None
    mtu: int | None = None
    flags: tuple[str, ...] = ()
    master: str | None = None
    link_type: str | None = None
    peer_index: int | None = None
    kind: str | None = None
    info: dict = field(default_factory=dict, compare=False)
    addresses: tuple[Address, ...] = ()

    @property
    def up(self) -> bool:
        return "UP" in self.flags

    @classmethod
    def from_json(cls, d: dict) -> "Link":
        linkinfo = d.get("linkinfo") or {}
        return cls(d["ifname"], d.get("ifindex"), d.get("address"), d.get("mtu"), tuple(d.get("flags", ())),
                   d.get("master"), d.get("link_type"), d.get("link_index"), linkinfo.get("info_kind"),
                   linkinfo.get("info_data") or {},
                   tuple(Address(a.get("family"), a["local"], a["prefixlen"], a.get("broadcast")) for a in d.get("addr_info", ())))


def _link_command(match: str, details: bool, addresses: bool) -> str:
    return (f"ip -j{' -d' if details else ''} {'addr' if addresses else 'link'} show"
            + (f" {match}" if match else ""))


def links(world, node: str, match: str = "", *, details: bool = False, addresses: bool = False) -> list[Link]:
    """``ip -j [-d] link|addr show [MATCH]`` (MATCH as ip takes it: ``master docker0``, ``dev eth0``)."""
    return [Link.from_json(d) for d in _json(world, node, _link_command(match, details, addresses))]


def link(world, node: str, match: str, *, details: bool = False, addresses: bool = False) -> Link | None:
    """The one link MATCH names (``dev eth0``, or the bare name), or None when NODE has no such device."""
    found = _json(world, node, _link_command(match, details, addresses), check=False)
    return Link.from_json(found[0]) if found else None


def addresses(world, node: str) -> dict[str, list[str]]:
    """``ip -j addr show``: {ifname: ["192.168.0.3/26", ...]} (lo included)."""
    return {l.ifname: [str(a) for a in l.addresses] for l in links(world, node, addresses=True)}


# ------------------------------------------------------------------ routes and neighbours
@dataclass(frozen=True)
class Route:
    """One route as ``ip -j route`` reports it (``dst`` is "default" for the default route)."""

    dst: str
    gateway: str | None = None
    dev: str | None = None
    prefsrc: str | None = None
    metric: int = 0
    protocol: str | None = None
    scope: str | None = None
    flags: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: dict) -> "Route":
        return cls(d.get("dst", "default"), d.get("gateway"), d.get("dev"), d.get("prefsrc"), d.get("metric", 0),
                   d.get("protocol"), d.get("scope"), tuple(d.get("flags", ())))


def routes(world, node: str, match: str = "table main") -> list[Route]:
    """``ip -j route show MATCH`` (``table main``, ``default``, ``dev flannel.1``)."""
    return [Route.from_json(d) for d in _json(world, node, f"ip -j route show {match}")]


def route_get(world, node: str, dst: str) -> Route | None:
    """``ip -j route get DST``: the route the kernel would use, or None if the network is unreachable."""
    res = world.run(node, f"ip -j route get {dst}", check=False)
    if res.returncode != 0:
        if "unreachable" in res.stderr.lower():
            return None
        raise CommandError(res)
    data = json.loads(res.stdout)
    return Route.from_json(data[0]) if data else None


def default_gateways(world, node: str) -> list[str]:
    """``ip -j route show default``: the gateways of NODE's default routes, lowest metric first."""
    found = sorted(routes(world, node, "default"), key=lambda r: r.metric)
    return [r.gateway for r in found if r.gateway]


@dataclass(frozen=True)
class Neighbour:
    """One neighbour (ARP) entry: address, device, MAC (None while incomplete) and NUD states."""

    dst: str
    dev: str | None = None
    lladdr: str | None = None
    state: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: dict) -> "Neighbour":
        return cls(d["dst"], d.get("dev"), d.get("lladdr"), tuple(d.get("state", ())))


def neighbours(world, node: str, dev: str | None = None) -> list[Neighbour]:
    """``ip -j neigh show [dev DEV]``."""
    return [Neighbour.from_json(d) for d in _json(world, node, "ip -j neigh show" + (f" dev {dev}" if dev else ""))]


# ------------------------------------------------------------------ forwarding databases
@dataclass(frozen=True)
class FdbEntry:
    """One forwarding-database entry: a bridge's learned or permanent MAC, or a VXLAN device's
    remote (``dst``) for a MAC."""

    mac: str
    ifname: str | None = None
    dst: str | None = None
    state: str | None = None
    master: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def learned(self) -> bool:
        """Learned from traffic: not one of the bridge's own (permanent) entries, and not multicast."""
        return self.state != "permanent" and not int(self.mac[:2], 16) & 1

    @classmethod
    def from_json(cls, d: dict) -> "FdbEntry":
        return cls(d["mac"], d.get("ifname"), d.get("dst"), d.get("state"), d.get("master"), tuple(d.get("flags", ())))


def fdb(world, node: str, match: str) -> list[FdbEntry]:
    """``bridge -j fdb show MATCH`` (``br docker0``, ``dev flannel.1``)."""
    return [FdbEntry.from_json(d) for d in _json(world, node, f"bridge -j fdb show {match}")]


# ------------------------------------------------------------------ iptables
_TARGET = re.compile(r"\s-[jg] (\S+)")


def jump_target(rule: str) -> str | None:
    """The chain RULE (iptables-save text) jumps (``-j``) or goes (``-g``) to, or its target (ACCEPT, DNAT, ...)."""
    m = _TARGET.search(rule)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Rule:
    """One iptables rule in ``iptables-save`` form (``-A CHAIN ...``) with its counters.

    ``n`` tells identical rules of one table apart (the first is 1), so two dumps can be
    compared rule by rule.
    """

    table: str
    text: str
    packets: int = 0
    bytes: int = 0
    n: int = 1

    @property
    def chain(self) -> str:
        return self.text.split()[1]

    @property
    def target(self) -> str | None:
        return jump_target(self.text)


@dataclass(frozen=True)
class Chain:
    """A chain of a table: a built-in one has a ``policy`` and its counters; a user-defined one has none."""

    table: str
    name: str
    policy: str | None = None
    packets: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Iptables:
    """Every table's chains and rules, as one ``iptables-save -c`` printed them."""

    chains: tuple[Chain, ...] = ()
    rules: tuple[Rule, ...] = ()

    @property
    def user_chains(self) -> set[tuple[str, str]]:
        """(table, chain) of every user-defined chain (``:DOCKER - [0:0]``)."""
        return {(c.table, c.name) for c in self.chains if c.policy is None}

    def counters(self) -> dict[tuple[str, str, int], tuple[int, int]]:
        """{(table, rule text, n): (packets, bytes)}, and a built-in chain's policy as
        (table, "CHAIN policy POLICY", 0): what two readings are compared by."""
        out = {(c.table, f"{c.name} policy {c.policy}", 0): (c.packets, c.bytes) for c in self.chains if c.policy}
        out.update({(r.table, r.text, r.n): (r.packets, r.bytes) for r in self.rules})
        return out


def parse_iptables_save(text: str) -> Iptables:
    """``iptables-save -c`` output as records (``*table``, ``:CHAIN POLICY [p:b]``, ``[p:b] -A ...``)."""
    chains, rules, table, seen = [], [], None, {}
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith(":"):
            m = re.match(r":(\S+) (\S+) \[(\d+):(\d+)\]", line)
            if m:
                policy = None if m.group(2) == "-" else m.group(2)
                chains.append(Chain(table, m.group(1), policy, int(m.group(3)), int(m.group(4))))
        elif line.startswith("["):
            m = re.match(r"\[(\d+):(\d+)\] (.*)", line)
            if m:
                rule = m.group(3).strip()
                n = seen[(table, rule)] = seen.get((table, rule), 0) + 1
                rules.append(Rule(table, rule, int(m.group(1)), int(m.group(2)), n))
    return Iptables(tuple(chains), tuple(rules))


def iptables(world, node: str) -> Iptables:
    """Every table of NODE with its counters (:data:`IPTABLES_SAVE`)."""
    return parse_iptables_save(world.run(node, IPTABLES_SAVE, check=False).stdout)


_COUNTERS = re.compile(r"\s-c (\d+) (\d+)")


def iptables_rules(world, node: str, table: str) -> list[Rule]:
    """One table's rules with their counters: ``iptables -t TABLE -S -v`` (``-c PACKETS BYTES`` per rule)."""
    rules, seen = [], {}
    for line in world.run(node, f"iptables -t {table} -S -v").stdout.splitlines():
        if line.startswith("-A "):
            m = _COUNTERS.search(line)
            text = (line[:m.start()] + line[m.end():]).strip() if m else line.strip()
            n = seen[text] = seen.get(text, 0) + 1
            rules.append(Rule(table, text, int(m.group(1)) if m else 0, int(m.group(2)) if m else 0, n))
    return rules


# ------------------------------------------------------------------ conntrack
_CT_FIELD = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class Conntrack:
    """One ``conntrack -L`` entry: protocol, state, flags ([ASSURED], [UNREPLIED]), and the original
    and reply directions as dicts (src, dst, sport, dport, ...)."""

    proto: str
    state: str
    flags: tuple[str, ...]
    original: dict
    reply: dict
    line: str


def parse_conntrack(text: str) -> list[Conntrack]:
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        pairs = _CT_FIELD.findall(line)
        first_src = [i for i, (k, _) in enumerate(pairs) if k == "src"]
        if len(first_src) < 2:
            continue
        state = next((p for p in parts[3:5] if p.isupper() and "=" not in p), "")
        flags = tuple(p.strip("[]") for p in parts if p.startswith("[") and p.endswith("]"))
        entries.append(Conntrack(parts[0], state, flags, dict(pairs[first_src[0]:first_src[1]]),
                                 dict(pairs[first_src[1]:]), line))
    return entries


def conntrack(world, node: str, proto: str | None = None) -> list[Conntrack]:
    """``conntrack -L [-p PROTO]`` in NODE (an empty table prints nothing and is not an error)."""
    return parse_conntrack(world.run(node, "conntrack -L" + (f" -p {proto}" if proto else ""), check=False).stdout)


# ------------------------------------------------------------------ sysctls
def sysctl(world, node: str, key: str) -> str | None:
    """``sysctl -n KEY`` in NODE (``net.ipv4.conf.cali83dbd022cd5.proxy_arp``), or None when there is no
    such key (the interface does not exist yet)."""
    res = world.run(node, ["sysctl", "-n", key], check=False)
    return res.stdout.strip() if res.returncode == 0 else None
