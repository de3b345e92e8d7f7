"""The notebook's mixture exercise and what grows out of it.

Every experiment follows the package protocol: a frozen config dataclass ->
``run_*(config, out) -> Result`` (a :class:`acmlkit.results.Result` with a kind
tag, saved as JSON when ``out`` is a folder) -> figures drawn from the Result
(:mod:`acmlkit.mixture.figures`, which imports this module, never the reverse).

Randomness comes from one :class:`acmlkit.rng.RunContext` per run; each stream
has a stable name (:data:`STREAMS`) and is passed down as a Generator.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture.data import check_fit_size, load_points_csv, parse_k_values
from acmlkit.mixture.densities import LOG_2PI
from acmlkit.mixture.em import ConvergenceWarning, GaussianMixture
from acmlkit.mixture.posterior import (
    naive_responsibilities,
    responsibilities,
    univariate_responsibilities,
)
from acmlkit.results import Result, fingerprint_arrays, fingerprint_file, provenance, result_kind
from acmlkit.rng import RunContext
from acmlkit.validation import check_int

__all__ = [
    "BlobsConfig",
    "DemoConfig",
    "DemoResult",
    "FitConfig",
    "FitResult",
    "HighDimConfig",
    "HighDimResult",
    "NORMAL_LOGLIK_PER_DIM",
    "ResponsibilitiesConfig",
    "ResponsibilitiesResult",
    "demo_streams",
    "fit_one",
    "load_points_csv",
    "make_blobs",
    "mixture_trial",
    "parse_k_values",
    "run_demo",
    "run_fit",
    "run_high_dim",
    "run_responsibilities",
]

# Entropy of a standard normal per dimension: the expected log density of
# N(0, I) data under N(0, I) is -D (log 2 pi + 1) / 2.
NORMAL_LOGLIK_PER_DIM = -(LOG_2PI + 1) / 2

# Stream names of a run, one per use of randomness.
HIGH_DIM_STREAM = "high_dim.data"
BLOBS_STREAM = "blobs"


def init_stream_name(k: int) -> str:
    """Each K draws its initialisations from its own stream."""
    return f"fit.init.k={k}"


def _save(result: Result, out) -> Result:
    if out is not None:
        result.save(out)
    return result


# ------------------------------------------------------------------ notebook cell
@dataclass(frozen=True)
class ResponsibilitiesConfig:
    """A 1-D mixture given as (mean, variance, weight) per component."""

    x: tuple[float, ...] = (5.0,)
    components: tuple[tuple[float, float, float], ...] = ((0.0, 0.01, 0.5), (1.13, 0.006, 0.5))


@result_kind("mixture.responsibilities")
@dataclass
class ResponsibilitiesResult(Result):
    """p(c | x) per point (rows) and component (columns), and log p(x) per point."""

    config: ResponsibilitiesConfig
    responsibilities: list[list[float]]
    log_likelihood: list[float]


def run_responsibilities(config: ResponsibilitiesConfig, out=None) -> ResponsibilitiesResult:
    """The notebook's cell [2]: responsibilities of a 1-D mixture by log-sum-exp."""
    means, variances, weights = (np.array(col, dtype=float) for col in zip(*config.components))
    resp, log_lik = univariate_responsibilities(list(config.x), means, variances, weights)
    result = ResponsibilitiesResult(
        config, resp.tolist(), log_lik.tolist(), provenance=provenance(data={})
    )
    return _save(result, out)


# ------------------------------------------------------------ high dimensions
@dataclass(frozen=True)
class HighDimConfig:
    """N(0, I_D) data under a two-component mixture with identity covariances.

    The second mean sits at distance ``separation`` along one fixed direction,
    so the components stay distinguishable in any dimension.
    """

    dims: tuple[int, ...] = (1, 10, 100, 300, 525, 600, 1000, 3000, 10000)
    n_points: int = 200
    separation: float = 3.0
    seed: int = 0


