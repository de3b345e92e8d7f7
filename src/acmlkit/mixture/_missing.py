"""Exact EM for Gaussian mixtures with entries missing at random.

For a row with observed coordinates o and missing m, and a component with
mean mu and precision P = Sigma^-1, write r = x - mu with r_m = 0 and u = P r.
Then (Schur complements of P; Ghahramani & Jordan, 1994 for the EM):

    r_o^T Sigma_oo^-1 r_o = r^T u - u_m^T P_mm^-1 u_m
    log det Sigma_oo      = log det Sigma + log det P_mm
    E[x_m | x_o]          = mu_m - P_mm^-1 u_m
    Cov[x_m | x_o]        = P_mm^-1

so every row needs one D x D product per component (a matrix product over
all rows at once) plus small m x m work, and the m x m inverses are computed
once per distinct missingness pattern. Rows are processed in blocks, grouped
within a block by their number of missing entries so the small work is
batched too. The M-step uses the expected statistics sum r x_hat and
sum r (x_hat x_hat^T + Cov), for every covariance type.
"""

from __future__ import annotations

import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture._kernels import normalise_in_place
from acmlkit.mixture.densities import LOG_2PI, log_det_precision_cholesky

# Rows per block: the (rows, K, D) temporaries stay at a few MiB for D=16, K=8.
_BLOCK_ROWS = 8192


def dense_precisions(prec_chol, covariance_type: str, K: int, D: int) -> np.ndarray:
    """Precision matrices (K, D, D) from precision Cholesky factors of any layout."""
    pc = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "full":
        return pc @ pc.transpose(0, 2, 1)
    if covariance_type == "tied":
        return np.broadcast_to(pc @ pc.T, (K, D, D))
    if covariance_type == "diag":
        return (pc**2)[:, :, None] * np.eye(D)
    return (pc**2)[:, None, None] * np.eye(D)


