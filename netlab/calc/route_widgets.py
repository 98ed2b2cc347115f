"""A route-lookup explorer for the seed's section "主机（Mac OS）和 vSphere 虚拟机网络互通原理".

Pick one of the seed's tables (or paste your own), type a destination, and see
which route the kernel uses and why. The result is a ``widgets.HTML`` whose
value is computed at construction, so the static site (which renders only
saved widget state) shows it too.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ..inputs import quote
from .route_lookup import lookup
from .routes import FORMATS, RouteTableError, explain_flags
from .routetable import SEED_TABLES, parse_routes

__all__ = ["route_lookup_explorer", "render_route_lookup", "EXPLORER_TABLES"]

CUSTOM = "custom"

# dropdown label -> SEED_TABLES key
EXPLORER_TABLES: dict[str, str] = {
    "Mac host A: netstat -nr": "mac-host-a",
    "vSphere VM B: route -n": "vm-b",
    "Node 1 (Flannel UDP): ip route": "node1",
    "Node 2 (Flannel UDP): ip route": "node2",
    "Paste your own": CUSTOM,
}


def _error_html(title: str, message: str) -> str:
    return (f'<div class="netlab-error" style="color:#b00020"><b>{html.escape(title)}</b> '
            f"{html.escape(message)}</div>")


def render_route_lookup(table_text: str, destination: str) -> str:
    """The explorer's HTML for one table and one destination.

    Never raises for bad input: an unreadable table or address becomes a
    specific message in the HTML.
    """
    try:
        table = parse_routes(table_text)
    except RouteTableError as exc:
        return _error_html("Could not read the table.", str(exc))
    parts = [f'<p class="netlab-route-format">Detected format: <b>{html.escape(FORMATS[table.format])}</b>'
             f" ({len(table)} route{'s' if len(table) != 1 else ''})</p>"]
    for note in table.notes:
        parts.append(f'<p class="netlab-route-note"><i>{html.escape(note)}</i></p>')
    try:
        result = lookup(table, destination)
    except RouteTableError as exc:
        parts.append(_error_html("Check the destination.", str(exc)))
        return "".join(parts)
    parts.append(result.html())
    if result.candidates:
        items = []
        for c in result.candidates:
            chosen = " <b>(chosen)</b>" if c.index == result.index else ""
            note = f" &mdash; {html.escape(c.note)}" if c.note else ""
            items.append(f"<li>/{c.prefixlen} {html.escape(c.route.describe())}{chosen}{note}</li>")
        parts.append('<p><b>All matching routes</b></p><ul class="netlab-route-candidates">'
                     + "".join(items) + "</ul>")
    else:
        parts.append('<p class="netlab-route-candidates"><b>No route matches.</b></p>')
    seen: list[str] = []
    word_flags = table.format.startswith("iproute2")
    for r in table:
        for item in (r.flags.split() if word_flags else list(r.flags)):
            if item not in seen:
                seen.append(item)
    if seen:
        lines = explain_flags((" " if word_flags else "").join(seen), table.format).splitlines()
        parts.append('<p><b>Flags in this table</b></p><ul class="netlab-route-flags">'
                     + "".join(f"<li><code>{html.escape(line)}</code></li>" for line in lines)
                     + "</ul>")
    return "".join(parts)


def route_lookup_explorer(table_text: str | None = None,
                          destination: str = "10.6.8.1") -> widgets.VBox:
    """A VBox: table Dropdown, table Textarea, destination Text, result HTML.

    With ``table_text`` the dropdown starts on "Paste your own"; otherwise on
    Mac host A's ``netstat -nr``. Children, in order: ``Dropdown``,
    ``Textarea``, ``Text``, ``HTML``.
    """
    for what, value in (("table_text", table_text), ("destination", destination)):
        if value is not None and not isinstance(value, str):
            raise RouteTableError(f"{what} must be text (str), not {type(value).__name__} {quote(value)}.")
    labels = list(EXPLORER_TABLES)
    keys = [EXPLORER_TABLES[label] for label in labels]
    start = CUSTOM if table_text is not None else "mac-host-a"
    text = table_text if table_text is not None else SEED_TABLES["mac-host-a"]
    dropdown = widgets.Dropdown(options=list(zip(labels, keys)), value=start,
                                description="Table:")
    textarea = widgets.Textarea(value=text, description="Routes:", rows=8,
                                layout=widgets.Layout(width="100%"))
    dest = widgets.Text(value="" if destination is None else str(destination),
                        description="Destination:", placeholder="10.6.8.1")
    output = widgets.HTML(value=render_route_lookup(text, dest.value))
    busy = {"on": False}

    def refresh(_change=None):
        try:
            output.value = render_route_lookup(textarea.value, dest.value)
        except Exception as exc:  # a bug here must not show a traceback to a reader
            output.value = _error_html("Internal error (please report it):",
                                       f"{type(exc).__name__}: {exc}")

    def on_dropdown(change):
        if change["new"] != CUSTOM:
            busy["on"] = True
            try:
                textarea.value = SEED_TABLES[change["new"]]
            finally:
                busy["on"] = False
        refresh()

    def on_text(change):
        if not busy["on"] and dropdown.value != CUSTOM and \
                change["new"] != SEED_TABLES.get(dropdown.value):
            busy["on"] = True
            try:
                dropdown.value = CUSTOM
            finally:
                busy["on"] = False
        refresh()

    dropdown.observe(on_dropdown, names="value")
    textarea.observe(on_text, names="value")
    dest.observe(refresh, names="value")
    return widgets.VBox([dropdown, textarea, dest, output])
