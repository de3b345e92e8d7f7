"""Fused E-step / sufficient-statistics passes, one small class per covariance type.

Each kernel turns a chunk of data into "features" (computed once per fit where
they fit in memory), evaluates every component's joint log density with one
matrix product, and accumulates the M-step's sufficient statistics from the
responsibilities with one more (in float64 a compiled loop, see ``_compiled``).

Arrays per chunk are transposed: features are (width, n) and log densities and
responsibilities (K, n).  The last D feature rows are the points themselves, so
a feature buffer is filled by writing the centred points into its tail and
calling ``fill_features``.  Reductions over components then run along long
contiguous rows instead of across K-element rows, and OpenBLAS multiplies these
short-and-wide operands about 1.5x faster than the tall-and-skinny ones.

Parameters live in coordinates centred on the data mean, which keeps the
raw-moment covariance formula E[xx^T] - mu mu^T free of cancellation.
"""

from __future__ import annotations

import numpy as np

from acmlkit.mixture._compiled import AffinePass, accumulate_weighted_sums
from acmlkit.mixture.densities import LOG_2PI, log_det_precision_cholesky

# Points per chunk scale inversely with the widest per-chunk temporary: about
# 4 MiB of float64, measured fastest on one core for D=16, K=8.
_CHUNK_ELEMENTS = 1 << 19
# Per-point features are computed once per fit when they take at most this much.
_FEATURE_CACHE_BYTES = 1 << 30


class Kernel:
    """Interface: ``features`` -> ``log_prob`` -> ``accumulate`` -> ``covariances``."""

    covariance_type: str

    def __init__(self, n_components: int, n_features: int, dtype):
        self.K = n_components
        self.D = n_features
        self.dtype = np.dtype(dtype)
        self.width = n_features

    @property
    def chunk_width(self) -> int:
        """Rows of the widest per-point temporary of a pass (sizes the chunks)."""
        return max(self.width, self.K)

    def features(self, XT: np.ndarray) -> np.ndarray:
        """Per-point features (width, n) from points given as columns, XT of shape (D, n)."""
        if self.width == self.D:
            return XT
        out = np.empty((self.width, XT.shape[1]), dtype=XT.dtype)
        out[-self.D :] = XT
        self.fill_features(out)
        return out

    def fill_features(self, F: np.ndarray) -> None:
        """Fill the rows of features F (width, n) above its last D rows, the points."""

    def prepare(self, X: np.ndarray, sample_weight: np.ndarray | None) -> None:
        """Per-fit statistics that do not depend on the responsibilities."""

    def prepare_add(self, X: np.ndarray, sample_weight: np.ndarray | None) -> None:
        """Add a chunk of points to those statistics (fits over chunks of data)."""

    def set_parameters(self, weights, means, prec_chol) -> None:
        const = (
            np.log(weights)
            + log_det_precision_cholesky(prec_chol, self.covariance_type, self.D)
            - 0.5 * self.D * LOG_2PI
        )
        self._const = const - 0.5 * self._set(np.asarray(means), np.asarray(prec_chol))
        self._const = self._const[:, None]
        # Built at the first chunk, by the kernels whose log densities are linear in F.
        self._product = None

    def _set(self, means, prec_chol) -> np.ndarray:
        """Store the matrices ``log_prob`` needs; return mu^T P mu per component."""
        # Scaling by -0.5 is exact, so folding it into the coefficients gives
        # the same bits as scaling every product and saves a pass per chunk.
        self._coef = (-0.5 * self._coefficients(means, prec_chol)).astype(self.dtype)
        return self._offsets

    def log_prob(self, F: np.ndarray) -> np.ndarray:
        """Joint log densities log pi_k + log N(x | k), shape (K, n)."""
        if self._product is None:
            self._product = AffinePass(self._coef, self._const)
        return self._product(F)

    def new_stats(self) -> dict[str, np.ndarray]:
        return {"nk": np.zeros(self.K), "moments": np.zeros((self.K, self.width))}

    def accumulate(self, F: np.ndarray, resp: np.ndarray, stats) -> None:
        """Add a chunk's weighted sums; ``resp`` has shape (K, n)."""
        accumulate_weighted_sums(resp, F, stats["moments"], stats["nk"])

    def sums(self, stats) -> np.ndarray:
        """Weighted sums of x per component, shape (K, D)."""
        return stats["moments"][:, -self.D :]


