"""Lab checks of a node's network state: links, routes, neighbours, FDB entries, gateways, paths
and packet walks. Each reads the kernel (:mod:`netlab.kernel`) and says ✓ or ✗ in one sentence
that names the first thing wrong (the lab checks: what the kernel shows and what was expected,
with the chapter section that explains it, never the command that fixes it).

One vocabulary: ``check_<thing>(world, node, *, ...)`` returns a :class:`~.base.Check`.
Two questions about routes get two names: :func:`check_route` asks the kernel which route it
would use (``ip route get``), :func:`check_route_entry` looks for one entry in the table.
"""

from __future__ import annotations

import ipaddress

from .. import kernel
from ..engine.result import CommandError
from .base import Check


def _see(see: str | None) -> str:
    """The chapter section that explains it, appended to a failing message."""
    return f" (see {see})" if see else ""


def check_route(world, node: str, *, dst: str, via: str | None = None, dev: str | None = None,
                see: str | None = None) -> Check:
    """Does NODE's kernel route DST (via gateway VIA, out of DEV, when given)? Asks ``ip route get``.

    A failure says what the kernel chose and what was expected, never the command that fixes it.
    """
    want = f"via {via}" if via else (f"out of {dev}" if dev else "a route")
    r = kernel.route_get(world, node, dst)
    if r is None:
        return Check(False, f"{node}'s kernel answers 'Network is unreachable' for {dst}: no route in its table"
                            f" matches it; expected {want}{_see(see)}", via, None)
    if via is not None and r.gateway != via:
        how = f"via {r.gateway}" if r.gateway else "directly (no gateway)"
        return Check(False, f"{node} sends {dst} {how} out of {r.dev}, expected via {via}; of the routes that"
                            f" match, the kernel takes the longest prefix, then the lowest metric: read"
                            f" `ip route` in {node}{_see(see)}", via, r.gateway)
    if dev is not None and r.dev != dev:
        return Check(False, f"{node} sends {dst} out of {r.dev}, expected out of {dev}{_see(see)}", dev, r.dev)
    how = f"via {r.gateway} " if r.gateway else ""
    return Check(True, f"{node} reaches {dst} {how}out of {r.dev}")


def check_route_error(world, node: str, *, dst: str, answer, see: str | None = None) -> Check:
    """Does ANSWER hold the error NODE's kernel gives for ``ip route get DST`` (or say it has none)?"""
    res = world.run(node, f"ip route get {dst}", check=False)
    error = res.stderr.strip().removeprefix("RTNETLINK answers: ") if res.returncode else ""
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, f"give the kernel's answer as a string (the line `ip route get {dst}` prints"
                            f" in {node}), not {answer!r}", error, answer)
    if not error:
        return Check(False, f"{node}'s kernel has a route to {dst} now, so `ip route get` gives no error;"
                            f" this step expects the table before any change{_see(see)}", error, answer)
    if error.lower() in answer.lower():
        return Check(True, f"{node}'s kernel answers '{error}' for {dst}: no route matches it", error, answer)
    return Check(False, f"{answer!r} is not what {node}'s kernel answers for {dst}: run `ip route get {dst}`"
                        f" in {node} and copy its error{_see(see)}", error, answer)


