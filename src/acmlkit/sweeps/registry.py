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


EXPERIMENTS: dict[str, Callable[..., dict]] = {
    "mixture": mixture_trial,
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
