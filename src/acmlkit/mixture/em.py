"""Gaussian mixtures fitted by expectation-maximisation, scikit-learn style."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from acmlkit.errors import DataError
from acmlkit.mixture._compiled import normalise_in_place
from acmlkit.mixture._kernels import FeatureSource, make_kernel
from acmlkit.mixture._missing import MissingEngine as _MissingEngine
from acmlkit.mixture._missing import missing_log_prob_and_impute
from acmlkit.mixture.densities import (
    COVARIANCE_TYPES,
    covariances_from_precision_cholesky,
    precision_cholesky,
    precision_cholesky_from_precisions,
)
from acmlkit.mixture.posterior import check_weights
from acmlkit.rng import check_random_state
from acmlkit.validation import check_array, check_choice, check_int, check_real

INIT_METHODS = ("kmeans", "kmeans++", "random", "random_from_data")
MISSING_MODES = ("error", "em")
FREEZABLE = ("weights", "means", "covariances")
# fit_chunks draws its initialisation from this many leading rows.
INIT_SAMPLE_ROWS = 50_000
# Online EM step size eta_t = (t + 1) ** -0.6; see GaussianMixture.partial_fit.
ONLINE_STEP_EXPONENT = 0.6
# Lloyd iterations of the "kmeans" initialisation (scikit-learn's KMeans runs to
# convergence; a few iterations from k-means++ seeds reach the same basin).
KMEANS_ITERATIONS = 20



class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood change fell below ``tol``."""


