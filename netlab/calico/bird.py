"""A real BIRD in a world's node, configured as Calico's confd configures calico/node's BIRD.

Calico renders BIRD's configuration from templates (projectcalico/calico
``confd/etc/calico/confd/templates/``): ``bird.cfg.template`` (router id, the kernel, device and
direct protocols, the BGP template and one ``protocol bgp Mesh_<ip>`` per other node),
``bird_aggr.cfg.template`` (``protocol static { route <block> blackhole; }`` and ``calico_aggr``:
export the block, reject everything beneath it) and ``bird_ipam.cfg.template``
(``calico_export_to_bgp_peers``, ``calico_kernel_programming``). :func:`render` writes the same
configuration for one node, with these differences, each said on the page:

- **BIRD 2 syntax.** calico/node ships a fork of BIRD 1.6; Debian's ``bird2`` (2.0) wants the
  routes' family as a channel (``ipv4 { import ...; export ...; }``) inside each protocol.
- **No ``krt_tunnel``.** The fork adds that route attribute so BIRD can program IPIP routes; stock
  BIRD cannot, so here BIRD programs the unencapsulated routes and :mod:`.felix` the tunnel ones.
- **Lab timers.** ``hold time 9; keepalive time 3`` (production: BIRD's defaults, 240 and 80 s,
  which Calico leaves alone) so a stopped node's routes go within seconds; the kernel scan (``scan
  time 2``), ``connect delay time 1``, ``connect retry time 3`` and ``error wait time 5,60`` are
  Calico's own.
- **No graceful restart and no BFD** (Calico: ``graceful restart``, ``graceful restart time 120``,
  ``bfd graceful``): with graceful restart a peer that stops keeps its routes installed as stale for
  up to 120 s, which is what production wants and a lab page does not.

BIRD runs in a node as root of that node's namespace, in the foreground (``-f``, so the world owns
it), with its control socket and pid file under ``/run/calico/<node>/`` (``-s``, ``-P``) because its
default socket lives in ``/run/bird``. ``birdc -s SOCKET`` talks to it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import time
from dataclasses import dataclass

from .. import kernel
from .names import DEFAULT_AS

#: Lab timers and what a production calico/node uses instead (BIRD's defaults; Calico's templates).
LAB_TIMERS = {"hold time": 9, "keepalive time": 3}
PRODUCTION_TIMERS = {"hold time": 240, "keepalive time": 80, "graceful restart time": 120}


class BirdError(RuntimeError):
    """BIRD is missing, refused its configuration, or did not come up; the message says which."""


def require_bird() -> None:
    """Raise, naming the Debian package, when ``bird`` or ``birdc`` is not installed."""
    missing = [b for b in ("bird", "birdc") if shutil.which(b) is None and not _in_sbin(b)]
    if missing:
        raise BirdError(f"{' and '.join(missing)} not found: install the Debian package bird2"
                        f" (apt-get install -y bird2; binder/apt.txt lists it for Binder)")


def _in_sbin(name: str) -> bool:
    """bird lives in /usr/sbin, which an ordinary user's PATH may leave out."""
    return os.path.exists(f"/usr/sbin/{name}")


@dataclass(frozen=True)
class BirdNode:
    """What one node's BIRD configuration needs: its name and IP, its block, the pool, its peers."""

    name: str
    ip: str
    block: str | None
    peers: tuple[str, ...]
    pool: str = "10.244.0.0/16"
    asn: int = DEFAULT_AS
    lab_timers: bool = True
    kernel_export: bool = True  # False: BIRD learns and announces, Felix programs (IPIP pools)

    @property
    def directory(self) -> str:
        return f"/run/calico/{self.name}"

    @property
    def config_path(self) -> str:
        return f"{self.directory}/bird.cfg"

    @property
    def socket(self) -> str:
        return f"{self.directory}/bird.ctl"

    @property
    def pidfile(self) -> str:
        return f"{self.directory}/bird.pid"


def protocol_name(ip: str) -> str:
    """Calico's name for the session to a mesh peer: ``Mesh_`` + the IP with dots as underscores."""
    return "Mesh_" + ip.replace(".", "_")


