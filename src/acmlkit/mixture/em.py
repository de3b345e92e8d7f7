"""Gaussian mixtures fitted by expectation-maximisation, scikit-learn style."""

from __future__ import annotations

import warnings

import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture._kernels import make_kernel, normalise_in_place
from acmlkit.mixture.densities import (
    COVARIANCE_TYPES,
    covariances_from_precision_cholesky,
    precision_cholesky,
    precision_cholesky_from_precisions,
)
from acmlkit.mixture.responsibilities import check_weights
from acmlkit.rng import check_random_state
from acmlkit.validation import check_array, check_choice, check_int, check_real

INIT_METHODS = ("kmeans++", "random", "random_from_data")

# Points per chunk scale inversely with the widest per-chunk temporary: about
# 4 MiB of float64, measured fastest on one core for D=16, K=8.
_CHUNK_ELEMENTS = 1 << 19
# Per-point features are computed once per fit when they take at most this much.
_FEATURE_CACHE_BYTES = 1 << 30


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood change fell below ``tol``."""


class GaussianMixture:
    """A mixture of K Gaussians fitted by EM.

    Parameters
    ----------
    n_components : int
        Number of components K.
    covariance_type : {"full", "tied", "diag", "spherical"}
    tol : float
        Stop when the mean log-likelihood changes by less than this. ``0`` runs
        exactly ``max_iter`` iterations.
    reg_covar : float
        Added to every covariance's diagonal, keeping it positive definite.
    max_iter : int
        EM iterations per initialisation.
    n_init : int
        Initialisations; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans++", "random", "random_from_data"}
        How the initial responsibilities are drawn when parameters are not given.
    weights_init, means_init, precisions_init : arrays, optional
        Initial parameters (precisions as in scikit-learn: inverse covariances).
        Those given override what ``init_params`` would produce.
    random_state : None, int or numpy Generator
    warm_start : bool
        Start a new ``fit`` from the previous solution (one initialisation).
    callback : callable, optional
        Called after every iteration with a record
        ``{"init", "iteration", "log_likelihood", "change"}``.

    Attributes
    ----------
    weights_ : (K,)
    means_ : (K, D)
    covariances_, precisions_, precisions_cholesky_ : shapes per covariance type
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood at the last iteration of the best initialisation.
    history_ : list of dict
        One record per iteration of the best initialisation.
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans++",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start: bool = False,
        callback=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.callback = callback

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None) -> GaussianMixture:
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array of shape (n, D)
            float32 input is kept in float32.
        y : ignored
        sample_weight : array of shape (n,), optional
            Non-negative weights; an integer weight counts a point that many times.
        """
        self._check_parameters()
        X = check_array(X, "X")
        K = self.n_components
        n, D = X.shape
        if n < K:
            raise DataError(f"Expected n_samples >= n_components, but got n_samples={n} < {K}")
        weight = _check_sample_weight(sample_weight, n)
        warm = self.warm_start and hasattr(self, "means_")
        if warm and self.means_.shape != (K, D):
            raise ValueError(
                f"warm_start needs data with {self.means_.shape[1]} features and the same "
                f"n_components; got D={D}, n_components={K}"
            )

        center = np.average(X, axis=0, weights=weight).astype(np.float64)
        Xc = (X - center.astype(X.dtype)).astype(X.dtype, copy=False)
        kernel = make_kernel(self.covariance_type, K, D, X.dtype)
        kernel.prepare(Xc, weight)
        features = _FeatureSource(kernel, Xc)
        total_weight = float(n if weight is None else weight.sum())
        rng = check_random_state(self.random_state)

        best = None
        for init in range(1 if warm else self.n_init):
            if warm:
                params = (self.weights_, self.means_ - center, self.precisions_cholesky_)
            else:
                params = self._initial_parameters(Xc, center, features, weight, kernel, rng)
            run = self._run_em(kernel, features, weight, total_weight, params, init)
            if best is None or run["lower_bound"] > best["lower_bound"]:
                best = run

        weights, means, prec_chol = best["params"]
        self.weights_ = weights
        self.means_ = means + center
        self.precisions_cholesky_ = prec_chol
        self.covariances_ = covariances_from_precision_cholesky(prec_chol, self.covariance_type)
        self.converged_ = best["converged"]
        self.n_iter_ = best["n_iter"]
        self.lower_bound_ = best["lower_bound"]
        self.history_ = best["history"]
        self.n_features_in_ = D
        if not self.converged_ and self.tol > 0:
            warnings.warn(
                f"EM did not converge in {self.max_iter} iterations (last change "
                f"{self.history_[-1]['change']:.3g} >= tol={self.tol}); raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _run_em(self, kernel, features, weight, total_weight, params, init):
        history = []
        lower_bound = -np.inf
        converged = False
        for iteration in range(1, self.max_iter + 1):
            previous = lower_bound
            kernel.set_parameters(*params)
            lower_bound, stats = self._e_pass(kernel, features, weight, total_weight)
            params = self._m_step(kernel, stats)
            change = lower_bound - previous
            record = {
                "init": init,
                "iteration": iteration,
                "log_likelihood": lower_bound,
                "change": change,
            }
            history.append(record)
            if self.callback is not None:
                self.callback(record)
            if abs(change) < self.tol:
                converged = True
                break
        return {
            "params": params,
            "lower_bound": lower_bound,
            "converged": converged,
            "n_iter": iteration,
            "history": history,
        }

    def _e_pass(self, kernel, features, weight, total_weight):
        """One pass over the data: mean log-likelihood and the M-step's statistics."""
        stats = kernel.new_stats()
        log_lik = 0.0
        for points in features.chunks():
            chunk = features[points]
            resp = kernel.log_prob(chunk)
            point_ll = normalise_in_place(resp)
            if weight is None:
                log_lik += point_ll.sum(dtype=np.float64)
            else:
                log_lik += float(weight[points] @ point_ll)
                resp *= weight[points]
            kernel.accumulate(chunk, resp, stats)
        return log_lik / total_weight, stats

    def _m_step(self, kernel, stats):
        # 10 eps keeps an empty component's mean finite, as scikit-learn does.
        nk = stats["nk"] + 10 * np.finfo(kernel.dtype).eps
        means = kernel.sums(stats) / nk[:, None]
        covariances = kernel.covariances(stats, nk, means, self.reg_covar)
        prec_chol = precision_cholesky(covariances, self.covariance_type, reg_hint=self.reg_covar)
        return nk / nk.sum(), means, prec_chol

    def _initial_parameters(self, Xc, center, features, weight, kernel, rng):
        """Parameters from ``init_params``, overridden by those given explicitly."""
        D = Xc.shape[1]
        K = self.n_components
        given = (self.weights_init, self.means_init, self.precisions_init)
        if any(param is None for param in given):
            resp = _initial_responsibilities(Xc, K, self.init_params, rng)
            if weight is not None:
                resp = resp * weight[:, None]
            stats = kernel.new_stats()
            for points in features.chunks():
                kernel.accumulate(features[points], resp[points].T.astype(Xc.dtype), stats)
            weights, means, prec_chol = self._m_step(kernel, stats)
        if self.weights_init is not None:
            weights = check_weights(self.weights_init, K, "weights_init")
        if self.means_init is not None:
            means = check_array(self.means_init, "means_init", dtype=np.float64)
            if means.shape != (K, D):
                raise ValueError(f"means_init must have shape ({K}, {D}), got {means.shape}")
            means = means - center
        if self.precisions_init is not None:
            prec_chol = precision_cholesky_from_precisions(
                _check_precisions(self.precisions_init, self.covariance_type, K, D),
                self.covariance_type,
            )
        return weights, means, prec_chol

    def _check_parameters(self):
        check_int(self.n_components, "n_components", low=1)
        check_choice(self.covariance_type, "covariance_type", COVARIANCE_TYPES)
        check_real(self.tol, "tol", low=0)
        check_real(self.reg_covar, "reg_covar", low=0)
        check_int(self.max_iter, "max_iter", low=1)
        check_int(self.n_init, "n_init", low=1)
        check_choice(self.init_params, "init_params", INIT_METHODS)

    # --------------------------------------------------------------- inference
    def _joint_log_prob(self, X) -> np.ndarray:
        if not hasattr(self, "means_"):
            raise ValueError("this GaussianMixture is not fitted yet; call fit first")
        X = check_array(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[1]} features, but the mixture was fitted with "
                f"{self.n_features_in_}"
            )
        kernel = make_kernel(self.covariance_type, self.n_components, X.shape[1], X.dtype)
        center = self.means_.mean(axis=0)
        kernel.set_parameters(self.weights_, self.means_ - center, self.precisions_cholesky_)
        features = _FeatureSource(kernel, X - center.astype(X.dtype), cache=False)
        out = np.empty((self.n_components, X.shape[0]), dtype=X.dtype)
        for points in features.chunks():
            out[:, points] = kernel.log_prob(features[points])
        return out

    def predict_proba(self, X) -> np.ndarray:
        """p(component | x), shape (n, K)."""
        joint = self._joint_log_prob(X)
        normalise_in_place(joint)
        return np.ascontiguousarray(joint.T)

    def score_samples(self, X) -> np.ndarray:
        """log p(x) per point, shape (n,)."""
        return normalise_in_place(self._joint_log_prob(X))

    def predict(self, X) -> np.ndarray:
        """Most probable component per point, shape (n,)."""
        return self._joint_log_prob(X).argmax(axis=0)

    def score(self, X, y=None) -> float:
        """Mean log-likelihood of ``X``."""
        return float(self.score_samples(X).mean(dtype=np.float64))

    def n_parameters(self) -> int:
        """Free parameters, as used by :meth:`bic` and :meth:`aic`."""
        K, D = self.means_.shape
        cov = {
            "full": K * D * (D + 1) // 2,
            "tied": D * (D + 1) // 2,
            "diag": K * D,
            "spherical": K,
        }[self.covariance_type]
        return int(cov + K * D + K - 1)

    def bic(self, X) -> float:
        """Bayesian information criterion; lower is better."""
        n = np.asarray(X).shape[0]
        return -2 * self.score(X) * n + self.n_parameters() * np.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion; lower is better."""
        return -2 * self.score(X) * np.asarray(X).shape[0] + 2 * self.n_parameters()

    def sample(self, n_samples: int = 1, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` points; returns ``(X, component)``."""
        if not hasattr(self, "means_"):
            raise ValueError("this GaussianMixture is not fitted yet; call fit first")
        check_int(n_samples, "n_samples", low=1)
        rng = check_random_state(self.random_state if random_state is None else random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        D = self.means_.shape[1]
        draws, labels = [], []
        for k, count in enumerate(counts):
            cov = self.covariances_
            if self.covariance_type == "full":
                cov = cov[k]
            elif self.covariance_type == "diag":
                cov = np.diag(cov[k])
            elif self.covariance_type == "spherical":
                cov = cov[k] * np.eye(D)
            draws.append(rng.multivariate_normal(self.means_[k], cov, size=count))
            labels.append(np.full(count, k))
        return np.vstack(draws), np.concatenate(labels)

    @property
    def precisions_(self) -> np.ndarray:
        pc = self.precisions_cholesky_
        if self.covariance_type == "full":
            return pc @ pc.transpose(0, 2, 1)
        if self.covariance_type == "tied":
            return pc @ pc.T
        return pc**2


class _FeatureSource:
    """A kernel's features (width, n) of ``X`` (n, D) by chunks of points:
    computed once and kept when they fit in the cache budget, else recomputed
    per chunk on each pass."""

    def __init__(self, kernel, X: np.ndarray, cache: bool = True):
        self._kernel = kernel
        self._n = X.shape[0]
        self._XT = np.ascontiguousarray(X.T)
        widest = max(kernel.width, kernel.K * kernel.D)
        self._step = max(256, _CHUNK_ELEMENTS // widest)
        self._cached = None
        if cache and self._n * kernel.width * X.itemsize <= _FEATURE_CACHE_BYTES:
            self._cached = np.empty((kernel.width, self._n), dtype=X.dtype)
            for points in self.chunks():
                self._cached[:, points] = kernel.features(self._XT[:, points])
            self._XT = None  # the cached features hold everything the passes need

    def chunks(self):
        for start in range(0, self._n, self._step):
            yield slice(start, min(start + self._step, self._n))

    def __getitem__(self, points: slice) -> np.ndarray:
        if self._cached is not None:
            return self._cached[:, points]
        return self._kernel.features(self._XT[:, points])


def _check_sample_weight(sample_weight, n: int):
    if sample_weight is None:
        return None
    weight = check_array(sample_weight, "sample_weight", ndim=1, dtype=np.float64)
    if weight.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},), got {weight.shape}")
    if np.any(weight < 0) or weight.sum() <= 0:
        raise DataError("sample_weight must be non-negative with a positive sum")
    return weight


