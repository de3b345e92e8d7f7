"""The notebook's matrix-completion studies, repeated over seeds.

Each study takes one frozen config and returns a result that saves as JSON
(plus CSV tables); :mod:`acmlkit.factorization.figures` draws from saved
results only. Every seed gives one split (the notebook's Bernoulli mask over
observed entries) and one initialisation stream, shared by all settings of a
study so that settings are compared on the same data.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acmlkit.factorization.als import ALS, rmse
from acmlkit.factorization.data import (
    Ratings,
    load_movielens,
    read_dense_csv,
    read_ratings,
    sniff_format,
    synthetic,
)
from acmlkit.factorization.splits import (
    Split,
    bernoulli_split,
    carve_validation,
    check_p,
    cold_start_counts,
    kfold_splits,
    user_holdout_split,
)
from acmlkit.results import from_dict, load_json, save_csv, save_json
from acmlkit.rng import RunContext, spawn_generators
from acmlkit.validation import check_choice, check_int, check_real


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


def _seed_streams(seed: int) -> tuple[int, int]:
    """Independent integer seeds for the split and the initialisation of one run."""
    gens = spawn_generators(seed, ["split", "init"])
    return int(gens["split"].integers(2**32)), int(gens["init"].integers(2**32))


def _save(result, folder: str | Path, tables: dict[str, list[dict]]) -> Path:
    """``result.json`` (everything, for figures and ``load_result``) plus CSV tables."""
    folder = Path(folder)
    save_json(result, folder / "result.json")
    for name, rows in tables.items():
        save_csv(rows, folder / name)
    return folder / "result.json"


def split_metrics(model: ALS, train: Ratings, test: Ratings) -> dict:
    """A fitted model's train and test MSE and RMSE, test MAE and cold-start counts."""
    train_mse = float(np.mean((train.values - model.predict(train)) ** 2))
    test_pred = model.predict(test)
    test_mse = float(np.mean((test.values - test_pred) ** 2))
    return {
        "train_mse": train_mse,
        "test_mse": test_mse,
        "train_rmse": float(np.sqrt(train_mse)),
        "test_rmse": float(np.sqrt(test_mse)),
        "test_mae": float(np.mean(np.abs(test.values - test_pred))),
        **cold_start_counts(train, test),
    }


def _summarise(rows: list[dict], keys: tuple[str, ...]) -> list[dict]:
    """Mean and (population) std over seeds of each metric, per group of ``keys``."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    summary = []
    for group, members in groups.items():
        entry = dict(zip(keys, group))
        entry["n_seeds"] = len(members)
        for metric in ("train_mse", "test_mse", "train_rmse", "test_rmse"):
            values = np.array([r[metric] for r in members])
            entry[f"mean_{metric}"] = float(values.mean())
            entry[f"std_{metric}"] = float(values.std())
        entry["mean_cold_test_entries"] = float(np.mean([r["cold_test_entries"] for r in members]))
        summary.append(entry)
    return summary


# -------------------------------------------------------- p, K, lambda studies
STUDY_PARAMETERS = {"p": "p", "k": "n_factors", "lambda": "reg"}


@dataclass(frozen=True)
class StudyConfig:
    """One of the notebook's one-parameter studies; ``values`` vary ``parameter``.

    ``reg`` is used for both ``u_lambda`` and ``v_lambda`` (and the biases when
    ``biases``), as in the notebook. ``methods`` run on the same splits and
    inits: ``"masked"`` is acmlkit's ALS, ``"notebook"`` the exercise's
    zero-filled one.
    """

    parameter: str = "p"
    values: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
    p: float = 0.1
    n_factors: int = 8
    reg: float = 0.01
    biases: bool = False
    n_iter: int = 30
    methods: tuple[str, ...] = ("masked", "notebook")
    seeds: tuple[int, ...] = (0, 1, 2)
    data: DataConfig = field(default_factory=DataConfig)


def p_study_config(**changes) -> StudyConfig:
    """The notebook's p study: p in 0.1 ... 0.7 at K = 8, lambda = 0.01."""
    return dataclasses.replace(StudyConfig(), **changes)


def k_study_config(**changes) -> StudyConfig:
    """The notebook's K study: K in 4 ... 32 at p = 0.1, lambda = 0.01."""
    return dataclasses.replace(
        StudyConfig(parameter="k", values=(4, 8, 16, 32)), **changes
    )


def lambda_study_config(**changes) -> StudyConfig:
    """The notebook's lambda study: 0.01 ... 1 at K = 8, p = 0.1."""
    return dataclasses.replace(
        StudyConfig(parameter="lambda", values=(0.01, 0.1, 0.25, 0.5, 1.0)), **changes
    )