class WhiteningFullKernel(Kernel):
    """Full covariances by projecting every point with all K precision factors at once.

    O(K D^2) per point; chosen when D is large next to K.
    """

    covariance_type = "full"

    @property
    def chunk_width(self):
        return max(self.width, self.K * self.D)

    def _set(self, means, prec_chol):
        K, D = self.K, self.D
        self._proj = prec_chol.transpose(0, 2, 1).reshape(K * D, D).astype(self.dtype)
        shift = np.einsum("kd,kde->ke", means, prec_chol).reshape(K * D, 1)
        self._shift = shift.astype(self.dtype)
        # Block indicator: sums each component's D squared coordinates by a product.
        self._blocks = np.kron(np.eye(K), np.ones((1, D))).astype(self.dtype)
        return np.zeros(K)

    def log_prob(self, F):
        y = self._proj @ F
        y -= self._shift
        np.square(y, out=y)
        out = self._blocks @ y
        out *= -0.5
        out += self._const
        return out

    def new_stats(self):
        return {
            "nk": np.zeros(self.K),
            "moments": np.zeros((self.K, self.D)),
            "sxx": np.zeros((self.K, self.D, self.D)),
        }

    def accumulate(self, F, resp, stats):
        super().accumulate(F, resp, stats)
        n = F.shape[1]
        weighted = (resp[:, None, :] * F[None, :, :]).reshape(self.K * self.D, n)
        stats["sxx"] += (weighted @ F.T).reshape(self.K, self.D, self.D)

    def covariances(self, stats, nk, means, reg_covar):
        return _centred_covariances(stats["sxx"], nk, means, reg_covar)


class QuadraticFullKernel(Kernel):
    """Full covariances through features [x_i x_j (i <= j), x].

    The squared Mahalanobis distance is linear in them, so the E-step and the
    M-step statistics are each one skinny matrix product and nothing of shape
    (n, K*D) is ever formed.  O(K D^2 / 2) per point; chosen when D is small
    next to K.
    """

    covariance_type = "full"

    def __init__(self, n_components, n_features, dtype):
        super().__init__(n_components, n_features, dtype)
        self._rows, self._cols = np.triu_indices(n_features)
        self.n_quadratic = self._rows.size
        self.width = self.n_quadratic + n_features

    def fill_features(self, F):
        points = F[self.n_quadratic :]
        start = 0
        for i in range(self.D):
            width = self.D - i
            np.multiply(points[i], points[i:], out=F[start : start + width])
            start += width

    def _coefficients(self, means, prec_chol):
        precisions = prec_chol @ prec_chol.transpose(0, 2, 1)
        # Off-diagonal products appear once in the features but twice in x^T P x.
        scale = np.where(self._rows == self._cols, 1.0, 2.0)
        quadratic = precisions[:, self._rows, self._cols] * scale
        linear = -2 * np.einsum("kde,ke->kd", precisions, means)
        self._offsets = np.einsum("kd,kde,ke->k", means, precisions, means)
        return np.hstack([quadratic, linear])

    def covariances(self, stats, nk, means, reg_covar):
        sxx = np.empty((self.K, self.D, self.D))
        upper = stats["moments"][:, : self.n_quadratic]
        sxx[:, self._rows, self._cols] = upper
        sxx[:, self._cols, self._rows] = upper
        return _centred_covariances(sxx, nk, means, reg_covar)


class TiedKernel(Kernel):
    covariance_type = "tied"

    def prepare(self, X, sample_weight):
        self._scatter = self.scatter(X, sample_weight)

    def prepare_add(self, X, sample_weight):
        if getattr(self, "_scatter", None) is None:
            self._scatter = np.zeros((self.D, self.D))
        self._scatter += self.scatter(X, sample_weight)

    @staticmethod
    def scatter(X, sample_weight):
        """sum_n w_n x_n x_n^T, shape (D, D), of points X (n, D)."""
        weighted = X if sample_weight is None else X * sample_weight[:, None]
        return np.asarray(weighted.T @ X, dtype=np.float64)

    def _set(self, means, prec_chol):
        self._proj = prec_chol.astype(self.dtype)
        centres = means @ prec_chol
        self._centres = centres.astype(self.dtype)
        return (centres**2).sum(axis=1)

    def log_prob(self, F):
        y = self._proj.T @ F
        out = self._centres @ y
        np.square(y, out=y)
        out -= 0.5 * y.sum(axis=0)
        out += self._const
        return out

    def covariances(self, stats, nk, means, reg_covar):
        # Online EM keeps its own running scatter in the statistics.
        scatter = stats.get("scatter", self._scatter)
        cov = (scatter - (nk * means.T) @ means) / nk.sum()
        cov[np.diag_indices(self.D)] += reg_covar
        return cov


