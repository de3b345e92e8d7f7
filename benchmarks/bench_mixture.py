"""acmlkit's GaussianMixture against scikit-learn's, side by side in one process.

Both run the same number of EM iterations (tol=0) from the same initial
parameters, on one BLAS thread each. Also measured, all on one BLAS thread:

- floor: one full-covariance EM iteration (N=100,000 D=16 K=8) against a square
  matrix product with the same FLOP count, timed in the same run;
- streaming: online EM (``partial_fit``) over points generated in chunks, in a
  child process so its peak RSS is its own (default 10^8 points, D=16 K=8);
- missing values: 20 % of entries missing completely at random, N=100,000 D=16
  K=8, time per EM iteration against the complete-data iteration.

Prints a table and ends with a SUMMARY line.

    .venv/bin/python benchmarks/bench_mixture.py [--quick] [--stream-points N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings

import numpy as np
from scipy import special
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_limits

from acmlkit.mixture import GaussianMixture, log_gaussian_density
from acmlkit.processes import peak_rss_bytes


def make_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, size=(k, d))
    labels = rng.integers(k, size=n)
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    return centers[labels] + scales[labels] * rng.standard_normal((n, d))


def initial_parameters(X, k, kind):
    """One scikit-learn EM step on a subsample: a realistic shared start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SklearnGaussianMixture(k, covariance_type=kind, max_iter=1, random_state=0)
        ref.fit(X[:20_000])
    return dict(weights_init=ref.weights_, means_init=ref.means_, precisions_init=ref.precisions_)


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def em_case(name, n, d, k, kind, dtype, iters, repeats):
    X = make_data(n, d, k).astype(dtype)
    init = initial_parameters(X, k, kind)

    def run(cls):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(k, covariance_type=kind, tol=0, max_iter=iters, **init).fit(X)

    t_ours, ours = best_time(lambda: run(GaussianMixture), repeats)
    t_ref, ref = best_time(lambda: run(SklearnGaussianMixture), repeats)
    ll_diff = abs(ours.lower_bound_ - ref.lower_bound_)
    return {
        "case": name,
        "acmlkit_s": t_ours,
        "sklearn_s": t_ref,
        "speedup": t_ref / t_ours,
        "ll_diff": ll_diff,
    }


def estep_case(n, d, k, iters_fit, repeats):
    X = make_data(n, d, k)
    init = initial_parameters(X, k, "full")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianMixture(k, tol=0, max_iter=iters_fit, **init).fit(X[:50_000])
        ref = SklearnGaussianMixture(k, tol=0, max_iter=iters_fit, **init).fit(X[:50_000])
    # Identical parameters on both sides, so only the E-step code differs.
    for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        setattr(ref, attr, getattr(ours, attr))
    ref.precisions_ = ours.precisions_

    def both(model):
        return model.predict_proba(X), model.score_samples(X)

    t_ours, (p1, s1) = best_time(lambda: both(ours), repeats)
    t_ref, (p2, s2) = best_time(lambda: both(ref), repeats)
    diff = max(np.abs(p1 - p2).max(), np.abs(s1 - s2).max())
    return {
        "case": f"E-step N={n:,} D={d} K={k}",
        "acmlkit_s": t_ours,
        "sklearn_s": t_ref,
        "speedup": t_ref / t_ours,
        "ll_diff": diff,
    }


