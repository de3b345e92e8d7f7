"""Exact EM for Gaussian mixtures with entries missing at random.

Rows are grouped by their missingness pattern; each group is handled with
batched linear algebra over the K components: the marginal density of the
observed coordinates, and for the M-step the conditional mean of the missing
coordinates and their conditional covariance (Ghahramani & Jordan, 1994):

    E[x_m | x_o, k]   = mu_m + S_mo S_oo^-1 (x_o - mu_o)
    Cov[x_m | x_o, k] = S_mm - S_mo S_oo^-1 S_om

The M-step then uses the expected sufficient statistics sum r x and
sum r (x x^T + Cov) in place of the complete-data ones, for every covariance type.
"""

from __future__ import annotations

import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture._kernels import normalise_in_place
from acmlkit.mixture.densities import LOG_2PI, covariances_from_precision_cholesky


def dense_covariances(cov, covariance_type: str, K: int, D: int) -> np.ndarray:
    """Any covariance layout as a stack (K, D, D)."""
    cov = np.asarray(cov, dtype=np.float64)
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if covariance_type == "diag":
        return cov[:, :, None] * np.eye(D)
    return cov[:, None, None] * np.eye(D)


def missingness_patterns(mask: np.ndarray):
    """(missing columns, observed columns, rows) of each distinct row pattern of ``mask`` (n, D)."""
    patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(patterns)))[:-1]
    for pattern, rows in zip(patterns, np.split(order, bounds)):
        yield np.flatnonzero(pattern), np.flatnonzero(~pattern), rows


def _cholesky(S, obs):
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"a covariance restricted to the observed columns {obs.tolist()} is not positive "
            "definite; increase reg_covar"
        ) from None


def _group_log_prob(Xo, weights, means, cov, obs):
    """Joint log densities (K, n_p) of rows observed on ``obs``, and the Cholesky factors."""
    L = _cholesky(cov[:, obs][:, :, obs], obs)
    R = Xo[None, :, :] - means[:, None, obs]
    Z = np.linalg.solve(L, R.transpose(0, 2, 1))
    log_det = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    quad = np.einsum("kon,kon->kn", Z, Z)
    log_prob = np.log(weights)[:, None] - 0.5 * (obs.size * LOG_2PI + log_det[:, None] + quad)
    return log_prob, L, Z


def pattern_log_prob(Xc, weights, means, cov) -> np.ndarray:
    """log pi_k + log N(x_o | mu_o, S_oo) for every row (observed entries only), shape (K, n)."""
    out = np.empty((len(weights), Xc.shape[0]))
    for _, obs, rows in missingness_patterns(np.isnan(Xc)):
        if obs.size == 0:
            out[:, rows] = np.log(weights)[:, None]
            continue
        out[:, rows] = _group_log_prob(Xc[np.ix_(rows, obs)], weights, means, cov, obs)[0]
    return out


def conditional_means(Xo, means, cov, obs, missing, L=None, Z=None) -> np.ndarray:
    """E[x_missing | x_obs, k] per component, shape (K, n_p, n_missing)."""
    if L is None:
        _, L, Z = _group_log_prob(Xo, np.ones(len(means)), means, cov, obs)
    solved = np.linalg.solve(L.transpose(0, 2, 1), Z)
    S_mo = cov[:, missing][:, :, obs]
    return means[:, None, missing] + (S_mo @ solved).transpose(0, 2, 1)


class MissingEngine:
    """E-steps and M-step statistics of exact EM on data with NaN entries."""

    dtype = np.dtype(np.float64)

    def __init__(self, X, weight, covariance_type: str, K: int, reg_covar: float):
        X = np.asarray(X, dtype=np.float64)
        mask = np.isnan(X)
        empty = np.flatnonzero(mask.all(axis=1))
        if empty.size:
            raise DataError(
                f"X row {empty[0]} has no observed value; drop rows that are entirely missing"
            )
        w = np.ones(X.shape[0]) if weight is None else weight
        observed_weight = (~mask * w[:, None]).sum(axis=0)
        if np.any(observed_weight <= 0):
            col = int(np.argmax(observed_weight <= 0))
            raise DataError(f"X column {col} has no observed value")
        self.center = np.where(mask, 0.0, X * w[:, None]).sum(axis=0) / observed_weight
        self.Xc = X - self.center
        # Centred, so zeros are the column means: the initialisation's imputation.
        self.filled = np.where(mask, 0.0, self.Xc)
        self.weight = weight
        self.total_weight = float(w.sum())
        self.covariance_type = covariance_type
        self.K, self.D = K, X.shape[1]
        self.groups = [
            (missing, obs, rows, self.Xc[np.ix_(rows, obs)], None if weight is None else w[rows])
            for missing, obs, rows in missingness_patterns(mask)
        ]

    def e_pass(self, params):
        """Mean log-likelihood of the observed entries and the expected statistics."""
        weights, means, prec_chol = params
        K, D = self.K, self.D
        cov = dense_covariances(
            covariances_from_precision_cholesky(prec_chol, self.covariance_type),
            self.covariance_type,
            K,
            D,
        )
        stats = {"nk": np.zeros(K), "sums": np.zeros((K, D)), "sxx": np.zeros((K, D, D))}
        log_lik = 0.0
        for missing, obs, rows, Xo, w in self.groups:
            resp, L, Z = _group_log_prob(Xo, weights, means, cov, obs)
            point_ll = normalise_in_place(resp)
            if w is None:
                log_lik += point_ll.sum()
            else:
                log_lik += float(w @ point_ll)
                resp *= w
            Xhat = np.empty((K, rows.size, D))
            Xhat[:, :, obs] = Xo
            rk = resp.sum(axis=1)
            if missing.size:
                Xhat[:, :, missing] = conditional_means(Xo, means, cov, obs, missing, L, Z)
                B = np.linalg.solve(L, cov[:, obs][:, :, missing])
                cond_cov = cov[:, missing][:, :, missing] - B.transpose(0, 2, 1) @ B
                stats["sxx"][:, missing[:, None], missing[None, :]] += rk[:, None, None] * cond_cov
            stats["nk"] += rk
            weighted = resp[:, :, None] * Xhat
            stats["sums"] += weighted.sum(axis=1)
            stats["sxx"] += weighted.transpose(0, 2, 1) @ Xhat
        return log_lik / self.total_weight, stats

    def sums(self, stats):
        return stats["sums"]

    def covariances(self, stats, nk, means, reg_covar):
        D = self.D
        full = stats["sxx"] / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        kind = self.covariance_type
        if kind == "full":
            full[:, np.arange(D), np.arange(D)] += reg_covar
            return full
        if kind == "tied":
            tied = (nk[:, None, None] * full).sum(axis=0) / nk.sum()
            tied[np.diag_indices(D)] += reg_covar
            return tied
        diag = np.diagonal(full, axis1=1, axis2=2)
        if kind == "diag":
            return diag + reg_covar
        return diag.mean(axis=1) + reg_covar