class GaussianMixture(DensityMixin, BaseEstimator):
    """A mixture of K Gaussians fitted by EM; a scikit-learn estimator.

    Beyond scikit-learn's: sample weights, missing values (``missing="em"``),
    fits over chunks of data (:meth:`fit_chunks`, exact) and online EM
    (:meth:`partial_fit`), and frozen parameters (``freeze``).

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
    init_params : {"kmeans", "kmeans++", "random", "random_from_data"}
        How the initial responsibilities are drawn when parameters are not given:
        ``kmeans`` runs Lloyd's iterations from a k-means++ seeding (as
        scikit-learn's default), ``kmeans++`` assigns points to the seeds.
    weights_init, means_init, precisions_init : arrays, optional
        Initial parameters (precisions as in scikit-learn: inverse covariances).
        Those given override what ``init_params`` would produce.
    random_state : None, int or numpy Generator
    warm_start : bool
        Start a new ``fit`` from the previous solution (one initialisation).
    missing : {"error", "em"}
        ``"em"`` accepts NaN entries as values missing at random and runs exact
        EM on the observed coordinates (conditional means and covariances per
        missingness pattern); :meth:`predict`, :meth:`score_samples` and
        :meth:`impute` then take rows with NaN.
    freeze : None, or a tuple of "weights", "means", "covariances"
        Parameters kept at their initial values during EM (give them through
        ``*_init``, or they stay at what ``init_params`` produced).
    freeze_components : None or sequence of int
        Components whose ``freeze`` parameters are held; None holds all. Free
        weights share the mass the frozen ones leave.
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
        Mean log-likelihood at the last E-step of the best initialisation.
    history_ : list of dict
        One record per iteration of the best initialisation.
    n_features_in_ : int
    n_samples_seen_ : float
        Total weight of the points fitted (:meth:`partial_fit` counts all chunks).
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
        missing: str = "error",
        freeze=None,
        freeze_components=None,
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
        self.missing = missing
        self.freeze = freeze
        self.freeze_components = freeze_components
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "em"
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None) -> GaussianMixture:
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array of shape (n, D)
            float32 input is kept in float32. NaN entries need ``missing="em"``.
        y : ignored
        sample_weight : array of shape (n,), optional
            Non-negative weights; an integer weight counts a point that many times.
        """
        self._check_parameters()
        X = self._validate(X, reset=True)
        K = self.n_components
        n, D = X.shape
        if n < K:
            raise DataError(f"Expected n_samples >= n_components, but got n_samples={n} < {K}")
        weight = _check_sample_weight(sample_weight, n)
        warm = self._check_warm(D)
        rng = check_random_state(self.random_state)
        if self.missing == "em" and np.isnan(X).any():
            engine = _MissingEngine(X, weight, self.covariance_type, K, self.reg_covar)
            center = engine.center
            init_X = engine.filled
            init_kernel = make_kernel(self.covariance_type, K, D, np.float64)
            init_kernel.prepare(init_X, weight)
            init_features = FeatureSource(init_kernel, init_X)
        else:
            center = np.average(X, axis=0, weights=weight).astype(np.float64)
            kernel = make_kernel(self.covariance_type, K, D, X.dtype)
            features = FeatureSource(kernel, X, center)
            init_X = features.centred
            kernel.prepare(init_X, weight)
            engine = _CompleteEngine(kernel, features, weight)
            init_kernel, init_features = kernel, features

        init_data = (init_X, init_features, weight, init_kernel)
        best = self._best_run(engine, warm, center, init_data, rng)
        self._store(best, center, D, float(n if weight is None else weight.sum()))
        return self

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """Fit, then return the most probable component of each point, shape (n,)."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def fit_chunks(self, chunks) -> GaussianMixture:
        """Exact batch EM over data too large for memory, read chunk by chunk.

        Parameters
        ----------
        chunks : re-iterable of arrays (n_i, D), or a callable returning a fresh
            iterable (e.g. a generator function). One pass finds the data's mean
            and takes the initialisation sample (the first ``INIT_SAMPLE_ROWS``
            rows), then every EM iteration is one pass. The result equals
            :meth:`fit` on the concatenated chunks (to rounding) when both start
            from the same parameters. Memory: one chunk plus the parameters.
        """
        self._check_parameters()
        source = chunks if callable(chunks) else (lambda: chunks)
        n, total, sample, D, dtype = 0, None, [], None, None
        for chunk in source():
            chunk = self._validate(chunk, reset=D is None)
            if np.isnan(chunk).any():
                raise DataError("fit_chunks does not take missing values yet; use fit")
            D, dtype = chunk.shape[1], chunk.dtype
            total = chunk.sum(axis=0, dtype=np.float64) + (0 if total is None else total)
            if sum(len(s) for s in sample) < INIT_SAMPLE_ROWS:
                sample.append(chunk[: INIT_SAMPLE_ROWS - sum(len(s) for s in sample)])
            n += chunk.shape[0]
        if D is None:
            raise DataError("fit_chunks got no chunks of data")
        K = self.n_components
        if n < K:
            raise DataError(f"Expected n_samples >= n_components, but got n_samples={n} < {K}")
        center = total / n
        kernel = make_kernel(self.covariance_type, K, D, dtype)
        engine = _ChunkEngine(kernel, source, center, self)
        if self.covariance_type == "tied":
            kernel._scatter = None
            for features in engine.chunk_features():
                kernel.prepare_add(features.centred, None)
        warm = self._check_warm(D)
        rng = check_random_state(self.random_state)
        init_kernel = make_kernel(self.covariance_type, K, D, dtype)
        init_features = FeatureSource(init_kernel, np.vstack(sample), center)
        init_X = init_features.centred
        init_kernel.prepare(init_X, None)
        init_data = (init_X, init_features, None, init_kernel)
        best = self._best_run(engine, warm, center, init_data, rng)
        self._store(best, center, D, float(n))
        return self

    def _best_run(self, engine, warm: bool, center, init_data, rng) -> dict:
        """EM from each of ``n_init`` starts (or the warm start); the run with the best bound.

        ``init_data`` is ``(X, features, sample_weight, kernel)`` of the points the
        initialisations are drawn from.
        """
        init_X, init_features, weight, init_kernel = init_data
        best = None
        for init in range(1 if warm else self.n_init):
            if warm:
                params = (self.weights_, self.means_ - center, self.precisions_cholesky_)
            else:
                params = self._initial_parameters(
                    init_X, center, init_features, weight, init_kernel, rng
                )
            run = self._run_em(engine, params, init)
            if best is None or run["lower_bound"] > best["lower_bound"]:
                best = run
        return best

    def partial_fit(self, X, y=None, sample_weight=None) -> GaussianMixture:
        """One step of stepwise online EM (Cappe & Moulines, 2009) on a chunk ``X`` (n, D).

        The first call initialises from the chunk (of ``n_init`` initialisations
        the one with the highest likelihood of the chunk) and fixes the centring.
        Each call then runs an E-step on the chunk with the current parameters,
        blends the chunk's normalised sufficient statistics into running
        averages with step size ``eta_t = (t + 1) ** -ONLINE_STEP_EXPONENT``
        (t = 0, 1, ...; the first chunk's statistics are taken whole; the
        exponent 0.6 lies in (0.5, 1], where the recursion converges), and
        updates the parameters by an M-step on those averages. Memory is one chunk.
        """
        self._check_parameters()
        online = getattr(self, "_online", None)
        X = self._validate(X, reset=online is None)
        if np.isnan(X).any():
            raise DataError("partial_fit does not take missing values yet; use fit")
        weight = _check_sample_weight(sample_weight, X.shape[0])
        K, D = self.n_components, X.shape[1]
        chunk_weight = float(X.shape[0] if weight is None else weight.sum())
        if online is None:
            center = np.average(X, axis=0, weights=weight).astype(np.float64)
            kernel = make_kernel(self.covariance_type, K, D, X.dtype)
            features = FeatureSource(kernel, X, center)
            Xc = features.centred
            kernel.prepare(Xc, weight)
            rng = check_random_state(self.random_state)
            # Of n_init initialisations, the one the chunk likes best starts the stream.
            best_ll = -np.inf
            for _ in range(self.n_init):
                candidate = self._initial_parameters(Xc, center, features, weight, kernel, rng)
                kernel.set_parameters(*candidate)
                candidate_ll = _CompleteEngine(kernel, features, weight).e_pass_stats()[0]
                if candidate_ll > best_ll:
                    params, best_ll = candidate, candidate_ll
            online = self._online = {"center": center, "kernel": kernel, "t": 0, "stats": None}
            online["frozen"] = self._frozen_parameters(params)
            online["params"] = params
            self.n_samples_seen_ = 0.0
        else:
            center, kernel = online["center"], online["kernel"]
            # One pass per chunk: caching its features would only add memory.
            features = FeatureSource(kernel, X, center, cache=False)
            Xc = features.centred
        kernel.set_parameters(*online["params"])
        log_lik, stats = _CompleteEngine(kernel, features, weight).e_pass_stats()
        if self.covariance_type == "tied":
            stats["scatter"] = kernel.scatter(Xc, weight)
        step = (online["t"] + 1) ** -ONLINE_STEP_EXPONENT
        running = online["stats"]
        online["stats"] = {
            name: value / chunk_weight
            if running is None
            else (1 - step) * running[name] + step * value / chunk_weight
            for name, value in stats.items()
        }
        online["params"] = self._m_step(_KernelStats(kernel), online["stats"], online["frozen"])
        online["t"] += 1
        self.n_samples_seen_ += chunk_weight
        record = {
            "init": 0,
            "iteration": online["t"],
            "log_likelihood": log_lik / chunk_weight,
            "change": np.nan,
        }
        history = [*getattr(self, "history_", []), record] if online["t"] > 1 else [record]
        self._store(
            {
                "params": online["params"],
                "lower_bound": record["log_likelihood"],
                "converged": False,
                "n_iter": online["t"],
                "history": history,
            },
            center,
            D,
            self.n_samples_seen_,
        )
        return self

    def _store(self, best, center, D, n_seen):
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
        self.n_samples_seen_ = n_seen
        # Online EM (partial_fit) has no convergence test: its change is NaN.
        if not self.converged_ and self.tol > 0 and np.isfinite(self.history_[-1]["change"]):
            warnings.warn(
                f"EM did not converge in {self.max_iter} iterations (last change "
                f"{self.history_[-1]['change']:.3g} >= tol={self.tol}); raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _check_warm(self, D) -> bool:
        warm = self.warm_start and hasattr(self, "means_")
        if warm and self.means_.shape != (self.n_components, D):
            raise ValueError(
                f"warm_start needs data with {self.means_.shape[1]} features and the same "
                f"n_components; got D={D}, n_components={self.n_components}"
            )
        return warm

    def _validate(self, X, reset: bool) -> np.ndarray:
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            ensure_min_samples=2 if reset else 1,
        )
        finite = np.isfinite(X)
        if self.missing == "em":
            finite |= np.isnan(X)
        if not finite.all():
            i, j = np.argwhere(~finite)[0]
            hint = "" if self.missing == "em" else "; missing='em' fits with NaN as missing values"
            what = "infinity" if self.missing == "em" else "NaN or infinity"
            raise DataError(f"X contains {what} (first at row {i}, column {j}){hint}")
        return X

    def _run_em(self, engine, params, init):
        history = []
        lower_bound = -np.inf
        converged = False
        frozen = self._frozen_parameters(params)
        for iteration in range(1, self.max_iter + 1):
            previous = lower_bound
            lower_bound, stats = engine.e_pass(params)
            params = self._m_step(engine, stats, frozen)
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

    def _frozen_parameters(self, params):
        """(which components, {name: frozen value}) from the initial parameters."""
        names = tuple(self.freeze or ())
        if not names:
            return None
        K = self.n_components
        idx = (
            np.arange(K)
            if self.freeze_components is None
            else np.asarray(self.freeze_components, dtype=int)
        )
        weights, means, prec_chol = params
        cov = covariances_from_precision_cholesky(prec_chol, self.covariance_type)
        return (
            idx,
            {
                "weights": np.array(weights, dtype=np.float64),
                "means": np.array(means, dtype=np.float64),
                "covariances": (np.array(cov), np.array(prec_chol)),
            },
            names,
        )

    def _m_step(self, engine, stats, frozen=None):
        # 10 eps keeps an empty component's mean finite, as scikit-learn does.
        nk = stats["nk"] + 10 * np.finfo(engine.dtype).eps
        means = engine.sums(stats) / nk[:, None]
        covariances = engine.covariances(stats, nk, means, self.reg_covar)
        weights = nk / nk.sum()
        if frozen is None:
            prec_chol = precision_cholesky(
                covariances, self.covariance_type, reg_hint=self.reg_covar
            )
            return weights, means, prec_chol
        idx, values, names = frozen
        kind = self.covariance_type
        if "means" in names:
            shift = means[idx] - values["means"][idx]
            means = means.copy()
            means[idx] = values["means"][idx]
            # Sigma around a fixed mean m = Sigma around xbar + (xbar - m)(xbar - m)^T.
            covariances = _shift_covariances(covariances, shift, idx, nk, kind)
        if "weights" in names:
            free = np.setdiff1d(np.arange(self.n_components), idx)
            weights = weights.copy()
            weights[idx] = values["weights"][idx]
            if free.size:
                weights[free] = nk[free] / nk[free].sum() * (1 - values["weights"][idx].sum())
        if "covariances" in names:
            cov, chol = values["covariances"]
            if kind == "tied":
                return weights, means, chol
            covariances = covariances.copy()
            covariances[idx] = cov[idx]
        prec_chol = precision_cholesky(covariances, kind, reg_hint=self.reg_covar)
        if "covariances" in names:
            prec_chol[idx] = values["covariances"][1][idx]
        return weights, means, prec_chol

    def _initial_parameters(self, Xc, center, features, weight, kernel, rng):
        """Parameters from ``init_params``, overridden by those given explicitly."""
        D = Xc.shape[1]
        K = self.n_components
        given = (self.weights_init, self.means_init, self.precisions_init)
        if any(param is None for param in given):
            resp = _initial_responsibilities(Xc, K, self.init_params, rng, weight)
            if weight is not None:
                resp = resp * weight[:, None]
            stats = kernel.new_stats()
            for points in features.chunks():
                kernel.accumulate(features[points], resp[points].T.astype(Xc.dtype), stats)
            weights, means, prec_chol = self._m_step(_KernelStats(kernel), stats)
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
        check_choice(self.missing, "missing", MISSING_MODES)
        freeze = tuple(self.freeze or ())
        for name in freeze:
            check_choice(name, "freeze", FREEZABLE)
        if self.freeze_components is not None:
            comps = np.asarray(self.freeze_components)
            if comps.ndim != 1 or comps.dtype.kind not in "iu" or comps.size == 0:
                raise ValueError(
                    f"freeze_components must be a list of component indices, got "
                    f"{self.freeze_components!r}"
                )
            if comps.min() < 0 or comps.max() >= self.n_components:
                raise ValueError(
                    f"freeze_components must lie in [0, {self.n_components - 1}], got "
                    f"{comps.tolist()}"
                )
            if self.covariance_type == "tied" and "covariances" in freeze:
                raise ValueError("a tied covariance is shared: freeze it for all components")

    # --------------------------------------------------------------- inference
    def _joint_log_prob(self, X) -> np.ndarray:
        check_is_fitted(self, "means_")
        X = self._validate(X, reset=False)
        center = self.means_.mean(axis=0)
        if self.missing == "em" and np.isnan(X).any():
            return self._missing_pass(X, center)[0]
        kernel = make_kernel(self.covariance_type, self.n_components, X.shape[1], X.dtype)
        kernel.set_parameters(self.weights_, self.means_ - center, self.precisions_cholesky_)
        features = FeatureSource(kernel, X, center, cache=False)
        out = np.empty((self.n_components, X.shape[0]), dtype=X.dtype)
        for points in features.chunks():
            out[:, points] = kernel.log_prob(features[points])
        return out

    def predict_proba(self, X) -> np.ndarray:
        """p(component | x), shape (n, K); NaN entries are marginalised out (``missing="em"``)."""
        joint = self._joint_log_prob(X)
        normalise_in_place(joint)
        return np.ascontiguousarray(joint.T)

    def score_samples(self, X) -> np.ndarray:
        """log p(x) per point, shape (n,); of the observed entries for rows with NaN."""
        return normalise_in_place(self._joint_log_prob(X))

    def predict(self, X) -> np.ndarray:
        """Most probable component per point, shape (n,)."""
        return self._joint_log_prob(X).argmax(axis=0)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean (weighted) log-likelihood of ``X``."""
        ll = self.score_samples(X)
        if sample_weight is None:
            return float(ll.mean(dtype=np.float64))
        weight = _check_sample_weight(sample_weight, ll.shape[0])
        return float(weight @ ll / weight.sum())

    def impute(self, X) -> np.ndarray:
        """Fill NaN entries with E[x_missing | x_observed] under the mixture, shape (n, D)."""
        check_is_fitted(self, "means_")
        X = validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan"
        )
        out = np.array(X, dtype=np.float64)
        if not np.isnan(out).any():
            return out
        center = self.means_.mean(axis=0)
        imputed = self._missing_pass(out, center)[1] + center
        return np.where(np.isnan(out), imputed, out)

    def _missing_pass(self, X, center):
        return missing_log_prob_and_impute(
            np.asarray(X, dtype=np.float64) - center,
            self.weights_,
            self.means_ - center,
            self.precisions_cholesky_,
            self.covariance_type,
        )

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
        check_is_fitted(self, "means_")
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


