"""Grids of trials run locally (joblib) or on a Dask cluster, with a resumable results store.

Every study of every part is a grid of trials run through :func:`run_grid`.
Names are imported on first use, so ``acmlkit.sweeps.cli`` (the shared
``--jobs``/``--cluster``/``--scheduler`` options) stays cheap to import.
"""

from acmlkit.lazy import lazy_exports

_EXPORTS = {
    "Execution": "runner",
    "run_grid": "runner",
    "run_sweep": "runner",
    "SweepSpec": "spec",
    "Trial": "spec",
    "ResultsStore": "store",
    "mean_std": "summary",
    "summarise": "summary",
    "format_mean_std": "summary",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