def check_renumbered(world, node: str, *, peer: str, dev: str, address, see: str | None = None) -> Check:
    """Did PEER get ADDRESS on DEV, inside NODE's subnet on DEV, so that NODE reaches it directly?

    Reads both kernels: PEER's DEV holds exactly ADDRESS (in NODE's prefix), NODE's table has no
    route besides its connected ones and no hand-made (PERMANENT) neighbour entry, and a ping from
    NODE to ADDRESS is answered, by PEER's own MAC address.
    """
    def v4(n):
        return [ipaddress.IPv4Interface(a) for a in kernel.addresses(world, n).get(dev, []) if ":" not in a]

    mine, theirs = v4(node), v4(peer)
    if not isinstance(address, str) or not address:
        return Check(False, f"give {peer}'s new address as a string, such as \"192.168.0.10\", not {address!r}")
    if not mine:
        return Check(False, f"{node} has no IPv4 address on {dev}; the cable of the step before comes first")
    net = mine[0].network
    shown = ", ".join(str(i) for i in theirs) or "no address"
    if [str(i.ip) for i in theirs] != [address]:
        return Check(False, f"{peer}'s {dev} holds {shown}; expected {address} alone{_see(see)}",
                     address, shown)
    if theirs[0].network != net:
        return Check(False, f"{peer}'s {dev} holds {theirs[0]}, outside {node}'s {net}: the two would still"
                            f" need a router{_see(see)}", str(net), str(theirs[0]))
    if theirs[0].ip == mine[0].ip or theirs[0].ip in (net.network_address, net.broadcast_address):
        return Check(False, f"{address} is {node}'s own address or not a host of {net}{_see(see)}",
                     str(net), address)
    extra = [r for r in kernel.routes(world, node) if r.scope != "link" or r.dst != str(net)]
    if extra:
        r = extra[0]
        return Check(False, f"{node} has the route `{r.dst}{' via ' + r.gateway if r.gateway else ''}"
                            f" dev {r.dev}` besides its connected {net}; the task allows no added"
                            f" route{_see(see)}", "connected only", r.dst)
    permanent = [n for n in kernel.neighbours(world, node, dev) if "PERMANENT" in n.state]
    if permanent:
        return Check(False, f"{node} has a hand-made neighbour entry for {permanent[0].dst}"
                            f" ({permanent[0].lladdr}, PERMANENT); the kernel must learn it by ARP{_see(see)}",
                     "learned", "PERMANENT")
    ping = world.run(node, f"ping -c 1 -W 1 {address}", check=False)
    if " 1 received" not in ping.stdout:
        return Check(False, f"{node} pinged {address} and got no reply (100% packet loss){_see(see)}",
                     "reply", None)
    return Check(True, f"{peer} is {theirs[0]} in {node}'s {net}, and {node} reaches it on-link: the ping"
                       f" was answered", address, address)


def _on_device(read, world, node: str, dev: str, see: str | None):
    """READ()'s entries on DEV, or a ✗ Check when NODE has no DEV (the reader stops on "Cannot find
    device": a lab's check run before the device exists says so in one sentence)."""
    try:
        return read()
    except CommandError:
        if kernel.link(world, node, f"dev {dev}") is not None:
            raise
        return Check(False, f"{node} has no device {dev} yet, so it has no entry on it either; the device"
                            f" comes first{_see(see)}", dev, None)


def check_route_entry(world, node: str, *, subnet: str, gateway: str, dev: str, see: str | None = None) -> Check:
    """Is there the entry ``SUBNET via GATEWAY dev DEV onlink`` in NODE's table (``ip route show dev DEV``)?

    ``onlink``: the gateway is reached on DEV without a connected route to it (a VXLAN device's
    /32 address has none).
    """
    want = str(ipaddress.IPv4Network(subnet))
    routes = _on_device(lambda: kernel.routes(world, node, f"dev {dev}"), world, node, dev, see)
    if isinstance(routes, Check):
        return routes
    for r in routes:
        if r.dst == want:
            if r.gateway != gateway:
                how = f"via {r.gateway}" if r.gateway else "directly (no gateway)"
                return Check(False, f"{node} routes {subnet} {how} on {dev}, expected via {gateway}{_see(see)}",
                             gateway, r.gateway)
            if "onlink" not in r.flags:
                return Check(False, f"{node} routes {subnet} via {gateway} on {dev} without the onlink flag;"
                                    f" expected onlink: {dev} has no connected route to {gateway}{_see(see)}")
            return Check(True, f"{node} routes {subnet} via {gateway} dev {dev} onlink")
    shown = ", ".join(r.dst for r in routes) or "none"
    return Check(False, f"{node} has no route to {subnet} on {dev} (its routes there: {shown}); expected"
                        f" {subnet} via {gateway} onlink{_see(see)}", want, shown)


