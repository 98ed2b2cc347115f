"""What the kernel decided at one hop, kept as data: the walk's fate is computed from these fields, and
each decision's text is rendered from them last (``text()``), never parsed back.

Each class is one kind of decision, named after the table the kernel read: a route (``ip route get``),
a neighbour entry (``ip neigh``), a bridge's or a VXLAN device's FDB (``bridge fdb``), an iptables rule
whose counters moved, a rewrite NAT made, a TUN device handing the packet to a process, and what took a
tunnelled datagram apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Decision:
    """One line of a hop: ``text()`` renders it; ``str()`` is the same text."""

    def text(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class Route(Decision):
    """``ip route get``'s answer, as the kernel said it (or its error), with the two fields the walk uses."""

    said: str
    via: str | None = None  # the gateway, if the route has one
    resolves: tuple[str, str] | None = None  # (device, address) whose MAC the kernel must know to send it

    @classmethod
    def parse(cls, said: str) -> "Route":
        via = re.search(r" via (\S+)", said)
        m = re.match(r"(\S+)(?: from \S+)?(?: via (\S+))? dev (\S+)", said)
        resolves = (m.group(3), m.group(2) or m.group(1)) if m and m.group(1) != "local" else None
        return cls(said, via.group(1) if via else None, resolves)

    @property
    def local(self) -> bool:
        """Is the packet for this node (a ``local`` route)?"""
        return self.said.startswith("local ")

    @property
    def failed(self) -> bool:
        return self.said.startswith("RTNETLINK")

    def text(self) -> str:
        return f"route: {self.said}"


@dataclass(frozen=True)
class Neighbour(Decision):
    """``ip neigh show ADDRESS dev DEV``: the MAC for the next hop, or no answer."""

    address: str
    dev: str
    mac: str | None = None
    state: str = "none"  # "none" (no entry), "failed" (ARP got no answer), "permanent" or "learned"

    @property
    def unresolved(self) -> bool:
        return self.state in ("none", "failed")

    def text(self) -> str:
        if self.state == "none":
            return f"neighbour {self.address} on {self.dev}: no entry (`ip neigh show {self.address} dev {self.dev}` is empty)"
        if self.state == "failed":
            # which of the two the entry is in when read depends on timing (INCOMPLETE while the
            # kernel retries, FAILED after its last try): the text names both, so it does not vary
            return f"neighbour {self.address} on {self.dev}: ARP got no answer (INCOMPLETE, then FAILED)"
        how = "PERMANENT" if self.state == "permanent" else "learned by ARP"
        return f"neighbour {self.address} lladdr {self.mac} dev {self.dev} ({how})"


@dataclass(frozen=True)
class BridgeFdb(Decision):
    """A bridge's forwarding decision for destination MAC: up to its own stack, one port, or flooded."""

    bridge: str
    mac: str
    node: str
    own: bool = False  # the bridge's own MAC
    entry: str | None = None  # the FDB line, up to ``master BRIDGE``
    port: str | None = None

    def text(self) -> str:
        if self.own:
            return f"bridge {self.bridge}: {self.mac} is the bridge's own MAC, so the frame goes up to {self.node}'s IP stack"
        if self.entry is not None:
            return f"bridge {self.bridge} FDB: {self.entry} (port {self.port})"
        return f"bridge {self.bridge} FDB: no entry for {self.mac}: flooded to every port"


@dataclass(frozen=True)
class BridgeForward(Decision):
    """A frame seen on the bridge device that is not for the bridge: a promiscuous copy of one it forwards."""

    bridge: str

    def text(self) -> str:
        return f"bridge {self.bridge} forwards it between its ports (seen on the bridge device in promiscuous mode)"


