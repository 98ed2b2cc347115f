"""A Service's chains as the kernel holds them, with their counters; and the Service explorer widget.

:func:`service_chains` follows one Service from ``KUBE-SERVICES`` (and ``KUBE-NODEPORTS``) through its
``KUBE-EXT-``, ``KUBE-SVC-``/``KUBE-SVL-`` and ``KUBE-SEP-`` chains, reading ``iptables-save -c``
(:func:`netlab.kernel.iptables`); the explorer (ipywidgets, imported on first use) lets a reader pick a
Service and a node and re-read the counters.

Which counts are left to chance: when a ``KUBE-SVC-``/``KUBE-SVL-`` chain has two or more endpoints,
``-m statistic --mode random --probability`` chooses between its jumps, so the packets each jump and each
endpoint's ``KUBE-SEP-`` chain count differ from run to run (their sum does not). Those counts are shown
as ``12 pkts*`` (:data:`RANDOM_MARK`), and only they are what the sanitizer's "kube-chain-packets" pattern
hides (``netlab/engine/sanitize.py``); every other count (the Service's total, a chain no packet
reached) is compared exactly.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .. import kernel
from .rules import Service, ServiceError

RANDOM_MARK = "*"  # after "N pkts": a count the endpoint choice (--probability) makes random
RANDOM_NOTE = "* split among the endpoints at random (-m statistic --mode random --probability)"


@dataclass
class ChainView:
    node: str
    service: Service
    chains: list  # [(chain, [(packets, rule text)])]
    random: frozenset = frozenset()  # the chains where the endpoint choice makes counts random, see RANDOM_MARK

    def counts(self, chain: str, text: str, packets: int) -> str:
        """``N pkts``, marked ``N pkts*`` when the random endpoint choice decides it: a jump to an endpoint's
        ``KUBE-SEP-`` chain, or any rule inside one, of a Service with two or more endpoints."""
        chosen = chain in self.random and (chain.startswith("KUBE-SEP-") or "-j KUBE-SEP-" in text)
        return f"{packets} pkts" + (RANDOM_MARK if chosen else "")

    def text(self) -> str:
        out = [f"{self.service.port_name_string} on {self.node} (nat table, packets per rule):"]
        for chain, rules in self.chains:
            out.append(f"  {chain}")
            for packets, text in rules:
                out.append(f"    {self.counts(chain, text, packets)}  {text}")
        if self.random:
            out.append(f"  {RANDOM_NOTE}")
        return "\n".join(out)

    __str__ = __repr__ = text

    def html(self) -> str:
        rows = []
        for chain, rules in self.chains:
            rows.append(f"<tr><td colspan=2 style='background:#eef;font-weight:bold;text-align:left'>{html.escape(chain)}</td></tr>")
            for packets, text in rules:
                rows.append(f"<tr><td style='text-align:right;padding-right:8px'>{self.counts(chain, text, packets)}</td>"
                            f"<td style='text-align:left;font-family:monospace;font-size:85%'>{html.escape(text)}</td></tr>")
        note = f"<p style='font-size:85%'>{html.escape(RANDOM_NOTE)}</p>" if self.random else ""
        return (f"<p><b>{html.escape(self.service.port_name_string)}</b> on {html.escape(self.node)}"
                f" (nat table; packets counted per rule)</p><table>{''.join(rows)}</table>{note}")

    def _repr_html_(self) -> str:
        return self.html()


def service_chains(world, node: str, service: Service) -> ChainView:
    """The rules that concern SERVICE in NODE's nat table, chain by chain in the order a packet meets them."""
    if not isinstance(service, Service):
        raise ServiceError(f"service must be a netlab.kube.Service, not {type(service).__name__}")
    rules = [r for r in kernel.iptables(world, node).rules if r.table == "nat"]
    own = [service.ext_chain, service.svc_chain, service.svl_chain, *(service.sep_chain(e) for e in service.endpoints)]
    view = []
    for chain in ("KUBE-SERVICES", "KUBE-NODEPORTS"):
        mine = [(r.packets, r.text) for r in rules if r.chain == chain
                and any(f"-j {c}" in r.text for c in own)]
        if mine:
            view.append((chain, mine))
    for chain in own:
        mine = [(r.packets, r.text) for r in rules if r.chain == chain]
        if mine:
            view.append((chain, mine))
    return ChainView(node, service, view, random_chains(view))