@dataclass
class StudyResult:
    """Per-run rows, their mean/std summary and per-sweep curves of the first seed."""

    config: StudyConfig
    shape: list[int]
    n_observed: int
    rows: list[dict]
    summary: list[dict]
    curves: list[dict]

    def save(self, folder: str | Path) -> Path:
        return _save(self, folder, {"summary.csv": self.summary, "runs.csv": self.rows})


def _check_study(config: StudyConfig) -> None:
    check_choice(config.parameter, "parameter", set(STUDY_PARAMETERS))
    if not config.values:
        raise ValueError("values must list at least one setting to study")
    if not config.seeds:
        raise ValueError("seeds must list at least one seed")
    for method in config.methods:
        check_choice(method, "methods", {"masked", "notebook"})
    check_p(config.p)
    check_int(config.n_factors, "K", low=1)
    check_real(config.reg, "lambda", low=0)
    check_int(config.n_iter, "n_iter", low=1)
    for value in config.values:
        if config.parameter == "p":
            check_p(value)
        elif config.parameter == "k":
            check_int(value, "K", low=1)
        else:
            check_real(value, "lambda", low=0)


def run_study(config: StudyConfig, ratings: Ratings | None = None) -> StudyResult:
    """Fit every (method, value, seed) and score train and test MSE.

    ``ratings`` overrides ``config.data`` (for callers that already hold the data).
    """
    _check_study(config)
    ratings = load_data(config.data) if ratings is None else ratings
    with single_threaded_blas():
        return _run_study(config, ratings)


def _run_study(config: StudyConfig, ratings: Ratings) -> StudyResult:
    rows, curves = [], []
    for seed in config.seeds:
        split_seed, init_seed = _seed_streams(seed)
        for value in config.values:
            settings = {"p": config.p, "n_factors": config.n_factors, "reg": config.reg}
            settings[STUDY_PARAMETERS[config.parameter]] = value
            train, test = bernoulli_split(ratings, settings["p"], split_seed).apply(ratings)
            for method in config.methods:
                model = ALS(
                    n_factors=int(settings["n_factors"]), u_lambda=settings["reg"],
                    v_lambda=settings["reg"], bias_lambda=settings["reg"],
                    biases=config.biases, method=method, max_iter=config.n_iter, tol=0.0,
                    random_state=init_seed,
                )
                start = time.perf_counter()
                # Per-sweep test errors are drawn for the first seed only: scoring
                # every sweep would cost more than fitting.
                model.fit(train, test=test if seed == config.seeds[0] else None)
                row = {"method": method, "value": value, "seed": seed,
                       **split_metrics(model, train, test),
                       "seconds": time.perf_counter() - start}
                rows.append(row)
                if seed == config.seeds[0]:
                    curves.append({
                        "method": method, "value": value,
                        "train_mse": [h["train_mse"] for h in model.history_],
                        "test_mse": [h["test_mse"] for h in model.history_],
                    })
    return StudyResult(config, list(ratings.shape), ratings.nnz, rows,
                       _summarise(rows, ("method", "value")), curves)


def run_p_study(config: StudyConfig | None = None) -> StudyResult:
    return run_study(config or p_study_config())


def run_k_study(config: StudyConfig | None = None) -> StudyResult:
    return run_study(config or k_study_config())


def run_lambda_study(config: StudyConfig | None = None) -> StudyResult:
    return run_study(config or lambda_study_config())


# ---------------------------------------------------------------- grid search
@dataclass(frozen=True)
class GridConfig:
    """K x lambda grid at one p, selected by validation error.

    For each seed the training side is split again into a fitting part and a
    validation part (``validation_fraction`` of the training entries); each
    grid point is fitted on the fitting part and scored on validation, the best
    is refitted on the whole training side and only then scored on test.
    """

    k_values: tuple[int, ...] = (2, 4, 6, 8, 10)
    lambdas: tuple[float, ...] = (0.01, 0.1, 0.5, 1.0, 10.0)
    p: float = 0.1
    validation_fraction: float = 0.2
    biases: bool = False
    n_iter: int = 30
    seeds: tuple[int, ...] = (0, 1, 2)
    data: DataConfig = field(default_factory=DataConfig)


@dataclass
class GridResult:
    """Grid errors (mean over seeds, K rows x lambda columns) and the selections.

    ``notebook_pick_*`` applies the exercise's rule (lowest train error) to the
    same fits, to show what that rule would have chosen.
    """

    config: GridConfig
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
    std_selected_test_rmse: float
    mean_notebook_pick_test_rmse: float
    std_notebook_pick_test_rmse: float
    table: list[dict] = field(default_factory=list)

    def save(self, folder: str | Path) -> Path:
        return _save(self, folder, {"grid.csv": self.table, "selections.csv": self.selections})


