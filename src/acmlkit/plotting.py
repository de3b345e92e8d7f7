"""Matplotlib set up for files, never for a screen: figures are drawn from saved results."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def new_figure(width: float = 6.4, height: float = 4.0):
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def save_figure(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