def random_chains(view: list) -> frozenset:
    """The chains of VIEW whose counts the endpoint choice makes random: a ``KUBE-SVC-``/``KUBE-SVL-`` chain
    that jumps to two or more ``KUBE-SEP-`` chains (kube-proxy's ``writeServiceToEndpointRules`` puts a
    ``--probability`` on all of them but the last), and those ``KUBE-SEP-`` chains."""
    out = set()
    for chain, rules in view:
        seps = [text.split("-j ")[-1].split()[0] for _, text in rules if "-j KUBE-SEP-" in text]
        if chain.startswith(("KUBE-SVC-", "KUBE-SVL-")) and len(seps) >= 2:
            out.update([chain, *seps])
    return frozenset(out)


def service_explorer(world, services, nodes=("node1", "node2")):
    """Pick a Service and a node; see its chains with their counters; Refresh re-reads the kernel."""
    import ipywidgets as widgets  # lazy: ipywidgets only where a widget is shown

    services = list(services)
    by_name = {s.port_name_string: s for s in services}
    pick = widgets.Dropdown(options=list(by_name), description="Service")
    where = widgets.Dropdown(options=list(nodes), description="node")
    refresh = widgets.Button(description="Refresh")
    out = widgets.HTML()

    def show(*_):
        out.value = service_chains(world, where.value, by_name[pick.value]).html()

    pick.observe(show, "value")
    where.observe(show, "value")
    refresh.on_click(show)
    show()
    return widgets.VBox([widgets.HBox([pick, where, refresh]), out])


@dataclass
class ConntrackView:
    """NODE's conntrack entries for connections to a Service, grouped by the endpoint that replied."""

    node: str
    service: Service
    rows: list  # [(endpoint "ip:port", count, one kernel.Conntrack entry)]

    def text(self) -> str:
        total = sum(n for _, n, _ in self.rows)
        out = [f"{self.node}'s conntrack, connections to {self.service.cluster_ip}:{self.service.port}:"]
        for ep, n, e in self.rows:
            o, r = e.original, e.reply
            out.append(f"  reply from {ep}: {n} of {total} connections")
            # the client's ports are ephemeral: the entry is shown without them
            out.append(f"    {e.proto} {e.state} original src={o.get('src')} dst={o.get('dst')} dport={o.get('dport')}"
                       f" | reply src={r.get('src')} sport={r.get('sport')} dst={r.get('dst')}"
                       + (f" [{', '.join(e.flags)}]" if e.flags else ""))
        if not self.rows:
            out.append("  (none)")
        return "\n".join(out)

    __str__ = __repr__ = text


def conntrack_view(world, node: str, service: Service) -> ConntrackView:
    """``conntrack -L`` in NODE (:func:`netlab.kernel.conntrack`), the entries whose original destination
    is the Service's ClusterIP and port, grouped by the reply's source: the endpoint the DNAT chose."""
    if not isinstance(service, Service):
        raise ServiceError(f"service must be a netlab.kube.Service, not {type(service).__name__}")
    groups: dict = {}
    for e in kernel.conntrack(world, node, service.proto):
        if e.original.get("dst") == service.cluster_ip and e.original.get("dport") == str(service.port):
            key = f"{e.reply.get('src')}:{e.reply.get('sport')}"
            n, first = groups.get(key, (0, e))
            groups[key] = (n + 1, first)
    return ConntrackView(node, service, [(k, n, e) for k, (n, e) in sorted(groups.items())])
