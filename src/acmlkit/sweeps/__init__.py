"""Grids of trials run locally (joblib) or on a Dask cluster, with a resumable results store."""

from acmlkit.sweeps.runner import run_sweep
from acmlkit.sweeps.spec import SweepSpec, Trial
from acmlkit.sweeps.store import ResultsStore

__all__ = ["ResultsStore", "SweepSpec", "Trial", "run_sweep"]