def check_neighbour(world, node: str, *, ip: str, mac: str, dev: str, permanent: bool = False,
                    see: str | None = None) -> Check:
    """Is there a neighbour entry IP -> MAC on NODE's DEV (a PERMANENT one, with ``permanent``)?"""
    entries = _on_device(lambda: kernel.neighbours(world, node, dev), world, node, dev, see)
    if isinstance(entries, Check):
        return entries
    for n in entries:
        if n.dst == ip:
            if n.lladdr != mac.lower():
                return Check(False, f"{node} maps {ip} to {n.lladdr} on {dev}; expected {mac}{_see(see)}",
                             mac, n.lladdr)
            if permanent and "PERMANENT" not in n.state:
                return Check(False, f"{node} maps {ip} to {mac} on {dev} as {' '.join(n.state) or 'no state'};"
                                    f" expected a PERMANENT entry, which no ARP reply can change{_see(see)}")
            return Check(True, f"{node} maps {ip} to {mac} on {dev} ({' '.join(n.state)})")
    shown = ", ".join(f"{n.dst} -> {n.lladdr}" for n in entries) or "none"
    return Check(False, f"{node} has no neighbour entry for {ip} on {dev} (its entries there: {shown});"
                        f" expected {ip} -> {mac}{_see(see)}", mac, None)


def check_fdb(world, node: str, *, mac: str, bridge: str | None = None, port: str | None = None,
              dev: str | None = None, dst: str | None = None, see: str | None = None) -> Check:
    """A forwarding-database entry for MAC, one of two kinds:

    - ``bridge=, port=``: has BRIDGE learned MAC on PORT (a dynamic entry, from traffic)?
    - ``dev=, dst=``: does the VXLAN device DEV send frames for MAC to DST (``self permanent``)?
    """
    if (bridge is None) == (dev is None) or (bridge is not None and port is None) or (dev is not None and dst is None):
        raise ValueError("check_fdb takes bridge= and port= (a learned entry) or dev= and dst= (a VXLAN remote)")
    match = f"br {bridge}" if bridge is not None else f"dev {dev}"
    entries = _on_device(lambda: kernel.fdb(world, node, match), world, node, bridge or dev, see)
    if isinstance(entries, Check):
        return entries
    if bridge is not None:
        return _learned(entries, node, bridge, mac.lower(), port, see)
    return _remote(entries, node, dev, mac, dst, see)


def _learned(entries, node: str, bridge: str, mac: str, port: str, see: str | None) -> Check:
    for e in entries:
        if e.learned and e.mac == mac:
            if e.ifname == port:
                return Check(True, f"{bridge} on {node} has learned {mac} on port {port}")
            return Check(False, f"{bridge} learned {mac} on {e.ifname}; expected on {port}{_see(see)}")
    return Check(False, f"{bridge} on {node} has not learned {mac}; a bridge learns a MAC address from a frame"
                        f" it carries: send traffic from it (e.g. a ping) first{_see(see)}")


def _remote(entries, node: str, dev: str, mac: str, dst: str, see: str | None) -> Check:
    for e in entries:
        if e.mac == mac.lower():
            if e.dst != dst:
                return Check(False, f"{dev} in {node} sends {mac} to {e.dst}; expected {dst}{_see(see)}", dst, e.dst)
            if e.state != "permanent":
                return Check(False, f"{dev} in {node} has {mac} -> {dst} but not permanent; expected a permanent"
                                    f" entry{_see(see)}")
            return Check(True, f"{dev} in {node} sends frames for {mac} to {dst} (self permanent)")
    shown = ", ".join(f"{e.mac} -> {e.dst}" for e in entries if e.dst) or "none"
    return Check(False, f"{dev} in {node} has no FDB entry for {mac} (its remote entries: {shown}); expected"
                        f" {mac} -> {dst}{_see(see)}", dst, None)


