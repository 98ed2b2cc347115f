"""Chapter 7's widgets: the IPAM block calculator and the mode explorer.

:func:`ipam_calculator` cuts a pool into blocks (:class:`.ipam.BlockPlan`): how many blocks, how many
pods fit in one, which node holds which block and what its blackhole covers, and where an address
typed in lives. :func:`mode_explorer` answers, for nodes on one layer-2 segment or across a router,
what each way of carrying pod traffic does (:func:`modes`, plain data, tested). Both end in a
``widgets.HTML`` set at construction, so the static site shows the saved state.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from .ipam import BlockPlan, IpamError

__all__ = ["modes", "modes_html", "ipam_html", "ipam_calculator", "mode_explorer"]

_ERROR = "<div class='netlab-error' style='color:#b00020'><b>{title}</b> {text}</div>"

#: (mode, what the LAN carries, overhead in bytes, works on one segment, works across a router, why)
_MODES = [
    ("flannel host-gw", "the pod's own packet, routed via the other host", 0, True, False,
     "its route's gateway must be on the interface's subnet: across a router the kernel answers"
     " \"Nexthop has invalid gateway\""),
    ("flannel VXLAN", "Ethernet frame in UDP (8472)", 50, True, True, "the outer packet is routed like any UDP"),
    ("flannel VXLAN + DirectRouting", "plain packets to peers on our subnet, VXLAN to the others", None, True, True,
     "flannel asks `ip route get` for each peer: one route without a gateway means the same subnet"),
    ("Calico, no encapsulation (BGP)", "the pod's own packet", 0, True, False,
     "the routers between the nodes would have to know the pods' blocks (peer BGP with them)"),
    ("Calico IPIP Always", "IP packet in IP (protocol 4, tunl0)", 20, True, True,
     "every node-to-node packet wrapped, even on one segment"),
    ("Calico IPIP/VXLAN CrossSubnet", "plain on our subnet, IPIP (20) or VXLAN (50) across", None, True, True,
     "wrapped only where a router sits between the nodes"),
]


def modes(same_segment: bool) -> list[dict]:
    """What each mode does when the two nodes share a layer-2 segment (SAME_SEGMENT) or sit across a router."""
    if not isinstance(same_segment, bool):
        raise TypeError(f"same_segment must be True or False, not {same_segment!r}")
    rows = []
    for name, wire, overhead, on_segment, across, why in _MODES:
        works = on_segment if same_segment else across
        if overhead is None:
            overhead = 0 if same_segment else "20 or 50"
        if name.startswith("flannel VXLAN +") or "CrossSubnet" in name:
            wire = "the pod's own packet (same subnet)" if same_segment else wire.split(", ", 1)[1]
        rows.append({"mode": name, "wire": wire, "overhead": overhead, "works": works, "why": why})
    return rows


def modes_html(same_segment: bool) -> str:
    head = "<tr><th>mode</th><th>on the wire between the nodes</th><th>bytes added</th><th>works?</th><th>why</th></tr>"
    body = "".join(f"<tr><td>{html.escape(r['mode'])}</td><td>{html.escape(r['wire'])}</td>"
                   f"<td style='text-align:right'>{r['overhead']}</td><td>{'yes' if r['works'] else '<b>no</b>'}</td>"
                   f"<td>{html.escape(r['why'])}</td></tr>" for r in modes(same_segment))
    where = "on one layer-2 segment (one switch)" if same_segment else "on two subnets, a router between them"
    return f"<div class='netlab-modes'><p>Two nodes {where}:</p><table>{head}{body}</table></div>"


def ipam_html(pool: str, block_size: int, nodes: int, address: str = "") -> str:
    """The calculator's answer as HTML; a bad input becomes one sentence saying what to fix."""
    try:
        if isinstance(nodes, bool) or not isinstance(nodes, int) or not 1 <= nodes <= 64:
            raise IpamError(f"nodes must be a whole number from 1 to 64, not {nodes!r}")
        plan = BlockPlan.make(pool, block_size, nodes=[f"node{i}" for i in range(1, nodes + 1)])
        where = plan.locate(address) if str(address).strip() else ""
    except IpamError as e:
        return _ERROR.format(title="Cannot cut that pool:", text=html.escape(str(e)))
    rows = "".join(f"<tr><td>{n}</td><td>{plan.node_block(n)}</td><td>{plan.node_block(n)[0]} - {plan.node_block(n)[-1]}"
                   f"</td><td><code>blackhole {plan.node_block(n)} proto bird</code></td></tr>" for n in plan.nodes)
    return (f"<div class='netlab-ipam'><p>pool <b>{plan.pool}</b>: <b>{plan.count}</b> blocks of /{plan.block_size},"
            f" <b>{plan.per_block}</b> addresses (pods) each; {nodes} node(s) hold the first blocks.</p>"
            f"<table><tr><th>node</th><th>block</th><th>addresses</th><th>its blackhole</th></tr>{rows}</table>"
            + (f"<p>{html.escape(where)}</p>" if where else "") + "</div>")


def ipam_calculator(pool: str = "10.244.0.0/16", block_size: int = 26, nodes: int = 3,
                    address: str = "10.244.0.70") -> widgets.VBox:
    """Pool, block size, node count and an address in; blocks, pods per block, holders and blackholes out."""
    w_pool = widgets.Text(value=pool, description="pool")
    w_size = widgets.IntSlider(value=block_size, min=20, max=32, description="block /")  # IPPool: 20 to 32
    w_nodes = widgets.IntSlider(value=nodes, min=1, max=16, description="nodes")
    w_addr = widgets.Text(value=address, description="address")
    out = widgets.HTML(value=ipam_html(pool, block_size, nodes, address))

    def update(_=None):
        out.value = ipam_html(w_pool.value, w_size.value, w_nodes.value, w_addr.value)
    for w in (w_pool, w_size, w_nodes, w_addr):
        w.observe(update, names="value")
    return widgets.VBox([widgets.HBox([w_pool, w_size]), widgets.HBox([w_nodes, w_addr]), out])


def mode_explorer(same_segment: bool = False) -> widgets.VBox:
    """One toggle (one segment, or a router between the nodes) and what each mode does there."""
    toggle = widgets.ToggleButtons(options=[("one layer-2 segment", True), ("a router between", False)],
                                   value=same_segment, description="nodes on")
    out = widgets.HTML(value=modes_html(same_segment))
    toggle.observe(lambda change: setattr(out, "value", modes_html(change["new"])), names="value")
    return widgets.VBox([toggle, out])
