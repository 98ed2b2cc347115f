"""Services and their endpoints, and the ``iptables-restore`` input kube-proxy's iptables mode writes for them.

Rendered as ``syncProxyRules`` in kubernetes/kubernetes ``pkg/proxy/iptables/proxier.go`` writes a full
sync (the release this follows has ``KUBE-SVL-``, ``KUBE-EXT-`` and ``KUBE-PROXY-FIREWALL``): the filter
table's and the nat table's chain lines, then their rules, in its order. For each service port:

- with endpoints: ``KUBE-SERVICES`` matches the cluster IP and port and jumps to ``KUBE-SVC-<hash>``
  (or ``KUBE-SVL-`` when internalTrafficPolicy is Local); that chain marks traffic from outside the
  cluster CIDR for masquerade (``! -s <cluster CIDR> -j KUBE-MARK-MASQ``, the ``LocalTrafficDetector``
  by cluster CIDR), then picks an endpoint: rule i of n has ``-m statistic --mode random
  --probability`` 1/(n-i) written as ``%0.10f``, the last none; each ``KUBE-SEP-<hash>`` marks
  hairpin traffic (``-s <endpoint IP> -j KUBE-MARK-MASQ``) and DNATs to ``ip:port``;
- a NodePort: ``KUBE-NODEPORTS`` matches the port and jumps to ``KUBE-EXT-<hash>``, which marks for
  masquerade and jumps to ``KUBE-SVC-`` (externalTrafficPolicy Cluster), or (Local) lets pods' and the
  node's own traffic use ``KUBE-SVC-`` and sends the rest to ``KUBE-SVL-`` (this node's endpoints only,
  no masquerade: the client's address is kept);
- without endpoints: nothing in nat, but filter's ``KUBE-SERVICES`` REJECTs the cluster IP and
  ``KUBE-EXTERNAL-SERVICES`` the NodePort ("has no endpoints"); Local with no endpoint on this node:
  DROP ("has no local endpoints").

Shared chains: ``KUBE-POSTROUTING`` (RETURN unless marked, clear the mark, MASQUERADE
``--random-fully``), ``KUBE-MARK-MASQ`` (``--or-mark``; bit 14 formatted ``%#08x``: ``0x00004000``),
``KUBE-FORWARD``, and ``KUBE-SERVICES``' last rule to ``KUBE-NODEPORTS`` for local destinations.
Two choices of netlab: Go iterates its map of services in random order, netlab sorts them by name; and
the endpoints go in the order of their ``ip:port`` strings (the EndpointSlice cache sorts them).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..inputs import quote
from . import names

MASQUERADE_BIT = 14
POLICIES = ("Cluster", "Local")


class ServiceError(ValueError):
    """A Service or an endpoint that kube-proxy would not accept; one sentence."""

    def _render_traceback_(self) -> list[str]:
        """In a notebook: the sentence, not a traceback (IPython calls this)."""
        return [f"ServiceError: {self}"]


@dataclass(frozen=True)
class Endpoint:
    """One ready endpoint: a pod's address and target port, and the node it runs on."""

    ip: str
    port: int
    node: str = ""

    def __post_init__(self):
        try:
            ipaddress.IPv4Address(self.ip)
        except (ValueError, TypeError):
            raise ServiceError(f"an endpoint's ip must be an IPv4 address such as '10.244.1.2', not {quote(self.ip)}") from None
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ServiceError(f"an endpoint's port must be 1-65535, not {quote(self.port)}")

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Service:
    """One service port (kube-proxy works per port): ``Service("default", "web", "10.96.0.10", 80, ...)``."""

    namespace: str
    name: str
    cluster_ip: str
    port: int
    endpoints: tuple = ()
    protocol: str = "TCP"
    port_name: str = "http"
    node_port: int | None = None
    external_traffic_policy: str = "Cluster"
    internal_traffic_policy: str = "Cluster"

    def __post_init__(self):
        for what in ("namespace", "name"):
            v = getattr(self, what)
            if not isinstance(v, str) or not v or not all(c.isalnum() or c in "-." for c in v) or v != v.lower():
                raise ServiceError(f"a Service's {what} is a lower-case DNS label such as 'web', not {quote(v)}")
        try:
            ipaddress.IPv4Address(self.cluster_ip)
        except (ValueError, TypeError):
            raise ServiceError(f"cluster_ip must be an IPv4 address such as '10.96.0.10', not {quote(self.cluster_ip)}") from None
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ServiceError(f"port must be 1-65535, not {quote(self.port)}")
        if self.protocol not in ("TCP", "UDP", "SCTP"):
            raise ServiceError(f"protocol must be 'TCP', 'UDP' or 'SCTP' (as Kubernetes spells them), not {quote(self.protocol)}")
        if self.node_port is not None and (isinstance(self.node_port, bool) or not isinstance(self.node_port, int)
                                           or not 30000 <= self.node_port <= 32767):
            raise ServiceError(f"node_port must be in Kubernetes' default range 30000-32767, not {quote(self.node_port)}")
        for what in ("external_traffic_policy", "internal_traffic_policy"):
            if getattr(self, what) not in POLICIES:
                raise ServiceError(f"{what} must be 'Cluster' or 'Local', not {quote(getattr(self, what))}")
        eps = tuple(self.endpoints)
        if not all(isinstance(e, Endpoint) for e in eps):
            raise ServiceError("endpoints must be netlab.kube.Endpoint(ip, port, node) values")
        object.__setattr__(self, "endpoints", tuple(sorted(eps, key=str)))

    # -- names, as kube-proxy computes them
    @property
    def port_name_string(self) -> str:
        return names.service_port_name(self.namespace, self.name, self.port_name)

    @property
    def proto(self) -> str:
        return self.protocol.lower()

    @property
    def svc_chain(self) -> str:
        return names.cluster_chain(self.port_name_string, self.proto)

    @property
    def svl_chain(self) -> str:
        return names.local_chain(self.port_name_string, self.proto)

    @property
    def ext_chain(self) -> str:
        return names.external_chain(self.port_name_string, self.proto)

    def sep_chain(self, ep: Endpoint) -> str:
        return names.endpoint_chain(self.port_name_string, self.proto, str(ep))

    def with_endpoints(self, *endpoints: Endpoint) -> "Service":
        return Service(**{**self.__dict__, "endpoints": tuple(endpoints)})

    def text(self) -> str:
        np = f", NodePort {self.node_port}" if self.node_port else ""
        eps = ", ".join(map(str, self.endpoints)) or "no endpoints"
        return (f"{self.port_name_string} {self.cluster_ip}:{self.port}/{self.protocol}{np}"
                f" (externalTrafficPolicy {self.external_traffic_policy}): {eps}")

    __str__ = text