def render(node: BirdNode) -> str:
    """NODE's bird.cfg (BIRD 2), section for section as Calico's templates lay it out."""
    for ip in (node.ip, *node.peers):
        ipaddress.IPv4Address(ip)
    pool = ipaddress.IPv4Network(node.pool)
    out = [f"# bird.cfg for {node.name}, rendered by netlab.calico.bird after calico's confd templates",
           "# (bird.cfg.template, bird_aggr.cfg.template, bird_ipam.cfg.template), in BIRD 2 syntax.",
           f"router id {node.ip};", ""]
    # bird_aggr.cfg.template: the node's block, as a blackhole, and the filter that exports only it
    out += ["# bird_aggr.cfg: this node's IPAM block, announced whole; nothing beneath it is announced",
            "protocol static {", "  ipv4;"]
    out += [f"  route {node.block} blackhole;"] if node.block else ["  # no block yet"]
    out += ["}", "", "function calico_aggr() {"]
    if node.block:
        out += [f"  if ( net = {node.block} ) then {{ accept; }}", f"  if ( net ~ {node.block} ) then {{ reject; }}"]
    out += ["}", ""]
    # bird_ipam.cfg.template: what goes to the peers, and what goes into the kernel
    out += ["# bird_ipam.cfg: to the peers, only routes inside the pool (after calico_aggr)",
            "filter calico_export_to_bgp_peers {", "  calico_aggr();", f"  if ( net ~ {pool} ) then {{ accept; }}",
            "  reject;", "}", "",
            "filter calico_kernel_programming {"]
    if node.kernel_export:
        out += [f"  if ( net ~ {pool} ) then {{ accept; }}"]
    else:
        out += [f"  # the pool's routes need a tunnel: Felix programs them (tunl0, onlink)",
                f"  if ( net ~ {pool} ) then {{ reject; }}"]
    out += ["  reject;", "}", ""]
    # bird.cfg.template: kernel, device, direct; the BGP template; the mesh
    out += ["protocol kernel {", "  learn;             # Learn all alien routes from the kernel",
            "  persist;           # Don't remove routes on bird shutdown",
            "  scan time 2;       # Scan kernel routing table every 2 seconds",
            "  ipv4 {", "    import all;", "    export filter calico_kernel_programming;", "  };",
            "  merge paths on;    # Allow export multipath routes (ECMP)", "}", "",
            "protocol device {", "  scan time 2;    # Scan interfaces every 2 seconds", "}", "",
            "protocol direct {", "  ipv4;", "  interface -\"cali*\", -\"kube-ipvs*\", \"*\";", "}", "",
            "template bgp bgp_template {", "  description \"Connection to BGP peer\";",
            f"  local as {node.asn};", "  multihop;",
            "  ipv4 {", "    gateway recursive; # This should be the default, but just in case.", "    import all;", "    export filter calico_export_to_bgp_peers;", "    add paths on;", "  };",
            "  connect delay time 1;", "  connect retry time 3;", "  error wait time 5,60;"]
    if node.lab_timers:
        out += [f"  {k} {v};  # lab timer: production {PRODUCTION_TIMERS[k]}" for k, v in LAB_TIMERS.items()]
    out += ["}", "", "# ------------- Node-to-node mesh -------------"]
    for peer in sorted(node.peers, key=lambda p: ipaddress.IPv4Address(p)):
        if peer == node.ip:
            out.append(f"# Skipping ourselves ({node.ip})")
            continue
        out += [f"protocol bgp {protocol_name(peer)} from bgp_template {{",
                f"  neighbor {peer} as {node.asn};",
                f"  source address {node.ip};  # The local address we use for the TCP connection"]
        if ipaddress.IPv4Address(peer) > ipaddress.IPv4Address(node.ip):
            out.append("  passive on; # Mesh is unidirectional, peer will connect to us.")
        out.append("}")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ running it
def write_config(world, node: BirdNode, text: str | None = None, path: str | None = None) -> str:
    """Write NODE's configuration (TEXT, default :func:`render`) to PATH (default: where BIRD reads it)."""
    path = path or node.config_path
    world.run(node.name, ["mkdir", "-p", node.directory])
    world.run(node.name, ["sh", "-c", f"cat > {path}"], input=text if text is not None else render(node))
    return path


def check_config(world, node: BirdNode, path: str | None = None) -> None:
    """``bird -p`` (parse only): raise with BIRD's own message and line when it refuses the file."""
    require_bird()
    path = path or node.config_path
    res = world.run(node.name, ["bird", "-p", "-c", path], check=False)
    if not res.ok:
        said = (res.stderr + res.stdout).strip()
        raise BirdError(f"BIRD refused {path} in {node.name}: {said}")


def running(world, node: BirdNode) -> bool:
    """Does NODE's BIRD answer on its control socket?"""
    return birdc(world, node, "show status", check=False).ok


