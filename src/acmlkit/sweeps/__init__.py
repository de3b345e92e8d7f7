"""Grids of trials run locally (joblib) or on a Dask cluster, with a resumable results store.

Every study of every part is a grid of trials run through :func:`run_grid`.
"""

from acmlkit.sweeps.runner import Execution, run_grid, run_sweep
from acmlkit.sweeps.spec import SweepSpec, Trial
from acmlkit.sweeps.store import ResultsStore
from acmlkit.sweeps.summary import mean_std, summarise

__all__ = [
    "Execution",
    "ResultsStore",
    "SweepSpec",
    "Trial",
    "mean_std",
    "run_grid",
    "run_sweep",
    "summarise",
]
