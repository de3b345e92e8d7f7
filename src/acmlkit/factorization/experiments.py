"""The notebook's matrix-completion studies and single fits: configs in, Results out.

Every study is a grid of :func:`als_trial` runs on :func:`acmlkit.sweeps.run_grid`
(resumable, ``--jobs``/``--cluster``/``--scheduler``), summarised over seeds
by :func:`acmlkit.sweeps.summarise`. A seed's run context names its streams
(``split``, ``validation``, ``init``), so every setting of a study sees the
same split and initialisation for one seed. ``run(config, out)`` returns a
:class:`~acmlkit.results.Result` (kinds ``mf.study``, ``mf.grid``, ``mf.fit``)
that figures and the report read; each result's ``findings`` holds the facts a
report states (best K and lambda, whether test error rises with K, ...).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acmlkit.factorization.als import ALS
from acmlkit.factorization.baseline import DampedBaseline
from acmlkit.factorization.data import (
    Ratings,
    load_movielens,
    read_dense_csv,
    read_ratings,
    sniff_format,
    synthetic,
)
from acmlkit.factorization.defaults import is_ratings, study_settings
from acmlkit.factorization.metrics import ranking_metrics, rmse, split_metrics
from acmlkit.factorization.splits import (
    Split,
    bernoulli_split,
    carve_validation,
    check_p,
    kfold_splits,
    user_holdout_split,
)
from acmlkit.results import (
    Result,
    fingerprint_arrays,
    fingerprint_file,
    load_result,
    provenance,
    result_kind,
)
from acmlkit.rng import RunContext
from acmlkit.sweeps import Execution, run_grid, summarise
from acmlkit.validation import check_choice, check_int, check_real

__all__ = [
    "DataConfig", "FitConfig", "FitResult", "GridConfig", "GridResult", "StudyConfig",
    "StudyResult", "als_trial", "data_fingerprint", "fit_splits", "grid_config",
    "k_study_config", "lambda_study_config", "load_data", "load_result", "p_study_config",
    "run", "run_fit", "run_grid_study", "run_study", "split_metrics", "study_settings",
]


@contextmanager
def single_threaded_blas():
    """Run BLAS on one thread: ALS solves many tiny K x K systems, and on a busy
    machine threaded BLAS spins for them (a 6x slowdown measured on 2 shared cores).

    Uses threadpoolctl when it is installed (it comes with scikit-learn) and
    does nothing otherwise.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------------- data
@dataclass(frozen=True)
class DataConfig:
    """Where the matrix comes from.

    ``source`` is ``"synthetic"`` (the generator below), ``"movielens-100k"``,
    ``"movielens-1m"`` (downloaded into the cache) or a file path; ``format``
    ``"auto"`` reads a file with a header, tabs or ``::`` as rating triples and
    anything else as a dense header-less CSV.
    """

    source: str = "synthetic"
    format: str = "auto"
    zero_is_missing: bool = False
    duplicates: str = "reject"
    m: int = 375
    n: int = 500
    rank: int = 8
    noise: float = 0.1
    missing: float = 0.0
    seed: int = 0


def load_data(config: DataConfig) -> Ratings:
    check_choice(config.format, "format", {"auto", "dense", "ratings"})
    if config.source == "synthetic":
        return synthetic(config.m, config.n, rank=config.rank, noise=config.noise,
                         missing=config.missing, seed=config.seed)
    if config.source.startswith("movielens-"):
        return load_movielens(config.source.removeprefix("movielens-"))
    path = Path(config.source)
    if not path.is_file():
        raise FileNotFoundError(
            f"no data file at {path}; pass a file, 'synthetic', 'movielens-100k' or "
            "'movielens-1m'"
        )
    fmt = sniff_format(path) if config.format == "auto" else config.format
    if fmt == "ratings":
        return read_ratings(path, duplicates=config.duplicates)
    return read_dense_csv(path, zero_is_missing=config.zero_is_missing)


