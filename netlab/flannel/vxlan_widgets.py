"""Chapter 6's widgets and figures: a VXLAN frame builder, each node's neighbour/FDB/route tables,
and a frame's header stack as an image.

The widgets return a ``widgets.VBox`` ending in a ``widgets.HTML`` set at construction and recomputed on
every change, so the static site shows the saved state. Bad input gives one sentence, never a
traceback.
"""

from __future__ import annotations

import html
import ipaddress
import re

import ipywidgets as widgets
from IPython.display import Image

from ..inputs import InputError, quote, whole_number
from ..packets.vxlan import KERNEL_DEFAULT_PORT, VXLAN_OVERHEAD, build_frame, header_sizes
from ..walk.draw import header_stack
from ..walk.figure import figure_png
from .lab import NODE1_VTEP_MAC, SEED_VTEP_MAC, vtep_tables

_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")
_COLOURS = {"outer Ethernet": "#fdebd0", "outer IPv4": "#fad7a0", "outer UDP": "#f8c471", "VXLAN": "#e8daef",
            "inner Ethernet": "#d6eaf8", "inner IPv4": "#aed6f1", "ICMP": "#d5f5e3", "payload": "#eeeeee"}


def _checked(addresses: dict, vni, port, payload, vtep_dst_mac) -> tuple[int, int, int]:
    """(VNI, port, payload) as numbers; InputError with one sentence on the first bad input."""
    for label, value in addresses.items():
        try:
            if not isinstance(value, str):  # ipaddress takes ints (5 is 0.0.0.5)
                raise ValueError(value)
            ipaddress.IPv4Address(value)
        except ValueError:
            raise InputError(f"{label} {quote(value)} is not an IPv4 address (e.g. 10.1.16.3)") from None
    # Parsed by the one number parser (ASCII digits, no bools); the ranges keep the chapter's wording.
    vni, port, payload = (whole_number(v, what) for v, what in ((vni, "the VNI"), (port, "the UDP port"),
                                                                 (payload, "the ICMP data size")))
    if vni >= 2 ** 24:
        raise InputError(f"VNI {vni} does not fit the 24-bit field (0 to 16777215)")
    if not 1 <= port <= 65535:
        raise InputError(f"port {port} is not a UDP port (1 to 65535)")
    if payload > 1422:
        raise InputError(f"ICMP data of {payload} bytes: choose 0 to 1422 (1422 + 28 = flannel.1's MTU 1450)")
    if not isinstance(vtep_dst_mac, str) or not _MAC.fullmatch(vtep_dst_mac):
        raise InputError(f"{quote(vtep_dst_mac)} is not a MAC address like 5e:f8:4f:00:e3:37")
    return vni, port, payload


def build(inner_src: str, inner_dst: str, outer_src: str, outer_dst: str, vni: int, port: int,
          payload: int = 56, vtep_dst_mac: str = SEED_VTEP_MAC):
    """(frame, rows) for the widget; raises ValueError with one sentence on bad input."""
    from scapy.layers.inet import ICMP, IP  # scapy takes a second to import: only once a frame is built
    vni, port, payload = _checked({"inner source": inner_src, "inner destination": inner_dst,
                                   "outer source": outer_src, "outer destination": outer_dst},
                                  vni, port, payload, vtep_dst_mac)
    inner = IP(src=inner_src, dst=inner_dst, ttl=64, id=1, flags="DF") / ICMP(id=1, seq=1) / (b"\0" * int(payload))
    frame = build_frame(inner, lan_src_mac="02:00:0a:a8:00:02", lan_dst_mac="02:00:0a:a8:00:03",
                        src=outer_src, dst=outer_dst, vtep_src_mac=NODE1_VTEP_MAC,
                        vtep_dst_mac=vtep_dst_mac, vni=int(vni), port=int(port), sport=49152, ip_id=1)
    sizes = header_sizes() + [("inner IPv4", 20), ("ICMP", 8), ("payload", int(payload))]
    rows, off = [], 0
    for name, size in sizes:
        rows.append((name, off, size))
        off += size
    return frame, rows


