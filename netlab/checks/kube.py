"""Lab checks of Services written as kube-proxy writes them (chapter 8, lab08).

Each check reads the node's tables with ``iptables-save -c`` (:func:`netlab.kernel.iptables`) and
compares them with what kube-proxy would write for the Service (:func:`netlab.kube.render`). The
expected rules are first loaded into a scratch network namespace inside the node (``unshare -n
iptables-restore``) and read back with ``iptables-save``, so both sides are in the kernel's own
spelling (``/32`` added, ``--or-mark`` shown as ``--set-xmark``, probabilities with 11 decimals).
Comments are ignored. A rule found in another chain or table is reported with where it belongs.
:func:`check_service_spread` counts connections in conntrack (:func:`netlab.kernel.conntrack`).
"""

from __future__ import annotations

import re

from .. import kernel
from ..kube import names
from ..kube.rules import Endpoint, ProxyConfig, Service, ServiceError, render
from .base import Check

_COMMENT = re.compile(r'\s-m comment --comment (?:"(?:[^"\\]|\\.)*"|\S+)')


def _see(see: str | None) -> str:
    return f" (see {see})" if see else ""


def _signature(text: str) -> tuple[str, tuple]:
    """(chain, sorted tokens without the chain and the comment): a rule whatever the order of its matches."""
    body = _COMMENT.sub("", " " + text).split()
    tokens, i = [], 2
    while i < len(body):  # "-m tcp" is implied by "-p tcp": iptables-save prints it either way
        if body[i] == "-m" and i + 1 < len(body) and body[i + 1] in ("tcp", "udp", "sctp"):
            i += 2
            continue
        tokens.append(body[i])
        i += 1
    return body[1], tuple(sorted(tokens))


def _service_rules(svc: Service, config: ProxyConfig) -> str:
    """The Service's own part of kube-proxy's restore input: its chains and the rules that name it."""
    text = render([svc], config).text
    own = {svc.svc_chain, svc.svl_chain, svc.ext_chain, *(svc.sep_chain(e) for e in svc.endpoints)}
    keep = []
    for line in text.splitlines():
        if line.startswith("-A "):
            chain = line.split()[1]
            if chain in own or svc.port_name_string in line:
                keep.append(line)
        elif line.startswith(":"):
            keep.append(line)
        else:
            keep.append(line)
    return "\n".join(keep) + "\n"


def _canonical(world, node: str, restore: str) -> list[kernel.Rule]:
    """RESTORE loaded into a scratch namespace inside NODE and read back: the kernel's spelling."""
    res = world.run(node, ["unshare", "-n", "sh", "-c", "iptables-restore && iptables-save -c"], input=restore,
                    check=False)
    if not res.ok:
        raise ServiceError(f"the expected rules did not load in a scratch namespace: {res.stderr.strip()}")
    return list(kernel.parse_iptables_save(res.stdout).rules)


def _describe(rule: kernel.Rule, svc: Service) -> str:
    """A rule in words (what it does), never the command that writes it."""
    t = rule.text
    target = rule.target
    if target == "DNAT":
        return f"the DNAT to {t.split('--to-destination ')[1].split()[0]}"
    if target == "KUBE-MARK-MASQ" and " -s " in t and "! -s" not in t:
        return f"the hairpin mark for traffic from {t.split(' -s ')[1].split()[0].removesuffix('/32')}"
    if target == "KUBE-MARK-MASQ":
        return "the masquerade mark"
    if target and target.startswith(names.SEP):
        ep = next((str(e) for e in svc.endpoints if svc.sep_chain(e) == target), "?")
        prob = f" with probability {t.split('--probability ')[1].split()[0]}" if "--probability" in t else \
            " with no probability match (it takes whatever is left)"
        return f"the jump to {target} (endpoint {ep}){prob}"
    if target in (svc.svc_chain, svc.svl_chain, svc.ext_chain):
        return f"the jump to {target}"
    if target in ("REJECT", "DROP"):
        return f"the {target} of {svc.cluster_ip}:{svc.port}"
    return f"the rule `{t}`"


def _why(chain: str, svc: Service) -> str:
    if chain == "KUBE-SERVICES":
        return "KUBE-SERVICES is where every packet to a cluster IP is matched by address and port"
    if chain == "KUBE-NODEPORTS":
        return "KUBE-NODEPORTS is where packets to a node's own address are matched by node port"
    if chain.startswith(names.SEP):
        ep = next((str(e) for e in svc.endpoints if svc.sep_chain(e) == chain), "?")
        return f"{chain} is endpoint {ep}'s own chain (kube-proxy's hash of {svc.port_name_string}, {svc.proto} and {ep})"
    if chain.startswith(names.SVC):
        return f"{chain} is the Service's chain, where kube-proxy chooses an endpoint"
    if chain.startswith(names.EXT):
        return f"{chain} is where traffic for the Service's node port goes"
    return f"kube-proxy writes it in {chain}"


