"""Experiments a sweep can run: a name, or ``package.module:function`` for your own.

A trial function takes keyword parameters (``seed`` among them) and returns a
flat dict of JSON-ready metrics.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable


def mixture_trial(
    *,
    seed: int,
    n_components: int = 3,
    covariance_type: str = "full",
    n_samples: int = 900,
    max_iter: int = 200,
) -> dict:
    """EM on the package's 2-D blobs: BIC and log-likelihood for one K."""
    from acmlkit.mixture import ConvergenceWarning, GaussianMixture
    from acmlkit.mixture.experiments import BlobsConfig, make_blobs

    X, _ = make_blobs(BlobsConfig(n_samples=n_samples, seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=max_iter, random_state=seed
        ).fit(X)
    return {
        "bic": model.bic(X),
        "log_likelihood": model.score(X),
        "n_iter": model.n_iter_,
        "converged": model.converged_,
    }


def als_trial(
    *,
    seed: int,
    p: float = 0.5,
    n_factors: int = 8,
    lam: float = 0.1,
    method: str = "masked",
    max_iter: int = 30,
    m: int = 375,
    n: int = 500,
    rank: int = 8,
    noise: float = 0.1,
    data_seed: int = 0,
) -> dict:
    """ALS on the package's synthetic matrix: train on a Bernoulli(p) share, test on the rest.

    The matrix depends on ``data_seed`` only, so seeds vary the split and the
    initialisation over one fixed matrix.
    """
    from acmlkit.factorization.als import ALS
    from acmlkit.factorization.data import synthetic
    from acmlkit.factorization.experiments import split_metrics
    from acmlkit.factorization.splits import bernoulli_split
    from acmlkit.rng import spawn_generators

    ratings = synthetic(m, n, rank=rank, noise=noise, seed=data_seed)
    streams = spawn_generators(seed, ["split", "init"])
    train, test = bernoulli_split(ratings, p, seed=streams["split"]).apply(ratings)
    model = ALS(
        n_factors=n_factors,
        u_lambda=lam,
        v_lambda=lam,
        method=method,
        max_iter=max_iter,
        random_state=streams["init"],
    ).fit(train)
    return {**split_metrics(model, train, test), "n_iter": model.n_iter_}


EXPERIMENTS: dict[str, Callable[..., dict]] = {
    "mixture": mixture_trial,
    "als": als_trial,
}


def resolve(name: str) -> Callable[..., dict]:
    """The trial function for a registered name or an import path ``module:function``."""
    if name in EXPERIMENTS:
        return EXPERIMENTS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import experiment {name!r}: {exc}") from None
    raise ValueError(
        f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)} "
        "or give package.module:function"
    )