@dataclass(frozen=True)
class VxlanFdb(Decision):
    """``bridge fdb show dev VXLAN``: the remote VTEP for the inner destination MAC, or none."""

    dev: str
    mac: str
    entry: str | None = None  # the FDB line
    remote: str | None = None
    defaults: tuple[str, ...] = ()  # remote VTEPs of the default 00:00:00:00:00:00 entries

    @property
    def missing(self) -> bool:
        return self.entry is None

    def text(self) -> str:
        if self.entry is not None:
            return f"VXLAN FDB: {self.entry} (remote VTEP {self.remote})"
        if self.defaults:
            return f"VXLAN FDB on {self.dev}: no entry for {self.mac}; the default entry sends it to {', '.join(self.defaults)}"
        return f"VXLAN FDB on {self.dev}: no entry for {self.mac} (and no default 00:00:00:00:00:00 entry)"


@dataclass(frozen=True)
class IptablesHit(Decision):
    """A rule (or a chain's policy) whose packet counter moved while the packet passed."""

    table: str
    rule: str  # as ``iptables-save`` prints it, or ``CHAIN policy POLICY``
    before: tuple[int, int]  # (packets, bytes)
    after: tuple[int, int]

    @property
    def drops(self) -> bool:
        return bool(re.search(r"(-j (DROP|REJECT)|policy DROP)", self.rule))

    @property
    def dnat(self) -> bool:
        return bool(re.search(r"\s-j DNAT\b", self.rule))

    def text(self) -> str:
        (bp, bb), (ap, ab) = self.before, self.after
        return f"iptables -t {self.table}: {self.rule} [{bp}:{bb} -> {ap}:{ab}]"


@dataclass(frozen=True)
class Rewrite(Decision):
    """NAT changed an address (or address:port) between two sightings in one node."""

    header: str  # "source" or "destination"
    old: str
    new: str
    how: str  # the rule or conntrack that did it
    when: str = ""  # " before routing" for a destination rewritten by conntrack

    def text(self) -> str:
        return f"{self.header} rewritten{self.when}: {self.old} -> {self.new} ({self.how})"


@dataclass(frozen=True)
class TunHandoff(Decision):
    """A TUN device between the kernel and a process: who reads what the kernel routes there (or wrote it)."""

    dev: str
    processes: tuple[str, ...]
    wrote: bool = False  # the process wrote the packet in, rather than read it out

    def body(self) -> str:
        if not self.processes:
            return f"no process has TUN {self.dev} open; the packet waits in its queue and is lost"
        verb = "wrote it to" if self.wrote else "read it from"
        return f"{', '.join(self.processes)} {verb} TUN {self.dev}"

    def text(self) -> str:
        return f"user space: {self.body()}"


@dataclass(frozen=True)
class KernelVxlan(Decision):
    """A tunnelled datagram to the kernel's VXLAN socket: the device with its VNI takes the frame, or none does."""

    port: int
    vni: int
    sock: str  # who else holds the socket
    device: str | None  # the device with this VNI
    others: str = ""  # the devices there are, when none matches

    def text(self) -> str:
        if self.device is not None:
            return (f"UDP {self.port} is the kernel's VXLAN socket ({self.sock}): kernel VXLAN decapsulation,"
                    f" VNI {self.vni} is {self.device}'s, so the outer headers are stripped and the"
                    f" inner frame enters {self.device}")
        return (f"UDP {self.port} is the kernel's VXLAN socket ({self.sock}), but VNI {self.vni} matches no device"
                f" here ({self.others})")


@dataclass(frozen=True)
class UserSocket(Decision):
    """A tunnelled datagram to a UDP port: the processes holding its socket take it apart, or nobody listens."""

    port: object
    owners: tuple[str, ...]
    into: str | None = None  # the interface the process writes the inner packet to

    def text(self) -> str:
        if not self.owners:
            return f"UDP {self.port}: no socket listens here"
        into = f" and writes the inner packet to {self.into}" if self.into else ""
        return f"UDP {self.port} to a user-space socket of {', '.join(self.owners)}: the process decapsulates it{into}"
