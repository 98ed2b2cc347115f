"""A Service's chains as the kernel holds them, with their counters; and the Service explorer widget.

:func:`service_chains` follows one Service from ``KUBE-SERVICES`` (and ``KUBE-NODEPORTS``) through its
``KUBE-EXT-``, ``KUBE-SVC-``/``KUBE-SVL-`` and ``KUBE-SEP-`` chains, reading ``iptables-save -c``
(:func:`netlab.kernel.iptables`); the explorer (ipywidgets, imported on first use) lets a reader pick a
Service and a node and re-read the counters.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .. import kernel
from .rules import Service, ServiceError


@dataclass
class ChainView:
    node: str
    service: Service
    chains: list  # [(chain, [(packets, rule text)])]

    def text(self) -> str:
        out = [f"{self.service.port_name_string} on {self.node} (nat table, packets per rule):"]
        for chain, rules in self.chains:
            out.append(f"  {chain}")
            for packets, text in rules:
                out.append(f"    {packets} pkts  {text}")
        return "\n".join(out)

    __str__ = __repr__ = text

    def html(self) -> str:
        rows = []
        for chain, rules in self.chains:
            rows.append(f"<tr><td colspan=2 style='background:#eef;font-weight:bold;text-align:left'>{html.escape(chain)}</td></tr>")
            for packets, text in rules:
                rows.append(f"<tr><td style='text-align:right;padding-right:8px'>{packets} pkts</td>"
                            f"<td style='text-align:left;font-family:monospace;font-size:85%'>{html.escape(text)}</td></tr>")
        return (f"<p><b>{html.escape(self.service.port_name_string)}</b> on {html.escape(self.node)}"
                f" (nat table; packets counted per rule)</p><table>{''.join(rows)}</table>")

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
    return ChainView(node, service, view)


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
