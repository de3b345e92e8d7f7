"""Run a sweep's trials sequentially, with joblib, or on a Dask cluster.

Outcomes are written to the results store as each trial completes, so an
interrupted sweep rerun with the same command only runs what is missing.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from acmlkit.progress import progress
from acmlkit.results import save_json
from acmlkit.sweeps.registry import resolve
from acmlkit.sweeps.spec import SweepSpec, Trial
from acmlkit.sweeps.store import ResultsStore


def execute_trial(trial: Trial) -> dict:
    """Run one trial; failures become a record with the error, never an exception."""
    start = time.perf_counter()
    outcome = {"key": trial.key, "experiment": trial.experiment, "params": trial.params}
    try:
        result = resolve(trial.experiment)(**trial.params)
        outcome.update(status="ok", result=result, error=None)
    except Exception as exc:  # a failing trial must not stop the sweep
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        outcome.update(status="error", result=None, error=detail)
    outcome["seconds"] = time.perf_counter() - start
    return outcome


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    cluster: str | None = None,
) -> dict:
    """Run every trial of ``spec`` not already finished in ``out_dir``.

    Parameters
    ----------
    jobs : int
        Parallel joblib processes on this machine, or workers of a local Dask cluster.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:port``).
    cluster : {"local", "inprocess"}, optional
        Start a Dask cluster: ``local`` with ``jobs`` worker processes,
        ``inprocess`` with threads in this process (for tests and debugging).

    Returns a summary: trials in total, skipped as already done, run, failed.
    """
    if scheduler and cluster:
        raise ValueError("give either --scheduler or --cluster, not both")
    if cluster not in (None, "local", "inprocess"):
        raise ValueError(f"cluster must be 'local' or 'inprocess', got {cluster!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    resolve(spec.experiment)  # fail before starting anything if the name is wrong
    store = ResultsStore(out_dir)
    save_json(spec.to_dict(), Path(out_dir) / "sweep.json")
    trials = spec.trials()
    done = store.finished_keys()
    pending = [t for t in trials if t.key not in done]

    if scheduler or cluster:
        outcomes = _dask_outcomes(pending, jobs, scheduler, cluster)
    elif jobs > 1:
        outcomes = _joblib_outcomes(pending, jobs)
    else:
        outcomes = map(execute_trial, pending)

    failed = 0
    for outcome in progress(outcomes, total=len(pending), desc="trials"):
        store.record(outcome)
        failed += outcome["status"] == "error"
    return {
        "trials": len(trials),
        "skipped": len(trials) - len(pending),
        "ran": len(pending),
        "failed": failed,
    }


@dataclass(frozen=True)
class Execution:
    """Where a grid's trials run: the ``--jobs`` / ``--cluster`` / ``--scheduler`` flags."""

    jobs: int = 1
    scheduler: str | None = None
    cluster: str | None = None


def run_grid(
    experiment: str,
    out_dir: str | Path,
    *,
    grid: dict[str, list],
    seeds: tuple[int, ...],
    fixed: dict | None = None,
    execution: Execution = Execution(),
) -> list[dict]:
    """Run a grid of trials through the results store in ``out_dir`` and return its rows.

    The studies of every part call this: an interrupted study rerun with the
    same arguments runs only the missing trials. Rows come back in the grid's
    order (seeds innermost) as ``{**params, **metrics}``; a failed trial raises
    ValueError naming it, since a study cannot be summarised with a hole.
    """
    spec = SweepSpec(experiment=experiment, grid=grid, seeds=tuple(seeds), fixed=fixed or {})
    run_sweep(spec, out_dir, jobs=execution.jobs, scheduler=execution.scheduler,
              cluster=execution.cluster)
    records = {row["key"]: row for row in ResultsStore(out_dir).rows()}
    rows = []
    for trial in spec.trials():
        record = records.get(trial.key)
        if record is None or record["status"] != "ok":
            error = record["error"] if record else "not run"
            raise ValueError(
                f"trial {trial.params} of {experiment!r} failed: {error} "
                f"(the store in {out_dir} keeps the others; rerun to retry)"
            )
        rows.append({**trial.params, **record["result"]})
    return rows


def _joblib_outcomes(trials: list[Trial], jobs: int) -> Iterable[dict]:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered")
    return parallel(delayed(execute_trial)(t) for t in trials)


def _dask_outcomes(trials, jobs, scheduler, cluster) -> Iterator[dict]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ValueError(
            "Dask is not installed; install acmlkit[dask] to use --scheduler or --cluster"
        ) from None
    if scheduler:
        client, local = Client(scheduler, timeout=30), None
    else:
        local = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=cluster == "local",
            dashboard_address=None,
        )
        client = Client(local)
    try:
        # Keys name the trial, so a result the scheduler already holds is reused
        # rather than computed twice; a task lost with a dying worker is rerun.
        futures = [
            client.submit(execute_trial, t, key=f"trial-{t.key}", pure=False) for t in trials
        ]
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        client.close()
        if local is not None:
            local.close()