def data_fingerprint(config: DataConfig, ratings: Ratings) -> dict[str, str]:
    """``{source: sha256}`` of the file read, or of the entries a generator made."""
    path = Path(config.source)
    if config.source != "synthetic" and path.is_file():
        return {str(path): fingerprint_file(path)}
    return {config.source: fingerprint_arrays(ratings.rows, ratings.cols, ratings.values)}


def _data_params(config: DataConfig) -> dict:
    """A DataConfig as flat, JSON-ready trial parameters (``seed`` becomes ``data_seed``)."""
    params = dataclasses.asdict(config)
    params["data_seed"] = params.pop("seed")
    return params


@functools.lru_cache(maxsize=4)
def _cached_data(key: tuple) -> Ratings:
    params = dict(key[0])
    params["seed"] = params.pop("data_seed")
    return load_data(DataConfig(**params))


def _trial_data(params: dict) -> Ratings:
    """The ratings of a trial, read once per process (a file is re-read when it changes)."""
    path = Path(params["source"])
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else None
    return _cached_data((tuple(sorted(params.items())), stamp))


# ---------------------------------------------------------------------- trial
def als_trial(
    *,
    seed: int,
    p: float = 0.5,
    n_factors: int = 8,
    lam: float = 0.1,
    bias_lam: float | None = None,
    biases: bool = False,
    reg_exponent: float = 0.0,
    method: str = "masked",
    max_iter: int = 30,
    validation_fraction: float | None = None,
    curves: bool = False,
    source: str = "synthetic",
    format: str = "auto",
    zero_is_missing: bool = False,
    duplicates: str = "reject",
    m: int = 375,
    n: int = 500,
    rank: int = 8,
    noise: float = 0.1,
    missing: float = 0.0,
    data_seed: int = 0,
) -> dict:
    """One ALS fit: train on a Bernoulli(p) share of the observed entries, test on the rest.

    The trial of every factorisation study (``acml sweep --experiment als`` too).
    The matrix depends on the data parameters only (``data_seed`` for the
    synthetic one), so seeds vary the split and the initialisation over one
    matrix: seed ``s`` draws its split from ``RunContext(s).stream("split")`` and
    its init from ``stream("init")``, whatever the other parameters.
    ``validation_fraction`` fits on the training side less that share (drawn from
    ``stream("validation")``) and adds ``val_rmse``; ``curves`` adds the train and
    test MSE of every sweep. ``bias_lam`` None penalises the biases by ``lam``.
    """
    data = dict(source=source, format=format, zero_is_missing=zero_is_missing,
                duplicates=duplicates, m=m, n=n, rank=rank, noise=noise, missing=missing,
                data_seed=data_seed)
    ratings = _trial_data(data)
    ctx = RunContext(seed)
    split = bernoulli_split(ratings, p, seed=ctx.stream("split"))
    train, test = split.apply(ratings)
    val = None
    if validation_fraction is not None:
        fit_idx, val_idx = carve_validation(split.train, validation_fraction,
                                            ctx.stream("validation"))
        train, val = ratings.subset(fit_idx), ratings.subset(val_idx)
    model = ALS(
        n_factors=n_factors, u_lambda=lam, v_lambda=lam,
        bias_lambda=lam if bias_lam is None else bias_lam, biases=biases,
        reg_exponent=reg_exponent, method=method, max_iter=max_iter, tol=0.0, n_init=1,
        random_state=ctx.stream("init"),
    )
    start = time.perf_counter()
    with single_threaded_blas():
        model.fit(train, test=test if curves else None)
    out = {**split_metrics(model, train, test), "n_iter": model.n_iter_,
           "seconds": time.perf_counter() - start}
    if val is not None:
        out["val_rmse"] = rmse(val.values, model.predict_pairs(val.rows, val.cols),
                               "validation RMSE")
    if curves:
        out["curve_train_mse"] = [h["train_mse"] for h in model.history_]
        out["curve_test_mse"] = [h["test_mse"] for h in model.history_]
    return out


