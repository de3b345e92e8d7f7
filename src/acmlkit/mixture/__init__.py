"""Gaussian mixtures: log densities, responsibilities and EM.

- :mod:`~acmlkit.mixture.densities`: Gaussian log densities of every covariance type.
- :mod:`~acmlkit.mixture.posterior`: responsibilities by log-sum-exp, and the naive twin.
- :mod:`~acmlkit.mixture.em`: :class:`GaussianMixture`, a scikit-learn estimator (fused
  kernels in ``_kernels``, missing values in ``_missing``).
- :mod:`~acmlkit.mixture.experiments`: the notebook's cells as configs and results;
  :mod:`~acmlkit.mixture.figures` draws from results.
"""

import importlib

# Names are imported on first use, so that `acml mixture --help` (which imports this
# package for its cli module) does not pay for numpy, scipy and scikit-learn.
_EXPORTS = {
    "COVARIANCE_TYPES": "acmlkit.mixture.densities",
    "log_gaussian_density": "acmlkit.mixture.densities",
    "precision_cholesky": "acmlkit.mixture.densities",
    "univariate_log_density": "acmlkit.mixture.densities",
    "ConvergenceWarning": "acmlkit.mixture.em",
    "GaussianMixture": "acmlkit.mixture.em",
    "kmeans_plusplus": "acmlkit.mixture.em",
    "naive_responsibilities": "acmlkit.mixture.posterior",
    "responsibilities": "acmlkit.mixture.posterior",
    "univariate_responsibilities": "acmlkit.mixture.posterior",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'acmlkit.mixture' has no attribute {name!r}")
