"""A packet-walk explorer: pick source, destination and protocol; see the walk and its diagram.

The result is one ``widgets.HTML`` (the walk's own HTML: its diagram as a base64 PNG ``<img>``, a
summary table and the full text folded), set at
construction and recomputed on every change, so a saved notebook shows it on the static site.
Each change sends one real packet in the world (:func:`netlab.trace`).
"""

from __future__ import annotations

import html

from .model import WalkError
from .trace import PROTOS, trace


def destinations(world) -> list[tuple[str, str]]:
    """(label, address) for every address of every node, in declaration order."""
    out = []
    for n, node in world.topology.nodes.items():
        for i in node.interfaces.values():
            for a in i.addresses:
                ip = a.split("/")[0]
                out.append((f"{n} {ip} ({i.name})", ip))
    return out


def render_walk(world, src: str, dst: str, proto: str) -> str:
    """The walk as HTML (diagram, summary, folded text), or a one-line message saying what went wrong."""
    try:
        walk = trace(world, src, dst, proto)
    except WalkError as e:
        return f"<p style='color:#b03a2e'>{html.escape(str(e))}</p>"
    except LookupError as e:  # a replayed world asked for a walk that was not recorded
        return f"<p style='color:#b03a2e'>{html.escape(str(e))}</p>"
    return walk.html()


def walk_explorer(world, src: str | None = None, dst: str | None = None, proto: str = "icmp"):
    """Dropdowns (source node, destination address, protocol) and the walk they give."""
    import ipywidgets as widgets
    nodes = list(world.topology.nodes)
    dsts = destinations(world)
    if not nodes or not dsts:
        return widgets.VBox([widgets.HTML("<p>this world has no addresses to send to</p>")])
    src = src if src in nodes else nodes[0]
    values = [v for _, v in dsts]
    dst = dst if dst in values else next((v for (label, v) in dsts if not label.startswith(src + " ")), values[0])
    style = {"description_width": "initial"}
    w_src = widgets.Dropdown(options=nodes, value=src, description="source", style=style)
    w_dst = widgets.Dropdown(options=dsts, value=dst, description="destination", style=style)
    w_proto = widgets.Dropdown(options=list(PROTOS), value=proto if proto in PROTOS else "icmp",
                               description="protocol", style=style)
    out = widgets.HTML(render_walk(world, w_src.value, w_dst.value, w_proto.value))

    def update(_=None):
        out.value = render_walk(world, w_src.value, w_dst.value, w_proto.value)

    for w in (w_src, w_dst, w_proto):
        w.observe(update, names="value")
    box = widgets.VBox([widgets.HBox([w_src, w_dst, w_proto]), out])
    box.result = out
    return box
