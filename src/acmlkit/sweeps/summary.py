"""One summary over seeds for every study: mean and sample standard deviation."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

# Sample standard deviation (ddof = 1) everywhere: seeds are a sample of runs.
DDOF = 1


def mean_std(values: Iterable[float]) -> tuple[float, float | None]:
    """Mean and sample std of ``values``; the std is ``None`` for a single value.

    Raises ValueError on an empty input or on a NaN, which would otherwise
    print as a result.
    """
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        raise ValueError("no values to summarise")
    if not np.isfinite(arr).all():
        raise ValueError(f"cannot summarise non-finite values {arr.tolist()}")
    std = float(arr.std(ddof=DDOF)) if arr.size > DDOF else None
    return float(arr.mean()), std


def summarise(
    rows: Sequence[dict], by: Sequence[str], metrics: Sequence[str]
) -> list[dict]:
    """Group ``rows`` by the values of ``by`` (first-seen order) and summarise ``metrics``.

    Each output row holds the ``by`` values, ``n_seeds``, and ``mean_<metric>`` and
    ``std_<metric>`` for every metric.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(row)
    out = []
    for key, members in groups.items():
        entry = dict(zip(by, key))
        entry["n_seeds"] = len(members)
        for metric in metrics:
            entry[f"mean_{metric}"], entry[f"std_{metric}"] = mean_std(r[metric] for r in members)
        out.append(entry)
    return out


def format_mean_std(mean: float, std: float | None, digits: int = 4) -> str:
    """``0.1234 ± 0.0056``, or the mean alone when there is no std (one seed)."""
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