def _check_precisions(precisions, covariance_type, K, D):
    expected = {"full": (K, D, D), "tied": (D, D), "diag": (K, D), "spherical": (K,)}
    precisions = check_array(precisions, "precisions_init", ndim=None, dtype=np.float64)
    if precisions.shape != expected[covariance_type]:
        raise ValueError(
            f"precisions_init for covariance_type={covariance_type!r} must have shape "
            f"{expected[covariance_type]}, got {precisions.shape}"
        )
    if covariance_type in ("full", "tied"):
        stacked = precisions[None] if covariance_type == "tied" else precisions
        if not np.allclose(stacked, stacked.transpose(0, 2, 1)):
            raise ValueError("precisions_init must be symmetric")
    elif np.any(precisions <= 0):
        raise ValueError("precisions_init must be positive")
    return precisions


def _initial_responsibilities(X, K, method, rng) -> np.ndarray:
    n = X.shape[0]
    if method == "random":
        resp = rng.uniform(size=(n, K))
        return resp / resp.sum(axis=1, keepdims=True)
    if method == "random_from_data":
        centers = X[rng.choice(n, size=K, replace=False)]
    else:
        centers = kmeans_plusplus(X, K, rng)
    nearest = _nearest_center(X, centers)
    resp = np.zeros((n, K))
    resp[np.arange(n), nearest] = 1.0
    return resp


def _sq_distances(X, centers):
    return (
        np.einsum("nd,nd->n", X, X)[:, None]
        - 2 * X @ centers.T
        + np.einsum("kd,kd->k", centers, centers)[None, :]
    )


def _nearest_center(X, centers):
    return _sq_distances(X, centers).argmin(axis=1)


def kmeans_plusplus(X, n_clusters: int, rng) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): D^2-weighted draws.

    Returns centers of shape (n_clusters, D), each a row of ``X``.
    """
    rng = check_random_state(rng)
    n = X.shape[0]
    centers = np.empty((n_clusters, X.shape[1]), dtype=np.float64)
    centers[0] = X[rng.integers(n)]
    closest = _sq_distances(X, centers[:1])[:, 0].clip(min=0)
    for k in range(1, n_clusters):
        total = closest.sum()
        # All remaining points coincide with a center: any choice is as good.
        index = rng.integers(n) if total <= 0 else rng.choice(n, p=closest / total)
        centers[k] = X[index]
        closest = np.minimum(closest, _sq_distances(X, centers[k : k + 1])[:, 0].clip(min=0))
    return centers