def _grid_rows(fixed: dict, grid: dict, seeds, store: Path | None, execution: Execution):
    """``run_grid`` of :func:`als_trial` into ``store`` (a temporary one when None)."""
    if store is not None:
        return run_grid("als", store, grid=grid, seeds=tuple(seeds), fixed=fixed,
                        execution=execution)
    with tempfile.TemporaryDirectory(prefix="acml-mf-") as tmp:
        return run_grid("als", tmp, grid=grid, seeds=tuple(seeds), fixed=fixed,
                        execution=execution)


def _resolve(config, ratings: Ratings) -> tuple[dict, str]:
    """A study config's unset (None) settings filled from :func:`study_settings`."""
    check_choice(config.settings, "settings", {"auto", "notebook"})
    if config.settings == "auto":
        base, reason = study_settings(ratings)
    else:
        base, reason = study_settings(dataclasses.replace(ratings, layout="dense"))
        reason = "the notebook's settings, as asked"
    resolved = {k: getattr(config, k) if getattr(config, k, None) is not None else v
                for k, v in base.items()}
    resolved["bias_reg"] = config.bias_reg if config.bias_reg is not None else (
        1.0 if base["biases"] and base["reg_exponent"] > 0 else None)
    explicit = [k for k in base if getattr(config, k, None) is not None]
    if explicit:
        reason += f"; given explicitly: {', '.join(explicit)}"
    return resolved, reason


def _provenance(config, ratings: Ratings, reason: str, execution: Execution | None = None,
                **extra) -> dict:
    # Fits run with BLAS pinned to one thread (single_threaded_blas); the pools listed
    # under "threads" are the process's outside those blocks.
    return provenance(data=data_fingerprint(config.data, ratings), settings_reason=reason,
                      data_layout=ratings.layout, fit_blas_threads=1,
                      execution=dataclasses.asdict(execution) if execution else None, **extra)


def _trend(values: list[float]) -> str:
    """``"rises"``, ``"falls"`` or ``"mixed"``: the direction of a sequence, end to end and
    step by step (a flat step counts with either direction)."""
    steps = np.diff(values)
    if len(values) < 2:
        return "flat"
    if (steps >= 0).all():
        return "rises"
    if (steps <= 0).all():
        return "falls"
    return "mixed"


# -------------------------------------------------------- p, K, lambda studies
STUDY_PARAMETERS = {"p": "p", "k": "n_factors", "lambda": "reg"}
# Trial parameter of each study, and the settings entry holding its default values.
_TRIAL_NAMES = {"p": "p", "k": "n_factors", "lambda": "lam"}
_VALUE_SETTINGS = {"p": "p_values", "k": "k_values", "lambda": "lambdas"}


@dataclass(frozen=True)
class StudyConfig:
    """One of the notebook's one-parameter studies; ``values`` vary ``parameter``.

    Settings left at None come from ``settings``: ``"auto"`` takes
    :func:`~acmlkit.factorization.defaults.study_settings` of the data (the
    notebook's for a dense matrix, ratings settings for rating triples),
    ``"notebook"`` the notebook's whatever the data. ``reg`` penalises both
    factor sides (and the biases, unless ``bias_reg``), as in the notebook.
    ``methods`` run on the same splits and inits: ``"masked"`` is acmlkit's ALS,
    ``"notebook"`` the exercise's zero-filled one.
    """

    parameter: str = "p"
    values: tuple[float, ...] | None = None
    p: float | None = None
    n_factors: int | None = None
    reg: float | None = None
    bias_reg: float | None = None
    biases: bool | None = None
    reg_exponent: float | None = None
    max_iter: int | None = None
    methods: tuple[str, ...] = ("masked", "notebook")
    seeds: tuple[int, ...] = (0, 1, 2)
    settings: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)


def p_study_config(**changes) -> StudyConfig:
    """The notebook's p study: p in 0.1 ... 0.7 at K = 8, lambda = 0.01 (on its matrix)."""
    return StudyConfig(**changes)


