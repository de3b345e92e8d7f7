"""Sweeps give the same results on every backend and survive dying workers and interrupts."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acmlkit.sweeps import ResultsStore, SweepSpec, run_sweep

SPEC = SweepSpec(
    "mixture",
    grid={"n_components": [1, 2, 3], "covariance_type": ["full", "spherical"]},
    seeds=(0, 1),
    fixed={"n_samples": 300},
)
BIN = Path(sys.executable).parent


def results_by_key(folder):
    rows = ResultsStore(folder).rows()
    assert len(rows) == len({r["key"] for r in rows})
    return {r["key"]: r["result"] for r in rows}


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sequential")
    summary = run_sweep(SPEC, folder)
    assert summary == {"trials": 12, "skipped": 0, "ran": 12, "failed": 0}
    return results_by_key(folder)


def test_results_match_an_independent_fit(sequential):
    from acmlkit.mixture.experiments import mixture_trial

    trial = next(t for t in SPEC.trials() if t.params["n_components"] == 3)
    assert sequential[trial.key] == mixture_trial(**trial.params)


def test_joblib_gives_the_same_results(sequential, tmp_path):
    run_sweep(SPEC, tmp_path, jobs=2)
    assert results_by_key(tmp_path) == sequential


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_inprocess_dask_gives_the_same_results(sequential, tmp_path):
    run_sweep(SPEC, tmp_path, jobs=2, cluster="inprocess")
    assert results_by_key(tmp_path) == sequential


def test_rerun_skips_finished_trials(sequential, tmp_path):
    run_sweep(SPEC, tmp_path)
    assert run_sweep(SPEC, tmp_path) == {"trials": 12, "skipped": 12, "ran": 0, "failed": 0}


def test_a_failing_trial_is_recorded_and_does_not_stop_the_others(tmp_path):
    spec = SweepSpec(
        "mixture",
        grid={"covariance_type": ["full", "banana"]},
        seeds=(0,),
        fixed={"n_samples": 200},
    )
    summary = run_sweep(spec, tmp_path)
    assert summary["failed"] == 1
    rows = {r["params"]["covariance_type"]: r for r in ResultsStore(tmp_path).rows()}
    assert rows["full"]["status"] == "ok"
    assert rows["banana"]["status"] == "error"
    assert "covariance_type must be one of" in rows["banana"]["error"]
    # A rerun retries the failed trial only.
    assert run_sweep(spec, tmp_path)["ran"] == 1


def count_rows(folder) -> int:
    path = Path(folder) / ResultsStore.FILENAME
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"gave up after {timeout} s waiting for {what}")


SLOW_SPEC = SweepSpec(
    "mixture",
    grid={"n_components": [2, 3, 4, 5]},
    seeds=(0, 1, 2, 3, 4),
    fixed={"n_samples": 20_000, "covariance_type": "full"},
)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_interrupted_sweep_resumes_without_loss_or_duplicates(tmp_path):
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(
        'experiment = "mixture"\nseeds = [0, 1, 2, 3, 4]\n'
        '[fixed]\nn_samples = 20000\ncovariance_type = "full"\n'
        "[grid]\nn_components = [2, 3, 4, 5]\n"
    )
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [BIN / "acml", "sweep", str(spec_file), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: count_rows(out) >= 3, 60, "three finished trials")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = count_rows(out)
    assert 3 <= before < 20
    summary = run_sweep(SLOW_SPEC, out)
    assert summary["skipped"] == before
    assert summary["ran"] == 20 - before
    rows = ResultsStore(out).rows()
    assert len(rows) == 20 and len({r["key"] for r in rows}) == 20
    assert all(r["status"] == "ok" for r in rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1."""
    pytest.importorskip("distributed")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    log = open(tmp_path / "dask.log", "w")  # noqa: SIM115 - closed in the teardown
    procs = [
        subprocess.Popen(
            [
                BIN / "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=log,
            stderr=log,
            env=env,
        )
    ]
    for name in ("w1", "w2"):
        procs.append(
            subprocess.Popen(
                [
                    BIN / "dask",
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--name",
                    name,
                    "--no-dashboard",
                    "--no-nanny",
                ],
                stdout=log,
                stderr=log,
                env=env,
            )
        )
    from dask.distributed import Client

    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_real_dask_cluster_gives_the_same_results(sequential, dask_cluster, tmp_path):
    address, _ = dask_cluster
    run_sweep(SPEC, tmp_path, scheduler=address)
    assert results_by_key(tmp_path) == sequential


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_killing_a_worker_mid_sweep_completes_every_trial_once(dask_cluster, tmp_path):
    address, procs = dask_cluster
    out = tmp_path / "out"
    worker = procs[1]

    import threading

    def kill_when_started():
        wait_for(lambda: count_rows(out) >= 2, 60, "two finished trials")
        worker.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_when_started, daemon=True)
    killer.start()
    summary = run_sweep(SLOW_SPEC, out, scheduler=address)
    killer.join(timeout=60)
    assert worker.poll() is not None, "the worker was not killed during the sweep"
    assert summary == {"trials": 20, "skipped": 0, "ran": 20, "failed": 0}
    rows = ResultsStore(out).rows()
    assert len(rows) == 20 and len({r["key"] for r in rows}) == 20