def run_grid(config: GridConfig | None = None, ratings: Ratings | None = None) -> GridResult:
    config = config or GridConfig()
    if not config.k_values or not config.lambdas or not config.seeds:
        raise ValueError("k_values, lambdas and seeds must each list at least one value")
    for K in config.k_values:
        check_int(K, "K", low=1)
    for lam in config.lambdas:
        check_real(lam, "lambda", low=0)
    check_p(config.p)
    ratings = load_data(config.data) if ratings is None else ratings
    with single_threaded_blas():
        return _run_grid(config, ratings)


def _run_grid(config: GridConfig, ratings: Ratings) -> GridResult:
    shape = (len(config.k_values), len(config.lambdas), len(config.seeds))
    val, test_err, train_err = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    selections = []

    def model(K, lam, seed):
        return ALS(n_factors=K, u_lambda=lam, v_lambda=lam, bias_lambda=lam,
                   biases=config.biases, max_iter=config.n_iter, tol=0.0, random_state=seed)

    for s, seed in enumerate(config.seeds):
        split_seed, init_seed = _seed_streams(seed)
        split = bernoulli_split(ratings, config.p, split_seed)
        fit_idx, val_idx = carve_validation(split.train, config.validation_fraction,
                                            split_seed + 1)
        train, test = split.apply(ratings)
        fit_part, val_part = ratings.subset(fit_idx), ratings.subset(val_idx)
        for a, K in enumerate(config.k_values):
            for b, lam in enumerate(config.lambdas):
                m = model(K, lam, init_seed).fit(fit_part)
                val[a, b, s] = rmse(val_part.values, m.predict(val_part))
                # Test errors of every grid point are kept for the heatmap only;
                # they never enter the selection.
                test_err[a, b, s] = rmse(test.values, m.predict(test))
                train_err[a, b, s] = rmse(fit_part.values, m.predict(fit_part))
        a, b = np.unravel_index(np.argmin(val[:, :, s]), val.shape[:2])
        best = model(config.k_values[a], config.lambdas[b], init_seed).fit(train)
        na, nb = np.unravel_index(np.argmin(train_err[:, :, s]), val.shape[:2])
        selections.append({
            "seed": seed, "k": config.k_values[a], "lambda": config.lambdas[b],
            "val_rmse": val[a, b, s], "test_rmse": rmse(test.values, best.predict(test)),
            "notebook_pick_k": config.k_values[na],
            "notebook_pick_lambda": config.lambdas[nb],
            "notebook_pick_test_rmse": test_err[na, nb, s],
        })
    mean_val = val.mean(axis=2)
    a, b = np.unravel_index(np.argmin(mean_val), mean_val.shape)
    table = [
        {"k": K, "lambda": lam, "mean_val_rmse": mean_val[i, j],
         "mean_test_rmse": test_err[i, j].mean(), "std_test_rmse": test_err[i, j].std(),
         "mean_train_rmse": train_err[i, j].mean()}
        for i, K in enumerate(config.k_values) for j, lam in enumerate(config.lambdas)
    ]
    chosen = np.array([sel["test_rmse"] for sel in selections])
    picked = np.array([sel["notebook_pick_test_rmse"] for sel in selections])
    return GridResult(
        config, list(ratings.shape), list(config.k_values), list(config.lambdas),
        mean_val.tolist(), test_err.mean(axis=2).tolist(), train_err.mean(axis=2).tolist(),
        selections, int(config.k_values[a]), float(config.lambdas[b]),
        float(chosen.mean()), float(chosen.std()), float(picked.mean()), float(picked.std()),
        table,
    )


# -------------------------------------------------------------------- one fit
@dataclass(frozen=True)
class FitConfig:
    """One ALS fit scored on a held-out split (``acml mf fit``)."""

    split: str = "bernoulli"
    p: float = 0.8
    n_folds: int = 5
    holdout: float = 0.2
    n_factors: int = 8
    u_lambda: float = 0.1
    v_lambda: float = 0.1
    bias_lambda: float = 1.0
    biases: bool = True
    reg_exponent: float = 0.0
    method: str = "masked"
    max_iter: int = 30
    tol: float = 1e-6
    early_stopping: bool = False
    n_init: int = 1
    dtype: str = "float64"
    clip: tuple[float, float] | None = None
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)