def k_study_config(**changes) -> StudyConfig:
    """The notebook's K study: K in 4 ... 32 at p = 0.1, lambda = 0.01 (on its matrix)."""
    return StudyConfig(**{"parameter": "k", **changes})


def lambda_study_config(**changes) -> StudyConfig:
    """The notebook's lambda study: 0.01 ... 1 at K = 8, p = 0.1 (on its matrix)."""
    return StudyConfig(**{"parameter": "lambda", **changes})


@result_kind("mf.study")
@dataclass
class StudyResult(Result):
    """Per-run rows, their mean/std summary, per-sweep curves of the first seed, findings.

    ``settings`` are the settings that ran (None filled in) and ``settings_reason``
    why. ``findings`` per method: ``best_value`` (lowest mean test MSE),
    ``test_trend`` and ``train_trend`` (``"rises"``/``"falls"``/``"mixed"``/``"flat"``
    as the value grows), ``test_trend_before_best`` and ``test_trend_after_best``
    (the same up to and from the best value), ``mean_test_mse`` by value; and
    ``masked_beats_notebook`` (the values where masked ALS has the lower mean test MSE).
    """

    config: StudyConfig
    settings: dict
    settings_reason: str
    shape: list[int]
    n_observed: int
    rows: list[dict]
    summary: list[dict]
    curves: list[dict]
    findings: dict

    def tables(self) -> dict[str, list[dict]]:
        return {"summary.csv": self.summary, "runs.csv": self.rows}


def _check_study(config: StudyConfig) -> None:
    check_choice(config.parameter, "parameter", set(STUDY_PARAMETERS))
    if config.values is not None and not config.values:
        raise ValueError("values must list at least one setting to study")
    if not config.seeds:
        raise ValueError("seeds must list at least one seed")
    if not config.methods:
        raise ValueError("methods must list at least one method")
    for method in config.methods:
        check_choice(method, "methods", {"masked", "notebook"})
    _check_seeds(config.seeds)


def _check_seeds(seeds) -> None:
    for seed in seeds:
        check_int(seed, "seed", low=0)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (a repeated seed repeats the same run), got "
                         f"{list(seeds)}")


def _check_settings(settings: dict, values) -> None:
    check_p(settings["p"])
    check_int(settings["n_factors"], "K", low=1)
    check_real(settings["reg"], "lambda", low=0)
    if settings["bias_reg"] is not None:
        check_real(settings["bias_reg"], "bias_reg", low=0)
    check_real(settings["reg_exponent"], "reg_exponent", low=0, high=1)
    check_int(settings["max_iter"], "max_iter", low=1)
    for name, checks in values:
        for value in checks:
            {"p": check_p, "k": lambda v: check_int(v, "K", low=1),
             "lambda": lambda v: check_real(v, "lambda", low=0)}[name](value)


def _trial_settings(settings: dict) -> dict:
    return {"p": settings["p"], "n_factors": settings["n_factors"], "lam": settings["reg"],
            "bias_lam": settings["bias_reg"], "biases": settings["biases"],
            "reg_exponent": settings["reg_exponent"], "max_iter": settings["max_iter"]}


