"""Answer checkers for the assignable labs (labs/).

An instructor writes ``check_network("10.233.64.0/18", answer)`` in a lab cell; the
learner's answer comes back as a :class:`Check`: truthy when right, shown as a
green ✓ or a red ✗ with one specific sentence that names the likely mistake
("... is the broadcast, not the last usable host").

The learner's answer may be malformed (a typo, a missing octet): that gives a
failed Check with the parse problem, never a traceback.  A malformed *question*
(the instructor's CIDR) raises :class:`netlab.calc.cidr.CidrError`, loudly.
"""

from __future__ import annotations

import re

import netaddr

from .base import Check
from ..calc.cidr import _s, CidrError, describe, parse, parse_address, same_subnet, split, supernet

__all__ = [
    "Check",
    "check_network",
    "check_netmask",
    "check_hostmask",
    "check_broadcast",
    "check_host_range",
    "check_usable_hosts",
    "check_same_subnet",
    "check_split",
    "check_supernet",
]


def _answer_address(answer, what: str):
    """Parse a learner's address, or return a failed Check explaining why not."""
    if isinstance(answer, netaddr.IPAddress):
        return answer, None
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None, Check(False, f"No answer yet: write {what} as an address such as 10.233.64.0.", given=answer)
    text = answer.strip() if isinstance(answer, str) else answer
    try:
        if isinstance(text, str) and "/" in text:
            # "10.233.64.0/18" is accepted: the address part is compared, and
            # _check_one checks the prefix length.
            return parse(text).ip, None
        return parse_address(text, what), None
    except CidrError as exc:
        return None, Check(False, f"Couldn't read your answer as {what}: {exc}.", given=answer)


def _roles(d) -> dict[str, str]:
    """Which well-known address of the prefix is this (for naming a wrong answer)."""
    roles = {}
    if d.host_bits_set:
        roles[d.address] = "the address you were given, not the network (AND it with the mask)"
    roles[d.netmask] = "the subnet mask"
    roles[d.hostmask] = "the host part of the mask (NOT mask)"
    if d.broadcast:
        roles[d.last_host] = "the last usable host"
        roles[d.first_host] = "the first usable host"
        roles[d.broadcast] = "the broadcast address (the max IP)"
    roles[d.network] = "the network address"
    return roles


def _check_one(cidr, answer, field: str, name: str) -> Check:
    d = describe(cidr)
    expected = getattr(d, field)
    ip, bad = _answer_address(answer, name)
    if bad is not None:
        return bad
    if ip.version != d.version:
        return Check(
            False,
            f"{_s(ip)} is IPv{ip.version} but {d.cidr} is IPv{d.version}.",
            expected,
            answer,
        )
    if isinstance(answer, str) and "/" in answer:
        given_len = parse(answer).prefixlen
        if given_len != d.prefixlen:
            return Check(
                False,
                f"Your answer has prefix length /{given_len}, but {d.cidr} is a /{d.prefixlen}.",
                expected,
                answer,
            )
    if _s(ip) == expected:
        return Check(True, f"Right: {expected} is {name} of {d.cidr}.", expected, answer)
    role = _roles(d).get(_s(ip))
    hint = {
        "network": "AND the address with the mask",
        "netmask": f"/{d.prefixlen} means {d.prefixlen} one-bits from the left",
        "hostmask": "flip every bit of the mask (NOT mask)",
        "broadcast": "OR the network address with the host part of the mask",
    }[field]
    if role:
        return Check(False, f"{_s(ip)} is {role} of {d.cidr}, not {name}; {hint}.", expected, answer)
    return Check(False, f"{_s(ip)} is not {name} of {d.cidr}; {hint}.", expected, answer)


def check_network(cidr, answer) -> Check:
    """Is ``answer`` the network address of ``cidr`` (IP AND mask)?"""
    return _check_one(cidr, answer, "network", "the network address")


def check_netmask(cidr, answer) -> Check:
    """Is ``answer`` the dotted subnet mask of ``cidr``?"""
    return _check_one(cidr, answer, "netmask", "the subnet mask")


def check_hostmask(cidr, answer) -> Check:
    """Is ``answer`` the host part of the mask (NOT mask) of ``cidr``?"""
    return _check_one(cidr, answer, "hostmask", "the host part of the mask")