class DiagKernel(Kernel):
    """Features [x^2, x]: the squared Mahalanobis distance is linear in them."""

    covariance_type = "diag"

    def __init__(self, n_components, n_features, dtype):
        super().__init__(n_components, n_features, dtype)
        self.width = 2 * n_features

    def fill_features(self, F):
        np.square(F[self.D :], out=F[: self.D])

    def _coefficients(self, means, prec_chol):
        prec = prec_chol**2
        self._offsets = (means**2 * prec).sum(axis=1)
        return np.hstack([prec, -2 * means * prec])

    def covariances(self, stats, nk, means, reg_covar):
        return stats["moments"][:, : self.D] / nk[:, None] - means**2 + reg_covar


class SphericalKernel(Kernel):
    """Features [|x|^2, x]."""

    covariance_type = "spherical"

    def __init__(self, n_components, n_features, dtype):
        super().__init__(n_components, n_features, dtype)
        self.width = 1 + n_features

    def fill_features(self, F):
        np.einsum("dn,dn->n", F[1:], F[1:], out=F[0])

    def _coefficients(self, means, prec_chol):
        prec = prec_chol**2
        self._offsets = (means**2).sum(axis=1) * prec
        return np.hstack([prec[:, None], -2 * means * prec[:, None]])

    def covariances(self, stats, nk, means, reg_covar):
        return (stats["moments"][:, 0] / nk - (means**2).sum(axis=1)) / self.D + reg_covar


def _centred_covariances(sxx, nk, means, reg_covar):
    """Sigma_k = E_k[x x^T] - mu_k mu_k^T + reg I from weighted raw moments (K, D, D)."""
    covs = sxx / nk[:, None, None] - means[:, :, None] * means[:, None, :]
    D = means.shape[1]
    covs[:, np.arange(D), np.arange(D)] += reg_covar
    return covs


def make_kernel(covariance_type: str, n_components: int, n_features: int, dtype) -> Kernel:
    """The kernel for a covariance type; for ``full``, the cheaper of the two forms.

    Quadratic features cost about D^2/2 + D multiply-adds per point and
    component, whitening about D^2 + D plus an elementwise pass over an
    (n, K*D) array; measured on one core, quadratic wins while D <= 4 K.
    """
    if covariance_type == "full":
        cls = QuadraticFullKernel if n_features <= 4 * n_components else WhiteningFullKernel
    else:
        cls = {"tied": TiedKernel, "diag": DiagKernel, "spherical": SphericalKernel}[
            covariance_type
        ]
    return cls(n_components, n_features, dtype)


class FeatureSource:
    """A kernel's features (width, n) of the points ``X`` (n, D) less ``center``,
    by chunks of points: computed once and kept when they fit in the cache
    budget, else recomputed per chunk on each pass.

    Each chunk's features are a C-contiguous block of their own, so that the
    compiled loops see unit strides. ``center`` None takes ``X`` as already centred.
    """

    def __init__(self, kernel, X: np.ndarray, center=None, cache: bool = True):
        self._kernel = kernel
        n, D = X.shape
        self._n = n
        self._step = max(256, _CHUNK_ELEMENTS // kernel.chunk_width)
        self._XT = np.empty((D, n), dtype=X.dtype)
        # Centring and transposing in one pass, by blocks of rows that stay in cache.
        shift = None if center is None else np.asarray(center).astype(X.dtype)[:, None]
        for points in self.chunks():
            if shift is None:
                self._XT[:, points] = X[points].T
            else:
                np.subtract(X[points].T, shift, out=self._XT[:, points])
        self._blocks = None
        fits = n * kernel.width * X.itemsize <= _FEATURE_CACHE_BYTES
        if cache and fits and kernel.width > D:
            # Carved from one allocation, which the kernel backs with huge pages:
            # a fresh array per chunk took 2.5x as long to fill, in page faults.
            flat = np.empty(n * kernel.width, dtype=X.dtype)
            self._blocks = []
            for points in self.chunks():
                block = flat[kernel.width * points.start : kernel.width * points.stop]
                block = block.reshape(kernel.width, points.stop - points.start)
                block[-D:] = self._XT[:, points]
                kernel.fill_features(block)
                self._blocks.append(block)

    @property
    def n(self) -> int:
        return self._n

    @property
    def centred(self) -> np.ndarray:
        """The centred points (n, D), a view."""
        return self._XT.T

    def chunks(self):
        for start in range(0, self._n, self._step):
            yield slice(start, min(start + self._step, self._n))

    def __getitem__(self, points: slice) -> np.ndarray:
        """The features of one of ``chunks()``."""
        if self._blocks is not None:
            return self._blocks[points.start // self._step]
        return self._kernel.features(self._XT[:, points])
