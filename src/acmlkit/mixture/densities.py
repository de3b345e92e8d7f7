"""Gaussian log densities, always through Cholesky factors of the precision.

Covariances are never inverted explicitly and densities are never exponentiated:
in high dimension ``exp`` of a log density underflows long before the log does.

Precision Cholesky factors follow scikit-learn's layout, so parameters can be
moved between the two libraries:

==========  ==================  ============================================
type        shape               meaning
==========  ==================  ============================================
full        (K, D, D)           upper-triangular U_k with U_k U_k^T = Sigma_k^-1
tied        (D, D)              one such factor shared by every component
diag        (K, D)              1 / standard deviation per dimension
spherical   (K,)                1 / standard deviation, the same in every dimension
==========  ==================  ============================================
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from acmlkit.validation import check_array

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
LOG_2PI = float(np.log(2 * np.pi))


def univariate_log_density(x, means, variances) -> np.ndarray:
    """log N(x | mean_k, variance_k) for scalar data.

    Parameters
    ----------
    x : array of shape (n,)
    means, variances : arrays of shape (K,)

    Returns
    -------
    array of shape (n, K)
    """
    x = check_array(x, "x", ndim=1, dtype=np.float64)
    means = check_array(means, "means", ndim=1, dtype=np.float64)
    variances = check_array(variances, "variances", ndim=1, dtype=np.float64)
    if means.shape != variances.shape:
        raise ValueError(
            f"means and variances must have the same length, got {means.size} and {variances.size}"
        )
    if np.any(variances <= 0):
        raise ValueError(f"variances must be positive, got {variances.tolist()}")
    diff = x[:, None] - means[None, :]
    return -0.5 * (LOG_2PI + np.log(variances) + diff**2 / variances)


def precision_cholesky(covariances, covariance_type: str, *, reg_hint: float | None = None):
    """Cholesky factors of the precisions from covariances (layout in the module doc).

    Raises a ValueError that names the component and suggests ``reg_covar`` when
    a covariance is not positive definite.
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    hint = f"; increase reg_covar (currently {reg_hint:g})" if reg_hint is not None else ""
    if covariance_type in ("diag", "spherical"):
        if np.any(covariances <= 0):
            raise ValueError(
                f"{covariance_type} variances must be positive, got minimum "
                f"{covariances.min():g}: a component collapsed onto too few points{hint}"
            )
        return 1.0 / np.sqrt(covariances)
    stacked = covariances[None] if covariance_type == "tied" else covariances
    factors = np.empty_like(stacked)
    for k, cov in enumerate(stacked):
        try:
            lower = linalg.cholesky(cov, lower=True)
        except linalg.LinAlgError:
            which = "the tied covariance" if covariance_type == "tied" else f"component {k}"
            raise ValueError(
                f"the covariance of {which} is singular or not positive definite: it has "
                f"collapsed onto too few or collinear points{hint}"
            ) from None
        factors[k] = _triangular_inverse(lower, lower=True).T
    return factors[0] if covariance_type == "tied" else factors


def _triangular_inverse(factor: np.ndarray, lower: bool) -> np.ndarray:
    """Inverse of a triangular matrix by LAPACK's trtri.

    solve_triangular against the identity costs 50x more for small D, and
    milliseconds per call when OpenBLAS threads spin on a loaded machine.
    """
    inverse, info = linalg.lapack.dtrtri(factor, lower=int(lower))
    if info != 0:
        raise ValueError("a covariance factor is singular; increase reg_covar")
    return np.triu(inverse) if not lower else np.tril(inverse)


def covariances_from_precision_cholesky(prec_chol, covariance_type: str) -> np.ndarray:
    """Invert :func:`precision_cholesky`."""
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type in ("diag", "spherical"):
        return 1.0 / prec_chol**2
    stacked = prec_chol[None] if covariance_type == "tied" else prec_chol
    covs = np.empty_like(stacked)
    for k, factor in enumerate(stacked):
        # Factors computed here are upper triangular; those from precisions_init
        # (scikit-learn's convention) lower. Either way P = U U^T, Sigma = U^-T U^-1.
        inv_factor = _triangular_inverse(factor, lower=bool(np.tril(factor, -1).any()))
        covs[k] = inv_factor.T @ inv_factor
    return covs[0] if covariance_type == "tied" else covs


def precision_cholesky_from_precisions(precisions, covariance_type: str) -> np.ndarray:
    """Cholesky factors from precision matrices (scikit-learn's ``precisions_init``)."""
    precisions = np.asarray(precisions, dtype=np.float64)
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0):
            raise ValueError("precisions must be positive")
        return np.sqrt(precisions)
    stacked = precisions[None] if covariance_type == "tied" else precisions
    factors = np.empty_like(stacked)
    for k, prec in enumerate(stacked):
        try:
            factors[k] = linalg.cholesky(prec, lower=True)
        except linalg.LinAlgError:
            raise ValueError(f"precision matrix {k} is not positive definite") from None
    return factors[0] if covariance_type == "tied" else factors


def log_det_precision_cholesky(prec_chol, covariance_type: str, n_features: int) -> np.ndarray:
    """log det(Sigma_k^-1) / 2 per component: shape (K,), or a scalar for ``tied``."""
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(prec_chol)).sum()
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return n_features * np.log(prec_chol)


def log_gaussian_density(X, means, prec_chol, covariance_type: str) -> np.ndarray:
    """log N(x_n | mean_k, Sigma_k) for every point and component.

    Parameters
    ----------
    X : array of shape (n, D)
    means : array of shape (K, D)
    prec_chol : precision Cholesky factors, layout in the module doc
    covariance_type : one of ``full``, ``tied``, ``diag``, ``spherical``

    Returns
    -------
    array of shape (n, K)

    This is the direct, readable form; :class:`acmlkit.mixture.GaussianMixture`
    evaluates the same quantity in fused, chunked passes.
    """
    X = np.asarray(X)
    n_features = X.shape[1]
    log_det = log_det_precision_cholesky(prec_chol, covariance_type, n_features)
    if covariance_type == "full":
        sq = np.stack(
            [np.sum(((X - mu) @ u) ** 2, axis=1) for mu, u in zip(means, prec_chol)], axis=1
        )
    elif covariance_type == "tied":
        y = X @ prec_chol
        m = means @ prec_chol
        sq = (y**2).sum(1)[:, None] - 2 * y @ m.T + (m**2).sum(1)[None, :]
    elif covariance_type == "diag":
        prec = prec_chol**2
        sq = (X**2) @ prec.T - 2 * X @ (means * prec).T + (means**2 * prec).sum(1)
    else:
        prec = prec_chol**2
        sq = (X**2).sum(1)[:, None] * prec - 2 * (X @ means.T) * prec + (means**2).sum(1) * prec
    return -0.5 * (n_features * LOG_2PI + sq) + log_det
