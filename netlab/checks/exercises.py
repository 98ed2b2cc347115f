"""Checks for the chapters' exercises (issue 15, point 4): each runs beside an exercise's dropdown
answer, computes the right result with the same netlab code the chapter teaches (CIDR arithmetic,
the kernel's route choice, Docker's MAC rule), and says ✓ or ✗ with a sentence that points the way
without giving the answer. Bad input (empty, a typo) gets a sentence, never a traceback.

The CIDR answers reuse :mod:`.answers` (``check_network``, ``check_broadcast``, ``check_host_range``,
``check_supernet``); this module holds the ones those do not cover.
"""

from __future__ import annotations

import ipaddress

from ..calc.cidr import CidrError, split
from ..calc.route_lookup import lookup
from ..docker.bridge import container_mac
from ..packets.flannel import ENCAP_OVERHEAD as UDP_OVERHEAD
from ..packets.vxlan import VXLAN_OVERHEAD
from .base import Check

#: The initial TTLs operating systems use (Linux and macOS 64, Windows 128, network gear 255).
INITIAL_TTLS = (64, 128, 255)


def _number(answer, what: str):
    """ANSWER as an int, or a ✗ Check saying what to write."""
    if isinstance(answer, bool):
        return None, Check(False, f"give {what} as a whole number, not {answer!r}", given=answer)
    try:
        return int(str(answer).strip().lstrip("/")), None
    except (TypeError, ValueError):
        return None, Check(False, f"No answer yet or not a number: give {what} as a whole number, not {answer!r}",
                           given=answer)


def check_subnet_count(prefix: str, new_prefix: int, answer) -> Check:
    """Is ANSWER the number of /NEW_PREFIX subnets PREFIX holds?"""
    want = split(prefix, new_prefix=new_prefix, limit=1).num_subnets
    given, bad = _number(answer, "the number of subnets")
    if bad is not None:
        return bad
    if given == want:
        return Check(True, f"Right: {prefix} holds {want} /{new_prefix}s, 2 to the power of the bits between"
                           f" the two prefixes", want, given)
    return Check(False, f"{given} is not it: count the bits between /{ipaddress.ip_network(prefix).prefixlen} and"
                        f" /{new_prefix}; each one doubles the number of subnets", want, given)


def check_nth_subnet(prefix: str, new_prefix: int, n: int, answer) -> Check:
    """Is ANSWER the Nth (counting from 1) /NEW_PREFIX subnet of PREFIX?"""
    subnets = split(prefix, new_prefix=new_prefix, limit=n).subnets
    want = str(subnets[n - 1])
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, f"No answer yet: write the subnet as a prefix such as {prefix}", want, answer)
    try:
        given = ipaddress.ip_network(answer.strip(), strict=False)
    except ValueError:
        return Check(False, f"Couldn't read {answer!r} as a prefix such as {prefix}", want, answer)
    if str(given) == want:
        return Check(True, f"Right: {want} is subnet number {n} of {prefix}", want, answer)
    if given.prefixlen != new_prefix:
        return Check(False, f"{given} is a /{given.prefixlen}; the subnets here are /{new_prefix}s", want, answer)
    if str(given) in [str(s) for s in subnets]:
        return Check(False, f"{given} is subnet number {[str(s) for s in subnets].index(str(given)) + 1}; count"
                            f" from the first, {subnets[0]}, as number 1", want, answer)
    return Check(False, f"{given} is not one of the first {n} subnets of {prefix}: the first is {subnets[0]},"
                        f" and each next one starts where the last ended", want, answer)


def check_shared_prefix(a: str, b: str, answer) -> Check:
    """Is ANSWER the longest prefix length that puts addresses A and B on one network?"""
    x, y = int(ipaddress.IPv4Address(a)), int(ipaddress.IPv4Address(b))
    want = 32 - (x ^ y).bit_length()
    given, bad = _number(answer, "the prefix length")
    if bad is not None:
        return bad
    if given == want:
        return Check(True, f"Right: {a} and {b} share their first {want} bits, so /{want} (or shorter) puts"
                           f" them on one network", want, given)
    if 0 <= given < want:
        return Check(False, f"/{given} does put them on one network, but a longer prefix still does: find the"
                            f" first bit where the two addresses differ", want, given)
    return Check(False, f"/{given} puts {a} and {b} on two networks: write both in binary and find the first bit"
                        f" where they differ", want, given)


def check_next_hop(table, destination: str, answer) -> Check:
    """Is ANSWER where a packet for DESTINATION goes by TABLE (a parsed table or its text): the
    gateway, or DESTINATION itself when the chosen route is on-link?"""
    found = lookup(table, destination)
    want = found.next_hop
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, f"No answer yet: write the next hop's address for {destination}", want, answer)
    given = answer.strip()
    if given == want:
        how = "the destination itself: the chosen route is on-link" if want == destination else "the chosen route's gateway"
        return Check(True, f"Right: {destination} goes to {want}, {how}", want, given)
    return Check(False, f"{given} is not where {destination} goes: list every route whose destination contains it,"
                        f" take the longest prefix, then see whether that route has a gateway or is on-link"
                        f" (section 2.3)", want, given)