def check_service_rules(world, node: str, *, service: Service, config: ProxyConfig | None = None,
                        see: str | None = None) -> Check:
    """Has NODE the rules kube-proxy writes for SERVICE, in the right chains and order (comments ignored)?"""
    if not isinstance(service, Service):
        return Check(False, f"service must be a netlab.kube.Service, not {type(service).__name__}")
    if node not in world.nodes:
        return Check(False, f"node must be one of {', '.join(world.nodes)}, not {node!r}")
    config = config or ProxyConfig(node)
    expected = _canonical(world, node, _service_rules(service, config))
    actual = list(kernel.iptables(world, node).rules)
    have = {(r.table, *_signature(r.text)) for r in actual}
    missing = [r for r in expected if (r.table, *_signature(r.text)) not in have]
    for r in missing:  # a rule in the wrong chain or table is the likelier mistake: report it first
        chain, sig = _signature(r.text)
        elsewhere = [(a.table, _signature(a.text)[0]) for a in actual
                     if _signature(a.text)[1] == sig and (a.table, _signature(a.text)[0]) != (r.table, chain)]
        if elsewhere:
            table, wrong = elsewhere[0]
            where = f"chain {wrong}" + (f" of the {table} table" if table != r.table else "")
            return Check(False, f"{node}: {_describe(r, service)} is in {where}; expected it in chain {chain} of the"
                                f" {r.table} table, where it belongs: {_why(chain, service)}{_see(see)}", chain, wrong)
    for r in missing:
        chain, sig = _signature(r.text)
        what = _describe(r, service)
        if not any(a.table == r.table and a.chain == chain for a in actual) and chain.startswith("KUBE-S"):
            return Check(False, f"{node}'s {r.table} table has no rule in chain {chain}; expected {what} there."
                                f" {_why(chain, service)}{_see(see)}", chain, None)
        return Check(False, f"{node}: chain {chain} ({r.table}) lacks {what}, which kube-proxy writes there;"
                            f" expected it for {service.port_name_string}{_see(see)}", r.text, None)
    # Order and extras in the Service's own chains.
    own = {service.svc_chain, service.svl_chain, service.ext_chain, *(service.sep_chain(e) for e in service.endpoints)}
    for chain in sorted(own):
        want = [_signature(r.text)[1] for r in expected if r.table == "nat" and r.chain == chain]
        got = [_signature(a.text)[1] for a in actual if a.table == "nat" and a.chain == chain]
        extra = [a for a in actual if a.table == "nat" and a.chain == chain and _signature(a.text)[1] not in want]
        if extra:
            return Check(False, f"{node}: chain {chain} also has {_describe(extra[0], service)}, which kube-proxy"
                                f" does not write there for {service.port_name_string}; expected only its"
                                f" {len([r for r in expected if r.chain == chain])} rules{_see(see)}", None, extra[0].text)
        if got != want and want:
            return Check(False, f"{node}: chain {chain} has the right rules in the wrong order; the kernel tries them"
                                f" top to bottom, and kube-proxy's order is {', '.join(_describe(r, service) for r in expected if r.table == 'nat' and r.chain == chain)}{_see(see)}",
                         want, got)
    n = len(expected)
    return Check(True, f"{node} has the {n} rules kube-proxy writes for {service.port_name_string}"
                       f" ({service.cluster_ip}:{service.port}/{service.protocol}), in its chains and order")


def check_endpoint_rules(world, node: str, *, service: Service, endpoint: Endpoint, see: str | None = None) -> Check:
    """Does SERVICE on NODE send to ENDPOINT through its own KUBE-SEP chain (chain, DNAT, jump)?"""
    if not isinstance(endpoint, Endpoint) or endpoint not in service.endpoints:
        return Check(False, f"endpoint must be one of the Service's endpoints ({', '.join(map(str, service.endpoints))})")
    sep = service.sep_chain(endpoint)
    tables = kernel.iptables(world, node)
    if ("nat", sep) not in tables.user_chains:
        found = [r for r in tables.rules if r.target == "DNAT" and f"--to-destination {endpoint}" in r.text]
        if found:
            return Check(False, f"{node}: the DNAT to {endpoint} is in chain {found[0].chain}, but {node}'s nat"
                                f" table has no chain {sep}; expected the DNAT there: {_why(sep, service)}{_see(see)}",
                         sep, found[0].chain)
        return Check(False, f"{node}'s nat table has no chain {sep}; expected it: {_why(sep, service)}{_see(see)}",
                     sep, None)
    return check_service_rules(world, node, service=service, see=see)


def check_service_spread(world, node: str, *, service: Service, min_each: int = 1, see: str | None = None) -> Check:
    """Did connections to SERVICE through NODE reach every endpoint? Counts NODE's conntrack entries whose
    original destination is the cluster IP and port, by the address the reply comes from."""
    if not isinstance(service, Service):
        return Check(False, f"service must be a netlab.kube.Service, not {type(service).__name__}")
    seen: dict[str, int] = {}
    for e in kernel.conntrack(world, node, service.proto):
        if e.original.get("dst") == service.cluster_ip and e.original.get("dport") == str(service.port):
            key = f"{e.reply.get('src')}:{e.reply.get('sport')}"
            seen[key] = seen.get(key, 0) + 1
    if not seen:
        return Check(False, f"{node}'s conntrack table has no connection to {service.cluster_ip}:{service.port}:"
                            f" no packet to the Service passed through {node} yet, or none was DNATed; expected"
                            f" connections to every endpoint{_see(see)}")
    total = sum(seen.values())
    missing = [str(e) for e in service.endpoints if seen.get(str(e), 0) < min_each]
    if missing:
        shown = ", ".join(f"{k}: {v} of {total} connections" for k, v in sorted(seen.items()))
        return Check(False, f"{node}'s conntrack shows {shown}; no connection went to {', '.join(missing)},"
                            f" expected some to every endpoint{_see(see)}", [str(e) for e in service.endpoints],
                     sorted(seen))
    return Check(True, f"{node}'s conntrack shows connections to {service.cluster_ip}:{service.port} DNATed to every"
                       f" endpoint ({', '.join(sorted(seen))})")