@dataclass
class FitResult:
    """Per-fold metrics (one fold unless ``split="kfold"``) and the first fold's history."""

    config: FitConfig
    shape: list[int]
    folds: list[dict]
    mean_test_rmse: float
    std_test_rmse: float
    mean_test_mae: float
    history: list[dict]

    def save(self, folder: str | Path) -> Path:
        return _save(self, folder, {"folds.csv": self.folds, "history.csv": self.history})


def fit_splits(ratings: Ratings, config: FitConfig) -> list[Split]:
    """The splits a fit with ``config`` uses (one, or ``n_folds`` for k-fold)."""
    check_choice(config.split, "split", {"bernoulli", "kfold", "user"})
    seed = _seed_streams(config.seed)[0]
    if config.split == "bernoulli":
        return [bernoulli_split(ratings, config.p, seed)]
    if config.split == "kfold":
        return kfold_splits(ratings, config.n_folds, seed)
    return [user_holdout_split(ratings, config.holdout, seed)]


def run_fit(config: FitConfig, ratings: Ratings | None = None) -> tuple[FitResult, ALS]:
    """Fit on every split of ``config`` and return the result and the first fold's model."""
    ratings = load_data(config.data) if ratings is None else ratings
    with single_threaded_blas():
        return _run_fit(config, ratings)


def _run_fit(config: FitConfig, ratings: Ratings) -> tuple[FitResult, ALS]:
    init_seed = _seed_streams(config.seed)[1]
    folds, first = [], None
    for k, split in enumerate(fit_splits(ratings, config)):
        train, test = split.apply(ratings)
        model = ALS(
            n_factors=config.n_factors, u_lambda=config.u_lambda, v_lambda=config.v_lambda,
            bias_lambda=config.bias_lambda, biases=config.biases, reg_exponent=config.reg_exponent,
            method=config.method, max_iter=config.max_iter, tol=config.tol,
            early_stopping=config.early_stopping, n_init=config.n_init, dtype=config.dtype,
            random_state=init_seed,
        )
        start = time.perf_counter()
        model.fit(train, test=test if k == 0 else None)
        seconds = time.perf_counter() - start
        pred = model.predict(test)
        if config.clip is not None:
            pred = np.clip(pred, *config.clip)
        folds.append({
            "fold": k, "n_train": train.nnz, "n_test": test.nnz,
            "train_rmse": rmse(train.values, model.predict(train)),
            "test_rmse": rmse(test.values, pred),
            "test_mae": float(np.mean(np.abs(test.values - pred))),
            "n_iter": model.n_iter_, "seconds": seconds, **cold_start_counts(train, test),
        })
        first = first or model
    test_rmse = np.array([f["test_rmse"] for f in folds])
    result = FitResult(config, list(ratings.shape), folds, float(test_rmse.mean()),
                       float(test_rmse.std()), float(np.mean([f["test_mae"] for f in folds])),
                       first.history_)
    return result, first


# ------------------------------------------------------------------ load back
def load_result(path: str | Path) -> StudyResult | GridResult | FitResult:
    """Rebuild a saved result (study, grid or fit) from its ``result.json``."""
    data = load_json(path)
    config = data.get("config", {})
    data_config = from_dict(DataConfig, config.get("data", {}))
    if "k_values" in data:
        cls, config_cls = GridResult, GridConfig
    elif "folds" in data:
        cls, config_cls = FitResult, FitConfig
    elif "curves" in data:
        cls, config_cls = StudyResult, StudyConfig
    else:
        raise ValueError(f"{path} is not a saved matrix-factorisation result")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in fields}
    values["data"] = data_config
    data["config"] = config_cls(**values)
    return from_dict(cls, data)


# ---------------------------------------------------------- sweep trials
def als_trial(
    *,
    seed: int,
    p: float = 0.5,
    n_factors: int = 8,
    lam: float = 0.1,
    method: str = "masked",
    max_iter: int = 30,
    m: int = 375,
    n: int = 500,
    rank: int = 8,
    noise: float = 0.1,
    data_seed: int = 0,
) -> dict:
    """ALS on the package's synthetic matrix: train on a Bernoulli(p) share, test on the rest.

    The matrix depends on ``data_seed`` only, so seeds vary the split and the
    initialisation over one fixed matrix.
    """
    ratings = synthetic(m, n, rank=rank, noise=noise, seed=data_seed)
    ctx = RunContext(seed)
    train, test = bernoulli_split(ratings, p, seed=ctx.stream("split")).apply(ratings)
    model = ALS(
        n_factors=n_factors,
        u_lambda=lam,
        v_lambda=lam,
        method=method,
        max_iter=max_iter,
        random_state=ctx.stream("init"),
    ).fit(train)
    return {**split_metrics(model, train, test), "n_iter": model.n_iter_}
