"""Follow one packet hop by hop through a lab world, with the kernel's reason for every move.

::

    walk = netlab.trace(w, src="container-1", dst="10.1.16.2", proto="icmp")
    walk            # a table: hop, node, interface, headers, decision
    print(walk.text())
    walk.draw()     # the topology with the path numbered (netlab.walk.draw)

How it works, with nothing guessed:

1. ``iptables-save -c`` in every involved node (the counters before).
2. tcpdump (``world.capture``) on every interface of every involved node.
3. One packet is sent from ``src``: ``ping -c 1`` for ICMP, a few lines of Python for UDP or TCP
   (fixed source port 40000, so the text is the same on every run).
4. The captures are merged by their (nanosecond) timestamps, and the order is then made causal:
   from the node that made the packet, along each cable it left by, by time only within one
   namespace (timestamps of different namespaces can disagree by a few microseconds). A bridge's
   promiscuous copy of a frame it forwards is placed right after the port it came in by.
   The packet is recognised at every
   sighting by its payload (ICMP, UDP) or its sequence number (TCP), also inside a VXLAN or
   Flannel-UDP tunnel, so the inner and outer headers of one sighting are shown together.
5. For each hop the kernel is asked what it decided: ``ip route get DST from SRC iif IIF``,
   ``ip neigh show NEXTHOP dev DEV``, ``bridge fdb show br BR`` (the port),
   ``bridge fdb show dev VXLAN`` (the remote VTEP), and the ``iptables-save -c`` counters after,
   whose difference names the rules the packet hit.

Every kernel read and every capture goes through ``world.run`` / ``world.capture``, so a
walk is in the world's transcript and is re-derived, unchanged, from a recording in replay mode.
"""

from __future__ import annotations

import ipaddress

from .decide import Decider
from .fate import Fate
from .headers import inner_ip
from .links import Links
from .model import Hop, Walk, WalkError
from .observe import classify, sender, watch
from .order import Cables
from .reads import Reads

PROTOS = ("icmp", "udp", "tcp")

# netlab/__init__.py lazily imports Hop, Walk and WalkError from here, with trace, the one function
# that makes them
__all__ = ["PROTOS", "Hop", "Walk", "WalkError", "trace"]


def trace(world, src: str, dst: str, proto: str = "icmp", port: int = 5000, ttl: int | None = None,
          nodes=None, size: int | None = None) -> Walk:
    """Send one packet from node ``src`` to ``dst`` (an IP or a node name) and follow it.

    proto: "icmp" (ping), "udp" or "tcp" (to ``port``, from source port 40000). ``ttl`` sets the
    first TTL (``ping -t``). ``nodes`` limits the captures to these nodes (default: all of them).
    ``size`` is the payload size in bytes (``ping -s``; the UDP payload padded to it), to walk a big packet.
    """
    topo = world.topology
    _check(topo, src, proto, size)
    dst_ip = _resolve_dst(topo, dst)
    nodes = list(nodes) if nodes else list(topo.nodes)
    links = Links(world)
    cables = Cables(links)
    sent, sightings, counters = watch(world, links, nodes, src, sender(proto, dst_ip, port, ttl, size), cables.rank)
    reads = Reads(world, links)
    request, reply, errors = classify(sightings, proto, src, port)
    decider, fate = Decider(reads, links, counters), Fate(reads, links, counters, sent)

    hops = cables.hops(request, src)
    decider.decide(hops, src, request=True)
    walk = Walk(src, dst, proto, hops, *fate.of(hops, dst_ip, src, errors), topology=topo,
                devices=links.made_at_run_time())
    if walk.delivered and hops and not (reply or errors) and proto in ("icmp", "tcp"):
        # an echo request is answered by an echo reply, a SYN by a SYN-ACK or a RST: one was due
        limited = "" if set(nodes) >= set(topo.nodes) else f" (captures ran only in {', '.join(nodes)})"
        walk.no_reply = fate.missing_reply(hops[-1], proto, limited)
    if reply or errors:
        walk.reply = _back(reply or errors, bool(reply), walk, cables, decider, fate)
    return walk


def _back(sightings, is_reply: bool, walk: Walk, cables, decider, fate) -> Walk:
    """The walk of the answer (a reply, or the first ICMP error) from wherever it was made."""
    hops = cables.hops(sightings)
    origin = hops[0].node
    # counters moved by the request are named once, on its walk
    decider.decide(hops, origin, request=False)
    back_ip = inner_ip(sightings[0][3])
    return Walk(origin, walk.src, walk.proto if is_reply else "icmp", hops, *fate.of(hops, back_ip.dst, origin, []),
                topology=walk.topology, kind="reply" if is_reply else "error", devices=walk.devices)


def _check(topo, src, proto, size):
    if src not in topo.nodes:
        raise WalkError(f"source {src!r} is not a node of this world; its nodes are {', '.join(topo.nodes)}")
    if proto not in PROTOS:
        raise WalkError(f"protocol {proto!r} is not one of {', '.join(PROTOS)}")
    if size is not None and (proto == "tcp" or not 0 < int(size) <= 65000):
        raise WalkError(f"size={size!r}: a payload size in bytes (1-65000) for icmp or udp; a TCP SYN carries none")


def _resolve_dst(topo, dst: str) -> str:
    if dst in topo.nodes:
        addrs = [a.split("/")[0] for i in topo.nodes[dst].interfaces.values() for a in i.addresses]
        if not addrs:
            raise WalkError(f"node {dst!r} has no address to send to; give an IP address instead")
        return addrs[0]
    try:
        return str(ipaddress.ip_address(dst))
    except ValueError:
        raise WalkError(f"destination {dst!r} is neither a node of this world ({', '.join(topo.nodes)})"
                        f" nor an IP address") from None
