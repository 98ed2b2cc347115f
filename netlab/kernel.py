"""Read a node's kernel state as data (iproute2's ``-j`` JSON), and check it for labs.

The learner sees the ``ip`` command; checks use its structured output, never
regexes over text. Each reader runs one command through ``world.run``, so it
is shown in transcripts and replays like any other command.
"""

from __future__ import annotations

import json

from .checks.base import Check
from .engine.build import build_script
from .engine.result import CommandError


def _json(world, node, command):
    out = world.run(node, command).stdout.strip()
    return json.loads(out) if out else []


def routes(world, node: str, table: str = "main") -> list[dict]:
    """``ip -j route show table TABLE``: one dict per route (keys dst, gateway, dev, prefsrc, ...)."""
    return _json(world, node, f"ip -j route show table {table}")


def route_get(world, node: str, dst: str) -> dict | None:
    """``ip -j route get DST``: the route the kernel would use, or None if the network is unreachable."""
    res = world.run(node, f"ip -j route get {dst}", check=False)
    if res.returncode != 0:
        if "unreachable" in res.stderr.lower():
            return None
        raise CommandError(res)
    data = json.loads(res.stdout)
    return data[0] if data else None


def neighbours(world, node: str, dev: str | None = None) -> list[dict]:
    """``ip -j neigh show [dev DEV]``: dicts with dst, dev, lladdr and state (a list like ['PERMANENT'])."""
    return _json(world, node, "ip -j neigh show" + (f" dev {dev}" if dev else ""))


