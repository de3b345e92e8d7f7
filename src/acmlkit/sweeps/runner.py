"""Run a sweep's trials sequentially, with joblib, or on a Dask cluster.

Outcomes are written to the results store as each trial completes, so an
interrupted sweep rerun with the same command only runs what is missing.

An output folder holds one sweep at a time: a lock file keeps a second process
out while a sweep runs, and ``sweep.json`` names the sweep the folder holds.
Worker processes watch the process that started them and exit when it dies, so
SIGKILL of ``acml sweep`` leaves none behind; SIGINT and SIGTERM stop the workers
before the command exits.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from acmlkit.errors import DataError
from acmlkit.processes import pid_alive
from acmlkit.progress import progress
from acmlkit.results import save_json
from acmlkit.sweeps.registry import check_allowed, check_parameters, resolve
from acmlkit.sweeps.spec import SweepSpec, Trial
from acmlkit.sweeps.store import ResultsStore, StoreError

LOCK_NAME = ".acml-sweep.lock"
SPEC_NAME = "sweep.json"
# How often (seconds) a worker checks that the process that started it is alive.
WATCH_INTERVAL = 0.5

_watching = False


def execute_trial(trial: Trial, parent_pid: int | None = None) -> dict:
    """Run one trial; failures become a record with the error, never an exception.

    ``parent_pid``: in a worker process, the pid of the sweep's process; the worker
    exits (with its own children) as soon as that process is gone.
    """
    if parent_pid is not None:
        watch_parent(parent_pid)
    start = time.perf_counter()
    outcome = {"key": trial.key, "experiment": trial.experiment, "params": trial.params}
    try:
        result = resolve(trial.experiment)(**trial.params)
        _check_metrics(result)
        outcome.update(status="ok", result=result, error=None)
    except Exception as exc:  # a failing trial must not stop the sweep
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        outcome.update(status="error", result=None, error=detail)
    outcome["seconds"] = time.perf_counter() - start
    return outcome


def _check_metrics(result) -> None:
    """A trial returns a dict of JSON-ready metrics; a NaN metric is an error, not a result."""
    if not isinstance(result, dict):
        raise TypeError(f"a trial must return a dict of metrics, got {type(result).__name__}")

    def check(value, where):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"metric {where!r} is {value}")
        if isinstance(value, dict):
            for k, v in value.items():
                check(v, f"{where}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                check(v, f"{where}[{i}]")

    for name, value in result.items():
        check(value, name)
    json.dumps(result, allow_nan=False)


def watch_parent(parent_pid: int) -> None:
    """Start (once per process) a thread that ends this worker when ``parent_pid`` is gone.

    Does nothing in the sweep's own process (threads of an in-process cluster).
    A dead parent shows as a changed ``os.getppid()`` (the worker is re-parented),
    which cannot be fooled by a reused pid.
    """
    global _watching
    if _watching or os.getpid() == parent_pid:
        return
    _watching = True
    original = os.getppid()

    def watch():
        while True:
            time.sleep(WATCH_INTERVAL)
            ppid = os.getppid()
            if ppid != original or not pid_alive(parent_pid):
                _kill_descendants(os.getpid())
                os._exit(1)

    threading.Thread(target=watch, name="acml-parent-watch", daemon=True).start()


def _children(pid: int) -> list:
    try:
        import psutil
    except ImportError:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_descendants(pid: int, keep: frozenset[int] = frozenset()) -> None:
    """SIGKILL every descendant of ``pid`` except the ``keep`` pids (psutil, when present)."""
    for child in _children(pid):
        if child.pid in keep:
            continue
        try:
            child.kill()
        except Exception:  # already gone, or not ours to kill
            pass


@contextmanager
def _folder_lock(folder: Path):
    """Hold an exclusive lock on ``folder`` for one sweep; released even on SIGKILL."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        yield
        return
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DataError(
                f"{folder} is in use by another running sweep (pid {holder}); wait for it to "
                "finish, or use another --out folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def _describe(spec: dict) -> str:
    grid = ", ".join(f"{k}={v}" for k, v in spec.get("grid", {}).items()) or "no grid"
    return f"experiment {spec.get('experiment')!r}, {grid}, seeds {spec.get('seeds')}"


def _claim_folder(folder: Path, spec: SweepSpec, exclusive: bool) -> None:
    """Refuse a folder that holds another sweep; a rerun of the same one resumes."""
    path = folder / SPEC_NAME
    wanted = json.loads(json.dumps(spec.to_dict()))
    if exclusive and path.is_file():
        try:
            present = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"{path} is unreadable ({exc}); the folder holds a damaged sweep: use another "
                "--out folder or delete this one"
            ) from None
        if present != wanted:
            raise DataError(
                f"{folder} already holds another sweep ({_describe(present)}); this one is "
                f"{_describe(wanted)}. Use another --out folder, or delete {folder} to start over"
            )
        return
    save_json(wanted, path)


