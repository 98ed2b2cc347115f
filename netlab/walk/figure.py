"""Figures that give the same PNG bytes on every run, and show themselves in a notebook.

matplotlib is imported inside :func:`new_figure` (a documented lazy import): the engine and the daemons
import netlab without it.
"""

from __future__ import annotations

import base64
import html
import io


def figure_png(fig) -> bytes:
    """A Figure as PNG bytes with fixed metadata (no software version or date): same figure, same bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def png_img(fig, alt: str = "") -> str:
    """A Figure as an HTML ``<img>`` with the PNG inline (a data URI), so a saved notebook carries it."""
    data = base64.b64encode(figure_png(fig)).decode()
    return f"<img alt='{html.escape(alt)}' style='max-width:100%' src='data:image/png;base64,{data}'>"


def new_figure(**kw):
    """A matplotlib Figure that shows itself as a PNG when it is a notebook cell's value.

    These figures are made without pyplot (no global figure list to leak or to display twice), so
    IPython's matplotlib formatter is not set up for them; ``_repr_png_`` is.
    """
    from matplotlib.figure import Figure  # lazy: only drawings need matplotlib

    class ShownFigure(Figure):
        def _repr_png_(self):
            return figure_png(self)

    return ShownFigure(**kw)
