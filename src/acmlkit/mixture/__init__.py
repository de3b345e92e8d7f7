"""Gaussian mixtures: log densities, responsibilities and EM."""

from acmlkit.mixture.densities import (
    COVARIANCE_TYPES,
    log_gaussian_density,
    precision_cholesky,
    univariate_log_density,
)
from acmlkit.mixture.em import ConvergenceWarning, GaussianMixture, kmeans_plusplus
from acmlkit.mixture.responsibilities import (
    naive_responsibilities,
    responsibilities,
    univariate_responsibilities,
)

__all__ = [
    "COVARIANCE_TYPES",
    "ConvergenceWarning",
    "GaussianMixture",
    "kmeans_plusplus",
    "log_gaussian_density",
    "naive_responsibilities",
    "precision_cholesky",
    "responsibilities",
    "univariate_log_density",
    "univariate_responsibilities",
]