def check_broadcast(cidr, answer) -> Check:
    """Is ``answer`` the broadcast address (the seed's "max IP") of ``cidr``?"""
    d = describe(cidr)
    if d.broadcast is None:
        # IPv6, /31, /32: there is no broadcast; accept "none".
        reason = (
            "IPv6 has no broadcast address"
            if d.version == 6
            else f"a /{d.prefixlen} has no broadcast address"
        )
        if answer is None or (isinstance(answer, str) and answer.strip().lower() in ("none", "no", "")):
            return Check(True, f"Right: {reason}.", None, answer)
        return Check(False, f"Trick question: {reason}, so the answer is None.", None, answer)
    return _check_one(cidr, answer, "broadcast", "the broadcast address")


def check_host_range(cidr, first, last=None) -> Check:
    """Are ``first`` and ``last`` the first and last usable hosts of ``cidr``?

    ``first`` may also be one string ``"10.233.64.1 - 10.233.127.254"``.
    """
    d = describe(cidr)
    if last is None:
        if not isinstance(first, str):
            return Check(False, "Give the range as two addresses (first, last) or 'first - last'.", given=first)
        parts = [p for p in re.split(r"\s*(?:-|–|,|\s)\s*", first.strip()) if p]
        if len(parts) != 2:
            return Check(
                False,
                f"Couldn't read {first!r} as a range; write it as 'first - last', e.g. "
                f"'{d.first_host} - {d.last_host}'.",
                given=first,
            )
        first, last = parts
    a, bad = _answer_address(first, "the first host")
    if bad is not None:
        return bad
    b, bad = _answer_address(last, "the last host")
    if bad is not None:
        return bad
    expected = (d.first_host, d.last_host)
    roles = _roles(d)
    a_ok, b_ok = _s(a) == d.first_host, _s(b) == d.last_host
    if a_ok and b_ok:
        return Check(True, f"Right: the usable hosts of {d.cidr} run from {_s(a)} to {_s(b)}.", expected, (first, last))
    if a_ok:
        role = roles.get(_s(b))
        why = f"{_s(b)} is {role}" if role else f"{_s(b)} is wrong"
        return Check(
            False,
            f"Right first host, but {why}, not the last usable host."
            if role
            else f"Right first host, but {_s(b)} is not the last usable host of {d.cidr}.",
            expected,
            (first, last),
        )
    role = roles.get(_s(a))
    head = f"{_s(a)} is {role}, not the first usable host" if role else f"{_s(a)} is not the first usable host of {d.cidr}"
    if b_ok:
        return Check(False, f"Right last host, but {head}.", expected, (first, last))
    return Check(False, f"Both ends are off: {head}, and {_s(b)} is not the last usable host.", expected, (first, last))


def check_usable_hosts(cidr, answer) -> Check:
    """Is ``answer`` the number of usable host addresses in ``cidr``?"""
    d = describe(cidr)
    try:
        n = int(str(answer).replace(",", "").replace("_", "").strip())
    except ValueError:
        return Check(False, f"Couldn't read {answer!r} as a whole number.", d.usable_hosts, answer)
    if n == d.usable_hosts:
        return Check(True, f"Right: {d.cidr} has {n:,} usable host addresses.", d.usable_hosts, answer)
    if n == d.num_addresses:
        return Check(
            False,
            f"{n:,} is every address in the prefix; subtract the network and broadcast "
            f"addresses to get the usable hosts."
            if d.version == 4
            else f"{n:,} is every address in the prefix; the all-zero host is the "
            f"Subnet-Router anycast address (RFC 4291), so subtract one.",
            d.usable_hosts,
            answer,
        )
    return Check(
        False,
        f"{n:,} is not right: a /{d.prefixlen} has {d.num_addresses:,} addresses "
        f"(2^{(32 if d.version == 4 else 128) - d.prefixlen}); how many can hosts use?",
        d.usable_hosts,
        answer,
    )


_YES = {"yes", "y", "true", "same", "是", "能", "可以"}
_NO = {"no", "n", "false", "different", "否", "不", "不能"}


def check_same_subnet(a, b, answer) -> Check:
    """Did the learner say correctly whether ``a`` and ``b`` are on the same subnet?
    ``answer`` is a bool or "yes"/"no"."""
    r = same_subnet(a, b)
    if isinstance(answer, bool):
        said = answer
    elif isinstance(answer, str) and answer.strip().lower() in _YES | _NO:
        said = answer.strip().lower() in _YES
    else:
        return Check(False, f"Answer True/False (or 'yes'/'no'), not {answer!r}.", r.same, answer)
    nets = f"{r.a} -> {r.a_network}, {r.b} -> {r.b_network}"
    if said == r.same:
        verdict = "same subnet" if r.same else "different subnets, so they need a gateway"
        return Check(True, f"Right: {nets}: {verdict}.", r.same, answer)
    if r.same:
        return Check(False, f"They are on the same subnet: {nets}.", r.same, answer)
    return Check(
        False,
        f"Compare the network addresses (IP AND mask): {nets}; they differ, so a gateway is needed.",
        r.same,
        answer,
    )