def run_study(config: StudyConfig, ratings: Ratings | None = None, *, out=None,
              execution: Execution = Execution()) -> StudyResult:
    """Fit every (method, value, seed) as a grid of trials and summarise over seeds.

    ``ratings`` must be what ``config.data`` loads (callers that hold it skip the
    read); ``out`` keeps the trial store (``out/trials``) so a rerun resumes.
    """
    _check_study(config)
    ratings = load_data(config.data) if ratings is None else ratings
    settings, reason = _resolve(config, ratings)
    values = tuple(config.values) if config.values is not None else tuple(
        settings[_VALUE_SETTINGS[config.parameter]])
    if not values:
        raise ValueError("values must list at least one setting to study")
    _check_settings(settings, [(config.parameter, values)])
    settings["values"] = values
    name = _TRIAL_NAMES[config.parameter]
    fixed = {**_trial_settings(settings), **_data_params(config.data), "curves": True}
    fixed.pop(name)
    rows = _grid_rows(fixed, {"method": list(config.methods), name: list(values)},
                      config.seeds, None if out is None else Path(out) / "trials", execution)
    curves = []
    for row in rows:
        row["value"] = row[name]
        curve_train, curve_test = row.pop("curve_train_mse"), row.pop("curve_test_mse")
        if row["seed"] == config.seeds[0]:
            curves.append({"method": row["method"], "value": row["value"],
                           "train_mse": curve_train, "test_mse": curve_test})
    metrics = ["train_mse", "test_mse", "train_rmse", "test_rmse", "test_mae",
               "cold_test_entries"]
    summary = summarise(rows, by=["method", "value"], metrics=metrics)
    result = StudyResult(
        config, settings, reason, list(ratings.shape), ratings.nnz, rows, summary, curves,
        _study_findings(summary, config.methods),
        provenance=_provenance(config, ratings, reason, execution),
    )
    if out is not None:
        result.save(out)
    return result


def _study_findings(summary: list[dict], methods) -> dict:
    findings: dict = {}
    for method in methods:
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["value"])
        test = [r["mean_test_mse"] for r in rows]
        best = int(np.argmin(test))
        findings[method] = {
            "best_value": rows[best]["value"],
            "best_mean_test_mse": float(min(test)),
            "test_trend": _trend(test),
            # "mixed" in detail: falls up to the best value, rises after it (overfitting
            # beyond it when the value is K, over-smoothing when it is lambda).
            "test_trend_before_best": _trend(test[:best + 1]),
            "test_trend_after_best": _trend(test[best:]),
            "train_trend": _trend([r["mean_train_mse"] for r in rows]),
            "mean_test_mse": {str(r["value"]): r["mean_test_mse"] for r in rows},
        }
    if {"masked", "notebook"} <= set(methods):
        by = {(r["method"], r["value"]): r["mean_test_mse"] for r in summary}
        findings["masked_beats_notebook"] = [
            v for (method, v) in by if method == "masked" and by[("masked", v)] < by[
                ("notebook", v)]]
    return findings


# ---------------------------------------------------------------- grid search
@dataclass(frozen=True)
class GridConfig:
    """K x lambda grid at one p, selected by validation error.

    For each seed the training side is split again into a fitting part and a
    validation part (``validation_fraction`` of the training entries); each
    grid point is fitted on the fitting part and scored on validation, the best
    is refitted on the whole training side and only then scored on test.
    Settings left at None come from ``settings`` as in :class:`StudyConfig`.
    """

    k_values: tuple[int, ...] | None = None
    lambdas: tuple[float, ...] | None = None
    p: float | None = None
    validation_fraction: float = 0.2
    bias_reg: float | None = None
    biases: bool | None = None
    reg_exponent: float | None = None
    max_iter: int | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    settings: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)


def grid_config(**changes) -> GridConfig:
    return GridConfig(**changes)


@result_kind("mf.grid")
@dataclass
class GridResult(Result):
    """Grid errors (mean over seeds, K rows x lambda columns) and the selections.

    ``notebook_pick_*`` applies the exercise's rule (lowest train error) to the
    same fits, to show what that rule would have chosen. ``findings``:
    ``best_k``/``best_lambda`` (lowest mean validation RMSE), ``test_by_k`` at
    the best lambda and ``test_by_lambda`` at the best K (mean test RMSE),
    ``test_trend_with_k`` and ``test_trend_with_lambda`` (``"rises"``/``"falls"``/
    ``"mixed"``), ``selected_beats_notebook_pick``.
    """

    config: GridConfig
    settings: dict
    settings_reason: str
    shape: list[int]
    k_values: list[int]
    lambdas: list[float]
    val_rmse: list[list[float]]
    test_rmse: list[list[float]]
    train_rmse: list[list[float]]
    selections: list[dict]
    best_k: int
    best_lambda: float
    mean_selected_test_rmse: float
    std_selected_test_rmse: float | None
    mean_notebook_pick_test_rmse: float
    std_notebook_pick_test_rmse: float | None
    table: list[dict]
    findings: dict

    def tables(self) -> dict[str, list[dict]]:
        return {"grid.csv": self.table, "selections.csv": self.selections}