def start(world, node: BirdNode, text: str | None = None, timeout: float = 10) -> str:
    """Write and check NODE's configuration (TEXT, default :func:`render`), then start ``bird -f`` there
    and wait for its socket; when it already runs, ``birdc configure`` makes it read the new file.

    Returns the background process's name. A configuration BIRD refuses raises :class:`BirdError`
    with BIRD's own message and line, and leaves a running BIRD on its old configuration.
    """
    require_bird()
    name = f"bird-{node.name}"
    if running(world, node):
        write_config(world, node, text)
        check_config(world, node)
        birdc(world, node, "configure")
        return name
    write_config(world, node, text)
    check_config(world, node)
    world.start(node.name, ["bird", "-f", "-c", node.config_path, "-s", node.socket, "-P", node.pidfile], name=name)
    deadline = time.monotonic() + timeout
    while not running(world, node):
        if time.monotonic() > deadline:
            said = world.stop(name)
            raise BirdError(f"BIRD in {node.name} did not answer on {node.socket} within {timeout:g} s; it printed:"
                            f" {(said.stderr + said.stdout).strip() or '(nothing)'}")
        time.sleep(0.05)
    return name


def stop(world, node: BirdNode) -> str:
    """Stop NODE's BIRD (SIGTERM: it closes its sessions with a BGP NOTIFICATION, Cease) and say so; a
    BIRD that is not running is said to be so (a lab cell run before the one that starts it)."""
    if not running(world, node):
        return f"BIRD is not running in {node.name}: nothing to stop (start it first)"
    said = world.stop(f"bird-{node.name}")
    return f"BIRD in {node.name} stopped{': ' + said.stderr.strip() if said.stderr.strip() else ''}"


def birdc(world, node: BirdNode, command: str, check: bool = True):
    """``birdc -s SOCKET COMMAND`` in NODE (``show protocols``, ``show route``, ``show route all``)."""
    return world.run(node.name, ["birdc", "-s", node.socket, *command.split()], check=check)


@dataclass(frozen=True)
class Protocol:
    """One line of ``birdc show protocols``: name, kind, table, state, since, info (``Established``)."""

    name: str
    proto: str
    table: str
    state: str
    info: str = ""


def parse_protocols(text: str) -> list[Protocol]:
    """The protocols table of ``birdc show protocols`` (its header and BIRD's banner skipped)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] in ("BIRD", "Name") or line.startswith(" "):
            continue
        # Name Proto Table State Since Info: Since is one token (a time of day, or what the sanitizer of a
        # recording made of it) or two (a date, then a time, once the protocol is older than a day)
        rest = parts[5:]
        if rest and re.match(r"(\d\d|HH):(\d\d|MM):", rest[0]):
            rest = rest[1:]
        info = " ".join(rest)
        out.append(Protocol(parts[0], parts[1], parts[2], parts[3], info))
    return out


def protocols(world, node: BirdNode) -> list[Protocol]:
    return parse_protocols(birdc(world, node, "show protocols").stdout)


def sessions(world, node: BirdNode) -> dict[str, str]:
    """{peer IP: BGP state} for NODE's mesh sessions (``Established`` when routes can flow)."""
    return {p.name[5:].replace("_", "."): (p.info.split()[0] if p.info else p.state)
            for p in protocols(world, node) if p.proto == "BGP"}


def wait_established(world, nodes: list[BirdNode], timeout: float = 20) -> float:
    """Wait until the sessions between the nodes in NODES are Established; returns the seconds it took.

    Sessions to peers outside NODES (a node whose BIRD has not started yet) are not waited for. One
    node is asked until its sessions are up, then the next: a recording of the run then holds the same
    steps whatever the machine's speed (a repeated command counts once).
    """
    t0 = time.monotonic()
    among = {n.ip for n in nodes}
    for node in nodes:
        while True:
            states = {p: s for p, s in sessions(world, node).items() if p in among}
            if all(s == "Established" for s in states.values()):
                break
            if time.monotonic() - t0 > timeout:
                raise BirdError(f"BGP sessions of {node.name} not all Established after {timeout:g} s: {states}")
            time.sleep(0.1)
    return time.monotonic() - t0


def bird_routes(world, node: str) -> list:
    """NODE's kernel routes installed by BIRD (``ip route show proto bird``), as :class:`netlab.kernel.Route`."""
    return kernel.routes(world, node, "proto bird")


def wait_routes(world, node: str, blocks, present: bool = True, timeout: float = 20) -> float:
    """Wait until NODE's kernel has a ``proto bird`` route to every one of BLOCKS (or none, present=False)."""
    want = {str(ipaddress.IPv4Network(b)) for b in blocks}
    t0 = time.monotonic()
    while True:
        have = {r.dst for r in bird_routes(world, node)}
        if (want <= have) if present else not (want & have):
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise BirdError(f"{node}: routes {sorted(want)} (proto bird) did not {'appear' if present else 'go'}"
                            f" within {timeout:g} s; it has {sorted(have) or 'none'}")
        time.sleep(0.1)
