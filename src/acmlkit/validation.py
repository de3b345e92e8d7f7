"""Input checks shared by every estimator: each names the parameter and what was wrong.

Only the standard library is imported at module level (numpy inside
:func:`check_array`), so a part's ``cli.py`` can use :func:`finite` and stay cheap
to import.
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from typing import TYPE_CHECKING

from acmlkit.errors import DataError, InsufficientMemory

if TYPE_CHECKING:
    import numpy as np


def finite(value):
    """Typer/click option callback: reject NaN and infinity with a usage error.

    ``typer.Option(0.1, callback=finite)``; works for one number, ``None`` (an
    unset optional) and lists or tuples of numbers. ``acml`` also applies this
    check to every float option of every command, so the callback matters for
    commands used outside ``acmlkit.cli.app``.
    """
    import typer

    items = value if isinstance(value, (list, tuple)) else (value,)
    for item in items:
        if isinstance(item, float) and not math.isfinite(item):
            raise typer.BadParameter(f"expected a finite number, got {item}")
    return value


def check_array(
    X,
    name: str = "X",
    *,
    ndim: int | None = 2,
    dtype=None,
    allow_nan: bool = False,
    min_rows: int = 1,
) -> np.ndarray:
    """Return ``X`` as a contiguous floating array, or raise a clear :class:`DataError`.

    ``dtype`` is the accepted float type(s), float64 and float32 by default; other
    inputs are converted to the first.
    """
    import numpy as np

    if dtype is None:
        dtype = (np.float64, np.float32)
    accepted = dtype if isinstance(dtype, tuple) else (dtype,)
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise DataError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype not in accepted:
        arr = arr.astype(accepted[0])
    arr = np.ascontiguousarray(arr)
    if ndim is not None and arr.ndim != ndim:
        raise DataError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise DataError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    if not allow_nan and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise DataError(f"{name} contains NaN or infinity (first at index {tuple(bad.tolist())})")
    return arr


def check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """An integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return int(value)


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real in the interval given; open ends exclude the bound."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value}")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def available_memory() -> int | None:
    """Bytes the system can give now (MemAvailable on Linux, else free pages), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int, what: str, advice: str) -> None:
    """Refuse, before any work, ``what`` when its estimate ``needed`` (bytes) cannot fit.

    Raises :class:`InsufficientMemory` (a ValueError and a MemoryError) naming both
    numbers and ``advice``; where free memory cannot be read, the work is tried.
    """
    available = available_memory()
    if available is not None and needed > available:
        raise InsufficientMemory(
            f"{what} needs about {needed / 2**30:.1f} GiB but {available / 2**30:.1f} GiB "
            f"is available; {advice}"
        )