def run_grid_study(config: GridConfig | None = None, ratings: Ratings | None = None, *,
                   out=None, execution: Execution = Execution()) -> GridResult:
    """Every (K, lambda, seed) fitted on the fitting part; the best per seed refitted."""
    config = config or GridConfig()
    if not config.seeds:
        raise ValueError("seeds must list at least one seed")
    _check_seeds(config.seeds)
    ratings = load_data(config.data) if ratings is None else ratings
    settings, reason = _resolve(config, ratings)
    k_values = tuple(config.k_values or settings["k_values"])
    lambdas = tuple(config.lambdas or settings["lambdas"])
    if not k_values or not lambdas:
        raise ValueError("k_values and lambdas must each list at least one value")
    settings.update(n_factors=k_values[0], reg=lambdas[0])
    _check_settings(settings, [("k", k_values), ("lambda", lambdas)])
    check_real(config.validation_fraction, "validation_fraction", low=0, high=1,
               low_open=True, high_open=True)
    settings.update(k_values=k_values, lambdas=lambdas)
    fixed = {**_trial_settings(settings), **_data_params(config.data), "method": "masked"}
    for name in ("n_factors", "lam"):
        fixed.pop(name)
    store = None if out is None else Path(out)
    rows = _grid_rows({**fixed, "validation_fraction": config.validation_fraction},
                      {"n_factors": list(k_values), "lam": list(lambdas)}, config.seeds,
                      None if store is None else store / "trials", execution)
    picks = {}
    for row in rows:
        best, naive = picks.get(row["seed"], (row, row))
        picks[row["seed"]] = (min(best, row, key=lambda r: r["val_rmse"]),
                              min(naive, row, key=lambda r: r["train_rmse"]))
    # Refit each choice on the whole training side: one grid per chosen (K, lambda),
    # over the seeds that chose it.
    choices: dict[tuple, list[int]] = {}
    for seed, (best, _) in picks.items():
        choices.setdefault((best["n_factors"], best["lam"]), []).append(seed)
    refits = {}
    for (K, lam), seeds in choices.items():
        for row in _grid_rows({**fixed, "lam": lam}, {"n_factors": [K]}, seeds,
                              None if store is None else store / "trials", execution):
            refits[row["seed"]] = row
    selections = [{
        "seed": seed, "k": best["n_factors"], "lambda": best["lam"],
        "val_rmse": best["val_rmse"], "test_rmse": refits[seed]["test_rmse"],
        "notebook_pick_k": naive["n_factors"], "notebook_pick_lambda": naive["lam"],
        "notebook_pick_test_rmse": naive["test_rmse"],
    } for seed, (best, naive) in picks.items()]
    summary = summarise(rows, by=["n_factors", "lam"],
                        metrics=["val_rmse", "test_rmse", "train_rmse"])
    mean = {(r["n_factors"], r["lam"]): r for r in summary}
    matrix = {m: [[mean[(K, lam)][f"mean_{m}"] for lam in lambdas] for K in k_values]
              for m in ("val_rmse", "test_rmse", "train_rmse")}
    val = np.array(matrix["val_rmse"])
    a, b = np.unravel_index(np.argmin(val), val.shape)
    table = [{"k": K, "lambda": lam, "mean_val_rmse": mean[(K, lam)]["mean_val_rmse"],
              "mean_test_rmse": mean[(K, lam)]["mean_test_rmse"],
              "std_test_rmse": mean[(K, lam)]["std_test_rmse"],
              "mean_train_rmse": mean[(K, lam)]["mean_train_rmse"]}
             for K in k_values for lam in lambdas]
    chosen = summarise(selections, by=[], metrics=["test_rmse", "notebook_pick_test_rmse"])[0]
    test = np.array(matrix["test_rmse"])
    findings = {
        "best_k": int(k_values[a]), "best_lambda": float(lambdas[b]),
        "test_by_k": [float(v) for v in test[:, b]],
        "test_by_lambda": [float(v) for v in test[a, :]],
        "test_trend_with_k": _trend(list(test[:, b])),
        "test_trend_with_lambda": _trend(list(test[a, :])),
        "train_trend_with_k": _trend(list(np.array(matrix["train_rmse"])[:, b])),
        "selected_beats_notebook_pick": bool(
            chosen["mean_test_rmse"] < chosen["mean_notebook_pick_test_rmse"]),
    }
    result = GridResult(
        config, settings, reason, list(ratings.shape), list(k_values), list(lambdas),
        matrix["val_rmse"], matrix["test_rmse"], matrix["train_rmse"], selections,
        findings["best_k"], findings["best_lambda"], chosen["mean_test_rmse"],
        chosen["std_test_rmse"], chosen["mean_notebook_pick_test_rmse"],
        chosen["std_notebook_pick_test_rmse"], table, findings,
        provenance=_provenance(config, ratings, reason, execution),
    )
    if out is not None:
        result.save(out)
    return result


