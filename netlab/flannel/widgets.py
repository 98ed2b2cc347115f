"""Chapter 5's widgets: the encapsulation explorer and the etcd lease table.

:func:`encapsulation_explorer` takes an inner source and destination (the seed's containers, or any
address typed in) and shows the datagram flanneld would send for it: the outer addresses come from
the lease table (the node holding the destination's subnet), UDP port 8285 on both sides, the sizes
and the 28 bytes of overhead, all built with :mod:`netlab.packets.flannel` (scapy).
:func:`lease_table` shows the leases under ``/coreos.com/network/subnets`` as read from the store,
with a button that reads it again. Both end in a ``widgets.HTML`` set at construction, so the static
site shows the saved state.
"""

from __future__ import annotations

import html
import ipaddress
import json

import ipywidgets as widgets

from ..inputs import InputError, one_line, quote, whole_number
from ..packets.flannel import bind_flannel_udp, encapsulate
from .lab import NETWORK_CONFIG, StoreInfo, leases as read_leases
from .store import SUBNETS, subnet_key
from .udp import DEFAULT_PORT, ENCAP_OVERHEAD

__all__ = ["SEED_LEASES", "SEED_ADDRESSES", "encapsulation_html", "encapsulation_explorer",
           "lease_table_html", "lease_table"]

SEED_LEASES = {"100.96.1.0/24": "10.168.0.2", "100.96.2.0/24": "10.168.0.3"}
SEED_ADDRESSES = {"container-1": "100.96.1.2", "container-2": "100.96.2.3", "container-3": "100.96.3.4",
                  "node1's docker0": "100.96.1.1", "node2's docker0": "100.96.2.1"}
LAN_MTU = 1500

_ERROR = "<div class='netlab-error' style='color:#b00020'><b>{title}</b> {text}</div>"


def _public_ips(leases: dict) -> dict:
    """{IPv4Network: PublicIP} from {subnet: PublicIP} or {subnet: lease value dict or JSON}."""
    out = {}
    for subnet, value in leases.items():
        if isinstance(value, str) and value.startswith("{"):
            value = json.loads(value)
        out[ipaddress.IPv4Network(subnet)] = value.get("PublicIP") if isinstance(value, dict) else value
    return out


def _owner(table: dict, addr: ipaddress.IPv4Address):
    hits = [s for s in table if addr in s]
    return max(hits, key=lambda s: s.prefixlen) if hits else None


def _address(text: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"expected an address as text, not {type(text).__name__}")
    text = text.strip()
    return SEED_ADDRESSES.get(text, text.split(" ")[0] if text else text)


def _payload(payload) -> int:
    """The ICMP payload size: an int of bytes that fits one UDP datagram with its headers (the size
    box holds an int, so text such as '56' is refused here rather than by the widget's traitlets)."""
    if isinstance(payload, str):
        raise InputError(f"payload must be a number of bytes such as 56, not the text {quote(payload)}")
    return whole_number(payload, "the ICMP payload (bytes)", hi=65507 - 28)


class _Refused(ValueError):
    """Bad input to the explorer, carrying the HTML that says so in place."""


def _inputs(src, dst, leases, payload, network):
    """({network: PublicIP}, overlay, source, destination, payload), or _Refused with the sentence."""
    try:
        table = _public_ips(leases if leases is not None else SEED_LEASES)
        net = ipaddress.IPv4Network(network)
    except (ValueError, TypeError, AttributeError) as e:
        raise _Refused(_ERROR.format(title="Bad leases.", text=html.escape(
            f"{one_line(e, 200)}; give leases as {{subnet: PublicIP}}, e.g. {SEED_LEASES}."))) from None
    try:
        s, d = ipaddress.IPv4Address(_address(src)), ipaddress.IPv4Address(_address(dst))
    except ValueError as e:
        raise _Refused(_ERROR.format(title="Not an address.", text=html.escape(
            f"{one_line(e, 200)}; type a dotted IPv4 address such as 100.96.2.3, or pick one from the list."))) from None
    try:
        payload = _payload(payload)
    except InputError as e:
        raise _Refused(_ERROR.format(title="Bad size.", text=html.escape(f"{e}."))) from None
    return table, net, s, d, payload