def check_ping(world, node: str, *, dst: str, see: str | None = None) -> Check:
    """Does one ping from NODE to DST come back? (``ping -c 1 -W 1``: a check, not a command that stops the cell.)"""
    res = world.run(node, f"ping -c 1 -W 1 {dst}", check=False)
    if " 1 received" in res.stdout:
        ttl = res.stdout.split("ttl=")[1].split()[0] if "ttl=" in res.stdout else "?"
        return Check(True, f"{node} pings {dst}: the reply came back (ttl={ttl})")
    why = (res.stderr or res.stdout).strip().splitlines()
    said = f"ping said '{why[-1].removeprefix('ping: ')}'" if res.stderr.strip() else "100% packet loss"
    return Check(False, f"{node} sent a ping to {dst} and got no reply ({said}); expected the reply back{_see(see)}",
                 "reply", None)


def check_route_choice(world, node: str, *, dst: str, answer, see: str | None = None) -> Check:
    """Is ANSWER the destination prefix of the table entry NODE's kernel uses for DST?

    The entry is the longest prefix among the main table's routes that contain DST (then the lowest
    metric), confirmed against ``ip route get``'s device.
    """
    address = ipaddress.IPv4Address(dst)
    table = [r for r in kernel.routes(world, node) if r.dst == "default" or address in ipaddress.IPv4Network(r.dst)]
    if not table:
        return Check(False, f"{node}'s table has no route for {dst}, so there is no entry to name{_see(see)}")
    best = max(table, key=lambda r: (0 if r.dst == "default" else ipaddress.IPv4Network(r.dst).prefixlen, -r.metric))
    got = kernel.route_get(world, node, dst)
    if got is not None and got.dev != best.dev:
        best = next((r for r in table if r.dev == got.dev), best)
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, f"give the entry's destination as a string, such as \"10.0.0.0/8\" or \"default\","
                            f" not {answer!r}", best.dst, answer)
    given = answer.strip().split()[0]
    try:
        same = given == best.dst or (given != "default" and best.dst != "default"
                                     and ipaddress.IPv4Network(given) == ipaddress.IPv4Network(best.dst))
    except ValueError:
        return Check(False, f"{answer!r} is not a destination as `ip route` prints it (a prefix such as"
                            f" 10.0.0.0/8, or default)", best.dst, answer)
    if same:
        return Check(True, f"{node} sends {dst} by its entry {best.dst} dev {best.dev}: of the entries that"
                           f" contain {dst}, the longest prefix", best.dst, given)
    matching = given in [r.dst for r in table]
    why = (f"{given} contains {dst} but another entry of {node}'s table is more specific" if matching else
           f"{given} is not an entry of {node}'s table that contains {dst}")
    return Check(False, f"{why}; expected the one the kernel takes: the longest prefix that contains"
                        f" {dst}{_see(see)}", best.dst, given)


def check_default_gateway(world, node: str, *, gateway: str, metric: int | None = None,
                          see: str | None = None) -> Check:
    """Is NODE's default route (the one with the lowest metric) via GATEWAY, with METRIC when given?"""
    found = sorted((r for r in kernel.routes(world, node, "default") if r.gateway), key=lambda r: r.metric)
    if not found:
        return Check(False, f"{node}'s table has no default route; expected one via {gateway}{_see(see)}",
                     gateway, None)
    if found[0].gateway != gateway:
        return Check(False, f"{node}'s default route goes via {found[0].gateway} (metric {found[0].metric}),"
                            f" expected via {gateway}{_see(see)}", gateway, found[0].gateway)
    if metric is not None and found[0].metric != metric:
        return Check(False, f"{node}'s default route via {gateway} has metric {found[0].metric}, expected"
                            f" metric {metric}{_see(see)}", metric, found[0].metric)
    shown = f" (metric {metric})" if metric is not None else ""
    return Check(True, f"{node}'s default gateway is {gateway}{shown}", gateway, found[0].gateway)