@dataclass
class ProxyConfig:
    """What one node's kube-proxy knows about itself: its name, the cluster CIDR (its local-traffic
    detector), the masquerade bit, and the defaults ``localhostNodePorts`` true and ``--random-fully``."""

    node: str
    cluster_cidr: str = "10.244.0.0/16"
    masquerade_bit: int = MASQUERADE_BIT
    localhost_nodeports: bool = True
    random_fully: bool = True
    conntrack_tcp_liberal: bool = False
    mark_text: str | None = None  # upstream's unit tests give the Proxier "0x4000" directly

    @property
    def mark(self) -> str:
        if self.mark_text:
            return self.mark_text
        return "0x" + f"{1 << self.masquerade_bit:08x}"  # Go's fmt.Sprintf("%#08x", 1<<14) = "0x00004000"


def probability(n: int) -> str:
    """``computeProbability``: ``fmt.Sprintf("%0.10f", 1.0/float64(n))``."""
    return f"{1.0 / n:0.10f}"


def _q(comment: str) -> str:
    return f'"{comment}"'


@dataclass
class Rendered:
    """The restore input, and which chains it made active (to delete stale ones)."""

    text: str
    nat_chains: list = field(default_factory=list)


def render(services, config: ProxyConfig) -> Rendered:
    """The whole ``iptables-restore`` input of one full sync on CONFIG.node, as syncProxyRules writes it."""
    mark, cidr = config.mark, config.cluster_cidr
    f_chains = ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"]
    n_chains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    f_rules: list[str] = []
    n_rules = [f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN",
               f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}",
               "-A KUBE-POSTROUTING -m comment --comment " + _q("kubernetes service traffic requiring SNAT")
               + " -j MASQUERADE" + (" --random-fully" if config.random_fully else ""),
               f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}"]
    if config.localhost_nodeports:
        f_chains.append("KUBE-FIREWALL")
        f_rules.append("-A KUBE-FIREWALL -m comment --comment " + _q("block incoming localnet connections")
                       + " -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP")
    seen = set()
    for svc in sorted(services, key=lambda s: (s.port_name_string, s.proto)):
        if not isinstance(svc, Service):
            raise ServiceError(f"services must be netlab.kube.Service values, not {quote(svc)}")
        key = (svc.port_name_string, svc.proto)
        if key in seen:
            raise ServiceError(f"service port {svc.port_name_string}/{svc.protocol} is given twice")
        seen.add(key)
        name, p = svc.port_name_string, svc.proto
        match = f"-m {p} -p {p} -d {svc.cluster_ip} --dport {svc.port}"
        all_eps = list(svc.endpoints)
        local_eps = [e for e in all_eps if e.node == config.node]
        has_eps = bool(all_eps)
        ext_local = svc.external_traffic_policy == "Local"
        int_local = svc.internal_traffic_policy == "Local"
        cluster_eps = all_eps
        ext_acc = svc.node_port is not None  # ExternallyAccessible (netlab has no external or LB IPs)
        uses_cluster = bool(cluster_eps) and (not int_local or (ext_acc and not ext_local))  # UsesClusterEndpoints
        uses_local = bool(local_eps) and (int_local or (ext_acc and ext_local))              # UsesLocalEndpoints
        internal_chain = svc.svl_chain if int_local else svc.svc_chain
        has_internal = has_eps and (not int_local or bool(local_eps))
        external_policy_chain = svc.svl_chain if ext_local else svc.svc_chain
        has_external = has_eps and (not ext_local or bool(local_eps))
        uses_ext = has_eps and svc.node_port is not None
        if not has_eps:
            f_target = e_target = "REJECT"
            f_comment = e_comment = _q(f"{name} has no endpoints")
        else:
            f_target, f_comment = "DROP", _q(f"{name} has no local endpoints")
            e_target, e_comment = "DROP", _q(f"{name} has no local endpoints")
        if has_internal:
            n_rules.append(f"-A KUBE-SERVICES -m comment --comment {_q(name + ' cluster IP')} {match} -j {internal_chain}")
        else:
            f_rules.append(f"-A KUBE-SERVICES -m comment --comment {f_comment} {match} -j {f_target}")
        if svc.node_port is not None:
            if has_eps:
                n_rules.append(f"-A KUBE-NODEPORTS -m comment --comment {name} -m {p} -p {p} --dport {svc.node_port}"
                               f" -j {svc.ext_chain}")
            if not has_external:
                f_rules.append(f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {e_comment} -m addrtype --dst-type LOCAL"
                               f" -m {p} -p {p} --dport {svc.node_port} -j {e_target}")
        if has_internal:
            n_rules.append(f"-A {internal_chain} -m comment --comment {_q(name + ' cluster IP')} {match}"
                           f" ! -s {cidr} -j KUBE-MARK-MASQ")
        if uses_ext:
            n_chains.append(svc.ext_chain)
            if not ext_local:
                n_rules.append(f"-A {svc.ext_chain} -m comment --comment "
                               f"{_q(f'masquerade traffic for {name} external destinations')} -j KUBE-MARK-MASQ")
            else:
                n_rules += [f"-A {svc.ext_chain} -m comment --comment {_q(f'pod traffic for {name} external destinations')}"
                            f" -s {cidr} -j {svc.svc_chain}",
                            f"-A {svc.ext_chain} -m comment --comment {_q(f'masquerade LOCAL traffic for {name} external destinations')}"
                            f" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
                            f"-A {svc.ext_chain} -m comment --comment {_q(f'route LOCAL traffic for {name} external destinations')}"
                            f" -m addrtype --src-type LOCAL -j {svc.svc_chain}"]
            if has_external:
                n_rules.append(f"-A {svc.ext_chain} -j {external_policy_chain}")
        for chain, eps, used in ((svc.svc_chain, cluster_eps, uses_cluster), (svc.svl_chain, local_eps, uses_local)):
            if not used:
                continue
            n_chains.append(chain)
            for i, ep in enumerate(eps):
                stat = (f" -m statistic --mode random --probability {probability(len(eps) - i)}"
                        if i < len(eps) - 1 else "")
                n_rules.append(f"-A {chain} -m comment --comment {_q(f'{name} -> {ep}')}{stat} -j {svc.sep_chain(ep)}")
        reachable = cluster_eps if uses_cluster else local_eps if uses_local else []
        for ep in reachable:
            sep = svc.sep_chain(ep)
            n_chains.append(sep)
            n_rules += [f"-A {sep} -m comment --comment {name} -s {ep.ip} -j KUBE-MARK-MASQ",
                        f"-A {sep} -m comment --comment {name} -m {p} -p {p} -j DNAT --to-destination {ep}"]
    dest = "-m addrtype --dst-type LOCAL" + ("" if config.localhost_nodeports else " ! -d 127.0.0.0/8")
    n_rules.append("-A KUBE-SERVICES -m comment --comment "
                   + _q("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
                   + f" {dest} -j KUBE-NODEPORTS")
    if not config.conntrack_tcp_liberal:
        f_rules.append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP")
    f_rules += ["-A KUBE-FORWARD -m comment --comment " + _q("kubernetes forwarding rules")
                + f" -m mark --mark {mark}/{mark} -j ACCEPT",
                "-A KUBE-FORWARD -m comment --comment " + _q("kubernetes forwarding conntrack rule")
                + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
    lines = ["*filter", *(f":{c} - [0:0]" for c in f_chains), *f_rules, "COMMIT",
             "*nat", *(f":{c} - [0:0]" for c in n_chains), *n_rules, "COMMIT"]
    return Rendered("\n".join(lines) + "\n", n_chains)


#: The jumps into kube-proxy's chains (``iptablesJumpChains`` and kubelet's ``KUBE-FIREWALL``), each
#: ensured with ``iptables -C`` then ``-I`` (``EnsureRule(Prepend, ...)``): (table, from, to, comment, extra).
JUMP_CHAINS = [
    ("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals", "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals", "-m conntrack --ctstate NEW"),
    ("filter", "INPUT", "KUBE-NODEPORTS", "kubernetes health check service ports", ""),
    ("filter", "FORWARD", "KUBE-SERVICES", "kubernetes service portals", "-m conntrack --ctstate NEW"),
    ("filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules", ""),
    ("filter", "INPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall", "-m conntrack --ctstate NEW"),
    ("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall", "-m conntrack --ctstate NEW"),
    ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall", "-m conntrack --ctstate NEW"),
    ("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", ""),
    ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals", ""),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules", ""),
    ("filter", "INPUT", "KUBE-FIREWALL", "", ""),
    ("filter", "OUTPUT", "KUBE-FIREWALL", "", ""),
]


def jump_rule_args(extra: str, comment: str, to: str) -> list[str]:
    args = extra.split() if extra else []
    if comment:
        args += ["-m", "comment", "--comment", comment]
    return args + ["-j", to]
