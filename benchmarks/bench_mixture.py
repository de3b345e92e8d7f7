"""acmlkit's GaussianMixture against scikit-learn's, side by side in one process.

Both run the same number of EM iterations (tol=0) from the same initial
parameters, on one BLAS thread each. Prints a table and ends with a SUMMARY line.

    .venv/bin/python benchmarks/bench_mixture.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_limits

from acmlkit.mixture import GaussianMixture


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one repeat")
    args = parser.parse_args()
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

    print(f"EM: {iters} iterations each from identical initial parameters, 1 BLAS thread")
    print(f"{'case':<28}{'acmlkit s':>11}{'sklearn s':>11}{'speedup':>9}{'|diff|':>11}")
    for row in rows:
        print(
            f"{row['case']:<28}{row['acmlkit_s']:>11.3f}{row['sklearn_s']:>11.3f}"
            f"{row['speedup']:>8.2f}x{row['ll_diff']:>11.1e}"
        )
    by = {row["case"]: row for row in rows}
    max_ll_diff = max(by[c]["ll_diff"] for c in ("full64", "diag64", "full64 N=1M D=2 K=3"))
    print(
        "SUMMARY "
        f"full64_speedup={by['full64']['speedup']:.2f} "
        f"diag64_speedup={by['diag64']['speedup']:.2f} "
        f"full32_speedup={by['full32']['speedup']:.2f} "
        f"estep_speedup={rows[-1]['speedup']:.2f} "
        f"max_ll_diff={max_ll_diff:.1e}"
    )


if __name__ == "__main__":
    main()
