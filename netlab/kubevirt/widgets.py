"""Chapter 9's binding explorer: choose a binding and the VM's declared ports, see what virt-launcher's
network setup makes of them (the commands, the NAT rules, what the DHCP server offers), from the same
functions the live worlds run (:mod:`.binding`, :mod:`.vm`)."""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..inputs import InputError
from .binding import bridge_binding_commands, masquerade_binding_commands, nft_commands
from .dhcp import Config, describe_options, parse, reply
from .vm import dhcp_settings

POD_IP, POD_MAC = "10.244.1.2/24", "0a:58:0a:f4:01:02"  # chapter 9's virt-launcher pod, as the CNI wired it
POD_ROUTES = [("10.244.0.0/16", "10.244.1.1"), ("0.0.0.0/0", "10.244.1.1")]


def _ports(text: str) -> list[int]:
    ports = []
    for word in text.replace(",", " ").split():
        if not word.isdigit() or not 1 <= int(word) <= 65535:
            raise InputError(f"ports are whole numbers from 1 to 65535 separated by commas, not {word!r}")
        ports.append(int(word))
    return ports


def render_binding(binding: str, ports_text: str = "80") -> str:
    """The HTML the explorer shows for BINDING and the declared ports (comma-separated)."""
    try:
        ports = _ports(ports_text)
        if binding == "bridge":
            cmds, nat, mac = bridge_binding_commands(POD_IP, POD_MAC), [], POD_MAC
        else:
            cmds, nat, mac = masquerade_binding_commands(), nft_commands(ports), "02:00:0a:00:02:02"
        settings = dhcp_settings(binding, POD_IP, mac, routes=POD_ROUTES)
    except InputError as e:
        return f"<p style='color:#8b0000'>✗ {html.escape(str(e))}</p>"
    discover = bytes(236) + b"\x63\x82\x53\x63\x35\x01\x01\xff"
    discover = b"\x01\x01\x06\x00" + discover[4:28] + bytes.fromhex(mac.replace(":", "")) + discover[34:]
    offer = parse(reply(discover, Config(**settings)))
    rows = "".join(f"<tr><td>{c}</td><td>{html.escape(n)}</td><td><code>{html.escape(v)}</code></td></tr>"
                   for c, n, v in describe_options(offer["options"]))
    pre = lambda lines: "<pre style='font-size:80%'>" + html.escape("\n".join(lines)) + "</pre>"
    return (f"<b>virt-launcher's commands ({binding} binding)</b>{pre(cmds)}"
            + (f"<b>nftables, table ip nat</b>{pre(['nft ' + c for c in nat])}" if nat else
               "<p>No NAT: the VM answers on the pod's own address.</p>")
            + f"<b>The DHCP OFFER to {mac}: yiaddr {offer['yiaddr']}</b>"
              f"<table style='font-size:85%'><tr><th>option</th><th>name</th><th>value</th></tr>{rows}</table>")


def binding_explorer(binding: str = "bridge", ports: str = "80"):
    """A dropdown (bridge, masquerade) and a ports box; the HTML of :func:`render_binding` below them."""
    pick = widgets.Dropdown(options=["bridge", "masquerade"], value=binding, description="binding")
    box = widgets.Text(value=ports, description="ports")
    out = widgets.HTML(render_binding(binding, ports))

    def update(_=None):
        out.value = render_binding(pick.value, box.value)

    pick.observe(update, names="value")
    box.observe(update, names="value")
    return widgets.VBox([widgets.HBox([pick, box]), out])
