"""The notebook's mixture exercise and what grows out of it.

Each experiment takes one frozen config and returns a result dataclass that
saves to JSON; :mod:`acmlkit.mixture.figures` draws from those results only.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acmlkit.errors import DataError
from acmlkit.mixture.densities import LOG_2PI
from acmlkit.mixture.em import ConvergenceWarning, GaussianMixture
from acmlkit.mixture.responsibilities import (
    naive_responsibilities,
    responsibilities,
    univariate_responsibilities,
)
from acmlkit.rng import spawn_generators
from acmlkit.validation import check_int

# Entropy of a standard normal per dimension: the expected log density of
# N(0, I) data under N(0, I) is -D (log 2 pi + 1) / 2.
NORMAL_LOGLIK_PER_DIM = -(LOG_2PI + 1) / 2


# ------------------------------------------------------------------ notebook cell
@dataclass(frozen=True)
class ResponsibilitiesConfig:
    """A 1-D mixture given as (mean, variance, weight) per component."""

    x: tuple[float, ...] = (5.0,)
    components: tuple[tuple[float, float, float], ...] = ((0.0, 0.01, 0.5), (1.13, 0.006, 0.5))


@dataclass
class ResponsibilitiesResult:
    config: ResponsibilitiesConfig
    responsibilities: list[list[float]]
    log_likelihood: list[float]


def run_responsibilities(config: ResponsibilitiesConfig) -> ResponsibilitiesResult:
    means, variances, weights = (np.array(col, dtype=float) for col in zip(*config.components))
    resp, log_lik = univariate_responsibilities(list(config.x), means, variances, weights)
    return ResponsibilitiesResult(config, resp.tolist(), log_lik.tolist())


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


@dataclass
class HighDimResult:
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


def run_high_dim(config: HighDimConfig) -> HighDimResult:
    rng = spawn_generators(config.seed, ["data"])["data"]
    result = HighDimResult(config, [], [], [], [], [])
    for D in config.dims:
        check_int(D, "dims", low=1)
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
        result.dims.append(D)
        result.loglik_per_dim.append(float(log_lik.mean() / D))
        result.max_row_sum_error.append(float(np.abs(resp.sum(axis=1) - 1).max()))
        result.all_finite.append(bool(np.isfinite(resp).all()))
        result.naive_nan_share.append(float(np.isnan(naive).any(axis=1).mean()))
    return result


# -------------------------------------------------------------------- EM fits
@dataclass(frozen=True)
class FitConfig:
    """Fit mixtures for each K in ``k_values`` and keep the one with the lowest BIC."""

    k_values: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    covariance_type: str = "full"
    n_init: int = 3
    max_iter: int = 200
    tol: float = 1e-4
    reg_covar: float = 1e-6
    seed: int = 0


@dataclass
class FitResult:
    config: FitConfig
    n_samples: int
    n_features: int
    k_values: list[int]
    bic: list[float]
    aic: list[float]
    log_likelihood: list[float]
    converged: list[bool]
    best_k: int
    weights: list[float]
    means: list[list[float]]
    covariances: list
    history: list[dict] = field(default_factory=list)


def fit_mixtures(X, config: FitConfig) -> FitResult:
    """Fit one mixture per K (same seed for each K) and select K by BIC."""
    if not config.k_values:
        raise ValueError("k_values must name at least one number of components")
    n = np.asarray(X).shape[0]
    too_many = [k for k in config.k_values if k > n]
    if too_many:
        raise DataError(
            f"Expected n_samples >= n_components, but got n_samples={n} < {too_many[0]}"
        )
    models, bics, aics, lls, conv = [], [], [], [], []
    for k in config.k_values:
        model = GaussianMixture(
            k,
            covariance_type=config.covariance_type,
            n_init=config.n_init,
            max_iter=config.max_iter,
            tol=config.tol,
            reg_covar=config.reg_covar,
            random_state=config.seed,
        )
        with warnings.catch_warnings():
            # Convergence is recorded per K in the result instead.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)
        models.append(model)
        bics.append(model.bic(X))
        aics.append(model.aic(X))
        lls.append(model.score(X))
        conv.append(model.converged_)
    best = int(np.argmin(bics))
    chosen = models[best]
    return FitResult(
        config=config,
        n_samples=n,
        n_features=chosen.n_features_in_,
        k_values=list(config.k_values),
        bic=bics,
        aic=aics,
        log_likelihood=lls,
        converged=conv,
        best_k=config.k_values[best],
        weights=chosen.weights_.tolist(),
        means=chosen.means_.tolist(),
        covariances=chosen.covariances_.tolist(),
        history=chosen.history_,
    )


@dataclass(frozen=True)
class BlobsConfig:
    """Points from a known 2-D mixture, for the demo and the tests."""

    n_samples: int = 900
    centers: tuple[tuple[float, float], ...] = ((0.0, 0.0), (4.0, 4.0), (-3.0, 5.0))
    scales: tuple[float, ...] = (1.0, 0.7, 1.3)
    seed: int = 0


def make_blobs(config: BlobsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return points (n, 2) and their true component (n,)."""
    rng = spawn_generators(config.seed, ["blobs"])["blobs"]
    labels = rng.integers(len(config.centers), size=config.n_samples)
    centers = np.asarray(config.centers)[labels]
    scales = np.asarray(config.scales)[labels, None]
    return centers + scales * rng.standard_normal((config.n_samples, 2)), labels


