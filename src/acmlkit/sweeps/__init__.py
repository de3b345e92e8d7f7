"""Grids of trials run locally (joblib) or on a Dask cluster, with a resumable results store.

Every study of every part is a grid of trials run through :func:`run_grid`.
Names are imported on first use, so ``acmlkit.sweeps.cli`` (the shared
``--jobs``/``--cluster``/``--scheduler`` options) stays cheap to import.
"""

import importlib

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


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"acmlkit.sweeps.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'acmlkit.sweeps' has no attribute {name!r}")


def __dir__():
    return __all__
