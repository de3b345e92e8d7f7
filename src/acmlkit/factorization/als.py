"""Matrix completion by alternating least squares over observed entries only.

The model is ``x_ij ~ mu + b_i + c_j + u_i . v_j`` fitted to the observed
entries ``(i, j) in Omega`` by minimising

    sum_Omega (x_ij - mu - b_i - c_j - u_i . v_j)^2
        + sum_i s_i (u_lambda |u_i|^2 + bias_lambda b_i^2)
        + sum_j s_j (v_lambda |v_j|^2 + bias_lambda c_j^2)

where ``s_i = n_i ** reg_exponent`` for a row with ``n_i`` observed entries:
1 for the plain ridge penalty (``reg_exponent=0``), ``n_i`` for ALS-WR
(``reg_exponent=1``, Zhou et al. 2008). ``mu`` is the training mean and stays
fixed. Each half step solves every row's ``(K + 1) x (K + 1)`` normal equations
exactly, so the objective never increases. ``method="notebook"`` instead runs the
exercise's unmasked ALS (:mod:`acmlkit.factorization.notebook`), for comparison.

Parameters left at ``None`` are chosen from the data when fitting
(:func:`acmlkit.factorization.defaults.fit_defaults`): the notebook-style
settings for a dense matrix, the settings that win on ratings for rating triples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from acmlkit.factorization.data import Ratings
from acmlkit.factorization.defaults import (
    AUTO_FOLDS,
    AUTO_SINGLE_CARVE_MIN,
    AUTO_VALIDATION_FRACTION,
    fit_defaults,
    lambda_candidates,
)
from acmlkit.factorization.metrics import rmse
from acmlkit.factorization.notebook import notebook_half_step, notebook_sweeps
from acmlkit.factorization.recommender import RecommenderMixin, to_ratings
from acmlkit.factorization.solvers import batched_half_step, observed_pattern
from acmlkit.factorization.splits import carve_validation
from acmlkit.rng import check_random_state
from acmlkit.validation import check_choice, check_int, check_memory, check_real

__all__ = ["ALS", "as_ratings", "estimate_fit_bytes", "notebook_half_step", "predict_entries",
           "rmse"]

# Kept under its old name: callers convert their matrices with it.
as_ratings = to_ratings


def predict_entries(rows, cols, U, V, row_bias, col_bias, mean) -> np.ndarray:
    """``mean + b_i + c_j + u_i . v_j`` for each pair ``(rows[k], cols[k])``."""
    m, n = U.shape[0], V.shape[0]
    # Gathering two K-vectors per pair is memory-bound; when the pairs cover a
    # good share of a small matrix, one matrix product and a lookup are faster.
    if 8 * rows.size >= m * n and m * n <= _DENSE_PREDICT_MAX:
        full = U @ V.T
        full += row_bias[:, None] + col_bias[None, :] + mean
        return np.take(full, rows * n + cols)
    products = (np.take(U, rows, axis=0) * np.take(V, cols, axis=0)).sum(axis=1)
    return mean + row_bias[rows] + col_bias[cols] + products


# Largest m * n (entries, float64) for which predict_entries forms U V^T: 128 MB.
_DENSE_PREDICT_MAX = 16_000_000
# Largest m * n for which spectral_factors runs a dense SVD (32 MB, under a second).
_DENSE_SVD_MAX = 4_000_000


def spectral_factors(train: Ratings, n_factors: int, mean: float, rng) -> np.ndarray:
    """Column factors from the truncated SVD of the rescaled observed matrix.

    The observed entries less ``mean``, zero elsewhere and divided by the observed
    fraction, estimate the full matrix without bias under uniform sampling; its
    top ``K`` right singular vectors times the square roots of their singular
    values start both sides at a balanced scale.

    Parameters
    ----------
    train : Ratings of shape (m, n)
    n_factors : int
    mean : float
    rng : numpy Generator
        Starts the iterative SVD of a large matrix (unused for a small one).

    Returns
    -------
    ndarray of shape (n, K)
    """
    import scipy.sparse as sp

    m, n = train.shape
    K = n_factors
    fraction = train.nnz / (m * n)
    X = sp.csr_matrix(((train.values - mean) / fraction, (train.rows, train.cols)), shape=(m, n))
    if m * n <= _DENSE_SVD_MAX or K >= min(m, n) - 1:
        _, s, vt = np.linalg.svd(X.toarray(), full_matrices=False)
        s, vt = s[:K], vt[:K]
    else:
        from scipy.sparse.linalg import svds

        _, s, vt = svds(X, k=K, v0=rng.standard_normal(min(m, n)))
    return vt.T * np.sqrt(s)


def estimate_fit_bytes(m: int, n: int, nnz: int, n_factors: int, n_init: int, *,
                       biases: bool = True, itemsize: int = 8, notebook: bool = False) -> int:
    """Peak bytes of a fit: the batched half-step's Gram matrices dominate.

    Per model and per row of the larger side a half step holds the ``D(D+1)/2``
    distinct Gram entries and ``D`` offset products several times over (products,
    their transposed copy, the Cholesky work), the right-hand sides and the
    solutions (``D = K + biases``); the factors and their copies come on top.
    Calibrated on measured peaks (within 10 % at 50 and 200 inits, 375 x 500).
    """
    D = n_factors + bool(biases)
    width = D * (D + 1) // 2 + D
    big = max(m, n)
    per_model = big * (4 * width + 4 * D) + 6 * (m + n) * D
    total = itemsize * n_init * per_model + 48 * nnz
    if notebook:
        total += 2 * itemsize * m * n
    return int(total)


class ALS(RecommenderMixin, BaseEstimator):
    """Matrix completion by alternating least squares.

    Every parameter left at ``None`` is chosen from the data by :meth:`fit`
    (see :func:`~acmlkit.factorization.defaults.fit_defaults`); ``params_``
    holds what ran and ``defaults_reason_`` says why.

    Parameters
    ----------
    n_factors : int
        Rank ``K`` of the factors.
    u_lambda, v_lambda : float or "auto"
        Ridge penalties of the row and the column factors (the notebook's names).
        ``"auto"`` (either of them) picks one value for both by validation RMSE
        on entries carved from the training side (never a test set); the scores
        land in ``lambda_scores_``. Unless the best penalty beats the damped-bias
        baseline (:class:`~acmlkit.factorization.baseline.DampedBaseline`) there
        by more than one standard error, the choice is ``"baseline"``: no
        factors, the baseline's mean and biases.
    bias_lambda : float
        Ridge penalty of the row and column biases.
    biases : bool
        Fit the global mean and row/column biases; ``False`` is the plain masked
        model ``x_ij ~ u_i . v_j``.
    reg_exponent : float
        Scale each row's and column's penalty by its number of entries to this
        power: 0 plain ridge, 1 ALS-WR, 0.5 in between (best on MovieLens 100K
        validation, see ``benchmarks/bench_mf.py``).
    method : {"masked", "notebook"}
        ``"notebook"`` runs the exercise's unmasked ALS
        (:func:`~acmlkit.factorization.notebook.notebook_sweeps`: missing entries
        as zeros, uniform init, no biases or count weighting); for comparison.
    max_iter : int
        Full sweeps (rows then columns).
    tol : float
        Stop when the objective falls by less than ``tol`` relative to its value.
    init : {"svd", "random"}
        How the column factors start. ``"svd"``: the top ``K`` singular vectors of
        the observed entries (less the mean when fitting biases), zero-filled and
        divided by the observed fraction, scaled by the square roots of their
        singular values (the spectral start of Jain, Netrapalli and Sanghavi 2013);
        further models of ``n_init`` add ``init_scale`` Gaussian noise to it.
        ``"random"``: Gaussian entries of standard deviation ``init_scale``. On a
        sparsely observed dense matrix random starts can leave a column's factor in
        a spike that 30 sweeps do not deflate (about one fit in five at p = 0.1 on
        the synthetic 375 x 500 matrix, lambda = 0.01); the spectral start does not.
        The notebook's method keeps its own uniform start.
    init_scale : float
        Standard deviation of the random initial column factors.
    early_stopping : bool
        Carve ``validation_fraction`` of the training entries off, stop when the
        validation RMSE has not improved for ``n_iter_no_change`` sweeps, and keep
        the best sweep's factors.
    n_init : int
        Fit this many models from independent initialisations side by side (one
        batched solve per half step) and average their predictions, stored as
        one model of rank ``n_init * K``. Averaging smooths over ALS's local
        optima: about 0.01 lower RMSE on MovieLens 100K with 8 inits.
    dtype : {"float64", "float32"}
    random_state : None, int or numpy Generator

    Attributes
    ----------
    params_ : dict
        The settings that ran, defaults resolved and ``"auto"`` replaced by the choice.
    defaults_reason_ : str
    lambda_scores_ : list of dict
        With ``"auto"``: ``{"lambda", "val_rmse"}`` per candidate.
    row_factors_ : ndarray of shape (m, n_init * K)
    col_factors_ : ndarray of shape (n, n_init * K)
    row_bias_, col_bias_ : ndarray of shape (m,) and (n,)
    mean_ : float
    row_ids_, col_ids_ : ndarray of shape (m,) and (n,)
        The training data's ids (sorted), used by ``predict(users, items)``.
    history_ : list of dict
        Per sweep: ``iteration``, ``objective``, ``train_mse``, ``train_rmse``,
        ``seconds``, and ``test_mse``/``test_rmse`` and ``val_rmse`` when those
        sets are given. With ``n_init > 1`` the objective is the sum over the
        models and the train error their mean; test and validation errors are
        those of the averaged prediction.
    n_iter_ : int
    row_counts_, col_counts_ : ndarray
        Training entries per row and column; zero marks a row predicted from the
        mean and biases alone.
    """

    _ROW_ATTRS = ("row_factors_", "row_bias_", "row_counts_", "row_bias_members_")

    def __init__(
        self,
        *,
        n_factors: int | None = None,
        u_lambda: float | str | None = None,
        v_lambda: float | str | None = None,
        bias_lambda: float | None = None,
        biases: bool | None = None,
        reg_exponent: float | None = None,
        method: str = "masked",
        max_iter: int | None = None,
        tol: float = 1e-6,
        init: str | None = None,
        init_scale: float = 0.1,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 3,
        n_init: int | None = None,
        dtype: str = "float64",
        random_state=None,
    ):
        self.n_factors = n_factors
        self.u_lambda = u_lambda
        self.v_lambda = v_lambda
        self.bias_lambda = bias_lambda
        self.biases = biases
        self.reg_exponent = reg_exponent
        self.method = method
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.init_scale = init_scale
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_init = n_init
        self.dtype = dtype
        self.random_state = random_state

    # -------------------------------------------------------------- checks
    def resolve_params(self, train: Ratings) -> tuple[dict, str]:
        """The settings a fit on ``train`` uses (``None`` filled in) and why."""
        defaults, reason = fit_defaults(train)
        params = {name: getattr(self, name) for name in self._get_param_names()}
        explicit = [k for k in defaults if params[k] is not None]
        # One penalty given and the other left to an "auto" default: both take the given one.
        if defaults["u_lambda"] == "auto":
            given = [params[k] for k in ("u_lambda", "v_lambda") if params[k] is not None]
            if len(given) == 1:
                params["u_lambda"] = params["v_lambda"] = given[0]
        for name, value in defaults.items():
            if params[name] is None:
                params[name] = value
        if "auto" in (params["u_lambda"], params["v_lambda"]):
            params["u_lambda"] = params["v_lambda"] = "auto"
        if explicit:
            reason += f"; given explicitly: {', '.join(explicit)}"
        return params, reason

    @staticmethod
    def _check_params(params: dict, train: Ratings) -> None:
        m, n = train.shape
        check_int(params["n_factors"], "n_factors", low=1)
        if params["n_factors"] > min(m, n):
            raise ValueError(
                f"n_factors must be at most min(m, n) = {min(m, n)} for a {m} x {n} matrix, "
                f"got K={params['n_factors']}"
            )
        for name in ("u_lambda", "v_lambda", "bias_lambda"):
            if params[name] != "auto":
                check_real(params[name], name, low=0)
        check_choice(params["method"], "method", {"masked", "notebook"})
        check_choice(params["init"], "init", {"svd", "random"})
        check_int(params["max_iter"], "max_iter", low=1)
        check_real(params["tol"], "tol", low=0)
        check_real(params["reg_exponent"], "reg_exponent", low=0, high=1)
        check_real(params["init_scale"], "init_scale", low=0, low_open=True)
        check_real(params["validation_fraction"], "validation_fraction", low=0, high=1,
                   low_open=True, high_open=True)
        check_int(params["n_iter_no_change"], "n_iter_no_change", low=1)
        check_int(params["n_init"], "n_init", low=1)
        check_choice(params["dtype"], "dtype", {"float64", "float32"})
        needed = estimate_fit_bytes(
            m, n, train.nnz, params["n_factors"], params["n_init"], biases=params["biases"],
            itemsize=np.dtype(params["dtype"]).itemsize, notebook=params["method"] == "notebook")
        check_memory(
            needed,
            f"a fit with n_factors={params['n_factors']}, n_init={params['n_init']} on a "
            f"{m} x {n} matrix",
            "lower n_init or n_factors",
        )

    # ----------------------------------------------------------------- fit
    def fit(self, X, y=None, *, test=None, callback: Callable[[dict], None] | None = None) -> ALS:
        """Fit to the observed entries of ``X``.

        Parameters
        ----------
        X : Ratings, pandas DataFrame, (users, items, ratings) arrays, path, sparse
            matrix of shape (m, n), or ndarray with NaN where missing
        y : ignored
        test : Ratings or sparse matrix of the training shape, optional
            Held-out entries, only scored per sweep into ``history_``.
        callback : callable, optional
            Called after every sweep with that sweep's ``history_`` record.
        """
        train = to_ratings(X)
        params, self.defaults_reason_ = self.resolve_params(train)
        self._check_params(params, train)
        test = None if test is None else to_ratings(test)
        if test is not None and test.shape != train.shape:
            raise ValueError(f"test must have the training shape {train.shape}, got {test.shape}")
        init_rng, val_rng, auto_rng = check_random_state(self.random_state).spawn(3)
        self.lambda_scores_ = []
        if params["u_lambda"] == "auto":
            params["u_lambda"] = params["v_lambda"] = self._choose_lambda(params, train, auto_rng)
        self.params_ = params
        if params["u_lambda"] == "baseline":
            self._fit_baseline(params, train)
        else:
            self._fit(params, train, init_rng, val_rng, test, callback)
        self.row_ids_, self.col_ids_, self.shape_ = train.row_ids, train.col_ids, train.shape
        self._remember_seen(train)
        return self

    def _choose_lambda(self, params: dict, train: Ratings, rng) -> float | str:
        """The factor penalty with the lowest RMSE on entries carved from ``train``, or
        ``"baseline"`` unless the best penalty beats the damped-bias baseline there by
        more than one standard error of the paired difference (Breiman's one-SE rule:
        on small or noisy data a validation win by chance must not cost test error)."""
        from acmlkit.factorization.baseline import DampedBaseline

        # Large data: one carve of 10 % is precise enough. Small data: every training
        # entry is validated once (5 folds), or a lucky carve decides.
        if train.nnz >= AUTO_SINGLE_CARVE_MIN:
            folds = [carve_validation(np.arange(train.nnz), AUTO_VALIDATION_FRACTION, rng)]
        else:
            order = rng.permutation(train.nnz)
            parts = np.array_split(order, AUTO_FOLDS)
            folds = [(np.sort(np.concatenate(parts[:k] + parts[k + 1:])), np.sort(parts[k]))
                     for k in range(AUTO_FOLDS)]
        truth = np.concatenate([train.values[val_idx] for _, val_idx in folds])
        with_baseline = params["biases"] and params["method"] == "masked"
        candidates = [*lambda_candidates(train.values), *(["baseline"] if with_baseline else [])]
        errors = {}
        for lam in candidates:
            preds = []
            for fit_idx, val_idx in folds:
                fit_part, val_part = train.subset(fit_idx), train.subset(val_idx)
                if lam == "baseline":
                    model = DampedBaseline().fit(fit_part)
                    preds.append(model.predict_pairs(val_part.rows, val_part.cols))
                    continue
                trial = dict(params, u_lambda=lam, v_lambda=lam, early_stopping=False)
                self._fit(trial, fit_part, rng.spawn(1)[0], None, None, None)
                preds.append(self._predict_indices(val_part.rows, val_part.cols))
            pred = np.concatenate(preds)
            score = rmse(truth, pred, f"validation RMSE of u_lambda={lam!r}")
            self.lambda_scores_.append({"lambda": lam, "val_rmse": score})
            errors[lam] = (truth - pred) ** 2
        best = min((s for s in self.lambda_scores_ if s["lambda"] != "baseline"),
                   key=lambda s: s["val_rmse"])["lambda"]
        if not with_baseline:
            return best
        gain = errors["baseline"] - errors[best]
        standard_error = gain.std(ddof=1) / np.sqrt(gain.size) if gain.size > 1 else np.inf
        return best if gain.mean() > standard_error else "baseline"

    def _fit_baseline(self, params, train: Ratings) -> None:
        """``u_lambda="baseline"``: no factors (all zero) and the damped-bias baseline's
        mean and biases, which scored best on the validation entries."""
        from acmlkit.factorization.baseline import DampedBaseline

        base = DampedBaseline().fit(train)
        m, n = train.shape
        B, K = params["n_init"], params["n_factors"]
        dtype = np.dtype(params["dtype"])
        self.row_counts_ = np.bincount(train.rows, minlength=m)
        self.col_counts_ = np.bincount(train.cols, minlength=n)
        self.shape_ = train.shape
        self.mean_ = base.mean_
        self._penalties = (0.0, 0.0, 0.0, 0.0)
        self._set_state([np.zeros((B, m, K), dtype), np.zeros((B, n, K), dtype),
                         np.tile(base.row_bias_.astype(dtype), (B, 1)),
                         np.tile(base.col_bias_.astype(dtype), (B, 1))])
        pred = self._predict_indices(train.rows, train.cols)
        mse = float(np.mean((train.values - pred) ** 2))
        self.history_ = [{"iteration": 1, "objective": mse * train.nnz, "train_mse": mse,
                          "train_rmse": float(np.sqrt(mse)), "seconds": 0.0}]
        self.n_iter_ = self.best_iteration_ = 1

    def _fit(self, params, train, init_rng, val_rng, test, callback) -> None:
        val = None
        if params["early_stopping"]:
            fit_idx, val_idx = carve_validation(
                np.arange(train.nnz), params["validation_fraction"], val_rng
            )
            train, val = train.subset(fit_idx), train.subset(val_idx)
        dtype = np.dtype(params["dtype"])
        m, n = train.shape
        K, B = params["n_factors"], params["n_init"]
        self.row_counts_ = np.bincount(train.rows, minlength=m)
        self.col_counts_ = np.bincount(train.cols, minlength=n)
        self.shape_ = train.shape
        notebook = params["method"] == "notebook"
        with_bias = params["biases"] and not notebook
        self.mean_ = float(train.values.mean()) if with_bias else 0.0
        self._penalties = (params["u_lambda"], params["v_lambda"], params["bias_lambda"],
                           0.0 if notebook else params["reg_exponent"])
        # Spawning leaves init_rng's own stream untouched, so the first model is
        # the one that n_init=1 would fit.
        member_rngs = [init_rng, *init_rng.spawn(B - 1)]
        if notebook:
            sweeps = notebook_sweeps(train, K, params["u_lambda"], params["v_lambda"],
                                     member_rngs, dtype)
        else:
            V = self._initial_factors(params, train, member_rngs).astype(dtype)
            sweeps = self._masked_sweeps(params, train, V, with_bias)

        self.history_ = []
        best, stale = (np.inf, None), 0
        start = time.perf_counter()
        for it, state in zip(range(1, params["max_iter"] + 1), sweeps):
            *state, sse = state
            if len(state) == 2:
                state += [np.zeros((B, m), dtype), np.zeros((B, n), dtype)]
            self._set_state(state)
            record = self._record(it, state, sse, train.nnz, test, val,
                                  time.perf_counter() - start)
            self.history_.append(record)
            if callback is not None:
                callback(record)
            if val is not None:
                if record["val_rmse"] < best[0]:
                    best, stale = (record["val_rmse"], [a.copy() for a in state]), 0
                else:
                    stale += 1
                    if stale >= params["n_iter_no_change"]:
                        break
            # The notebook's objective is not the masked one, so its fall says nothing.
            if it > 1 and not notebook:
                previous = self.history_[-2]["objective"]
                if previous - record["objective"] <= params["tol"] * abs(previous):
                    break
        if best[1] is not None:
            self._set_state(best[1])
        self.n_iter_ = len(self.history_)
        self.best_iteration_ = (
            int(np.argmin([h["val_rmse"] for h in self.history_])) + 1 if val is not None
            else self.n_iter_
        )

    def _initial_factors(self, params, train: Ratings, rngs) -> np.ndarray:
        """Column factors of shape (len(rngs), n, K) to start the masked sweeps from."""
        n, K, scale = train.shape[1], params["n_factors"], params["init_scale"]
        if params["init"] == "random":
            return np.stack([scale * r.standard_normal((n, K)) for r in rngs])
        start = spectral_factors(train, K, self.mean_, rngs[0])
        return np.stack([start] + [start + scale * r.standard_normal((n, K))
                                   for r in rngs[1:]])

    def _masked_sweeps(self, params, train, V, with_bias):
        """Masked ALS sweeps, rows then columns, forever; yields (U, V, b, c, sse)."""
        dtype = V.dtype
        B, n, K = V.shape
        m = train.shape[0]
        R = train.to_csr().astype(dtype)
        Rt = R.T.tocsr()
        P, Pt = observed_pattern(R), observed_pattern(Rt)
        u_lam, v_lam, b_lam, exponent = self._penalties
        row_bias, col_bias = np.zeros((B, m), dtype), np.zeros((B, n), dtype)
        while True:
            if not with_bias:
                U, _ = batched_half_step(R, P, V, u_lam, reg_exponent=exponent)
                V, sse = batched_half_step(Rt, Pt, U, v_lam, reg_exponent=exponent)
                yield U, V, row_bias, col_bias, sse
                continue
            # The biases ride along as an extra coordinate against a column of ones,
            # so each row's factors and bias are solved jointly.
            fixed = np.concatenate([V, np.ones((B, n, 1), dtype)], axis=2)
            solved, _ = batched_half_step(R, P, fixed, np.r_[np.full(K, u_lam), b_lam],
                                          offsets=self.mean_ + col_bias, reg_exponent=exponent)
            U, row_bias = solved[:, :, :K], solved[:, :, K]
            fixed = np.concatenate([U, np.ones((B, m, 1), dtype)], axis=2)
            solved, sse = batched_half_step(Rt, Pt, fixed, np.r_[np.full(K, v_lam), b_lam],
                                            offsets=self.mean_ + row_bias,
                                            reg_exponent=exponent)
            V, col_bias = solved[:, :, :K], solved[:, :, K]
            yield U, V, row_bias, col_bias, sse

    def _record(self, it, state, sse, n_train, test, val, elapsed) -> dict:
        """One history entry; with several inits, train error and objective are the
        models' mean and sum, test and validation error those of the average."""
        record = {
            "iteration": it,
            "objective": float(np.sum(sse) + self._penalty(state)),
            "train_mse": float(np.mean(sse)) / n_train,
            "train_rmse": float(np.sqrt(np.mean(sse) / n_train)),
            "seconds": elapsed,
        }
        if test is not None:
            pred = self._predict_indices(test.rows, test.cols)
            mse = float(np.mean((test.values - pred) ** 2))
            record["test_mse"], record["test_rmse"] = mse, float(np.sqrt(mse))
        if val is not None:
            record["val_rmse"] = rmse(val.values, self._predict_indices(val.rows, val.cols),
                                      "validation RMSE")
        return record

    def _penalty(self, state) -> float:
        """The regularisation part of the objective, summed over the models."""
        U, V, row_bias, col_bias = state
        u_lam, v_lam, b_lam, exponent = self._penalties
        row_scale = self.row_counts_.astype(float) ** exponent
        col_scale = self.col_counts_.astype(float) ** exponent
        rows = u_lam * (U**2).sum(2) + b_lam * row_bias**2
        cols = v_lam * (V**2).sum(2) + b_lam * col_bias**2
        return float(np.sum(row_scale * rows) + np.sum(col_scale * cols))

    def _set_state(self, state) -> None:
        """Expose the models as one: the average of B factor models is a factor
        model with their factors side by side, scaled by 1/sqrt(B), and the
        averaged biases. Each model's biases stay too, for an exact fold-in."""
        U, V, row_bias, col_bias = state
        B, m, K = U.shape
        scale = float(1 / np.sqrt(B))
        self.row_factors_ = U.transpose(1, 0, 2).reshape(m, B * K) * scale
        self.col_factors_ = V.transpose(1, 0, 2).reshape(V.shape[1], B * K) * scale
        self.row_bias_members_, self.col_bias_members_ = row_bias.T.copy(), col_bias.T.copy()
        self.row_bias_ = row_bias.mean(axis=0)
        self.col_bias_ = col_bias.mean(axis=0)

    # ------------------------------------------------------- recommender hooks
    def _predict_indices(self, rows, cols) -> np.ndarray:
        return predict_entries(rows, cols, self.row_factors_, self.col_factors_, self.row_bias_,
                               self.col_bias_, self.mean_)

    def _score_rows(self, rows) -> np.ndarray:
        scores = self.row_factors_[rows] @ self.col_factors_.T
        scores += self.mean_ + self.row_bias_[rows][:, None] + self.col_bias_[None, :]
        return scores

    def _fold_in_rows(self, values) -> dict:
        """New users' rows by one user half-step of each model against its frozen items."""
        params = self.params_
        if params["u_lambda"] == "baseline":
            return self._fold_in_baseline(values)
        if params["method"] == "notebook":
            raise ValueError("fold_in needs a masked model; the notebook's method treats "
                             "missing entries as zeros")
        B = params["n_init"]
        K = params["n_factors"]
        n = self.shape_[1]
        dtype = self.col_factors_.dtype
        V = (self.col_factors_ * np.sqrt(B)).reshape(n, B, K).transpose(1, 0, 2)
        col_bias = self.col_bias_members_.T
        values = values.astype(dtype)
        P = observed_pattern(values)
        u_lam, _, b_lam, exponent = self._penalties
        if params["biases"]:
            fixed = np.concatenate([V, np.ones((B, n, 1), dtype)], axis=2)
            solved, _ = batched_half_step(values, P, fixed, np.r_[np.full(K, u_lam), b_lam],
                                          offsets=self.mean_ + col_bias, reg_exponent=exponent)
            U, row_bias = solved[:, :, :K], solved[:, :, K]
        else:
            U, _ = batched_half_step(values, P, np.ascontiguousarray(V), u_lam,
                                     reg_exponent=exponent)
            row_bias = np.zeros(U.shape[:2], dtype)
        r = values.shape[0]
        return {
            "row_factors_": U.transpose(1, 0, 2).reshape(r, B * K) / np.sqrt(B),
            "row_bias_": row_bias.mean(axis=0),
            "row_counts_": np.diff(values.indptr),
            "row_bias_members_": row_bias.T,
        }

    def _fold_in_baseline(self, values) -> dict:
        """New users of a ``"baseline"`` model: zero factors and the damped user bias."""
        from acmlkit.factorization.baseline import DAMPING, damped_mean

        r, B = values.shape[0], self.params_["n_init"]
        counts = np.diff(values.indptr)
        residual = values.data - self.mean_ - self.col_bias_[values.indices]
        bias = damped_mean(np.repeat(np.arange(r), counts), residual, counts, DAMPING)
        return {"row_factors_": np.zeros((r, self.row_factors_.shape[1])), "row_bias_": bias,
                "row_counts_": counts, "row_bias_members_": np.tile(bias[:, None], (1, B))}

    # ----------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Write parameters, learned arrays and history to one ``.npz`` file."""
        self._check_fitted()
        path = Path(path)
        params = self.get_params()
        if not (params["random_state"] is None or isinstance(params["random_state"], int)):
            params["random_state"] = None
        import io

        from acmlkit.results import atomic_write

        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            params=json.dumps(params),
            resolved=json.dumps(dict(self.params_, random_state=params["random_state"])),
            reason=self.defaults_reason_, lambda_scores=json.dumps(self.lambda_scores_),
            history=json.dumps(self.history_),
            row_factors=self.row_factors_, col_factors=self.col_factors_,
            row_bias=self.row_bias_, col_bias=self.col_bias_, mean=self.mean_,
            row_bias_members=self.row_bias_members_, col_bias_members=self.col_bias_members_,
            row_counts=self.row_counts_, col_counts=self.col_counts_,
            row_ids=_savable(self.row_ids_), col_ids=_savable(self.col_ids_),
            seen_indptr=self.seen_indptr_, seen_items=self.seen_items_,
        )
        return atomic_write(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> ALS:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved model at {path}")
        try:
            with np.load(path, allow_pickle=False) as f:
                model = cls(**json.loads(str(f["params"])))
                model.params_ = json.loads(str(f["resolved"]))
                model.defaults_reason_ = str(f["reason"])
                model.lambda_scores_ = json.loads(str(f["lambda_scores"]))
                model.history_ = json.loads(str(f["history"]))
                for name in ("row_factors", "col_factors", "row_bias", "col_bias",
                             "row_bias_members", "col_bias_members", "row_counts", "col_counts",
                             "row_ids", "col_ids", "seen_indptr", "seen_items"):
                    setattr(model, name + "_", f[name])
                model.mean_ = float(f["mean"])
        except (KeyError, ValueError, OSError) as exc:
            raise ValueError(f"{path} is not a saved ALS model: {exc}") from None
        p = model.params_
        model._penalties = (p["u_lambda"], p["v_lambda"], p["bias_lambda"],
                            0.0 if p["method"] == "notebook" else p["reg_exponent"])
        model.shape_ = (model.row_factors_.shape[0], model.col_factors_.shape[0])
        model.n_iter_ = len(model.history_)
        return model


def _savable(ids: np.ndarray) -> np.ndarray:
    """Ids as an array numpy saves without pickling (Python ints beyond int64 as text)."""
    return ids.astype(str) if ids.dtype == object else ids