class _KernelStats:
    """The M-step's view of a kernel: dtype, weighted sums and covariances from statistics."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.dtype = kernel.dtype

    def sums(self, stats):
        return self.kernel.sums(stats)

    def covariances(self, stats, nk, means, reg_covar):
        return self.kernel.covariances(stats, nk, means, reg_covar)


class _CompleteEngine(_KernelStats):
    """E-steps over in-memory data by the fused kernels."""

    def __init__(self, kernel, features, weight):
        super().__init__(kernel)
        self.features = features
        self.weight = weight
        self.total_weight = float(features.n if weight is None else weight.sum())

    def e_pass(self, params):
        """Mean log-likelihood under ``params`` and the M-step's statistics."""
        self.kernel.set_parameters(*params)
        log_lik, stats = self.e_pass_stats()
        return log_lik / self.total_weight, stats

    def e_pass_stats(self):
        kernel, features, weight = self.kernel, self.features, self.weight
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
        return log_lik, stats


class _ChunkEngine(_KernelStats):
    """E-steps over data read chunk by chunk from ``source()`` on every pass."""

    def __init__(self, kernel, source, center, model):
        super().__init__(kernel)
        self.source = source
        self.center = center
        self.model = model

    def chunk_features(self):
        """A feature source (not cached) per chunk of the data, centred."""
        for chunk in self.source():
            chunk = self.model._validate(chunk, reset=False)
            yield FeatureSource(self.kernel, chunk, self.center, cache=False)

    def e_pass(self, params):
        self.kernel.set_parameters(*params)
        stats = self.kernel.new_stats()
        log_lik, n = 0.0, 0
        for features in self.chunk_features():
            chunk_ll, chunk_stats = _CompleteEngine(self.kernel, features, None).e_pass_stats()
            log_lik += chunk_ll
            n += features.n
            for name, value in chunk_stats.items():
                stats[name] += value
        return log_lik / n, stats