def batched_spd_inverse(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and log determinants of many small SPD matrices A (..., c, c).

    Cholesky and triangular inversion vectorised across the batch, one column
    at a time: numpy.linalg pays a LAPACK call per matrix, which dominates
    when there are 10^5 matrices of size 3.
    """
    c = A.shape[-1]
    L = np.zeros_like(A)
    for j in range(c):
        row = L[..., j, :j]
        pivot = A[..., j, j] - np.einsum("...k,...k->...", row, row)
        if np.any(pivot <= 0):
            raise ValueError(
                "a covariance restricted to observed columns is not positive definite; "
                "increase reg_covar"
            )
        L[..., j, j] = np.sqrt(pivot)
        below = A[..., j + 1 :, j] - np.einsum("...ik,...k->...i", L[..., j + 1 :, :j], row)
        L[..., j + 1 :, j] = below / L[..., j, j][..., None]
    # Forward substitution for L^-1, column by column of the identity.
    Linv = np.zeros_like(A)
    diag = np.diagonal(L, axis1=-2, axis2=-1)
    for i in range(c):
        Linv[..., i, i] = 1 / diag[..., i]
        if i:
            Linv[..., i, :i] = -np.einsum("...k,...kj->...j", L[..., i, :i], Linv[..., :i, :i])
            Linv[..., i, :i] /= diag[..., i][..., None]
    inverse = np.swapaxes(Linv, -1, -2) @ Linv
    return inverse, 2 * np.log(diag).sum(axis=-1)


class MissingPatterns:
    """Rows with NaN (n, D), already centred, indexed by missingness pattern.

    Rows are kept sorted by (number of missing entries, pattern): ``order``
    maps sorted positions to the caller's rows, and every block of
    :meth:`blocks` has one number of missing entries, so its work is batched
    over contiguous rows.
    """

    def __init__(self, Xc: np.ndarray):
        Xc = np.asarray(Xc, dtype=np.float64)
        mask = np.isnan(Xc)
        empty = np.flatnonzero(mask.all(axis=1))
        if empty.size:
            raise DataError(
                f"X row {empty[0]} has no observed value; drop rows that are entirely missing"
            )
        self.n, self.D = Xc.shape
        if self.D <= 62:
            # One integer per row: np.unique on it is far faster than on rows.
            codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(self.D, dtype=np.int64))
            unique_codes, inverse = np.unique(codes, return_inverse=True)
            patterns = (unique_codes[:, None] >> np.arange(self.D)) & 1 == 1
        else:
            patterns, inverse = np.unique(mask, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        counts = patterns.sum(axis=1)
        self.order = np.lexsort((inverse, counts[inverse]))
        inverse = inverse[self.order]
        self.X0 = np.where(mask, 0.0, Xc)[self.order]
        self.observed = (~mask[self.order]).astype(np.float64)
        n_missing = counts[inverse]
        # Per number of missing entries c: the patterns' missing columns (P_c, c),
        # the sorted rows holding them, and each such row's pattern position.
        self.groups: dict[int, np.ndarray] = {}
        self.segments: list[tuple[int, int, int]] = []
        position = np.zeros(len(patterns), dtype=np.intp)
        bounds = np.searchsorted(n_missing, np.arange(self.D + 1), side="left")
        for c in np.unique(counts):
            which = np.flatnonzero(counts == c)
            position[which] = np.arange(which.size)
            if c:
                self.groups[int(c)] = np.array([np.flatnonzero(patterns[p]) for p in which])
            end = bounds[c + 1] if c < self.D else self.n
            for start in range(bounds[c], end, _BLOCK_ROWS):
                self.segments.append((int(c), start, min(start + _BLOCK_ROWS, end)))
        self.position = position[inverse]

    def small_inverses(self, P):
        """Per number of missing entries c: P_mm^-1 (P_c, K, c, c) and log det P_mm (P_c, K)."""
        inverses, log_dets = {}, {}
        for c, idx in self.groups.items():
            P_mm = P[:, idx[:, :, None], idx[:, None, :]].transpose(1, 0, 2, 3)
            inverses[c], log_dets[c] = batched_spd_inverse(P_mm)
        return inverses, log_dets

    def blocks(self, weights, means, prec_chol, covariance_type, inverses, log_dets):
        """For each block of sorted rows: (rows, number missing c, pattern positions (B,),
        joint log densities (B, K), rows completed by conditional means (B, K, D))."""
        K, D = means.shape
        P = dense_precisions(prec_chol, covariance_type, K, D)
        log_det_sigma = np.broadcast_to(
            -2 * log_det_precision_cholesky(prec_chol, covariance_type, D), (K,)
        )
        W1 = P.transpose(1, 0, 2).reshape(D, K * D)
        W2 = (means[:, :, None] * P).transpose(1, 0, 2).reshape(D, K * D)
        const = np.log(weights) - 0.5 * log_det_sigma
        for c, start, end in self.segments:
            rows = slice(start, end)
            X0, obs = self.X0[rows], self.observed[rows]
            U = (X0 @ W1 - obs @ W2).reshape(-1, K, D)
            Xhat = np.repeat(X0[:, None, :], K, axis=1)
            R = Xhat - obs[:, None, :] * means[None]
            quad = np.einsum("bkd,bkd->bk", R, U)
            log_prob = const - 0.5 * ((D - c) * LOG_2PI + quad)
            pos = self.position[rows]
            if c:
                idx = np.broadcast_to(self.groups[c][pos][:, None, :], (end - start, K, c))
                u_m = np.take_along_axis(U, idx, axis=2)
                y = np.einsum("nkab,nkb->nka", inverses[c][pos], u_m)
                log_prob += 0.5 * (u_m * y).sum(axis=2) - 0.5 * log_dets[c][pos]
                mu_m = np.take_along_axis(np.broadcast_to(means, (end - start, K, D)), idx, axis=2)
                np.put_along_axis(Xhat, idx, mu_m - y, axis=2)
            yield rows, c, pos, log_prob, Xhat


class MissingEngine:
    """E-steps and M-step statistics of exact EM on data with NaN entries."""

    dtype = np.dtype(np.float64)

    def __init__(self, X, weight, covariance_type: str, K: int, reg_covar: float):
        X = np.asarray(X, dtype=np.float64)
        mask = np.isnan(X)
        w = np.ones(X.shape[0]) if weight is None else weight
        observed_weight = (~mask * w[:, None]).sum(axis=0)
        if np.any(observed_weight <= 0):
            col = int(np.argmax(observed_weight <= 0))
            raise DataError(f"X column {col} has no observed value")
        self.center = np.where(mask, 0.0, X * w[:, None]).sum(axis=0) / observed_weight
        self.patterns = MissingPatterns(X - self.center)
        # Centred, so zeros are the column means: the initialisation's imputation.
        self.filled = self.patterns.X0
        self.weight = weight
        self.total_weight = float(w.sum())
        self.covariance_type = covariance_type
        self.K, self.D = K, X.shape[1]

    def e_pass(self, params):
        """Mean log-likelihood of the observed entries and the expected statistics."""
        weights, means, prec_chol = params
        K, D = self.K, self.D
        nk, sums, sxx = np.zeros(K), np.zeros((K, D)), np.zeros((K, D, D))
        pattern_mass = {c: np.zeros((len(idx), K)) for c, idx in self.patterns.groups.items()}
        log_lik = 0.0
        P = dense_precisions(prec_chol, self.covariance_type, K, D)
        inverses, log_dets = self.patterns.small_inverses(P)
        weight = None if self.weight is None else self.weight[self.patterns.order]
        for rows, c, pos, log_prob, Xhat in self.patterns.blocks(
            weights, means, prec_chol, self.covariance_type, inverses, log_dets
        ):
            resp = np.ascontiguousarray(log_prob.T)
            point_ll = normalise_in_place(resp)
            if weight is None:
                log_lik += point_ll.sum()
            else:
                log_lik += float(weight[rows] @ point_ll)
                resp *= weight[rows]
            nk += resp.sum(axis=1)
            weighted = Xhat * resp.T[:, :, None]
            sums += weighted.sum(axis=0)
            sxx += weighted.transpose(1, 2, 0) @ Xhat.transpose(1, 0, 2)
            if c:
                mass = pattern_mass[c]
                for k in range(K):
                    mass[:, k] += np.bincount(pos, weights=resp[k], minlength=len(mass))
        # Conditional covariances: each pattern's P_mm^-1 times its responsibility mass.
        for c, idx in self.patterns.groups.items():
            flat = (
                np.arange(K)[None, :, None, None] * D * D
                + idx[:, None, :, None] * D
                + idx[:, None, None, :]
            )
            values = pattern_mass[c][:, :, None, None] * inverses[c]
            sxx += np.bincount(
                np.broadcast_to(flat, values.shape).ravel(), values.ravel(), minlength=K * D * D
            ).reshape(K, D, D)
        return log_lik / self.total_weight, {"nk": nk, "sums": sums, "sxx": sxx}

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


def missing_log_prob_and_impute(Xc, weights, means, prec_chol, covariance_type):
    """Joint log densities of the observed entries (K, n), and rows (n, D) with each NaN
    replaced by E[x_m | x_o] under the mixture (all in centred coordinates)."""
    patterns = MissingPatterns(Xc)
    K = len(weights)
    joint = np.empty((K, patterns.n))
    imputed = np.empty((patterns.n, patterns.D))
    P = dense_precisions(prec_chol, covariance_type, K, patterns.D)
    small = patterns.small_inverses(P)
    for rows, _, _, log_prob, Xhat in patterns.blocks(
        weights, means, prec_chol, covariance_type, *small
    ):
        where = patterns.order[rows]
        joint[:, where] = log_prob.T
        resp = np.ascontiguousarray(log_prob.T)
        normalise_in_place(resp)
        imputed[where] = np.einsum("kb,bkd->bd", resp, Xhat)
    return joint, imputed