# ------------------------------------------------------------------ CSV input
def load_points_csv(path: str | Path) -> np.ndarray:
    """Read a numeric CSV (one point per row, optional header) into (n, D) float64."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path}")
    with path.open(newline="") as fh:
        rows = [row for row in csv.reader(fh) if row and any(cell.strip() for cell in row)]
    if not rows:
        raise DataError(f"{path} is empty")
    if not _is_numeric_row(rows[0]) and all(_is_numeric_row(r) for r in rows[1:2]):
        rows = rows[1:]  # a header line
    if not rows:
        raise DataError(f"{path} has a header but no data rows")
    width = len(rows[0])
    values = np.empty((len(rows), width))
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path}, line {i + 1}: expected {width} columns, got {len(row)}")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}, line {i + 1}, column {j + 1}: {cell!r} is not a number"
                ) from None
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise DataError(f"{path}, row {i + 1}, column {j + 1}: NaN or infinity is not allowed")
    return values


def _is_numeric_row(row) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def parse_k_values(text: str) -> tuple[int, ...]:
    """``"3"`` -> (3,); ``"1..8"`` -> (1, ..., 8); ``"2,4,6"`` -> (2, 4, 6)."""
    try:
        if ".." in text:
            low, high = (int(part) for part in text.split(".."))
            values = tuple(range(low, high + 1))
        else:
            values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"-k must be a number, a range like 1..8 or a list like 2,4,6; got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise ValueError(f"-k must name numbers of components >= 1, got {text!r}")
    return values


# ------------------------------------------------------------------------ demo
def run_demo(out_dir: str | Path, seed: int = 0) -> dict[str, Path]:
    """The notebook example, the high-dimension demo and EM on blobs.

    Writes results (JSON) and the blobs (CSV) to ``out_dir``, then draws the
    figures from those files; returns every written path by name.
    """
    from acmlkit.results import save_json

    out = Path(out_dir)
    written = {
        "responsibilities": save_json(
            run_responsibilities(ResponsibilitiesConfig()), out / "responsibilities.json"
        ),
        "high_dim": save_json(run_high_dim(HighDimConfig(seed=seed)), out / "high_dim.json"),
    }
    X, _ = make_blobs(BlobsConfig(seed=seed))
    np.savetxt(out / "blobs.csv", X, delimiter=",", header="x1,x2", comments="")
    written["blobs"] = out / "blobs.csv"
    written["blobs_fit"] = save_json(fit_mixtures(X, FitConfig(seed=seed)), out / "blobs_fit.json")
    written.update(draw_demo_figures(out))
    return written


def draw_demo_figures(out_dir: str | Path) -> dict[str, Path]:
    """Redraw the demo's figures from its saved results, without re-running anything."""
    from acmlkit.mixture import figures
    from acmlkit.results import from_dict, load_json

    out = Path(out_dir)
    high_dim = from_dict(HighDimResult, load_json(out / "high_dim.json"))
    fit = from_dict(FitResult, load_json(out / "blobs_fit.json"))
    X = load_points_csv(out / "blobs.csv")
    return {
        "high_dim_figure": figures.plot_high_dim(high_dim, out / "high_dim.png"),
        "blobs_figure": figures.plot_fit(fit, X, out / "blobs_fit.png"),
        "blobs_bic": figures.plot_bic(fit, out / "blobs_bic.png"),
    }


# ---------------------------------------------------------- sweep trials
def mixture_trial(
    *,
    seed: int,
    n_components: int = 3,
    covariance_type: str = "full",
    n_samples: int = 900,
    max_iter: int = 200,
) -> dict:
    """EM on the package's 2-D blobs: BIC and log-likelihood for one K."""
    X, _ = make_blobs(BlobsConfig(n_samples=n_samples, seed=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=max_iter, random_state=seed
        ).fit(X)
    return {
        "bic": model.bic(X),
        "log_likelihood": model.score(X),
        "n_iter": model.n_iter_,
        "converged": model.converged_,
    }