def check_routers_crossed(world, node: str, *, dst: str, answer) -> Check:
    """Ping DST from NODE and compare ANSWER with the routers the reply crossed (64 minus its TTL).

    Linux and macOS send with TTL 64 and each router lowers it by one, so a reply arriving with
    ttl=63 crossed one router; the seed's ttl=60 means four.
    """
    reply = world.run(node, f"ping -c 1 -W 1 {dst}", check=False)
    if "ttl=" not in reply.stdout:
        return Check(False, f"no reply from {dst} to count routers with; make `ping {dst}` work in {node} first")
    ttl = int(reply.stdout.split("ttl=")[1].split()[0])
    crossed = 64 - ttl
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return Check(False, f"give the number of routers as a whole number, not {answer!r}", crossed, answer)
    if given == crossed:
        return Check(True, f"the reply arrived with ttl={ttl}: 64 - {ttl} = {crossed} router(s)", crossed, given)
    return Check(False, f"the reply arrived with ttl={ttl}; it started at 64 and each router lowers it by one",
                 crossed, given)


def trace_hops(world, node: str, dst: str, max_hops: int = 8) -> list[str | None]:
    """``traceroute -n -q 1 -N 1 -w 1 -m MAX DST`` from NODE: the address that answered at each
    hop, ``None`` where nothing did (``*``), stopping at DST."""
    out = world.run(node, f"traceroute -n -q 1 -N 1 -w 1 -m {max_hops} {dst}", check=False).stdout
    hops: list[str | None] = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            continue
        hops.append(None if parts[1] == "*" else parts[1])
        if parts[1] == dst:
            break
    return hops


def check_path(world, node: str, *, dst: str, hops: list[str]) -> Check:
    """Does traceroute from NODE reach DST through exactly HOPS (the routers' addresses, then DST)?"""
    got = trace_hops(world, node, dst, max_hops=len(hops) + 2)
    shown = " -> ".join(h or "*" for h in got) or "nothing"
    if got == list(hops):
        return Check(True, f"{node} reaches {dst} in {len(hops)} hops: {shown}", hops, got)
    for i, (want, have) in enumerate(zip(hops, got), start=1):
        if want != have:
            where = f"hop {i} answered {have}" if have else f"nothing answered at hop {i}"
            return Check(False, f"traceroute from {node}: {shown}; {where}, expected {want}: read the routing"
                                f" table of the last router that answered, and of the next one", hops, got)
    return Check(False, f"traceroute from {node}: {shown}; expected {' -> '.join(hops)}", hops, got)


def check_walk(walk, *, through: list[str] | None = None, delivered: bool = True, reply: bool = True) -> Check:
    """Check a packet walk (:func:`netlab.trace`): delivered (or not), crossing THROUGH in order,
    and answered when REPLY is asked for. The message names the first thing that differs.

    The one check that takes no world: the walk already holds what the kernel did.
    """
    seen = []
    for hop in walk.hops:
        if not seen or seen[-1] != hop.node:
            seen.append(hop.node)
    if walk.delivered != delivered:
        if delivered:
            return Check(False, f"the packet from {walk.src} to {walk.dst} died at {walk.dropped_at}: {walk.reason}",
                         "delivered", walk.dropped_at)
        return Check(False, f"the packet from {walk.src} to {walk.dst} was delivered; it should not be",
                     "dropped", "delivered")
    if through:
        position = 0
        for node in seen:
            if position < len(through) and node == through[position]:
                position += 1
        if position < len(through):
            return Check(False, f"the packet crossed {' -> '.join(seen)}, never reaching {through[position]}"
                                f" in the expected order {' -> '.join(through)}", through, seen)
    if delivered and reply and (walk.reply is None or not walk.reply.delivered):
        why = walk.reply.reason if walk.reply is not None else (walk.no_reply or "no reply was seen")
        return Check(False, f"the packet reached {walk.dst} but the answer did not come back ({why})",
                     "reply", None)
    path = " -> ".join(seen) or walk.src
    verdict = "delivered" if delivered else f"dropped at {walk.dropped_at} as expected ({walk.reason})"
    return Check(True, f"{walk.proto} {walk.src} -> {walk.dst}: {path}, {verdict}", through, seen)