# -------------------------------------------------------------------- one fit
@dataclass(frozen=True)
class FitConfig:
    """One ALS fit scored on a held-out split (``acml mf fit``).

    Model settings left at None are chosen from the data by :class:`ALS`
    (:func:`~acmlkit.factorization.defaults.fit_defaults`); ``u_lambda="auto"``
    picks the penalty on entries carved from the training side. ``clip="auto"``
    clips predictions of rating triples to the training ratings' range (none
    for a dense matrix). The damped-bias baseline is fitted on every split beside.
    """

    split: str = "bernoulli"
    p: float = 0.8
    n_folds: int = 5
    holdout: float = 0.2
    n_factors: int | None = None
    u_lambda: float | str | None = None
    v_lambda: float | str | None = None
    bias_lambda: float | None = None
    biases: bool | None = None
    reg_exponent: float | None = None
    method: str = "masked"
    max_iter: int | None = None
    tol: float = 1e-6
    early_stopping: bool = False
    n_init: int | None = None
    dtype: str = "float64"
    clip: tuple[float, float] | str | None = "auto"
    ranking_k: int = 10
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)


@result_kind("mf.fit")
@dataclass
class FitResult(Result):
    """Per-fold metrics (one fold unless ``split="kfold"``), the first fold's history,
    the settings that ran and why, and the damped-bias baseline on the same splits."""

    config: FitConfig
    params: dict
    defaults_reason: str
    clip: list[float] | None
    shape: list[int]
    folds: list[dict]
    mean_test_rmse: float
    std_test_rmse: float | None
    mean_test_mae: float
    mean_baseline_test_rmse: float
    lambda_scores: list[dict]
    history: list[dict]

    def tables(self) -> dict[str, list[dict]]:
        return {"folds.csv": self.folds, "history.csv": self.history}


def fit_splits(ratings: Ratings, config: FitConfig) -> list[Split]:
    """The splits a fit with ``config`` uses (one, or ``n_folds`` for k-fold)."""
    check_choice(config.split, "split", {"bernoulli", "kfold", "user"})
    rng = RunContext(config.seed).stream("split")
    if config.split == "bernoulli":
        return [bernoulli_split(ratings, config.p, rng)]
    if config.split == "kfold":
        return kfold_splits(ratings, config.n_folds, rng)
    return [user_holdout_split(ratings, config.holdout, rng)]


def fit_clip(config: FitConfig, train: Ratings) -> tuple[float, float] | None:
    """The clip bounds a fit applies: given, the training range for ratings, or none."""
    if config.clip == "auto":
        return (float(train.values.min()), float(train.values.max())) if is_ratings(
            train) else None
    if config.clip is None:
        return None
    low, high = config.clip
    for bound in (low, high):
        if not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise ValueError(f"clip bounds must be finite numbers, got {config.clip!r}")
    if low >= high:
        raise ValueError(f"clip needs LOW < HIGH, got {config.clip!r}")
    return float(low), float(high)