def _not_encapsulated(table, net, s, d) -> str | None:
    """Why flanneld sends no datagram from S to D (the sentence as HTML), or None when it does."""
    s_net, d_net = _owner(table, s), _owner(table, d)
    leases_text = ", ".join(f"{n} &rarr; {ip}" for n, ip in sorted(table.items()))
    if s_net is None:
        return _ERROR.format(title="No flannel node holds the source.",
                             text=f"{s} is in no lease ({leases_text}), so no node's containers send from it.")
    if d not in net:
        return (f"<div class='netlab-encap'><p>{d} is outside the overlay {net}: node {table[s_net]} sends it by"
                f" its own routes (its default route), not into <code>flannel0</code>. flanneld never sees it:"
                f" no encapsulation, 0 bytes of overhead.</p></div>")
    if d_net == s_net:
        return (f"<div class='netlab-encap'><p>{s} and {d} are both in {s_net}, on the same node ({table[s_net]}):"
                f" <code>docker0</code> delivers the packet (the /24 route beats the /16 into flannel0)."
                f" No encapsulation.</p></div>")
    if d_net is None:
        return (f"<div class='netlab-encap'><p>{d} is inside {net}, so node {table[s_net]} routes it into"
                f" <code>flannel0</code>, but no lease holds it ({leases_text}). flanneld writes an ICMP"
                f" destination net unreachable back into <code>flannel0</code> (from {s_net.network_address},"
                f" TTL 8); nothing goes on the LAN.</p></div>")
    return None


def _layers_html(built, outer_src: str, payload: int) -> str:
    """The datagram's four headers as table rows: addresses, fields, sizes."""
    from scapy.layers.inet import IP, UDP  # scapy takes a second to import: only once a packet is built
    rows = [("outer IP", f"{built.src} &rarr; {built.dst}", f"proto 17 (UDP), TTL {built.ttl}, DF", 20),
            ("outer UDP", f"{built[UDP].sport} &rarr; {built[UDP].dport}", f"length {built[UDP].len}", 8),
            ("inner IP", f"{built[UDP][IP].src} &rarr; {built[UDP][IP].dst}",
             f"TTL {built[UDP][IP].ttl} (64 less node {outer_src}'s forward and flanneld's)", 20),
            ("inner ICMP", "echo request", f"{payload} bytes of payload", 8 + payload)]
    return "".join(f"<tr><td>{n}</td><td>{a}</td><td>{html.escape(w)}</td><td style='text-align:right'>{b}</td></tr>"
                   for n, a, w, b in rows)


def encapsulation_html(src: str, dst: str, leases: dict | None = None, payload: int = 56,
                       network: str = NETWORK_CONFIG["Network"], port: int = DEFAULT_PORT) -> str:
    """The explorer's HTML for one inner packet (an ICMP echo with PAYLOAD bytes); never raises on bad input."""
    from scapy.layers.inet import ICMP, IP  # scapy takes a second to import: only once a packet is built
    try:
        table, net, s, d, payload = _inputs(src, dst, leases, payload, network)
    except _Refused as e:
        return str(e)
    why_not = _not_encapsulated(table, net, s, d)
    if why_not is not None:
        return why_not
    s_net, d_net = _owner(table, s), _owner(table, d)
    inner = IP(src=str(s), dst=str(d), ttl=64) / ICMP(id=1, seq=1) / (b"\0" * payload)
    inner_len = len(bytes(inner))
    outer_src, outer_dst = table[s_net], table[d_net]
    bind_flannel_udp(port)
    built = IP(bytes(encapsulate(inner, outer_src, outer_dst, port)))  # built and parsed: lengths filled in
    outer_len = len(bytes(built))
    note = ""
    mtu = LAN_MTU - ENCAP_OVERHEAD
    if inner_len > mtu:
        note = (f"<p style='color:#b00020'>The inner packet ({inner_len} bytes) is larger than flannel0's MTU"
                f" ({mtu}): with DF set node {outer_src} answers &ldquo;Frag needed (mtu = {mtu})&rdquo;;"
                f" without it the node fragments the inner packet before flannel0 and flanneld sends one datagram"
                f" per fragment.</p>")
    return (f"<div class='netlab-encap'><p>{s} (node {outer_src}, lease {s_net}) to {d} (node {outer_dst},"
            f" lease {d_net}): flanneld on {outer_src} sends <code>{html.escape(built.summary())}</code>.</p>"
            f"<table class='netlab-encap-layers'><tr><th>header</th><th>addresses / ports</th><th>fields</th>"
            f"<th>bytes</th></tr>{_layers_html(built, outer_src, payload)}</table>"
            f"<p>inner IP packet <b>{inner_len}</b> bytes + outer IP 20 + UDP 8 = <b>{outer_len}</b> bytes on the"
            f" LAN: <b>{ENCAP_OVERHEAD}</b> bytes of overhead ({100 * ENCAP_OVERHEAD / outer_len:.1f}% of the"
            f" datagram).</p>{note}</div>")