def check_link(world, node: str, *, dev: str, see: str | None = None) -> Check:
    """Is the veth pair the world's topology declares at NODE:DEV built as declared?

    Reads both ends from the kernel: a veth in each node, each the other's peer, with the declared
    MAC, MTU, addresses and bridge (master), both up, and the routes the topology gives them. For a
    lab whose learner makes that cable by hand (``World(..., leave_out="node:ifname")``); a ✗ names
    the first thing missing, what the kernel shows and what the topology expects (never the command
    that builds it: the lab's text and the chapter section SEE explain that).
    """
    topo = world.topology
    iface = topo.nodes[node].interfaces.get(dev) if node in topo.nodes else None
    if iface is None or iface.kind != "veth":
        raise ValueError(f"{node}:{dev} is not a veth end of topology {topo.name!r}")
    peer = topo.nodes[iface.peer[0]].interfaces[iface.peer[1]]
    world.settle([iface.node, peer.node])
    ends = {}
    for i in (iface, peer):
        found = kernel.link(world, i.node, f"dev {i.name}", details=True, addresses=True)
        if found is None:
            other = peer if i is iface else iface
            return Check(False, f"{i.node} has no {i.name}: expected one end of a veth pair (Veth Pair) whose"
                                f" other end is {other.node}'s {other.name}{_see(see)}", i.name, None)
        if found.kind != "veth":
            return Check(False, f"{i.node}'s {i.name} is a {found.kind or 'plain'} device; expected one end of"
                                f" a veth pair{_see(see)}", "veth", found.kind)
        ends[i.node, i.name] = found
    a, b = ends[iface.node, iface.name], ends[peer.node, peer.name]
    if a.peer_index != b.ifindex or b.peer_index != a.ifindex:
        return Check(False, f"{iface.node}'s {iface.name} and {peer.node}'s {peer.name} are each one end of a"
                            f" different pair; expected the two ends of one pair{_see(see)}")
    for i in (iface, peer):
        wrong = _declared_end(i, ends[i.node, i.name])
        if wrong:
            return Check(False, wrong + _see(see))
    for i in (iface, peer):
        present = kernel.routes(world, i.node)
        for r in topo.nodes[i.node].routes:
            if r.dev == i.name and not any(x.dst == r.dst and x.gateway == r.via and x.dev == i.name
                                           for x in present):
                return Check(False, f"{i.node} has no route to {r.dst} on {i.name}; expected"
                                    f" `{r.dst}{' via ' + r.via if r.via else ''}`{_see(see)}")
    return Check(True, f"{iface.node}:{iface.name} and {peer.node}:{peer.name} are the two ends of one veth pair,"
                       f" up, with the addresses, MACs and bridge the topology declares")


def _declared_end(i, link: kernel.Link) -> str | None:
    """What differs between the declared end I and the kernel's LINK, as kernel-shows/expected; None when nothing does."""
    where = f"{i.node}'s {i.name}"
    if i.mac and link.mac != i.mac:
        return f"{where} has MAC {link.mac}; expected {i.mac}"
    if i.mtu and link.mtu != i.mtu:
        return f"{where} has MTU {link.mtu}; expected {i.mtu}"
    if link.master != i.master:
        if not link.master:
            return f"{where} is in no bridge; expected it to be a port of {i.master}"
        if i.master:
            return f"{where} is a port of {link.master}; expected a port of {i.master}"
        return f"{where} is a port of {link.master}; expected it in no bridge"
    have = {str(x) for x in link.addresses}
    for address in i.addresses:
        if address not in have:
            shown = ", ".join(sorted(a for a in have if ":" not in a)) or "no address"
            return f"{where} has {shown}; expected {address}"
    if not link.up:
        return f"{where} is down; expected it up"
    return None