def check_routers_from_ttl(ttl: int, answer) -> Check:
    """Is ANSWER the number of routers a reply that arrived with TTL crossed? The sender started at the
    nearest initial TTL at or above it (64, 128 or 255)."""
    start = min(t for t in INITIAL_TTLS if t >= ttl)
    want = start - ttl
    given, bad = _number(answer, "the number of routers")
    if bad is not None:
        return bad
    if given == want:
        return Check(True, f"Right: ttl={ttl} most likely started at {start}; {start} - {ttl} = {want}", want, given)
    return Check(False, f"{given} is not it: which initial TTL (64, 128 or 255) is the nearest at or above {ttl},"
                        f" and how many times was it lowered by one? (section 2.7)", want, given)


def check_container_mac(ip: str, answer) -> Check:
    """Is ANSWER the MAC Docker gives a container with address IP (02:42 + the address's four bytes)?"""
    want = container_mac(ip)
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, f"No answer yet: write the MAC as six hex bytes, such as 02:42:00:00:00:00", want, answer)
    given = answer.strip().lower().replace("-", ":")
    if given == want:
        return Check(True, f"Right: 02:42 followed by {ip}'s four bytes in hex", want, answer)
    return Check(False, f"{answer} is not it: Docker's MAC is 02:42 followed by the container address's four bytes,"
                        f" each in hex (section 3.2)", want, answer)


def check_return_route(answer, *, container: str = "172.17.0.2", host: str = "10.168.0.2") -> Check:
    """Does the route ANSWER (``ip route`` form: ``DST via GATEWAY``) send replies for CONTAINER back
    to the Docker host HOST? The gateway must be the host's LAN address, the destination hold the
    container's address."""
    if not isinstance(answer, str) or not answer.strip():
        return Check(False, "No answer yet: write the route as `ip route` prints one, DESTINATION via GATEWAY")
    words = answer.replace("ip route add", " ").replace("ip route replace", " ").split()
    if "via" not in words or words.index("via") == 0 or words.index("via") + 1 >= len(words):
        return Check(False, f"Couldn't read {answer!r} as DESTINATION via GATEWAY", given=answer)
    dst, gateway = words[0], words[words.index("via") + 1]
    try:
        net = ipaddress.ip_network(dst, strict=False)
        ipaddress.ip_address(gateway)
    except ValueError:
        return Check(False, f"Couldn't read {dst!r} as a prefix and {gateway!r} as an address", given=answer)
    if ipaddress.ip_address(container) not in net:
        return Check(False, f"{net} does not hold the container's address {container}, so node2 would still send"
                            f" the reply to its default gateway", given=answer)
    if gateway != host:
        return Check(False, f"{gateway} is not the Docker host's address on the LAN: which machine knows the way"
                            f" to 172.17.0.0/16?", given=answer)
    return Check(True, f"Right: node2 sends replies for {net} to {host}, the Docker host, which delivers them"
                       f" through docker0", given=answer)


#: What each flannel backend's encapsulation adds to a packet (the outer headers), in bytes.
OVERHEADS = {"udp": UDP_OVERHEAD, "vxlan": VXLAN_OVERHEAD}
#: The order flanneld's VXLAN backend writes a peer's entries (flannel ``backend/vxlan/vxlan_network.go``:
#: neighbour, then FDB, then route), so no packet meets the route before the entries it needs.
VXLAN_ENTRY_ORDER = ("neigh", "fdb", "route")


def check_tunnel_mtu(lan_mtu: int, answer, *, backend: str = "udp") -> Check:
    """Is ANSWER the MTU flanneld's BACKEND gives its device on a LAN of LAN_MTU (the LAN's MTU minus
    the outer headers)?"""
    want = lan_mtu - OVERHEADS[backend]
    given, bad = _number(answer, "the MTU")
    if bad is not None:
        return bad
    if given == want:
        return Check(True, f"Right: {lan_mtu} minus the {OVERHEADS[backend]} bytes of the {backend} backend's outer"
                           f" headers", want, given)
    return Check(False, f"{given} is not it: the device's MTU is what is left of the LAN's {lan_mtu} bytes once"
                        f" the outer headers the {backend} backend adds are counted", want, given)


def check_entry_order(answer) -> Check:
    """Is ANSWER (three words: neigh, fdb, route) the order flanneld's VXLAN backend writes a peer's entries?"""
    words = [w.strip().lower() for w in (answer.replace(",", " ").split() if isinstance(answer, str) else answer or [])
             if isinstance(w, str)] if isinstance(answer, (str, list, tuple)) else []
    if sorted(words) != sorted(VXLAN_ENTRY_ORDER):
        return Check(False, "No answer yet or not the three entries: write neigh, fdb and route in some order,"
                            f" not {answer!r}", VXLAN_ENTRY_ORDER, answer)
    if tuple(words) == VXLAN_ENTRY_ORDER:
        return Check(True, "Right: the neighbour and FDB entries first, the route last, so a packet that takes the"
                           " route finds both", VXLAN_ENTRY_ORDER, answer)
    if words[-1] == "route":
        return Check(False, f"{', '.join(words)}: the route last is right; now which of the other two does flanneld"
                            f" write first? (section 6.3)", VXLAN_ENTRY_ORDER, answer)
    return Check(False, f"{', '.join(words)} lets a packet take the route before an entry it needs is there: which"
                        f" entry makes packets arrive at all? (section 6.3)", VXLAN_ENTRY_ORDER, answer)