@result_kind("mixture.high_dim")
@dataclass
class HighDimResult(Result):
    config: HighDimConfig
    dims: list[int]
    loglik_per_dim: list[float]
    max_row_sum_error: list[float]
    all_finite: list[bool]
    naive_nan_share: list[float]
    expected_per_dim: float = NORMAL_LOGLIK_PER_DIM

    @property
    def naive_first_failure(self) -> int | None:
        failing = [d for d, share in zip(self.dims, self.naive_nan_share) if share > 0]
        return failing[0] if failing else None

    def tables(self):
        return {
            "high_dim.csv": [
                {
                    "D": d,
                    "loglik_per_dim": ll,
                    "max_row_sum_error": err,
                    "naive_nan_share": nan,
                }
                for d, ll, err, nan in zip(
                    self.dims, self.loglik_per_dim, self.max_row_sum_error, self.naive_nan_share
                )
            ]
        }


def run_high_dim(
    config: HighDimConfig, out=None, *, rng: np.random.Generator | None = None
) -> HighDimResult:
    """Responsibilities by log-sum-exp against exp-then-normalise as D grows.

    ``rng`` defaults to the stream ``high_dim.data`` of ``RunContext(config.seed)``.
    """
    if rng is None:
        rng = RunContext(config.seed).stream(HIGH_DIM_STREAM)
    for D in config.dims:
        check_int(D, "dims", low=1)
    rows = {"dims": [], "ll": [], "err": [], "finite": [], "nan": []}
    for D in config.dims:
        X = rng.standard_normal((config.n_points, D))
        # Under identity covariance log N(x | m, I) = -(D log 2pi + |x - m|^2) / 2,
        # computed directly here so D = 10,000 needs no D x D matrix.
        offset = np.zeros(D)
        offset[0] = config.separation
        sq = np.stack([(X**2).sum(1), ((X - offset) ** 2).sum(1)], axis=1)
        log_density = -0.5 * (D * LOG_2PI + sq)
        log_weights = np.log([0.5, 0.5])
        resp, log_lik = responsibilities(log_density, log_weights)
        naive = naive_responsibilities(log_density, log_weights)
        rows["dims"].append(D)
        rows["ll"].append(float(log_lik.mean() / D))
        rows["err"].append(float(np.abs(resp.sum(axis=1) - 1).max()))
        rows["finite"].append(bool(np.isfinite(resp).all()))
        rows["nan"].append(float(np.isnan(naive).any(axis=1).mean()))
    result = HighDimResult(
        config,
        rows["dims"],
        rows["ll"],
        rows["err"],
        rows["finite"],
        rows["nan"],
        provenance=provenance(data={"generated": f"N(0, I), seed {config.seed}"}),
    )
    return _save(result, out)


# ----------------------------------------------------------------- blob data
@dataclass(frozen=True)
class BlobsConfig:
    """Points from a known 2-D mixture, for the demo and the tests."""

    n_samples: int = 900
    centers: tuple[tuple[float, float], ...] = ((0.0, 0.0), (4.0, 4.0), (-3.0, 5.0))
    scales: tuple[float, ...] = (1.0, 0.7, 1.3)
    seed: int = 0


