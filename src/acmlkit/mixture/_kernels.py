"""Fused E-step / sufficient-statistics passes, one small class per covariance type.

Each kernel turns a chunk of data into "features" once, evaluates every
component's joint log density with a single matrix product, and accumulates
the M-step's sufficient statistics from the responsibilities with one more.
Parameters live in coordinates centred on the data mean, which keeps the
raw-moment covariance formula (E[xx^T] - mu mu^T) free of cancellation.
"""

from __future__ import annotations

import numpy as np

from acmlkit.mixture.densities import LOG_2PI, log_det_precision_cholesky


class Kernel:
    """Interface: ``features`` -> ``log_prob`` -> ``accumulate`` -> ``parameters``."""

    def __init__(self, n_components: int, n_features: int, dtype):
        self.K = n_components
        self.D = n_features
        self.dtype = np.dtype(dtype)

    def features(self, X: np.ndarray) -> np.ndarray:
        return X

    def prepare(self, F: np.ndarray, sample_weight: np.ndarray | None) -> None:
        """Per-fit statistics that do not depend on the responsibilities."""

    def set_parameters(self, weights, means, prec_chol) -> None:
        self._const = (
            np.log(weights)
            + log_det_precision_cholesky(prec_chol, self.covariance_type, self.D)
            - 0.5 * self.D * LOG_2PI
        )
        self._set(np.asarray(means), np.asarray(prec_chol))

    def new_stats(self) -> dict[str, np.ndarray]:
        return {"nk": np.zeros(self.K), "sx": np.zeros((self.K, self.D))}

    def accumulate(self, F: np.ndarray, resp: np.ndarray, stats) -> None:
        stats["nk"] += resp.sum(axis=0, dtype=np.float64)
        stats["sx"] += resp.T @ F

    def sums(self, stats) -> np.ndarray:
        """Weighted sums of x per component, shape (K, D)."""
        return stats["sx"]


class FullKernel(Kernel):
    covariance_type = "full"

    def _set(self, means, prec_chol):
        K, D = self.K, self.D
        # All K factors side by side: one (D, K*D) product projects every point
        # into every component's whitened coordinates at once.
        self._proj = np.ascontiguousarray(prec_chol.transpose(1, 0, 2).reshape(D, K * D))
        self._shift = np.einsum("kd,kde->ke", means, prec_chol).reshape(K * D)
        self._proj = self._proj.astype(self.dtype)
        self._shift = self._shift.astype(self.dtype)
        # Block indicator: sums the K groups of D squared coordinates by a product.
        self._blocks = np.kron(np.eye(K), np.ones((D, 1))).astype(self.dtype)

    def log_prob(self, F):
        y = F @ self._proj
        y -= self._shift
        np.square(y, out=y)
        out = y @ self._blocks
        out *= -0.5
        out += self._const
        return out

    def new_stats(self):
        stats = super().new_stats()
        stats["sxx"] = np.zeros((self.K, self.D, self.D))
        return stats

    def accumulate(self, F, resp, stats):
        super().accumulate(F, resp, stats)
        n = F.shape[0]
        weighted = (resp[:, :, None] * F[:, None, :]).reshape(n, self.K * self.D)
        stats["sxx"] += (weighted.T @ F).reshape(self.K, self.D, self.D)

    def covariances(self, stats, nk, means, reg_covar):
        covs = stats["sxx"] / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        covs[:, np.arange(self.D), np.arange(self.D)] += reg_covar
        return covs


class TiedKernel(Kernel):
    covariance_type = "tied"

    def prepare(self, F, sample_weight):
        weighted = F if sample_weight is None else F * sample_weight[:, None]
        self._scatter = np.asarray(weighted.T @ F, dtype=np.float64)

    def _set(self, means, prec_chol):
        self._proj = prec_chol.astype(self.dtype)
        centres = means @ prec_chol
        self._centres_t = np.ascontiguousarray(centres.T).astype(self.dtype)
        self._const = self._const - 0.5 * (centres**2).sum(axis=1)

    def log_prob(self, F):
        y = F @ self._proj
        out = y @ self._centres_t
        np.square(y, out=y)
        out -= 0.5 * y.sum(axis=1, keepdims=True)
        out += self._const
        return out

    def covariances(self, stats, nk, means, reg_covar):
        cov = (self._scatter - (nk * means.T) @ means) / nk.sum()
        cov[np.diag_indices(self.D)] += reg_covar
        return cov


class DiagKernel(Kernel):
    """Features [x^2, x]: the squared Mahalanobis distance is linear in them."""

    covariance_type = "diag"

    def features(self, X):
        return np.hstack([X * X, X])

    def _set(self, means, prec_chol):
        prec = prec_chol**2
        self._coef = np.vstack([prec.T, -2 * (means * prec).T]).astype(self.dtype)
        self._const = self._const - 0.5 * (means**2 * prec).sum(axis=1)

    def log_prob(self, F):
        out = F @ self._coef
        out *= -0.5
        out += self._const
        return out

    def new_stats(self):
        return {"nk": np.zeros(self.K), "moments": np.zeros((self.K, 2 * self.D))}

    def accumulate(self, F, resp, stats):
        stats["nk"] += resp.sum(axis=0, dtype=np.float64)
        stats["moments"] += resp.T @ F

    def sums(self, stats):
        return stats["moments"][:, self.D :]

    def covariances(self, stats, nk, means, reg_covar):
        return stats["moments"][:, : self.D] / nk[:, None] - means**2 + reg_covar


class SphericalKernel(DiagKernel):
    """Features [|x|^2, x]."""

    covariance_type = "spherical"

    def features(self, X):
        return np.hstack([np.einsum("nd,nd->n", X, X)[:, None], X])

    def _set(self, means, prec_chol):
        prec = prec_chol**2
        self._coef = np.vstack([prec[None, :], -2 * (means * prec[:, None]).T]).astype(self.dtype)
        self._const = self._const - 0.5 * (means**2).sum(axis=1) * prec

    def new_stats(self):
        return {"nk": np.zeros(self.K), "moments": np.zeros((self.K, 1 + self.D))}

    def sums(self, stats):
        return stats["moments"][:, 1:]

    def covariances(self, stats, nk, means, reg_covar):
        return (stats["moments"][:, 0] / nk - (means**2).sum(axis=1)) / self.D + reg_covar


KERNELS = {
    "full": FullKernel,
    "tied": TiedKernel,
    "diag": DiagKernel,
    "spherical": SphericalKernel,
}


def normalise_in_place(log_prob: np.ndarray) -> np.ndarray:
    """Turn joint log densities (n, K) into responsibilities, in place.

    Returns the per-point log-likelihood (n,) by log-sum-exp.
    """
    peak = log_prob.max(axis=1, keepdims=True)
    log_prob -= peak
    np.exp(log_prob, out=log_prob)
    total = log_prob.sum(axis=1, keepdims=True)
    log_prob /= total
    return (peak + np.log(total))[:, 0]
