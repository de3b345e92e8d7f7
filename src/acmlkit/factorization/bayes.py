"""Bayesian matrix factorisation with biases by Gibbs sampling (BPMF).

The model (Salakhutdinov and Mnih 2008, with biases):

    x_ij ~ N(mu + b_i + c_j + u_i . v_j, 1 / alpha)
    [u_i, b_i] ~ N(m_U, L_U^{-1}),   (m_U, L_U) ~ Normal-Wishart(0, beta0, W0 = I, nu0 = D)
    [v_j, c_j] ~ N(m_V, L_V^{-1}),   (m_V, L_V) ~ Normal-Wishart(0, beta0, W0 = I, nu0 = D)
    alpha ~ Gamma(noise_shape, noise_rate)

with ``D = K + 1`` and ``mu`` the training mean. Each row's factors and bias
form one ``D``-vector, solved against the other side's factors with a column of
ones appended: the same normal equations as ALS (:mod:`.solvers`). Given
everything else, row ``i``'s vector is Gaussian with precision
``L_U + alpha F_i^T F_i`` (the ALS Gram matrix, scaled, plus the prior's
precision) and precision-weighted mean ``L_U m_U + alpha F_i^T t_i``; it is
drawn through that matrix's Cholesky factor from standard normals
(:func:`~acmlkit.factorization.solvers.gaussian_rows`), all rows of a side in
batches.

Why Normal-Wishart hyperpriors and not myFM's per-factor Gamma precisions: the
conditional of a row already needs a dense ``D x D`` Cholesky factorisation, so
a full prior precision costs nothing extra, and it learns what a diagonal one
cannot: the correlations between factors and between the bias and the factors
(popular items share directions). It is conjugate, so the hyperparameters are
one exact draw per sweep, and it is the model the BPMF paper reports on
MovieLens. The noise precision is sampled too (BPMF fixed it), so the predictive
intervals carry the noise level the data show.

The model is a recommender (:class:`~acmlkit.factorization.recommender.RecommenderMixin`):
``predict(users, items)`` in the data's own ids, ``recommend`` and ``fold_in``,
which draws each new user once per kept sample from the same conditional the
sampler uses, against that sample's items, hyperparameters and noise.

A sweep draws, in order: the user hyperparameters, every user row, the item
hyperparameters, every item row, the noise precision. After ``burn_in`` sweeps,
each of ``n_samples`` sweeps is kept. The predictive distribution of an entry is
the mixture over kept samples of ``N(mu + b_i + c_j + u_i . v_j, 1 / alpha)``;
:meth:`BayesianMF.predict_dist` returns its mean and standard deviation (exact
mixture moments), :meth:`BayesianMF.predict_interval` the central interval of
the Normal with those moments.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.stats
from sklearn.base import BaseEstimator

from acmlkit.factorization.recommender import RecommenderMixin, _index_of, to_ratings
from acmlkit.factorization.solvers import gaussian_rows, plan_rows, row_systems, run_plans
from acmlkit.progress import progress
from acmlkit.rng import RunContext, check_random_state
from acmlkit.validation import check_choice, check_int, check_real

# Pairs predicted per chunk: bounds the (n_samples, chunk, D) gathers.
_PREDICT_CHUNK = 1 << 14


def normal_wishart_posterior(X: np.ndarray, beta0: float, nu0: float,
                             W0_inv: np.ndarray, mu0: np.ndarray):
    """Posterior parameters of a Normal-Wishart prior given rows ``X`` (N, D).

    Returns ``(mu_n, beta_n, nu_n, W_n)``: the prior's mean, its strength,
    the Wishart's degrees of freedom and scale matrix after seeing the rows
    (Bishop 2006, eqs. 2.154 and following).
    """
    N = X.shape[0]
    mean = X.mean(axis=0)
    centred = X - mean
    scatter = centred.T @ centred
    beta_n = beta0 + N
    nu_n = nu0 + N
    mu_n = (beta0 * mu0 + N * mean) / beta_n
    gap = (mean - mu0)[:, None]
    W_n_inv = W0_inv + scatter + (beta0 * N / beta_n) * (gap @ gap.T)
    W_n_inv = (W_n_inv + W_n_inv.T) / 2
    return mu_n, beta_n, nu_n, np.linalg.inv(W_n_inv)


def draw_normal_wishart(mu_n, beta_n, nu_n, W_n, rng: np.random.Generator):
    """One ``(mean, precision)`` draw: ``Lambda ~ Wishart(nu_n, W_n)``, then
    ``mean ~ N(mu_n, (beta_n Lambda)^{-1})`` as ``mu_n + (sqrt(beta_n) C^T)^{-1} z``
    with ``Lambda = C C^T`` and ``z`` standard normal."""
    W_n = (W_n + W_n.T) / 2
    precision = np.atleast_2d(scipy.stats.wishart.rvs(df=nu_n, scale=W_n, random_state=rng))
    z = rng.standard_normal(mu_n.size)
    chol = np.linalg.cholesky(precision)
    mean = mu_n + np.linalg.solve(np.sqrt(beta_n) * chol.T, z)
    return mean, precision


def draw_noise_precision(sse: float, n: int, shape: float, rate: float,
                         rng: np.random.Generator) -> float:
    """``alpha ~ Gamma(shape + n / 2, rate + sse / 2)`` (rate parametrisation)."""
    return float(rng.gamma(shape + n / 2, 1.0 / (rate + sse / 2)))


def conditional_rows(values, fixed: np.ndarray, offsets: np.ndarray, alpha: float,
                     prior_mean: np.ndarray, prior_precision: np.ndarray,
                     noise: np.ndarray, plans=None) -> tuple[np.ndarray, float]:
    """Draw every row of one side from its Gaussian conditional.

    Row ``i`` with entries ``j`` has precision ``P_i = Lambda + alpha F_i^T F_i``
    and shift ``h_i = Lambda m + alpha F_i^T t_i``, where ``F = fixed`` and
    ``t_ij = x_ij - offsets[j]``; the draw is ``N(P_i^{-1} h_i, P_i^{-1})``
    through the Cholesky factor of ``P_i`` with the standard normals ``noise[i]``.
    A row without entries is drawn from the prior.

    Parameters
    ----------
    values : csr_matrix of shape (m, n)
    fixed : ndarray of shape (n, D)
    offsets : ndarray of shape (n,)
    alpha : float
    prior_mean : ndarray of shape (D,)
    prior_precision : ndarray of shape (D, D)
    noise : ndarray of shape (m, D)
    plans : list of RowPlan, optional
        ``plan_rows(values.indptr, values.indices)``, when the caller keeps it
        across sweeps.

    Returns
    -------
    rows : ndarray of shape (m, D)
    sse : float
        ``sum (t_ij - x_i . f_j)^2`` at the drawn rows, read off the same
        normal equations as ``|t|^2 - 2 x.F^T t + x^T F^T F x`` per row.
    """
    m, D = noise.shape
    dtype = fixed.dtype
    if plans is None:
        plans = plan_rows(values.indptr, values.indices)
    targets = values.data.astype(dtype, copy=False) - offsets[values.indices]
    shift0 = prior_precision @ prior_mean
    out = np.empty((m, D), dtype)
    sse = np.zeros(m)

    def work(plan):
        for rows, system in row_systems(plan, targets, fixed):
            gram, rhs, sq = system[:, :D, :D], system[:, :D, D], system[:, D, D]
            x = gaussian_rows(alpha * gram + prior_precision, alpha * rhs + shift0,
                              noise[rows])
            out[rows] = x
            fitted = np.matmul(gram, x[:, :, None])[:, :, 0]
            sse[rows] = sq + np.einsum("md,md->m", x, fitted - 2 * rhs)

    run_plans(plans, work)
    empty = np.flatnonzero(np.diff(values.indptr) == 0)
    if empty.size:
        chol = np.linalg.cholesky(prior_precision)
        out[empty] = prior_mean + np.linalg.solve(chol.T, noise[empty].T).T
    return out, float(sse.sum())


class BayesianMF(RecommenderMixin, BaseEstimator):
    """Bayesian matrix factorisation with biases, by Gibbs sampling (see the module docstring).

    Parameters
    ----------
    n_factors : int
        Rank ``K``.
    n_samples : int
        Sweeps kept after the burn-in; predictions average over them.
    burn_in : int
        Sweeps discarded first.
    beta0 : float
        Strength of the Normal-Wishart prior on each side's mean (BPMF: 2).
    noise_shape, noise_rate : float
        Gamma prior of the noise precision ``alpha`` (shape, rate).
    init_scale : float
        Standard deviation of the initial factors.
    dtype : {"float64", "float32"}
    progress : bool
        Show a progress bar over sweeps when stderr is a terminal.
    random_state : None, int, numpy Generator or acmlkit.rng.RunContext
        A Generator (or seed) is split into three streams, a RunContext gives them
        by name: ``init`` (starting factors), ``gibbs`` (the sweeps) and
        ``fold_in`` (draws for users added later).

    Attributes
    ----------
    mean_ : float
    row_samples_ : ndarray of shape (m, n_samples, K + 1)
        Kept draws of ``[u_i, b_i]``, user first (so that ``fold_in`` appends users).
    col_samples_ : ndarray of shape (n, n_samples, K + 1)
        Kept draws of ``[v_j, c_j]``.
    noise_precision_samples_ : ndarray of shape (n_samples,)
    row_prior_means_, row_prior_precisions_ : ndarray of shape (n_samples, K + 1) and
        (n_samples, K + 1, K + 1)
        The user hyperparameters drawn in each kept sweep (for ``fold_in``).
    row_bias_, col_bias_ : ndarray of shape (m,) and (n,)
        Posterior mean biases (the baseline for unknown ids).
    history_ : list of dict
        Per sweep: ``iteration``, ``kept``, ``train_rmse`` (of that draw),
        ``noise_std`` (``alpha ** -0.5``), ``seconds``; with ``test``, ``test_rmse``
        of the running average of the kept draws (of the current draw during burn-in).
    n_iter_ : int
        Sweeps run (burn-in plus kept).
    row_counts_, col_counts_ : ndarray
    shape_ : tuple
    row_ids_, col_ids_ : ndarray
    """

    _ROW_ATTRS = ("row_samples_", "row_bias_", "row_counts_")

    def __init__(
        self,
        *,
        n_factors: int = 10,
        n_samples: int = 150,
        burn_in: int = 50,
        beta0: float = 2.0,
        noise_shape: float = 1.0,
        noise_rate: float = 1.0,
        init_scale: float = 0.1,
        dtype: str = "float64",
        progress: bool = True,
        random_state=None,
    ):
        self.n_factors = n_factors
        self.n_samples = n_samples
        self.burn_in = burn_in
        self.beta0 = beta0
        self.noise_shape = noise_shape
        self.noise_rate = noise_rate
        self.init_scale = init_scale
        self.dtype = dtype
        self.progress = progress
        self.random_state = random_state

    def _check_params(self) -> None:
        check_int(self.n_factors, "n_factors", low=1)
        check_int(self.n_samples, "n_samples", low=1)
        check_int(self.burn_in, "burn_in", low=0)
        for name in ("beta0", "noise_shape", "noise_rate", "init_scale"):
            check_real(getattr(self, name), name, low=0, low_open=True)
        check_choice(self.dtype, "dtype", {"float64", "float32"})

    def _streams(self) -> dict[str, np.random.Generator]:
        names = ("init", "gibbs", "fold_in")
        if isinstance(self.random_state, RunContext):
            return {name: self.random_state.stream(name) for name in names}
        return dict(zip(names, check_random_state(self.random_state).spawn(len(names))))

    # ----------------------------------------------------------------- fit
    def fit(self, X, y=None, *, test=None,
            callback: Callable[[dict], None] | None = None) -> BayesianMF:
        """Sample the posterior given the observed entries of ``X``.

        Parameters
        ----------
        X : anything :func:`~acmlkit.factorization.recommender.to_ratings` reads
            Ratings, a DataFrame, (user, item, rating) arrays, a file, a sparse
            matrix, or a dense array with NaN where missing.
        y : ignored
        test : Ratings or sparse matrix of the training shape, optional
            Held-out entries, scored per sweep into ``history_``.
        callback : callable, optional
            Called after every sweep with that sweep's ``history_`` record.
        """
        self._check_params()
        train = to_ratings(X)
        test = None if test is None else to_ratings(test)
        if test is not None and test.shape != train.shape:
            raise ValueError(f"test must have the training shape {train.shape}, got {test.shape}")
        streams = self._streams()
        rng = streams["gibbs"]
        self._fold_in_rng = streams["fold_in"]
        dtype = np.dtype(self.dtype)
        m, n = train.shape
        K, S = self.n_factors, self.n_samples
        D = K + 1
        self.shape_ = train.shape
        self.row_ids_, self.col_ids_ = train.row_ids, train.col_ids
        self.row_counts_ = np.bincount(train.rows, minlength=m)
        self.col_counts_ = np.bincount(train.cols, minlength=n)
        self.mean_ = float(train.values.mean())
        self._remember_seen(train)
        R = train.to_csr().astype(dtype)
        Rt = R.T.tocsr()
        plans = (plan_rows(R.indptr, R.indices), plan_rows(Rt.indptr, Rt.indices))
        U = (self.init_scale * streams["init"].standard_normal((m, D))).astype(dtype)
        V = (self.init_scale * streams["init"].standard_normal((n, D))).astype(dtype)
        alpha = 1.0 / max(float(train.values.var()), 1e-12)

        self.row_samples_ = np.empty((m, S, D), dtype)
        self.col_samples_ = np.empty((n, S, D), dtype)
        self.noise_precision_samples_ = np.empty(S)
        self.row_prior_means_ = np.empty((S, D))
        self.row_prior_precisions_ = np.empty((S, D, D))
        self.history_ = []
        test_sum = None if test is None else np.zeros(test.nnz)
        start = time.perf_counter()
        total = self.burn_in + S
        sweeps = range(1, total + 1)
        if self.progress:
            sweeps = progress(sweeps, total=total, desc="Gibbs sweeps", unit="sweep")
        for it in sweeps:
            U, V, alpha, sse, prior_u = self._sweep(R, Rt, plans, U, V, alpha, rng)
            kept = it > self.burn_in
            record = {"iteration": it, "kept": kept,
                      "train_rmse": float(np.sqrt(sse / train.nnz)),
                      "noise_std": float(alpha**-0.5)}
            if kept:
                s = it - self.burn_in - 1
                self.row_samples_[:, s], self.col_samples_[:, s] = U, V
                self.noise_precision_samples_[s] = alpha
                self.row_prior_means_[s], self.row_prior_precisions_[s] = prior_u
            if test is not None:
                pred = _entries(test.rows, test.cols, U[:, None], V[:, None], self.mean_)[:, 0]
                if kept:
                    test_sum += pred
                    pred = test_sum / (s + 1)
                record["test_rmse"] = float(np.sqrt(np.mean((test.values - pred) ** 2)))
            record["seconds"] = time.perf_counter() - start
            self.history_.append(record)
            if callback is not None:
                callback(record)
        self.n_iter_ = total
        self.row_bias_ = self.row_samples_[:, :, K].mean(axis=1, dtype=np.float64)
        self.col_bias_ = self.col_samples_[:, :, K].mean(axis=1, dtype=np.float64)
        return self

    def _sweep(self, R, Rt, plans, U, V, alpha, rng):
        """One Gibbs sweep: user hyperparameters, users, item hyperparameters, items, noise."""
        K = self.n_factors
        D = K + 1
        dtype = U.dtype
        W0_inv, mu0 = np.eye(D), np.zeros(D)
        prior_u = draw_normal_wishart(
            *normal_wishart_posterior(U.astype(np.float64), self.beta0, D, W0_inv, mu0), rng)
        U, _ = conditional_rows(R, _design(V), self.mean_ + V[:, K], alpha,
                                *(a.astype(dtype) for a in prior_u),
                                rng.standard_normal((R.shape[0], D)).astype(dtype, copy=False),
                                plans[0])
        prior_v = draw_normal_wishart(
            *normal_wishart_posterior(V.astype(np.float64), self.beta0, D, W0_inv, mu0), rng)
        V, sse = conditional_rows(Rt, _design(U), self.mean_ + U[:, K], alpha,
                                  *(a.astype(dtype) for a in prior_v),
                                  rng.standard_normal((R.shape[1], D)).astype(dtype, copy=False),
                                  plans[1])
        alpha = draw_noise_precision(sse, R.nnz, self.noise_shape, self.noise_rate, rng)
        return U, V, alpha, sse, prior_u

    # ------------------------------------------------------- recommender hooks
    def _moments(self, rows, cols) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance over the kept samples of the noise-free prediction."""
        mean = np.empty(rows.size)
        var = np.empty(rows.size)
        for lo in range(0, rows.size, _PREDICT_CHUNK):
            part = slice(lo, lo + _PREDICT_CHUNK)
            draws = _entries(rows[part], cols[part], self.row_samples_, self.col_samples_,
                             self.mean_)
            mean[part] = draws.mean(axis=1)
            var[part] = draws.var(axis=1)
        return mean, var

    def _predict_indices(self, rows, cols) -> np.ndarray:
        return self._moments(rows, cols)[0]

    def _score_rows(self, rows) -> np.ndarray:
        K, S = self.n_factors, self.n_samples
        U, V = self.row_samples_[rows], self.col_samples_
        # The mean over samples of u_s . v_s is one product of the samples side by side.
        scores = U[:, :, :K].reshape(len(rows), S * K) @ V[:, :, :K].reshape(-1, S * K).T / S
        scores += self.mean_ + self.row_bias_[rows][:, None] + self.col_bias_[None, :]
        return scores

    def _fold_in_rows(self, values) -> dict:
        """New users drawn once per kept sample from their conditional given that
        sample's items, user hyperparameters and noise precision."""
        K, S = self.n_factors, self.n_samples
        dtype = self.col_samples_.dtype
        values = values.astype(dtype)
        r = values.shape[0]
        out = np.empty((r, S, K + 1), dtype)
        plans = plan_rows(values.indptr, values.indices)
        for s in range(S):
            V = self.col_samples_[:, s]
            out[:, s], _ = conditional_rows(
                values, _design(V), self.mean_ + V[:, K], self.noise_precision_samples_[s],
                self.row_prior_means_[s].astype(dtype),
                self.row_prior_precisions_[s].astype(dtype),
                self._fold_in_rng.standard_normal((r, K + 1)).astype(dtype, copy=False), plans)
        return {"row_samples_": out, "row_bias_": out[:, :, K].mean(axis=1, dtype=np.float64),
                "row_counts_": np.diff(values.indptr)}

    # ------------------------------------------------------ uncertainty
    def _known_pairs(self, users, items) -> tuple[np.ndarray, np.ndarray]:
        """Index pairs from a Ratings/sparse matrix of the training shape, or raw ids."""
        self._check_fitted()
        if items is None:
            R = to_ratings(users)
            if R.shape != self.shape_:
                raise ValueError(f"X must have the training shape {self.shape_}, got {R.shape}")
            return R.rows, R.cols
        rows, row_known = _index_of(self.row_ids_, users)
        cols, col_known = _index_of(self.col_ids_, items)
        if rows.shape != cols.shape:
            raise ValueError(f"users and items must have one length, got {rows.size} and "
                             f"{cols.size}")
        if not (row_known.all() and col_known.all()):
            raise ValueError(f"{int((~row_known).sum())} user and {int((~col_known).sum())} "
                             "item ids are not in the model; predictive intervals need known "
                             "ids (add new users with fold_in first)")
        return rows, cols

    def predict_dist(self, users, items=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the posterior predictive distribution.

        Takes ``(users, items)`` raw ids or one Ratings/sparse matrix of the
        training shape, like :meth:`predict`. The variance is that of the mixture
        over kept samples: the spread of the samples' predictions plus the mean
        noise variance ``E[1 / alpha]``.

        Returns
        -------
        mean, std : ndarray of shape (n_pairs,)
        """
        mean, var = self._moments(*self._known_pairs(users, items))
        return mean, np.sqrt(var + np.mean(1.0 / self.noise_precision_samples_))

    def predict_interval(self, users, items=None, *, level: float = 0.9
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Central predictive interval holding ``level`` of the probability.

        The Normal with the predictive mean and standard deviation of
        :meth:`predict_dist` (the mixture over samples is close to it when the
        samples' spread is small beside the noise).

        Returns
        -------
        lower, upper : ndarray of shape (n_pairs,)
        """
        level = check_real(level, "level", low=0, high=1, low_open=True, high_open=True)
        mean, std = self.predict_dist(users, items)
        half = scipy.stats.norm.ppf(0.5 + level / 2) * std
        return mean - half, mean + half


def _design(factors: np.ndarray) -> np.ndarray:
    """The other side's factors with a column of ones for the bias: shape (n, K + 1)."""
    out = np.empty_like(factors)
    out[:, :-1] = factors[:, :-1]
    out[:, -1] = 1
    return out


def _entries(rows, cols, row_samples, col_samples, mean) -> np.ndarray:
    """``mean + b_i + c_j + u_i . v_j`` per pair and sample: shape (len(rows), S)."""
    U, V = row_samples[rows], col_samples[cols]
    return (mean + U[:, :, -1] + V[:, :, -1]
            + np.einsum("psk,psk->ps", U[:, :, :-1], V[:, :, :-1], dtype=np.float64))


def fit_and_score(train, test, *, n_factors: int = 10, n_samples: int = 150, burn_in: int = 50,
                  level: float = 0.9, clip=None, seed: int = 0, out=None) -> dict:
    """Fit :class:`BayesianMF` on ``train``, score it on ``test``: ``acml mf fit --model bayes``.

    Parameters
    ----------
    train, test : Ratings
        Two sides of one split (same shape).
    n_factors, n_samples, burn_in : int
        See :class:`BayesianMF`.
    level : float
        Nominal coverage of the predictive intervals scored.
    clip : (low, high) or None
        Clip predictive means and intervals to the rating range.
    seed : int
        The run's seed; the sampler's streams are its RunContext's ``bayes`` child.
    out : str or Path, optional
        Folder for ``bayes.json`` (settings, metrics, history) and
        ``test_predictions.csv`` (ids, value, mean, std, lower, upper).

    Returns
    -------
    dict
        Settings and metrics: ``test_rmse``, ``test_mae``, ``coverage``,
        ``mean_interval_width``, ``seconds``, ``history``.
    """
    from acmlkit.factorization.metrics import rmse
    from acmlkit.results import atomic_write, save_json

    model = BayesianMF(n_factors=n_factors, n_samples=n_samples, burn_in=burn_in,
                       random_state=RunContext(seed).child("bayes"))
    start = time.perf_counter()
    model.fit(train, test=test)
    seconds = time.perf_counter() - start
    mean, std = model.predict_dist(test)
    lower, upper = model.predict_interval(test, level=level)
    if clip is not None:
        mean, lower, upper = (np.clip(a, *clip) for a in (mean, lower, upper))
    summary = {
        "model": "bayes", "n_factors": n_factors, "n_samples": n_samples, "burn_in": burn_in,
        "level": level, "seed": seed, "clip": None if clip is None else list(clip),
        "shape": list(train.shape), "n_train": train.nnz, "n_test": test.nnz,
        "test_rmse": rmse(test.values, mean, "test RMSE"),
        "test_mae": float(np.mean(np.abs(test.values - mean))),
        "coverage": float(np.mean((test.values >= lower) & (test.values <= upper))),
        "mean_interval_width": float(np.mean(upper - lower)),
        "noise_std": float(np.mean(model.noise_precision_samples_ ** -0.5)),
        "seconds": seconds, "history": model.history_,
    }
    if out is not None:
        out = Path(out)
        save_json(summary, out / "bayes.json")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["row_id", "col_id", "value", "mean", "std", "lower", "upper"])
        writer.writerows(zip(test.row_ids[test.rows].tolist(), test.col_ids[test.cols].tolist(),
                             test.values.tolist(), mean.tolist(), std.tolist(), lower.tolist(),
                             upper.tolist()))
        atomic_write(out / "test_predictions.csv", buffer.getvalue())
    return summary


def summary_lines(summary: dict) -> list[str]:
    """What ``acml mf fit --model bayes`` prints for a :func:`fit_and_score` summary."""
    m, n = summary["shape"]
    return [
        f"{m} x {n} matrix; {summary['n_train']} training, {summary['n_test']} test entries",
        f"ran: Bayesian MF (Gibbs), K = {summary['n_factors']}, {summary['burn_in']} burn-in + "
        f"{summary['n_samples']} kept sweeps in {summary['seconds']:.1f} s",
        f"test RMSE {summary['test_rmse']:.4f}, MAE {summary['test_mae']:.4f}; "
        f"{100 * summary['level']:g} % predictive intervals cover "
        f"{100 * summary['coverage']:.1f} % of test entries (mean width "
        f"{summary['mean_interval_width']:.2f}); noise std {summary['noise_std']:.3f}",
    ]
