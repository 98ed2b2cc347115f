"""Declare a lab topology as plain data; a :class:`netlab.World` builds it.

A :class:`Topology` needs no privileges: it is validated as it is declared
(names, IFNAMSIZ, CIDRs, MACs, subnets, gateways, bridge masters), so a typo
fails at the line that made it, before anything touches a kernel::

    topo = Topology("docker0")
    topo.add_node("node1", sysctls={"net.ipv4.ip_forward": 1})
    topo.add_node("nginx-1")
    topo.add_bridge("node1", "docker0", address="172.17.0.1/16")
    topo.add_link(End("nginx-1", "eth0", "172.17.0.2/16", mac="02:42:ac:11:00:02"),
                  End("node1", "veth9c02e56", master="docker0"))
    topo.add_route("nginx-1", "default", via="172.17.0.1")

Every interface gets a fixed MAC (derived from node and interface name when
not given) so that outputs are the same on every run.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field

from ..inputs import NAME_RULE, check_name, quote, whole_number
from .build import build_script

IFNAMSIZ = 15  # the kernel's limit on interface names in bytes, without the NUL
# Patterns are used with fullmatch: `$` also matches before a trailing newline.
_MAC_RE = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_NODE_RE = NAME_RULE
#: Interface names: the kernel refuses '/', ':' and whitespace (dev_valid_name), and `ip -batch`,
#: which builds the world, reads '#' as a comment and quotes and backslashes as quoting; so names
#: keep to the characters every Linux tool prints and parses as they are.
_IFNAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_SYSCTL_KEY_RE = re.compile(r"net\.[A-Za-z0-9_.-]+")
IPTABLES_TABLES = ("filter", "nat", "mangle", "raw", "security")


class TopologyError(ValueError):
    """A topology declaration is invalid; the message names the offending item."""


def _text(value, what: str, example: str, *, limit: int = 256) -> str:
    """A one-line string argument (no control characters: they would split a command line)."""
    if not isinstance(value, str):
        raise TopologyError(f"{what}: expected a string such as {example!r}, not {type(value).__name__} {quote(value)}")
    if len(value) > limit or not value.isprintable():
        raise TopologyError(f"{what}: {quote(value)} must be one line of at most {limit} printable characters")
    return value


def _shown(value) -> str:
    """A name or value inside a message: as is when it is short plain text, else a bounded repr."""
    return value if isinstance(value, str) and len(value) <= 64 and value.isprintable() else quote(value)


def _flag(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise TopologyError(f"{what}: expected True or False, not {type(value).__name__} {quote(value)}")
    return value


@dataclass(frozen=True)
class End:
    """One end of a veth pair: ``End("nginx-1", "eth0", "172.17.0.2/16", mac=...)``."""

    node: str
    ifname: str
    address: str | list[str] | tuple[str, ...] | None = None
    mac: str | None = None
    mtu: int | None = None
    master: str | None = None
    txqueuelen: int | None = None  # Docker makes its veths with 0 (no queue), iproute2 with 1000
    hairpin: bool = False  # a bridge port that may send a frame back out the port it came in by
    broadcast: bool = False  # `brd +`: the address gets its subnet's broadcast, as netlink users set it

    @classmethod
    def parse(cls, spec: "End | str") -> "End":
        if isinstance(spec, End):
            return spec
        if isinstance(spec, str) and spec.count(":") == 1:
            node, ifname = spec.split(":")
            return cls(node, ifname)
        raise TopologyError(f"link end {quote(spec)} must be End(node, ifname, ...) or 'node:ifname'")


@dataclass
class Interface:
    node: str
    name: str
    kind: str  # veth, bridge, vxlan, tun
    addresses: list[str] = field(default_factory=list)
    mac: str | None = None
    mtu: int | None = None
    master: str | None = None
    peer: tuple[str, str] | None = None  # (node, ifname) of a veth's other end
    options: dict = field(default_factory=dict)
    txqueuelen: int | None = None
    hairpin: bool = False
    broadcast: bool = False

    def __repr__(self) -> str:
        parts = [self.name]
        if self.kind != "veth":
            parts.append(f"({self.kind})")
        parts += self.addresses
        if self.mac:
            parts.append(self.mac)
        if self.mtu:
            parts.append(f"mtu {self.mtu}")
        if self.broadcast:
            parts.append("brd +")
        if self.txqueuelen is not None:
            parts.append(f"txqueuelen {self.txqueuelen}")
        if self.master:
            parts.append(f"master {self.master}")
        if self.hairpin:
            parts.append("hairpin on")
        if self.peer:
            parts.append(f"<-> {self.peer[0]}:{self.peer[1]}")
        if self.kind == "vxlan":
            o = self.options
            parts.append(f"vni {o['vni']} local {o['local']} dev {o['dev']} dstport {o['dstport']}")
        return " ".join(parts)


@dataclass(frozen=True)
class Route:
    dst: str
    via: str | None = None
    dev: str | None = None
    onlink: bool = False
    metric: int | None = None

    def ip_args(self) -> str:
        s = self.dst
        if self.via:
            s += f" via {self.via}"
        if self.dev:
            s += f" dev {self.dev}"
        if self.onlink:
            s += " onlink"
        if self.metric is not None:
            s += f" metric {self.metric}"
        return s


@dataclass
class Node:
    name: str
    ipv6: bool = False
    interfaces: dict[str, Interface] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    sysctls: list[tuple[str, str]] = field(default_factory=list)
    iptables: list[tuple[str, str]] = field(default_factory=list)  # (table, rule)
    neighbours: list[tuple[str, str, str]] = field(default_factory=list)  # (dev, ip, mac)
    fdb: list[tuple[str, str, str]] = field(default_factory=list)  # (dev, mac, dst)

    def networks(self):
        """The subnets this node is directly connected to."""
        for iface in self.interfaces.values():
            for a in iface.addresses:
                yield ipaddress.ip_interface(a).network

    def __repr__(self) -> str:
        lines = [f"Node {self.name}"]
        for iface in self.interfaces.values():
            lines.append(f"  {iface!r}")
        for r in self.routes:
            lines.append(f"  route {r.ip_args()}")
        lines += [f"  neigh {ip} lladdr {mac} dev {dev} permanent" for dev, ip, mac in self.neighbours]
        lines += [f"  fdb {mac} dev {dev} dst {dst} self permanent" for dev, mac, dst in self.fdb]
        lines += [f"  sysctl {k}={v}" for k, v in self.sysctls]
        lines += [f"  iptables -t {t} {r}" for t, r in self.iptables]
        return "\n".join(lines)


def check_ifname(ifname, what: str, error=TopologyError, where: str = "") -> str:
    """``ifname`` if the kernel and `ip` take it as an interface name; else ``error``, one sentence.

    IFNAMSIZ counts bytes, not characters: 'ééééééééé' is 9 characters and 18 bytes.
    """
    if not isinstance(ifname, str) or not ifname:
        raise error(f"{what} {quote(ifname)} must be a non-empty string such as 'eth0'")
    size = len(ifname.encode("utf-8", "surrogatepass"))
    if size > IFNAMSIZ:
        unit = f"{len(ifname)} characters" if size == len(ifname) else f"{size} bytes ({len(ifname)} characters)"
        raise error(f"{what} {quote(ifname)}{where} has {unit}; the kernel allows at most {IFNAMSIZ} bytes (IFNAMSIZ)")
    if ifname in (".", "..") or not _IFNAME_RE.fullmatch(ifname):
        raise error(f"{what} {quote(ifname)}{where} may use only ASCII letters, digits, '_', '.' and '-'"
                    f" (no spaces, '/', ':', '#', quotes or backslashes), e.g. 'eth0' or 'flannel.1'")
    return ifname


def default_mac(node: str, ifname: str) -> str:
    """A fixed, locally administered unicast MAC for an interface without one."""
    h = hashlib.sha256(f"{node}/{ifname}".encode()).hexdigest()
    return "02:" + ":".join(h[i:i + 2] for i in range(0, 10, 2))


class Topology:
    """A named graph of nodes (network namespaces) and the devices in them."""

    def __init__(self, name: str):
        # The name becomes the recording's file name: check_name refuses '/', '..' and newlines.
        check_name(name, "topology name", TopologyError)
        self.name = name
        self.nodes: dict[str, Node] = {}
        self.links: list[tuple[End, End]] = []

    # ---------------------------------------------------------------- helpers
    def _node(self, name: str, what: str) -> Node:
        if not isinstance(name, str):
            raise TopologyError(f"{what}: a node is named by a string, not {type(name).__name__} {quote(name)}")
        if name not in self.nodes:
            known = ", ".join(self.nodes) or "none yet"
            raise TopologyError(f"{what}: unknown node {quote(name)} (declared nodes: {known}); add_node() it first")
        return self.nodes[name]

    def _iface(self, node: Node, name, what: str, role: str = "dev") -> Interface | None:
        """An existing interface of ``node`` named by ``name`` (a string)."""
        if not isinstance(name, str):
            raise TopologyError(f"{what}: {role} must be an interface name (a string), not "
                                f"{type(name).__name__} {quote(name)}")
        if name not in node.interfaces:
            return None
        return node.interfaces[name]

    def _check_ifname(self, node: Node, ifname: str, what: str) -> None:
        check_ifname(ifname, f"{what}: interface name", TopologyError, where=f" on {node.name}")
        if ifname in node.interfaces or ifname == "lo":
            raise TopologyError(f"{what}: node {node.name} already has an interface named {ifname!r}")

    @staticmethod
    def _check_mac(mac: str | None, what: str, required: bool = False) -> str | None:
        if mac is None and not required:
            return None
        if not isinstance(mac, str):
            raise TopologyError(f"{what}: the MAC address must be a string like '5e:f8:4f:00:e3:37', not "
                                f"{type(mac).__name__} {quote(mac)}")
        m = mac.lower()
        if not _MAC_RE.fullmatch(m):
            raise TopologyError(f"{what}: {quote(mac)} is not a MAC address like 5e:f8:4f:00:e3:37")
        if int(m[:2], 16) & 1:
            raise TopologyError(f"{what}: {mac!r} is a multicast MAC; an interface needs a unicast one")
        return m

    @staticmethod
    def _check_ip(ip: str, what: str) -> str:
        # ipaddress also takes ints (5 is 0.0.0.5) and scoped 'fe80::1%eth0', which `ip` does not.
        if isinstance(ip, str) and "%" not in ip:
            try:
                return str(ipaddress.ip_address(ip))
            except ValueError:
                pass
        raise TopologyError(f"{what}: {quote(ip)} is not an IP address") from None

    def _check_addresses(self, node: Node, address, what: str) -> list[str]:
        if address is None:
            return []
        if not isinstance(address, (str, list, tuple)):
            raise TopologyError(f"{what}: address must be a string like '192.168.0.3/26' or a list of them,"
                                f" not {type(address).__name__} {quote(address)}")
        addrs = [address] if isinstance(address, str) else list(address)
        out = []
        for a in addrs:
            if not isinstance(a, str) or "/" not in a:
                raise TopologyError(f"{what}: address {quote(a)} must be in CIDR form like 192.168.0.3/26")
            try:
                if "%" in a:
                    raise ValueError("scoped")
                iface = ipaddress.ip_interface(a)
            except ValueError:
                raise TopologyError(f"{what}: {quote(a)} is not a valid CIDR address") from None
            if iface.version == 6 and not node.ipv6:
                raise TopologyError(f"{what}: {a!r} is IPv6 but node {node.name} has IPv6 disabled;"
                                    f" declare it with add_node({node.name!r}, ipv6=True)")
            for other in node.interfaces.values():
                if any(ipaddress.ip_interface(x).ip == iface.ip for x in other.addresses):
                    raise TopologyError(f"{what}: {iface.ip} is already on {node.name}:{other.name}")
            out.append(str(iface))
        return out

    def _check_mtu(self, mtu, what: str):
        if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int) or not 68 <= mtu <= 65535):
            raise TopologyError(f"{what}: mtu {quote(mtu)} must be an integer from 68 to 65535")
        return mtu

    @staticmethod
    def _link_options(iface: Interface, txqueuelen, hairpin, broadcast, what: str) -> Interface:
        """Set the optional link attributes on IFACE, checked: a u32 queue length, hairpin only on a bridge port."""
        if txqueuelen is not None:
            iface.txqueuelen = whole_number(txqueuelen, f"{what}: txqueuelen", hi=2 ** 32 - 1, error=TopologyError)
        iface.hairpin = _flag(hairpin, f"{what}: hairpin")
        iface.broadcast = _flag(broadcast, f"{what}: broadcast")
        if iface.hairpin and not iface.master:
            raise TopologyError(f"{what}: hairpin is a bridge port's setting; {iface.name} has no master")
        return iface

    def _check_master(self, node: Node, master: str | None, what: str) -> None:
        if master is None:
            return
        br = self._iface(node, master, what, "master")
        if br is None or br.kind != "bridge":
            raise TopologyError(f"{what}: master {quote(master)} is not a bridge on node {node.name};"
                                f" add_bridge({node.name!r}, {master!r}) first")

    def _add_iface(self, node: Node, iface: Interface) -> Interface:
        if iface.mac is None and iface.kind != "tun":
            iface.mac = default_mac(node.name, iface.name)
        node.interfaces[iface.name] = iface
        return iface

    # ------------------------------------------------------------ declaration
    def add_node(self, name: str, sysctls: dict | None = None, ipv6: bool = False) -> Node:
        """A network namespace named ``name`` (so ``ip netns exec name ...`` works)."""
        # The name is a file in /run/netns and an argument of every `ip netns exec`.
        check_name(name, "node name", TopologyError)
        if name in self.nodes:
            raise TopologyError(f"node {name!r} is declared twice")
        _flag(ipv6, f"node {name}: ipv6")
        if sysctls is not None and not isinstance(sysctls, Mapping):
            raise TopologyError(f"node {name}: sysctls must be a dict such as {{'net.ipv4.ip_forward': 1}},"
                                f" not {type(sysctls).__name__} {quote(sysctls)}")
        node = self.nodes[name] = Node(name, ipv6=ipv6)
        for key, value in (sysctls or {}).items():
            self.add_sysctl(name, key, value)
        return node

    def add_bridge(self, node: str, name: str, address=None, mac=None, mtu=None, txqueuelen=None,
                   broadcast: bool = False) -> Interface:
        """A Linux bridge (a virtual switch) such as ``docker0`` or ``cni0``."""
        what = f"bridge {_shown(node)}:{_shown(name)}"
        n = self._node(node, what)
        self._check_ifname(n, name, what)
        iface = Interface(node, name, "bridge", self._check_addresses(n, address, what),
                          self._check_mac(mac, what), self._check_mtu(mtu, what))
        return self._add_iface(n, self._link_options(iface, txqueuelen, False, broadcast, what))

    def add_link(self, a: End | str, b: End | str, mtu: int | None = None) -> tuple[Interface, Interface]:
        """A veth pair: a cable whose two ends may sit in different nodes."""
        ea, eb = End.parse(a), End.parse(b)
        what = f"link {_shown(ea.node)}:{_shown(ea.ifname)} <-> {_shown(eb.node)}:{_shown(eb.ifname)}"
        na, nb = self._node(ea.node, what), self._node(eb.node, what)
        self._check_ifname(na, ea.ifname, what)
        self._check_ifname(nb, eb.ifname, what)
        if (ea.node, ea.ifname) == (eb.node, eb.ifname):
            raise TopologyError(f"{what}: both ends are the same interface")
        addrs = []
        for n, e in ((na, ea), (nb, eb)):
            self._check_master(n, e.master, what)
            addrs.append(self._check_addresses(n, e.address, f"{what}, end {e.node}:{e.ifname}"))
            if e.master and addrs[-1]:
                raise TopologyError(f"{what}: {e.node}:{e.ifname} is a port of {e.master}; put the address"
                                    f" on the bridge, not on its port")
        for x in addrs[0]:
            xi = ipaddress.ip_interface(x)
            peers = [ipaddress.ip_interface(y) for y in addrs[1] if ipaddress.ip_interface(y).version == xi.version]
            if peers and not any(p.ip in xi.network and xi.ip in p.network for p in peers):
                raise TopologyError(f"{what}: {ea.node}:{ea.ifname} has {x} but {eb.node}:{eb.ifname} has"
                                    f" {', '.join(map(str, peers))}, in a different subnet; the two ends of one"
                                    f" cable should share a subnet (use a bridge to mix subnets on one LAN)")
        ifa, ifb = (self._link_options(Interface(e.node, e.ifname, "veth", addr, self._check_mac(e.mac, what),
                                                 self._check_mtu(e.mtu or mtu, what), e.master, (o.node, o.ifname)),
                                       e.txqueuelen, e.hairpin, e.broadcast, f"{what}, end {e.node}:{e.ifname}")
                    for e, o, addr in ((ea, eb, addrs[0]), (eb, ea, addrs[1])))
        self._add_iface(na, ifa)
        self._add_iface(nb, ifb)
        self.links.append((ea, eb))
        return ifa, ifb

    def add_vxlan(self, node: str, name: str, vni: int, local: str, dev: str, dstport: int = 8472,
                  mac=None, address=None, learning: bool = False, mtu=None) -> Interface:
        """A VXLAN tunnel endpoint (VTEP) such as flannel's ``flannel.1`` (UDP 8472)."""
        what = f"vxlan {_shown(node)}:{_shown(name)}"
        n = self._node(node, what)
        self._check_ifname(n, name, what)
        vni = whole_number(vni, f"{what}: vni (24 bits)", hi=2 ** 24 - 1, error=TopologyError)
        dstport = whole_number(dstport, f"{what}: dstport (a UDP port)", lo=1, hi=65535, error=TopologyError)
        _flag(learning, f"{what}: learning")
        if self._iface(n, dev, what) is None:
            raise TopologyError(f"{what}: underlay device {quote(dev)} is not an interface of {node}")
        local = self._check_ip(local, what)
        return self._add_iface(n, Interface(node, name, "vxlan", self._check_addresses(n, address, what),
                                            self._check_mac(mac, what), self._check_mtu(mtu, what),
                                            options={"vni": vni, "local": local, "dev": dev,
                                                     "dstport": dstport, "learning": learning}))

    def add_tun(self, node: str, name: str, address=None, mtu=None) -> Interface:
        """A persistent TUN device (layer 3, like flannel's UDP-mode ``flannel0``)."""
        what = f"tun {_shown(node)}:{_shown(name)}"
        n = self._node(node, what)
        self._check_ifname(n, name, what)
        return self._add_iface(n, Interface(node, name, "tun", self._check_addresses(n, address, what),
                                            None, self._check_mtu(mtu, what)))

    def add_route(self, node: str, dst: str, via: str | None = None, dev: str | None = None,
                  onlink: bool = False, metric: int | None = None) -> Route:
        """A static route, ``ip route add DST [via GW] [dev DEV] [onlink] [metric N]``."""
        what = f"route {_shown(dst)} on {_shown(node)}"
        n = self._node(node, what)
        if not isinstance(dst, str):
            raise TopologyError(f"{what}: destination must be 'default' or a network like 10.1.16.0/24 (a string)")
        if dst != "default":
            try:
                if "%" in dst:
                    raise ValueError("a scope is not part of a route's destination")
                dst = str(ipaddress.ip_network(dst))
            except ValueError as e:
                raise TopologyError(f"{what}: destination must be 'default' or a network like 10.1.16.0/24 ({e})") from None
        if via is None and dev is None:
            raise TopologyError(f"{what}: give a gateway (via=) or a device (dev=)")
        if dev is not None and self._iface(n, dev, what) is None:
            raise TopologyError(f"{what}: dev {quote(dev)} is not an interface of {node}")
        _flag(onlink, f"{what}: onlink")
        if onlink and dev is None:
            raise TopologyError(f"{what}: onlink needs dev= (the kernel must know which link the gateway is on)")
        if via is not None:
            gw = ipaddress.ip_address(self._check_ip(via, what))
            if not onlink:
                nets = [net for net in n.networks() if net.version == gw.version]
                if dev is not None:
                    nets = [ipaddress.ip_interface(a).network for a in n.interfaces[dev].addresses]
                if not any(gw in net for net in nets):
                    where = f"{dev}'s subnets" if dev else f"any subnet of {node}"
                    raise TopologyError(f"{what}: gateway {gw} is not on {where}"
                                        f" ({', '.join(map(str, nets)) or 'none'}); fix the address or pass onlink=True")
        if metric is not None:  # a u32 in the kernel (RTA_PRIORITY)
            metric = whole_number(metric, f"{what}: metric", hi=2 ** 32 - 1, error=TopologyError)
        route = Route(dst, via, dev, onlink, metric)
        if any(r.dst == dst and r.metric == metric for r in n.routes):
            raise TopologyError(f"{what}: {node} already has a route to {dst} with metric {metric}")
        n.routes.append(route)
        return route

    def add_sysctl(self, node: str, key: str, value) -> None:
        """``sysctl -w key=value`` inside the node, e.g. ``net.ipv4.ip_forward=1``."""
        what = f"sysctl {_shown(key)} on {_shown(node)}"
        n = self._node(node, what)
        if not isinstance(key, str) or not _SYSCTL_KEY_RE.fullmatch(key) or ".." in key:
            raise TopologyError(f"{what}: only per-namespace net.* keys can be set in a node")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TopologyError(f"{what}: the value must be a number or a string such as 1 or '4096 87380 6291456',"
                                f" not {type(value).__name__} {quote(value)}")
        n.sysctls.append((key, _text(str(value), what + ": value", "1", limit=128)))

    def add_iptables(self, node: str, rule: str, table: str = "filter") -> None:
        """One rule in iptables-save syntax, e.g. ``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE``."""
        what = f"iptables rule {quote(rule)} on {_shown(node)}"
        n = self._node(node, what)
        if not isinstance(table, str) or table not in IPTABLES_TABLES:
            raise TopologyError(f"{what}: table {quote(table)} is not one of {', '.join(IPTABLES_TABLES)}")
        if not isinstance(rule, str) or not re.match(r"-[AIN] \S+|-P [A-Z]+ (ACCEPT|DROP)$", rule) \
                or not rule.isprintable() or len(rule) > 1024:
            raise TopologyError(f"{what}: write it as iptables-save does, starting with -A CHAIN, -I CHAIN or -N CHAIN,"
                                f" or a built-in chain's policy, -P CHAIN ACCEPT|DROP")
        n.iptables.append((table, rule))

    def add_neigh(self, node: str, dev: str, ip: str, mac: str) -> None:
        """A permanent neighbour (ARP) entry, as flanneld writes for a remote VTEP."""
        what = f"neighbour {_shown(ip)} on {_shown(node)}:{_shown(dev)}"
        n = self._node(node, what)
        if self._iface(n, dev, what) is None:
            raise TopologyError(f"{what}: {quote(dev)} is not an interface of {node}")
        n.neighbours.append((dev, self._check_ip(ip, what), self._check_mac(mac, what, required=True)))

    def add_fdb(self, node: str, dev: str, mac: str, dst: str) -> None:
        """A permanent forwarding entry ``bridge fdb add MAC dev DEV dst IP self permanent``."""
        what = f"fdb entry {_shown(mac)} on {_shown(node)}:{_shown(dev)}"
        n = self._node(node, what)
        if self._iface(n, dev, what) is None:
            raise TopologyError(f"{what}: {quote(dev)} is not an interface of {node}")
        if n.interfaces[dev].kind != "vxlan":
            raise TopologyError(f"{what}: a 'dst' fdb entry needs a vxlan device, and {dev} is a {n.interfaces[dev].kind}")
        n.fdb.append((dev, self._check_mac(mac, what, required=True), self._check_ip(dst, what)))

    def without_link(self, node: str, ifname: str) -> "Topology":
        """A copy with the veth pair at NODE:IFNAME left out (both ends, and the routes and neighbour
        entries that use them): what a lab builds before the learner makes that cable by hand."""
        what = f"leaving out {_shown(node)}:{_shown(ifname)}"
        n = self._node(node, what)
        iface = self._iface(n, ifname, what)
        if iface is None or iface.kind != "veth":
            raise TopologyError(f"{what}: {quote(ifname)} is not one end of a veth pair on {node}")
        ends = {(node, ifname), iface.peer}
        copy = deepcopy(self)
        copy.links = [(a, b) for a, b in copy.links if (a.node, a.ifname) not in ends]
        for n_name, i_name in ends:
            c = copy.nodes[n_name]
            del c.interfaces[i_name]
            nets = list(c.networks())
            c.routes = [r for r in c.routes if r.dev != i_name and not (
                r.dev is None and r.via and not r.onlink
                and not any(ipaddress.ip_address(r.via) in net for net in nets))]
            c.neighbours = [e for e in c.neighbours if e[0] != i_name]
        return copy

    # ------------------------------------------------------------------ views
    def node(self, name: str) -> Node:
        return self._node(name, "lookup")

    def script(self) -> str:
        """The shell commands a world runs to build this topology, one per line, in order.

        ``ip netns add``, ``ip link add ... type veth peer name ... netns ...``, ``ip -n NODE link
        set ... master ...``, addresses, routes, neighbour and FDB entries, ``sysctl -w`` and
        ``iptables`` lines: runnable as they are (``sh -e``) in an empty network namespace, the
        world's top namespace. Rendered from the same build plan the world batches
        (:func:`netlab.engine.build.build_plan`), so it cannot drift from what the engine does.
        """
        return build_script(self)

    def __repr__(self) -> str:
        lines = [f"Topology {self.name!r}: {len(self.nodes)} nodes, {len(self.links)} links"]
        for node in self.nodes.values():
            lines += ["  " + line for line in repr(node).splitlines()]
        return "\n".join(lines)
