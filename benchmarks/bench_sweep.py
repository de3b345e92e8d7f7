"""A 50-trial ALS sweep run sequentially, with joblib and on a local Dask cluster,
then the wall time of ``acml report`` with its defaults.

Overhead per trial = (wall time x workers - time spent inside trials) / trials:
what scheduling, process start-up, pickling and the results store cost.

    .venv/bin/python benchmarks/bench_sweep.py [--skip-report]
"""

from __future__ import annotations

import os

# One BLAS thread per trial on every backend (set before numpy loads, and
# inherited by worker processes): parallelism comes from the sweep.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import argparse  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from acmlkit.sweeps import ResultsStore, SweepSpec, run_sweep  # noqa: E402

SPEC = SweepSpec(
    "als",
    grid={"p": [0.1, 0.3, 0.5, 0.7, 0.9], "n_factors": [4, 8]},
    seeds=(0, 1, 2, 3, 4),
    fixed={"max_iter": 15},
)


def timed_sweep(label, workers, **kwargs):
    folder = Path(tempfile.mkdtemp(prefix=f"sweep-{label}-"))
    try:
        start = time.perf_counter()
        summary = run_sweep(SPEC, folder, **kwargs)
        wall = time.perf_counter() - start
        rows = ResultsStore(folder).rows()
    finally:
        shutil.rmtree(folder)
    assert summary["ran"] == len(SPEC.trials()) and summary["failed"] == 0, summary
    inside = sum(r["seconds"] for r in rows)
    results = {r["key"]: r["result"] for r in rows}
    overhead = (wall * workers - inside) / len(rows)
    return {
        "backend": label,
        "wall_s": wall,
        "trial_s": inside,
        "overhead_s": overhead,
        "results": results,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-report", action="store_true", help="do not time acml report")
    args = parser.parse_args()
    rows = [
        timed_sweep("sequential", 1),
        timed_sweep("joblib-2", 2, jobs=2),
        timed_sweep("dask-local-2", 2, jobs=2, cluster="local"),
    ]
    same = all(row["results"] == rows[0]["results"] for row in rows)
    print(
        f"{len(SPEC.trials())} ALS trials (375 x 500 synthetic matrix, 15 sweeps each), "
        f"identical results on every backend: {same}"
    )
    print(f"{'backend':<14}{'wall s':>9}{'in trials s':>13}{'overhead/trial s':>18}")
    for row in rows:
        print(
            f"{row['backend']:<14}{row['wall_s']:>9.2f}{row['trial_s']:>13.2f}"
            f"{row['overhead_s']:>18.3f}"
        )

    report_s = float("nan")
    if not args.skip_report:
        out = Path(tempfile.mkdtemp(prefix="report-"))
        acml = Path(sys.executable).parent / "acml"
        start = time.perf_counter()
        subprocess.run(
            [acml, "report", "--out", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        report_s = time.perf_counter() - start
        shutil.rmtree(out)
        print(f"acml report (defaults): {report_s:.1f} s")
    print(
        "SUMMARY "
        f"seq_s={rows[0]['wall_s']:.2f} joblib_s={rows[1]['wall_s']:.2f} "
        f"dask_s={rows[2]['wall_s']:.2f} report_s={report_s:.1f}"
    )


if __name__ == "__main__":
    main()