def iteration_times(model, X):
    """Seconds per EM iteration from the callback's timestamps (setup excluded)."""
    stamps = []
    model.set_params(callback=lambda record: stamps.append(time.perf_counter()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return float(np.median(np.diff(stamps)))


def floor_case(n, d, k, repeats):
    """One full EM iteration against a square matmul of the same FLOP count."""
    X = make_data(n, d, k)
    init = initial_parameters(X, k, "full")
    per_iter = min(
        iteration_times(GaussianMixture(k, tol=0, max_iter=6, **init), X) for _ in range(repeats)
    )
    # The quadratic-feature kernel: an E-step product and a statistics product,
    # each 2 K W n FLOPs with W = D(D+1)/2 + D features.
    width = d * (d + 1) // 2 + d
    flops = 2 * (2 * k * width * n)
    side = round((flops / 2) ** (1 / 3))
    A = np.random.default_rng(1).standard_normal((side, side))
    matmul, _ = best_time(lambda: A @ A, max(repeats, 5))
    matmul *= flops / (2 * side**3)
    return {"per_iter_s": per_iter, "matmul_s": matmul, "ratio": per_iter / matmul}


def missing_case(n, d, k, share, repeats):
    X = make_data(n, d, k)
    holes = X.copy()
    holes[np.random.default_rng(2).uniform(size=X.shape) < share] = np.nan
    init = initial_parameters(X, k, "full")
    complete = min(
        iteration_times(GaussianMixture(k, tol=0, max_iter=5, **init), X) for _ in range(repeats)
    )
    missing = min(
        iteration_times(GaussianMixture(k, tol=0, max_iter=5, missing="em", **init), holes)
        for _ in range(repeats)
    )
    return {"complete_s": complete, "missing_s": missing, "ratio": missing / complete}


def stream_child(n_points, d, k, chunk):
    """Runs in its own process: online EM over generated chunks; prints one line."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 4, size=(k, d))
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    model = GaussianMixture(k, init_params="kmeans", n_init=5, random_state=0)
    start = time.perf_counter()
    done = 0
    with threadpool_limits(limits=1):
        while done < n_points:
            size = min(chunk, n_points - done)
            labels = rng.integers(k, size=size)
            X = centers[labels] + scales[labels] * rng.standard_normal((size, d))
            model.partial_fit(X)
            done += size
    seconds = time.perf_counter() - start
    peak_gb = peak_rss_bytes() / 1e9
    # Quality: held-out mean log-likelihood against the true mixture's.
    labels = rng.integers(k, size=100_000)
    held_out = centers[labels] + scales[labels] * rng.standard_normal((100_000, d))
    true_ll = special.logsumexp(
        log_gaussian_density(held_out, centers, 1 / scales, "diag") - np.log(k), axis=1
    ).mean()
    gap = true_ll - model.score(held_out)
    print(f"STREAM points={done} seconds={seconds:.2f} peak_gb={peak_gb:.3f} ll_gap={gap:.4f}")


def stream_case(n_points, d, k, chunk):
    cmd = [sys.executable, __file__, "--stream-child", str(n_points), "--chunk", str(chunk)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=") for item in out.strip().splitlines()[-1].split()[1:])
    seconds = float(fields["seconds"])
    return {
        "points": int(fields["points"]),
        "seconds": seconds,
        "points_per_s": int(fields["points"]) / seconds,
        "peak_gb": float(fields["peak_gb"]),
        "ll_gap": float(fields["ll_gap"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one repeat")
    parser.add_argument("--stream-points", type=int, default=None, help="default 1e8 (quick 1e6)")
    parser.add_argument("--chunk", type=int, default=100_000, help="rows per streamed chunk")
    parser.add_argument("--stream-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream_child is not None:
        stream_child(args.stream_child, 16, 8, args.chunk)
        return
    scale = 10 if args.quick else 1
    repeats = 1 if args.quick else 3
    iters = 10
    rows = []
    with threadpool_limits(limits=1):
        rows.append(em_case("full64", 100_000 // scale, 16, 8, "full", np.float64, iters, repeats))
        rows.append(em_case("diag64", 100_000 // scale, 16, 8, "diag", np.float64, iters, repeats))
        rows.append(em_case("full32", 100_000 // scale, 16, 8, "full", np.float32, iters, repeats))
        rows.append(
            em_case(
                "full64 N=1M D=2 K=3", 1_000_000 // scale, 2, 3, "full", np.float64, iters, repeats
            )
        )
        rows.append(estep_case(1_000_000 // scale, 16, 8, 5, repeats))
        floor = floor_case(100_000 // scale, 16, 8, repeats)
        missing = missing_case(100_000 // scale, 16, 8, 0.2, repeats)
    n_stream = args.stream_points or (1_000_000 if args.quick else 100_000_000)
    stream = stream_case(n_stream, 16, 8, args.chunk)

    print(f"EM: {iters} iterations each from identical initial parameters, 1 BLAS thread")
    print(f"{'case':<28}{'acmlkit s':>11}{'sklearn s':>11}{'speedup':>9}{'|diff|':>11}")
    for row in rows:
        print(
            f"{row['case']:<28}{row['acmlkit_s']:>11.3f}{row['sklearn_s']:>11.3f}"
            f"{row['speedup']:>8.2f}x{row['ll_diff']:>11.1e}"
        )
    print(
        f"floor: one full EM iteration {floor['per_iter_s'] * 1e3:.1f} ms, a matmul of the same "
        f"FLOPs {floor['matmul_s'] * 1e3:.1f} ms: ratio {floor['ratio']:.2f} (target <= 2.5)"
    )
    print(
        f"missing 20%: {missing['missing_s'] * 1e3:.1f} ms per iteration vs complete "
        f"{missing['complete_s'] * 1e3:.1f} ms: ratio {missing['ratio']:.2f} (target <= 3)"
    )
    print(
        f"stream: {stream['points']:,} points in {stream['seconds']:.1f} s = "
        f"{stream['points_per_s']:,.0f} points/s, peak RSS {stream['peak_gb']:.3f} GB "
        f"(target < 1); held-out mean log-likelihood {stream['ll_gap']:.4f} below the true "
        "mixture's"
    )
    by = {row["case"]: row for row in rows}
    max_ll_diff = max(by[c]["ll_diff"] for c in ("full64", "diag64", "full64 N=1M D=2 K=3"))
    print(
        "SUMMARY "
        f"full64_speedup={by['full64']['speedup']:.2f} "
        f"diag64_speedup={by['diag64']['speedup']:.2f} "
        f"full32_speedup={by['full32']['speedup']:.2f} "
        f"estep_speedup={rows[-1]['speedup']:.2f} "
        f"max_ll_diff={max_ll_diff:.1e} "
        f"floor_ratio={floor['ratio']:.2f} "
        f"stream_points_per_s={stream['points_per_s']:.0f} "
        f"stream_peak_gb={stream['peak_gb']:.3f} "
        f"missing_iter_ratio={missing['ratio']:.2f}"
    )


if __name__ == "__main__":
    main()