def _fit_model(config: FitConfig, rng) -> ALS:
    return ALS(
        n_factors=config.n_factors, u_lambda=config.u_lambda, v_lambda=config.v_lambda,
        bias_lambda=config.bias_lambda, biases=config.biases, reg_exponent=config.reg_exponent,
        method=config.method, max_iter=config.max_iter, tol=config.tol,
        early_stopping=config.early_stopping, n_init=config.n_init, dtype=config.dtype,
        random_state=rng,
    )


def run_fit(config: FitConfig, ratings: Ratings | None = None, *, out=None
            ) -> tuple[FitResult, ALS]:
    """Fit on every split of ``config``; the result and the first fold's model."""
    ratings = load_data(config.data) if ratings is None else ratings
    check_int(config.ranking_k, "ranking_k", low=1)
    check_int(config.seed, "seed", low=0)
    splits = fit_splits(ratings, config)
    folds, first = [], None
    with single_threaded_blas():
        for k, split in enumerate(splits):
            train, test = split.apply(ratings)
            clip = fit_clip(config, train)
            model = _fit_model(config, RunContext(config.seed).stream("init"))
            start = time.perf_counter()
            model.fit(train, test=test if k == 0 else None)
            seconds = time.perf_counter() - start
            metrics = split_metrics(model, train, test, clip=clip)
            baseline = DampedBaseline().fit(train)
            base_pred = baseline.predict_pairs(test.rows, test.cols)
            if clip is not None:
                base_pred = np.clip(base_pred, *clip)
            rank_k = min(config.ranking_k, ratings.shape[1])
            folds.append({
                "fold": k, "n_train": train.nnz, "n_test": test.nnz,
                "train_rmse": metrics["train_rmse"], "test_rmse": metrics["test_rmse"],
                "test_mae": metrics["test_mae"],
                "baseline_test_rmse": rmse(test.values, base_pred, "baseline test RMSE"),
                **{f"{name}": value for name, value in ranking_metrics(
                    model, train, test, rank_k).items() if name != "n_ranked_users"},
                "n_iter": model.n_iter_, "seconds": seconds,
                **{c: metrics[c] for c in ("cold_rows", "cold_cols", "cold_test_entries")},
            })
            first = first or (model, clip)
    model, clip = first
    test_rmse = summarise(folds, by=[], metrics=["test_rmse", "test_mae",
                                                 "baseline_test_rmse"])[0]
    # The generator the model drew from is the run's "init" stream, recorded by the seed.
    params = {k: v for k, v in model.params_.items() if k != "random_state"}
    result = FitResult(
        config, params, model.defaults_reason_,
        None if clip is None else list(clip), list(ratings.shape), folds,
        test_rmse["mean_test_rmse"], test_rmse["std_test_rmse"], test_rmse["mean_test_mae"],
        test_rmse["mean_baseline_test_rmse"], model.lambda_scores_, model.history_,
        provenance=_provenance(config, ratings, model.defaults_reason_),
    )
    if out is not None:
        result.save(out)
    return result, model


def run(config, out=None, *, ratings: Ratings | None = None,
        execution: Execution = Execution()) -> Result:
    """The part's protocol: a config in, its Result out (written to ``out`` when given)."""
    if isinstance(config, StudyConfig):
        return run_study(config, ratings, out=out, execution=execution)
    if isinstance(config, GridConfig):
        return run_grid_study(config, ratings, out=out, execution=execution)
    if isinstance(config, FitConfig):
        return run_fit(config, ratings, out=out)[0]
    raise TypeError(f"config must be a StudyConfig, GridConfig or FitConfig, got "
                    f"{type(config).__name__}")


def load_mf_result(path: str | Path) -> StudyResult | GridResult | FitResult:
    """A saved factorisation result; another part's result is a one-line DataError."""
    return load_result(path, expect="mf.")
