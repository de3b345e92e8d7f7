"""Gaussian mixtures: log densities, responsibilities and EM.

- :mod:`~acmlkit.mixture.densities`: Gaussian log densities of every covariance type.
- :mod:`~acmlkit.mixture.posterior`: responsibilities by log-sum-exp, and the naive twin.
- :mod:`~acmlkit.mixture.em`: :class:`GaussianMixture`, a scikit-learn estimator (fused
  kernels in ``_kernels``, missing values in ``_missing``).
- :mod:`~acmlkit.mixture.experiments`: the notebook's cells as configs and results;
  :mod:`~acmlkit.mixture.figures` draws from results.
"""

from acmlkit.lazy import lazy_exports

# Names are imported on first use, so that `acml mixture --help` (which imports this
# package for its cli module) does not pay for numpy, scipy and scikit-learn.
_EXPORTS = {
    "COVARIANCE_TYPES": "densities",
    "log_gaussian_density": "densities",
    "precision_cholesky": "densities",
    "univariate_log_density": "densities",
    "ConvergenceWarning": "em",
    "GaussianMixture": "em",
    "kmeans_plusplus": "em",
    "naive_responsibilities": "posterior",
    "responsibilities": "posterior",
    "univariate_responsibilities": "posterior",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