def _answer_networks(answer, what: str):
    if isinstance(answer, str):
        items = [s for s in re.split(r"[\s,;]+", answer) if s]
    else:
        try:
            items = list(answer)
        except TypeError:
            return None, Check(False, f"Give {what} as a list of prefixes, not {answer!r}.", given=answer)
    nets = []
    for item in items:
        try:
            nets.append(parse(item))
        except CidrError as exc:
            return None, Check(False, f"Couldn't read {item!r} in your answer: {exc}.", given=answer)
    return nets, None


def check_split(prefix, answer, count=None, new_prefix=None) -> Check:
    """Is ``answer`` (a list of prefixes, or one string separated by commas/spaces) the
    split of ``prefix`` into ``count`` subnets or into /``new_prefix`` subnets?"""
    r = split(prefix, count=count, new_prefix=new_prefix, limit=16)
    expected = list(r.subnets) if not r.truncated else f"{r.num_subnets} x /{r.new_prefix}"
    nets, bad = _answer_networks(answer, "the subnets")
    if bad is not None:
        return bad
    parent = netaddr.IPNetwork(r.parent)
    rounded = (
        f" ({r.requested_count} rounds up to {r.num_subnets}, a power of two)"
        if r.requested_count and r.requested_count != r.num_subnets
        else ""
    )
    for n in nets:
        if n.ip != n.network:
            return Check(False, f"{_s(n.ip)}/{n.prefixlen} has host bits set; that subnet starts at {_s(n.network)}.", expected, answer)
        if n.version != parent.version or n not in parent:
            return Check(False, f"{_s(n.cidr)} is not inside {r.parent}.", expected, answer)
        if n.prefixlen != r.new_prefix:
            return Check(False, f"{_s(n.cidr)} has the wrong length: the subnets are /{r.new_prefix}{rounded}.", expected, answer)
    given = [_s(n.cidr) for n in nets]
    if len(set(given)) != len(given):
        dup = next(g for g in given if given.count(g) > 1)
        return Check(False, f"{dup} is listed more than once.", expected, answer)
    if len(given) != r.num_subnets:
        have = set(given)
        missing = next((_s(x) for x in parent.subnet(r.new_prefix) if _s(x) not in have), None)
        return Check(
            False,
            f"You listed {len(given)} subnet{'s' if len(given) != 1 else ''} but there are "
            f"{r.num_subnets}{rounded}; missing e.g. {missing}.",
            expected,
            answer,
        )
    return Check(True, f"Right: {r.parent} splits into {r.num_subnets} × /{r.new_prefix}{rounded}.", expected, answer)


def check_supernet(networks, answer) -> Check:
    """Is ``answer`` the smallest single prefix covering all ``networks``?"""
    r = supernet(networks)
    nets, bad = _answer_networks(answer, "the supernet")
    if bad is not None:
        return bad
    if len(nets) != 1:
        return Check(False, f"Give one prefix, not {len(nets)}.", r.supernet, answer)
    n = nets[0]
    if n.ip != n.network:
        return Check(False, f"{_s(n.ip)}/{n.prefixlen} has host bits set; did you mean {_s(n.cidr)}?", r.supernet, answer)
    if _s(n.cidr) == r.supernet:
        return Check(True, f"Right: {r.supernet} is the smallest prefix covering all of them.", r.supernet, answer)
    if n.version != netaddr.IPNetwork(r.supernet).version:
        return Check(False, f"{_s(n.cidr)} is the wrong address family.", r.supernet, answer)
    sup = netaddr.IPNetwork(r.supernet)
    if sup in n.cidr:
        return Check(False, f"{_s(n.cidr)} covers them all but is too big; a longer prefix still does.", r.supernet, answer)
    uncovered = [x for x in r.networks if netaddr.IPNetwork(x) not in n.cidr]
    return Check(False, f"{_s(n.cidr)} does not cover {uncovered[0]}.", r.supernet, answer)