def make_blobs(
    config: BlobsConfig, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return points (n, 2) and their true component (n,).

    ``rng`` defaults to the stream ``blobs`` of ``RunContext(config.seed)``.
    """
    if rng is None:
        rng = RunContext(config.seed).stream(BLOBS_STREAM)
    labels = rng.integers(len(config.centers), size=config.n_samples)
    centers = np.asarray(config.centers)[labels]
    scales = np.asarray(config.scales)[labels, None]
    return centers + scales * rng.standard_normal((config.n_samples, 2)), labels


# -------------------------------------------------------------------- EM fits
@dataclass(frozen=True)
class FitConfig:
    """Fit mixtures for each K in ``k_values`` and keep the one with the lowest BIC.

    ``data`` is a CSV file (one point per row); ``None`` fits the generated
    blobs of ``blobs``. The defaults (k-means initialisation, 5 restarts) find
    scikit-learn's optimum on well-separated data; see :func:`fit_one`.
    """

    data: str | None = None
    blobs: BlobsConfig = BlobsConfig()
    k_values: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    covariance_type: str = "full"
    n_init: int = 5
    init_params: str = "kmeans"
    max_iter: int = 200
    tol: float = 1e-4
    reg_covar: float = 1e-6
    missing: str = "error"
    sample_weight_column: str | None = None
    freeze: tuple[str, ...] = ()
    stream: bool = False
    chunk_rows: int = 100_000
    seed: int = 0


@result_kind("mixture.fit")
@dataclass
class FitResult(Result):
    """One mixture per K; the parameters are those of the K chosen by BIC."""

    config: FitConfig
    n_samples: int
    n_features: int
    n_init: int
    k_values: list[int]
    bic: list[float]
    aic: list[float]
    log_likelihood: list[float]
    converged: list[bool]
    n_iter: list[int]
    best_k: int
    weights: list[float]
    means: list[list[float]]
    covariances: list
    history: list[dict] = field(default_factory=list)

    def tables(self):
        return {
            "criteria.csv": [
                {"K": k, "bic": b, "aic": a, "log_likelihood": ll, "converged": c, "n_iter": it}
                for k, b, a, ll, c, it in zip(
                    self.k_values,
                    self.bic,
                    self.aic,
                    self.log_likelihood,
                    self.converged,
                    self.n_iter,
                )
            ]
        }


def _model(config: FitConfig, k: int, rng) -> GaussianMixture:
    return GaussianMixture(
        k,
        covariance_type=config.covariance_type,
        n_init=config.n_init,
        init_params=config.init_params,
        max_iter=config.max_iter,
        tol=config.tol,
        reg_covar=config.reg_covar,
        missing=config.missing,
        freeze=config.freeze,
        random_state=rng,
    )


def fit_one(X, k: int, config: FitConfig, rng: np.random.Generator, sample_weight=None):
    """THE fit of one K: a fitted :class:`GaussianMixture` and its criteria.

    ``X`` is an array (n, D), or for ``config.stream`` a callable returning a
    fresh iterable of chunks. Returns ``(model, metrics)`` with ``bic``,
    ``aic``, ``log_likelihood`` (mean per point), ``n_iter`` and ``converged``.
    """
    model = _model(config, k, rng)
    with warnings.catch_warnings():
        # Convergence is recorded per K in the result instead.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if config.stream:
            model.fit_chunks(X)
            mean_ll, n = model.lower_bound_, model.n_samples_seen_
        else:
            model.fit(X, sample_weight=sample_weight)
            # The final parameters' likelihood, as scikit-learn's bic() computes it.
            mean_ll = model.score(X, sample_weight=sample_weight)
            n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    n_params = model.n_parameters()
    metrics = {
        "bic": float(-2 * mean_ll * n + n_params * np.log(n)),
        "aic": float(-2 * mean_ll * n + 2 * n_params),
        "log_likelihood": float(mean_ll),
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
    }
    if not np.isfinite(metrics["bic"]):
        raise DataError(f"the fit with K={k} gave a non-finite BIC; check the data for outliers")
    return model, metrics


def _load_fit_data(config: FitConfig, ctx: RunContext):
    """(X or chunk source, sample_weight, n_samples, n_features, data fingerprint)."""
    from acmlkit.mixture.data import csv_chunks, read_points_csv

    allow_missing = config.missing == "em"
    if config.data is None:
        X, _ = make_blobs(config.blobs, ctx.stream(BLOBS_STREAM))
        return X, None, X.shape[0], X.shape[1], fingerprint_arrays(X)
    path = Path(config.data)
    if config.stream:
        if config.sample_weight_column is not None:
            raise ValueError("--sample-weight cannot be combined with --stream yet")
        source = csv_chunks(path, config.chunk_rows, allow_missing=allow_missing)
        n, D = source.shape
        return source, None, n, D, fingerprint_file(path)
    table = read_points_csv(path, allow_missing=allow_missing)
    X, weight = table.split_weight(config.sample_weight_column)
    return X, weight, X.shape[0], X.shape[1], fingerprint_file(path)


def run_fit(
    config: FitConfig,
    out=None,
    *,
    X=None,
    sample_weight=None,
    ctx: RunContext | None = None,
) -> FitResult:
    """Fit one mixture per K (each K from its own named stream) and select K by BIC.

    ``X`` (n, D) overrides ``config.data``; ``ctx`` defaults to ``RunContext(config.seed)``.
    """
    if not config.k_values:
        raise ValueError("k_values must name at least one number of components")
    ctx = RunContext(config.seed) if ctx is None else ctx
    if X is not None:
        X = np.asarray(X)
        data, weight, n, D = X, sample_weight, X.shape[0], X.shape[1]
        fingerprint = fingerprint_arrays(X)
    else:
        data, weight, n, D, fingerprint = _load_fit_data(config, ctx)
    check_fit_size(
        n,
        D,
        max(config.k_values),
        config.covariance_type,
        config.chunk_rows if config.stream else None,
    )
    too_many = [k for k in config.k_values if k > n]
    if too_many:
        raise DataError(
            f"Expected n_samples >= n_components, but got n_samples={n} < {too_many[0]}"
        )
    models, rows = [], []
    for k in config.k_values:
        model, metrics = fit_one(data, k, config, ctx.stream(init_stream_name(k)), weight)
        models.append(model)
        rows.append(metrics)
    best = int(np.argmin([row["bic"] for row in rows]))
    chosen = models[best]
    result = FitResult(
        config=config,
        n_samples=int(n),
        n_features=int(D),
        n_init=config.n_init,
        k_values=list(config.k_values),
        bic=[row["bic"] for row in rows],
        aic=[row["aic"] for row in rows],
        log_likelihood=[row["log_likelihood"] for row in rows],
        converged=[row["converged"] for row in rows],
        n_iter=[row["n_iter"] for row in rows],
        best_k=config.k_values[best],
        weights=chosen.weights_.tolist(),
        means=chosen.means_.tolist(),
        covariances=chosen.covariances_.tolist(),
        history=chosen.history_,
        provenance=provenance(data={config.data or "blobs": fingerprint}),
    )
    return _save(result, out)


# ------------------------------------------------------------------------ demo
@dataclass(frozen=True)
class DemoConfig:
    """The notebook example, the high-dimension demo and EM with BIC on blobs."""

    seed: int = 0
    responsibilities: ResponsibilitiesConfig = ResponsibilitiesConfig()
    high_dim: HighDimConfig = HighDimConfig()
    blobs: BlobsConfig = BlobsConfig()
    fit: FitConfig = FitConfig()


@result_kind("mixture.demo")
@dataclass
class DemoResult(Result):
    """Everything the demo computed, including the blobs, so figures redraw from it alone."""

    config: DemoConfig
    responsibilities: ResponsibilitiesResult
    high_dim: HighDimResult
    fit: FitResult
    points: list[list[float]]
    labels: list[int]

    def tables(self):
        tables = dict(self.high_dim.tables())
        tables.update(self.fit.tables())
        return tables


def demo_streams(config: DemoConfig) -> dict[str, np.random.Generator]:
    """Every named stream the demo draws from (a test checks no two coincide)."""
    ctx = RunContext(config.seed)
    streams = {HIGH_DIM_STREAM: ctx.stream(HIGH_DIM_STREAM), BLOBS_STREAM: ctx.stream(BLOBS_STREAM)}
    for k in config.fit.k_values:
        streams[init_stream_name(k)] = ctx.stream(init_stream_name(k))
    return streams


def run_demo(config: DemoConfig = DemoConfig(), out=None) -> DemoResult:
    """Run the three mixture experiments from one seed; figures via
    :func:`acmlkit.mixture.figures.save_demo_figures`."""
    ctx = RunContext(config.seed)
    streams = demo_streams(config)
    resp = run_responsibilities(config.responsibilities)
    high_dim = run_high_dim(config.high_dim, rng=streams[HIGH_DIM_STREAM])
    X, labels = make_blobs(config.blobs, streams[BLOBS_STREAM])
    fit = run_fit(config.fit, X=X, ctx=ctx)
    result = DemoResult(
        config,
        resp,
        high_dim,
        fit,
        X.tolist(),
        labels.tolist(),
        provenance=provenance(data={"blobs": fingerprint_arrays(X)}),
    )
    return _save(result, out)


# ---------------------------------------------------------- sweep trials
def mixture_trial(
    *,
    seed: int,
    n_components: int = 3,
    covariance_type: str = "full",
    n_samples: int = 900,
    max_iter: int = 200,
) -> dict:
    """EM on the package's 2-D blobs: BIC and log-likelihood for one K (via :func:`fit_one`)."""
    ctx = RunContext(seed)
    X, _ = make_blobs(BlobsConfig(n_samples=n_samples), ctx.stream(BLOBS_STREAM))
    config = FitConfig(
        k_values=(n_components,), covariance_type=covariance_type, max_iter=max_iter, seed=seed
    )
    _, metrics = fit_one(X, n_components, config, ctx.stream(init_stream_name(n_components)))
    return metrics
