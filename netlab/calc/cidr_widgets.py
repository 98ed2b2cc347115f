"""ipywidgets calculators for the CIDR chapter.

Each function returns a ``widgets.VBox``: input widgets, then a ``widgets.HTML``
whose value is recomputed whenever an input's ``value`` changes.  The output is an
HTML widget, not ``widgets.Output``, because the static site renders only saved
widget state and an HTML widget's value *is* state; so the first value is computed
at construction time.  Bad input shows an inline error box (class ``netlab-error``),
never a traceback.

The returned box also carries its parts as attributes for notebooks and tests:
``box.output`` (the HTML widget) and one attribute per input (see each function).
"""

from __future__ import annotations

import ipywidgets as widgets

from .cidr import CidrError, describe, error_html, same_subnet, seed_tables, split, supernet

__all__ = ["cidr_calculator", "same_subnet_checker", "subnet_splitter", "supernet_finder"]

_LAYOUT = widgets.Layout(width="28em")
_STYLE = {"description_width": "8em"}


def _render(compute) -> str:
    try:
        return compute()
    except CidrError as exc:
        return error_html(str(exc))


def _wire(box: widgets.VBox, inputs, compute) -> widgets.VBox:
    def update(_change=None):
        box.output.value = _render(compute)

    for w in inputs:
        w.observe(update, names="value")
    update()
    return box


def _text(value, description, placeholder) -> widgets.Text:
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    return widgets.Text(
        value=value,
        description=description,
        placeholder=placeholder,
        continuous_update=True,
        layout=_LAYOUT,
        style=_STYLE,
    )


def cidr_calculator(value: str = "10.233.64.0/18") -> widgets.VBox:
    """A CIDR box and the seed's three tables (network/host bits coloured) plus the
    summary.  Attributes: ``box.cidr`` (Text), ``box.output`` (HTML)."""
    cidr = _text(value, "CIDR", "e.g. 10.233.64.0/18")
    output = widgets.HTML()
    box = widgets.VBox([cidr, output])
    box.cidr, box.output = cidr, output

    def compute() -> str:
        d = describe(cidr.value)
        return seed_tables(cidr.value).html() + d._repr_html_()

    return _wire(box, [cidr], compute)


def same_subnet_checker(a: str = "192.168.0.3/26", b: str = "192.168.0.192/26") -> widgets.VBox:
    """Two address/prefix boxes; the verdict and the AND working for each.
    Attributes: ``box.a``, ``box.b`` (Text), ``box.output`` (HTML)."""
    wa = _text(a, "PC1", "e.g. 192.168.0.3/26")
    wb = _text(b, "PC2", "e.g. 192.168.0.192/26")
    output = widgets.HTML()
    box = widgets.VBox([wa, wb, output])
    box.a, box.b, box.output = wa, wb, output
    return _wire(box, [wa, wb], lambda: same_subnet(wa.value, wb.value).html())


def subnet_splitter(prefix: str = "10.233.64.0/18", count: int = 4, new_prefix: int | None = None) -> widgets.VBox:
    """Split a prefix by a number of subnets or by a new prefix length.

    Attributes: ``box.prefix`` (Text), ``box.mode`` (ToggleButtons: "count" or
    "new prefix"), ``box.number`` (BoundedIntText), ``box.output`` (HTML).
    Starts in "new prefix" mode when ``new_prefix`` is given.
    """
    wprefix = _text(prefix, "Prefix", "e.g. 10.233.64.0/18")
    by_prefix = new_prefix is not None
    mode = widgets.ToggleButtons(
        options=["count", "new prefix"],
        value="new prefix" if by_prefix else "count",
        description="Split by",
        style=_STYLE,
    )
    start = new_prefix if by_prefix else count
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= 1 << 20:
        start = 4
    number = widgets.BoundedIntText(value=start, min=0, max=1 << 20, description="Number", style=_STYLE)
    output = widgets.HTML()
    box = widgets.VBox([wprefix, mode, number, output])
    box.prefix, box.mode, box.number, box.output = wprefix, mode, number, output

    def compute() -> str:
        if mode.value == "count":
            r = split(wprefix.value, count=number.value, limit=64)
        else:
            r = split(wprefix.value, new_prefix=number.value, limit=64)
        return r.html()

    return _wire(box, [wprefix, mode, number], compute)


def supernet_finder(networks="10.233.64.0/18\n10.233.128.0/18") -> widgets.VBox:
    """Prefixes one per line (or comma-separated); the smallest covering prefix and
    the exact CIDR merge.  Attributes: ``box.networks`` (Textarea), ``box.output``."""
    if not isinstance(networks, str):
        networks = "\n".join(str(n) for n in networks)
    area = widgets.Textarea(
        value=networks,
        description="Prefixes",
        placeholder="one prefix per line",
        layout=widgets.Layout(width="28em", height="8em"),
        style=_STYLE,
    )
    output = widgets.HTML()
    box = widgets.VBox([area, output])
    box.networks, box.output = area, output
    return _wire(box, [area], lambda: supernet(area.value).html())