def encapsulation_explorer(leases: dict | None = None, src: str = "100.96.1.2", dst: str = "100.96.2.3",
                           payload: int = 56) -> widgets.VBox:
    """Pick or type an inner source and destination; see the datagram flanneld would send.

    LEASES is {subnet: PublicIP} or :func:`netlab.flannel.lab.leases`'s output (the seed's two by default).
    """
    leases = dict(leases) if leases is not None else dict(SEED_LEASES)
    payload = _payload(payload)  # the size box takes only an int: say so here, not in a TraitError
    for what, value in (("src", src), ("dst", dst)):
        if not isinstance(value, str):
            raise InputError(f"{what} must be an address as text such as '100.96.2.3', not "
                             f"{type(value).__name__} {quote(value)}")
    options = [ip for ip in SEED_ADDRESSES.values()]
    s = widgets.Combobox(value=src, options=options, description="inner src", ensure_option=False)
    d = widgets.Combobox(value=dst, options=options + ["100.96.9.9", "10.168.0.1"], description="inner dst",
                         ensure_option=False)
    size = widgets.BoundedIntText(value=payload, min=0, max=65479, description="ICMP bytes")
    out = widgets.HTML(encapsulation_html(src, dst, leases, payload))

    def update(_=None):
        out.value = encapsulation_html(s.value, d.value, leases, size.value)

    for w in (s, d, size):
        w.observe(update, names="value")
    box = widgets.VBox([widgets.HBox([s, d, size]), out])
    box.leases = leases
    return box


def lease_table_html(leases: dict, store: StoreInfo | str | None = None, reads: int = 1) -> str:
    """The lease table's HTML from {subnet: lease value (dict or JSON) or PublicIP}."""
    rows = []
    for subnet in sorted(leases, key=lambda n: ipaddress.IPv4Network(n)):
        value = leases[subnet]
        if isinstance(value, str) and value.startswith("{"):
            value = json.loads(value)
        if not isinstance(value, dict):
            value = {"PublicIP": value}
        net = ipaddress.IPv4Network(subnet)
        rows.append(f"<tr><td><code>{html.escape(subnet_key(net))}</code></td><td>{net}</td>"
                    f"<td>{html.escape(str(value.get('PublicIP')))}</td>"
                    f"<td>{html.escape(str(value.get('BackendType', '')))}</td>"
                    f"<td>{net.network_address}/{ipaddress.IPv4Network(NETWORK_CONFIG['Network']).prefixlen}</td></tr>")
    body = "".join(rows) or "<tr><td colspan='5'><i>no lease yet: no flanneld has started</i></td></tr>"
    source = f"<p>Read from {html.escape(str(store))} (read {reads} time{'s' if reads != 1 else ''}).</p>" if store else ""
    return (f"<div class='netlab-leases'><p><b>{len(rows)} lease{'s' if len(rows) != 1 else ''}</b> under"
            f" <code>{SUBNETS}</code>:</p><table class='netlab-lease-table'><tr><th>key</th><th>subnet</th>"
            f"<th>PublicIP (send datagrams to)</th><th>backend</th><th>flannel0's address</th></tr>{body}</table>"
            f"{source}</div>")


def lease_table(world, store: StoreInfo, node: str = "node1") -> widgets.VBox:
    """The leases in STORE, read with etcdctl in NODE; the button reads them again (after a node joins)."""
    state = {"reads": 1}
    out = widgets.HTML(lease_table_html(read_leases(world, store, node), store, 1))
    button = widgets.Button(description="read the store again", icon="refresh")

    def refresh(_=None):
        state["reads"] += 1
        try:
            out.value = lease_table_html(read_leases(world, store, node), store, state["reads"])
        except Exception as e:  # a closed world or a stopped store: say so in place
            out.value = _ERROR.format(title="Cannot read the store.", text=html.escape(str(e)))

    button.on_click(refresh)
    box = widgets.VBox([button, out])
    box.refresh = refresh
    return box