def _shift_covariances(cov, shift, idx, nk, kind):
    """Add (xbar - m)(xbar - m)^T for the components ``idx`` whose means are held at m."""
    cov = np.array(cov, copy=True)
    if kind == "full":
        cov[idx] += shift[:, :, None] * shift[:, None, :]
    elif kind == "diag":
        cov[idx] += shift**2
    elif kind == "spherical":
        cov[idx] += (shift**2).mean(axis=1)
    else:
        cov += (nk[idx, None] * shift).T @ shift / nk.sum()
    return cov


def _check_sample_weight(sample_weight, n: int):
    if sample_weight is None:
        return None
    weight = check_array(sample_weight, "sample_weight", ndim=1, dtype=np.float64)
    if weight.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},), got {weight.shape}")
    if np.any(weight < 0) or weight.sum() <= 0:
        raise DataError("sample_weight must be non-negative, not all weights zero")
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


def _initial_responsibilities(X, K, method, rng, weight=None) -> np.ndarray:
    n = X.shape[0]
    if method == "random":
        resp = rng.uniform(size=(n, K))
        return resp / resp.sum(axis=1, keepdims=True)
    if method == "random_from_data":
        centers = X[rng.choice(n, size=K, replace=False)]
    else:
        centers = kmeans_plusplus(X, K, rng)
    nearest = _nearest_center(X, centers)
    if method == "kmeans":
        nearest = _lloyd(X, centers, nearest, weight)
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


def _lloyd(X, centers, nearest, weight, iterations=KMEANS_ITERATIONS):
    """Lloyd's k-means iterations from ``centers``; returns each point's cluster (n,)."""
    K = centers.shape[0]
    w = np.ones(X.shape[0]) if weight is None else weight
    X64 = np.asarray(X, dtype=np.float64)
    for _ in range(iterations):
        mass = np.bincount(nearest, weights=w, minlength=K)
        sums = np.stack(
            [np.bincount(nearest, weights=col * w, minlength=K) for col in X64.T], axis=1
        )
        # An emptied cluster keeps its previous centre.
        centers = np.where(mass[:, None] > 0, sums / np.maximum(mass, 1e-300)[:, None], centers)
        updated = _nearest_center(X64, centers)
        if np.array_equal(updated, nearest):
            break
        nearest = updated
    return nearest


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