def frame_html(inner_src="10.1.15.2", inner_dst="10.1.16.3", outer_src="10.168.0.2", outer_dst="10.168.0.3",
                 vni=1, port=8472, payload=56) -> str:
    """The header stack, the bytes coloured by header, and the overhead, as HTML."""
    try:
        frame, rows = build(inner_src, inner_dst, outer_src, outer_dst, vni, port, payload)
    except (ValueError, TypeError) as e:
        return f"<p style='color:#b03a2e'>{html.escape(str(e))}</p>"
    raw = bytes(frame)
    stack = "".join(f"<td style='background:{_COLOURS[n]};padding:4px;border:1px solid #555;text-align:center'>"
                    f"<b>{html.escape(n)}</b><br>{s} B<br><small>{o}\u2013{o + s - 1}</small></td>"
                    for n, o, s in rows if s)
    spans = []
    for n, o, s in rows:
        if s:
            chunk = " ".join(f"{b:02x}" for b in raw[o:o + min(s, 24)]) + (" …" if s > 24 else "")
            spans.append(f"<span title='{html.escape(n)}' style='background:{_COLOURS[n]}'>{chunk}</span>")
    inner_len = 20 + 8 + int(payload)
    added = VXLAN_OVERHEAD
    notes = []
    if int(port) != KERNEL_DEFAULT_PORT:
        notes.append(f"UDP {int(port)}: a Linux VTEP created without dstport (flannel's case) listens on 8472,"
                     f" so it would not see this frame")
    if int(vni) != 1:
        notes.append(f"VNI {int(vni)}: flannel.1 has VNI 1; a receiver with no VTEP for VNI {int(vni)} drops it")
    return (f"<table style='border-collapse:collapse;font-size:85%'><tr>{stack}</tr></table>"
            f"<p style='font-family:monospace;font-size:80%;line-height:1.6'>{' '.join(spans)}</p>"
            f"<p>inner IP packet {inner_len} B; VXLAN adds {added} B inside the LAN's IP MTU (outer IP 20 + UDP 8"
            f" + VXLAN 8 + inner Ethernet 14) and 14 B of outer Ethernet: {len(raw)} B on the wire"
            f" ({100 * (len(raw) - inner_len) / len(raw):.1f}% overhead). Largest inner packet on a 1500 MTU LAN:"
            f" 1500 - {added} = {1500 - added}.</p>"
            + "".join(f"<p style='color:#7d6608'>{html.escape(n)}</p>" for n in notes))


def frame_builder() -> widgets.VBox:
    """Inner and outer addresses, VNI, port and ICMP data size -> header stack, bytes and overhead."""
    w = {"inner_src": widgets.Text("10.1.15.2", description="inner src"),
         "inner_dst": widgets.Text("10.1.16.3", description="inner dst"),
         "outer_src": widgets.Text("10.168.0.2", description="outer src"),
         "outer_dst": widgets.Text("10.168.0.3", description="outer dst"),
         "vni": widgets.IntText(1, description="VNI"),
         "port": widgets.IntText(8472, description="UDP port"),
         "payload": widgets.IntText(56, description="ICMP data")}
    out = widgets.HTML(frame_html())

    def update(_=None):
        out.value = frame_html(**{k: v.value for k, v in w.items()})
    for v in w.values():
        v.observe(update, names="value")
    box = widgets.VBox([widgets.HBox([w["inner_src"], w["inner_dst"]]), widgets.HBox([w["outer_src"], w["outer_dst"]]),
                        widgets.HBox([w["vni"], w["port"], w["payload"]]), out])
    box.inputs, box.result = w, out
    return box


def tables_html(texts: dict) -> str:
    """{node: tables text} (from :func:`netlab.flannel.vtep_tables`) as side-by-side HTML."""
    cells = "".join(f"<td style='vertical-align:top;padding:6px;border:1px solid #ccc'><b>{html.escape(n)}</b>"
                    f"<pre style='font-size:78%'>{html.escape(t)}</pre></td>" for n, t in texts.items())
    return f"<table style='border-collapse:collapse'><tr>{cells}</tr></table>"


def tables_view(world, nodes) -> widgets.VBox:
    """Each node's flannel.1 neighbour, FDB and route tables, re-read from the kernel on Refresh.

    Start or stop a node's flanneld (or delete its lease) and press Refresh: the entries follow.
    """
    nodes = list(nodes)

    def read():
        return {n: vtep_tables(world, n) for n in nodes}
    out = widgets.HTML(tables_html(read()))
    button = widgets.Button(description="Refresh")

    def update(_=None):
        try:
            out.value = tables_html(read())
        except Exception as e:  # a closed world: say so instead of a traceback
            out.value = f"<p style='color:#b03a2e'>could not read the tables: {html.escape(str(e))}</p>"
    button.on_click(update)
    box = widgets.VBox([button, out])
    box.result, box.refresh = out, update
    return box


def header_stack_image(frame):
    """:func:`netlab.header_stack` of FRAME as a PNG image for a notebook (fixed metadata: same frame,
    same bytes)."""
    return Image(data=figure_png(header_stack(frame)))
