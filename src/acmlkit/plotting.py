"""Figures built without pyplot, so importing acmlkit never touches matplotlib's backend.

Figure functions return a :class:`matplotlib.figure.Figure`; the caller decides
whether and where to save it (:func:`save_figure`), or shows it in a notebook.
"""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib.figure import Figure

# Report figures are embedded at page width (~980 px): 200 dpi keeps 8-pt text
# legible there and when zoomed.
DPI = 200


def new_figure(width: float = 6.4, height: float = 4.0, **subplots):
    """A constrained-layout Figure and its axes (``subplots`` go to ``Figure.subplots``)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(**subplots)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = DPI) -> Path:
    """Save ``fig`` (PNG, SVG or PDF by the suffix of ``path``) through a temporary file."""
    from acmlkit.results import atomic_write

    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    return atomic_write(path, buffer.getvalue())