def addresses(world, node: str) -> dict[str, list[str]]:
    """``ip -j addr show``: {ifname: ["192.168.0.3/26", ...]} (lo included)."""
    return {link["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])]
            for link in _json(world, node, "ip -j addr show")}


def check_route(world, node: str, dst: str, via: str | None = None, dev: str | None = None) -> Check:
    """Does NODE's kernel route DST (via gateway VIA, out of DEV, when given)?"""
    r = route_get(world, node, dst)
    if r is None:
        return Check(False, f"{node} has no route to {dst} (Network is unreachable); add one, e.g."
                            f" `ip route add default via {via or 'GATEWAY'}`, in {node}")
    got_via, got_dev = r.get("gateway"), r.get("dev")
    if via is not None and got_via != via:
        how = f"via {got_via}" if got_via else "directly (no gateway)"
        return Check(False, f"{node} sends {dst} {how} out of {got_dev}, not via {via}; check `ip route` in {node}"
                            f" for a more specific route that wins")
    if dev is not None and got_dev != dev:
        return Check(False, f"{node} sends {dst} out of {got_dev}, not {dev}; check `ip route` in {node}")
    how = f"via {got_via} " if got_via else ""
    return Check(True, f"{node} reaches {dst} {how}out of {got_dev}")


def check_neighbour(world, node: str, dev: str, ip: str, mac: str) -> Check:
    """Is there a neighbour entry IP -> MAC on NODE's DEV?"""
    for n in neighbours(world, node, dev):
        if n.get("dst") == ip:
            if n.get("lladdr") == mac.lower():
                return Check(True, f"{node} maps {ip} to {mac} on {dev} ({' '.join(n.get('state', []))})")
            return Check(False, f"{node} maps {ip} to {n.get('lladdr')} on {dev}, not {mac}; replace it with"
                                f" `ip neigh replace {ip} lladdr {mac} dev {dev} nud permanent`")
    return Check(False, f"{node} has no neighbour entry for {ip} on {dev}; add it with"
                        f" `ip neigh add {ip} lladdr {mac} dev {dev} nud permanent`")


def check_routers_crossed(world, node: str, dst: str, answer) -> Check:
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


# ---------------------------------------------------------------------------
# Chapter 2 (gateways and routers): default gateways and the path across routers.
# ---------------------------------------------------------------------------

def default_gateways(world, node: str) -> list[str]:
    """``ip -j route show default``: the gateways of NODE's default routes, lowest metric first."""
    found = sorted(_json(world, node, "ip -j route show default"), key=lambda r: r.get("metric", 0))
    return [r["gateway"] for r in found if r.get("gateway")]


def check_default_gateway(world, node: str, gateway: str) -> Check:
    """Is NODE's default route (the one with the lowest metric) via GATEWAY?"""
    gws = default_gateways(world, node)
    if not gws:
        return Check(False, f"{node} has no default route; add one with `ip route add default via {gateway}`"
                            f" in {node}", gateway, None)
    if gws[0] != gateway:
        return Check(False, f"{node}'s default route goes via {gws[0]}, not {gateway}; change it with"
                            f" `ip route replace default via {gateway}` in {node}", gateway, gws[0])
    return Check(True, f"{node}'s default gateway is {gateway}", gateway, gws[0])


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


def check_path(world, node: str, dst: str, hops: list[str]) -> Check:
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


def check_walk(walk, through: list[str] | None = None, delivered: bool = True, reply: bool = True) -> Check:
    """Check a packet walk (:func:`netlab.trace`): delivered (or not), crossing THROUGH in order,
    and answered when REPLY is asked for. The message names the first thing that differs."""
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


def _link(world, node: str, ifname: str) -> dict | None:
    res = world.run(node, f"ip -j -d addr show dev {ifname}", check=False)
    if res.returncode != 0:
        return None
    data = json.loads(res.stdout or "[]")
    return data[0] if data else None


def check_link(world, node: str, ifname: str) -> Check:
    """Is the veth pair the world's topology declares at NODE:IFNAME built as declared?

    Reads both ends from the kernel: a veth in each node, each the other's peer, with the declared
    MAC, MTU, addresses and bridge (master), both up, and the routes the topology gives them. For a
    lab whose learner makes that cable by hand (``World(..., leave_out="node:ifname")``); a ✗ names
    the first thing missing and the command that builds it.
    """
    topo = world.topology
    iface = topo.nodes[node].interfaces.get(ifname) if node in topo.nodes else None
    if iface is None or iface.kind != "veth":
        raise ValueError(f"{node}:{ifname} is not a veth end of topology {topo.name!r}")
    peer = topo.nodes[iface.peer[0]].interfaces[iface.peer[1]]
    script = build_script(topo).splitlines()

    def hint(*words) -> str:
        """The line of the topology's own script that builds it."""
        for line in script:
            if all(w in line.split() for w in words):
                return f"`{line}`"
        return "the commands in `topology.script()`"

    world.settle([iface.node, peer.node])
    ends = {}
    for i in (iface, peer):
        link = _link(world, i.node, i.name)
        if link is None:
            return Check(False, f"{i.node} has no {i.name}: create the pair with"
                                f" {hint('veth', iface.name, peer.name)} (in any node: each `netns` names"
                                f" the namespace its end goes to)")
        kind = link.get("linkinfo", {}).get("info_kind")
        if kind != "veth":
            return Check(False, f"{i.node}'s {i.name} is a {kind or 'plain'} device, not one end of a veth pair;"
                                f" delete it (`ip link del {i.name}`) and create the pair with {hint('veth', iface.name)}")
        ends[i.node, i.name] = link
    a, b = ends[iface.node, iface.name], ends[peer.node, peer.name]
    if a.get("link_index") != b["ifindex"] or b.get("link_index") != a["ifindex"]:
        return Check(False, f"{iface.node}'s {iface.name} and {peer.node}'s {peer.name} are not the two ends of"
                            f" one pair; delete both and create them together with {hint('veth', iface.name)}")
    for i in (iface, peer):
        link = ends[i.node, i.name]
        where = f"{i.node}'s {i.name}"
        if i.mac and link.get("address") != i.mac:
            return Check(False, f"{where} has MAC {link.get('address')}, not {i.mac}: set it with"
                                f" `ip link set dev {i.name} address {i.mac}` in {i.node}")
        if i.mtu and link.get("mtu") != i.mtu:
            return Check(False, f"{where} has MTU {link.get('mtu')}, not {i.mtu}: `ip link set dev {i.name} mtu {i.mtu}`"
                                f" in {i.node}")
        if link.get("master") != i.master:
            fix = (f"`ip link set dev {i.name} master {i.master}`" if i.master
                   else f"`ip link set dev {i.name} nomaster`")
            if not link.get("master"):
                why = f"is not a port of {i.master}"
            elif i.master:
                why = f"is a port of {link['master']}, not of {i.master}"
            else:
                why = f"is a port of {link['master']} and should be in no bridge"
            return Check(False, f"{where} {why}: {fix} in {i.node}")
        have = {f"{x['local']}/{x['prefixlen']}" for x in link.get("addr_info", [])}
        for address in i.addresses:
            if address not in have:
                return Check(False, f"{where} lacks {address}: `ip addr add {address} dev {i.name}` in {i.node}")
        if "UP" not in link.get("flags", []):
            return Check(False, f"{where} is down: `ip link set dev {i.name} up` in {i.node}")
    for i in (iface, peer):
        present = routes(world, i.node)
        for r in topo.nodes[i.node].routes:
            if r.dev == i.name and not any(x.get("dst") == r.dst and x.get("gateway") == r.via
                                           and x.get("dev") == i.name for x in present):
                return Check(False, f"{i.node} lacks its route to {r.dst}: `ip route add {r.ip_args()}` in {i.node}")
    return Check(True, f"{iface.node}:{iface.name} and {peer.node}:{peer.name} are the two ends of one veth pair,"
                       f" up, with the addresses, MACs and bridge the topology declares")