def _check_spec(spec: SweepSpec, allow_code: bool) -> None:
    check_allowed(spec.experiment, allow_code)
    resolve(spec.experiment)  # fail before starting anything if the import fails
    values = {**spec.grid, **{k: [v] for k, v in spec.fixed.items()}}
    check_parameters(spec.experiment, values, source=f"sweep of {spec.experiment!r}")


@contextmanager
def _terminate_as_interrupt():
    """SIGTERM raises KeyboardInterrupt (main thread only), so workers are stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    *,
    jobs: int = 1,
    scheduler: str | None = None,
    cluster: str | None = None,
    allow_code: bool = False,
    exclusive: bool = True,
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
    allow_code : bool
        Allow an experiment given as ``package.module:function`` (runs that code).
    exclusive : bool
        Refuse a folder that holds a different sweep (``sweep.json``). The studies'
        :func:`run_grid` passes False: its trials are keyed by their parameters, so
        a study rerun with other parameters reuses the trials they share.

    Returns a summary: trials in total, skipped as already done, run, failed, and
    ``errors`` (the first failed trials' parameters and messages).
    """
    if scheduler and cluster:
        raise ValueError("give either --scheduler or --cluster, not both")
    if cluster not in (None, "local", "inprocess"):
        raise ValueError(f"--cluster must be 'local' or 'inprocess', got {cluster!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be an integer >= 1, got {jobs!r}")
    if scheduler is not None and not str(scheduler).strip():
        raise ValueError("--scheduler must be an address like tcp://HOST:PORT, got ''")
    _check_spec(spec, allow_code)
    folder = Path(out_dir)
    store = ResultsStore(folder)
    with _folder_lock(folder), _terminate_as_interrupt():
        _claim_folder(folder, spec, exclusive)
        trials = spec.trials()
        done = store.finished_keys()
        pending = [t for t in trials if t.key not in done]
        before = {c.pid for c in _children(os.getpid())}
        failed, errors = 0, []
        try:
            if scheduler or cluster:
                outcomes = _dask_outcomes(pending, jobs, scheduler, cluster)
            elif jobs > 1 and len(pending) > 1:
                outcomes = _joblib_outcomes(pending, jobs)
            else:
                outcomes = map(execute_trial, pending)
            for outcome in progress(outcomes, total=len(pending), desc="trials"):
                store.record(outcome)
                if outcome["status"] == "error":
                    failed += 1
                    if len(errors) < 3:
                        errors.append({"params": outcome["params"], "error": outcome["error"]})
        except BaseException:
            # Workers of an interrupted sweep must not outlive it.
            _kill_descendants(os.getpid(), keep=frozenset(before))
            raise
    return {
        "trials": len(trials),
        "skipped": len(trials) - len(pending),
        "ran": len(pending),
        "failed": failed,
        "errors": errors,
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

    ``experiment`` comes from the calling code, not from a file, so an import
    path is allowed here without ``allow_code``.
    """
    spec = SweepSpec(experiment=experiment, grid=grid, seeds=tuple(seeds), fixed=fixed or {})
    run_sweep(spec, out_dir, jobs=execution.jobs, scheduler=execution.scheduler,
              cluster=execution.cluster, allow_code=True, exclusive=False)
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

    parallel = Parallel(n_jobs=min(jobs, len(trials)), return_as="generator_unordered")
    parent = os.getpid()
    return parallel(delayed(execute_trial)(t, parent) for t in trials)


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
            # Workers' shutdown warnings would follow the one line of an interrupted sweep.
            silence_logs=logging.ERROR,
        )
        client = Client(local)
    # Workers of a cluster started here die with this process; a remote scheduler's
    # workers are not ours to stop.
    parent = os.getpid() if local is not None else None
    try:
        if parent is not None:
            client.run(watch_parent, parent)
        # Keys name the trial, so a result the scheduler already holds is reused
        # rather than computed twice; a task lost with a dying worker is rerun.
        futures = [
            client.submit(execute_trial, t, parent, key=f"trial-{t.key}", pure=False)
            for t in trials
        ]
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        client.close()
        if local is not None:
            local.close()
