"""Posterior component probabilities p(c | x) with the log-sum-exp trick."""

from __future__ import annotations

import numpy as np

from acmlkit.mixture.densities import univariate_log_density
from acmlkit.validation import check_array


def responsibilities(log_density, log_weights) -> tuple[np.ndarray, np.ndarray]:
    """Normalise log p(x | c) + log pi_c over components, stably.

    Parameters
    ----------
    log_density : array of shape (n, K)
        log p(x_n | c) per point and component.
    log_weights : array of shape (K,)
        log mixing weights.

    Returns
    -------
    resp : array of shape (n, K)
        p(c | x_n); each row sums to 1.
    log_likelihood : array of shape (n,)
        log p(x_n) = logsumexp_c (log p(x_n | c) + log pi_c).
    """
    log_density = check_array(log_density, "log_density", ndim=2, allow_nan=True)
    log_weights = np.asarray(log_weights, dtype=np.float64)
    if log_weights.shape != (log_density.shape[1],):
        raise ValueError(
            f"log_weights must have shape ({log_density.shape[1]},), got {log_weights.shape}"
        )
    if np.isnan(log_density).any() or np.isnan(log_weights).any():
        raise ValueError("log densities and log weights must not contain NaN")
    joint = log_density + log_weights
    peak = joint.max(axis=1, keepdims=True)
    if not np.isfinite(peak).all():
        raise ValueError("a point has zero density under every component (all log densities -inf)")
    shifted = np.exp(joint - peak)
    total = shifted.sum(axis=1, keepdims=True)
    return shifted / total, (peak + np.log(total))[:, 0]


def naive_responsibilities(log_density, log_weights) -> np.ndarray:
    """The textbook route: exponentiate first, then normalise.

    Kept to show why :func:`responsibilities` exists: in high dimension every
    density underflows to 0 and the result is 0/0 = NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore", under="ignore"):
        joint = np.exp(np.asarray(log_density)) * np.exp(np.asarray(log_weights))
        return joint / joint.sum(axis=1, keepdims=True)


def univariate_responsibilities(x, means, variances, weights) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities of a 1-D Gaussian mixture.

    ``variances`` are variances, not standard deviations (the notebook passes
    ``scale=sqrt(var)`` to scipy).  Returns ``(resp, log_likelihood)`` as in
    :func:`responsibilities`.
    """
    weights = check_weights(weights, np.size(means))
    return responsibilities(univariate_log_density(x, means, variances), np.log(weights))


def check_weights(weights, n_components: int, name: str = "weights") -> np.ndarray:
    weights = check_array(weights, name, ndim=1, dtype=np.float64)
    if weights.shape != (n_components,):
        raise ValueError(f"{name} must have shape ({n_components},), got {weights.shape}")
    if np.any(weights < 0) or np.any(weights > 1):
        raise ValueError(f"{name} must lie in [0, 1], got {weights.tolist()}")
    if not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"{name} must sum to 1, got sum {weights.sum():.6g}")
    return weights
