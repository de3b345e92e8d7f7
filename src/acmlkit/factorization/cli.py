"""``acml mf``: ALS fits, the notebook's studies and figures redrawn from saved results.

Only the standard library and typer are imported here; each command imports
numpy, the experiments and the figures itself, so ``acml --help`` stays fast.
"""

from __future__ import annotations

import csv
import enum
import io
import math
from pathlib import Path

import typer

# The grid flags of `acml sweep`, one spelling everywhere (that module is stdlib + typer too).
from acmlkit.sweeps.cli import CLUSTER_OPTION, JOBS_OPTION, SCHEDULER_OPTION

app = typer.Typer(no_args_is_help=True, help="Matrix completion by alternating least squares.")

_SOURCE_HELP = ("'synthetic' (375 x 500, rank 8), 'movielens-100k', 'movielens-1m' (downloaded "
                "and checksummed), or a file: dense CSV without header, u.data, ratings.dat, "
                "or CSV with header userId,movieId,rating[,timestamp].")
_AUTO = "(default: chosen from the data; see the output)"



class Format(enum.StrEnum):
    auto = "auto"
    dense = "dense"
    ratings = "ratings"


class Duplicates(enum.StrEnum):
    reject = "reject"
    average = "average"


class SplitKind(enum.StrEnum):
    bernoulli = "bernoulli"
    kfold = "kfold"
    user = "user"


class Method(enum.StrEnum):
    masked = "masked"
    notebook = "notebook"


class ModelKind(enum.StrEnum):
    als = "als"
    bayes = "bayes"


class Dtype(enum.StrEnum):
    float64 = "float64"
    float32 = "float32"


class Study(enum.StrEnum):
    p = "p"
    k = "k"
    lam = "lambda"
    grid = "grid"


class Settings(enum.StrEnum):
    auto = "auto"
    notebook = "notebook"


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {text!r}")
    return value


def _numbers(text: str | None, name: str, cast=float) -> tuple | None:
    if text is None:
        return None
    try:
        values = tuple(cast(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must list at least one value, got {text!r}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} must list finite numbers, got {text!r}")
    return values


def _clip(text: str) -> tuple[float, float] | str | None:
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    low, sep, high = text.partition(":")
    if not sep:
        raise ValueError(f"--clip must be auto, none or LOW:HIGH (e.g. 1:5), got {text!r}")
    bounds = (_number(low, "--clip LOW"), _number(high, "--clip HIGH"))
    if bounds[0] >= bounds[1]:
        raise ValueError(f"--clip needs LOW < HIGH, got {text!r}")
    return bounds


def _lambda(text: str | None) -> float | str | None:
    if text is None or text == "auto":
        return text
    return _number(text, "--lambda")


def _g(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _data_config(source, fmt, zero_is_missing, duplicates):
    from acmlkit.factorization import experiments

    return experiments.DataConfig(source=source, format=fmt.value, zero_is_missing=zero_is_missing,
                                  duplicates=duplicates.value)


@app.command("fit")
def fit_cmd(
    source: str = typer.Argument("synthetic", help=_SOURCE_HELP),
    model: ModelKind = typer.Option(
        ModelKind.als, "--model",
        help="als, or bayes (Gibbs-sampled BPMF with predictive intervals)."),
    fmt: Format = typer.Option(Format.auto, "--format", help="How to read a file."),
    zero_is_missing: bool = typer.Option(
        False, help="Dense CSV: treat 0 as missing (the notebook's reading)."),
    duplicates: Duplicates = typer.Option(Duplicates.reject, help="Repeated (user, item)."),
    split: SplitKind = typer.Option(
        SplitKind.bernoulli, help="bernoulli (share --p trains), kfold or user (per-user)."),
    p: float = typer.Option(0.8, help="Share of observed entries used for training."),
    folds: int = typer.Option(5, help="Folds for --split kfold."),
    holdout: float = typer.Option(0.2, help="Share of each user's entries held out (user)."),
    k: int | None = typer.Option(None, "-k", "--factors", help=f"Rank K {_AUTO}."),
    lam: str | None = typer.Option(
        None, "--lambda",
        help=f"Penalty of both factor sides, or 'auto' (validation on training entries) {_AUTO}."),
    u_lambda: float | None = typer.Option(None, help="Penalty on the row (user) factors."),
    v_lambda: float | None = typer.Option(None, help="Penalty on the column (item) factors."),
    bias_lambda: float | None = typer.Option(None, help=f"Penalty on the biases {_AUTO}."),
    biases: bool | None = typer.Option(
        None, "--biases/--no-biases", help=f"Fit the global mean and row/column biases {_AUTO}."),
    reg_exponent: float | None = typer.Option(
        None, help=f"Penalties scaled by entry counts to this power; 1 is ALS-WR {_AUTO}."),
    method: Method = typer.Option(
        Method.masked, help="masked, or notebook (zeros as data; for comparison)."),
    max_iter: int | None = typer.Option(None, "--max-iter", help=f"Sweeps {_AUTO}."),
    iterations: int | None = typer.Option(None, "--iterations", hidden=True),
    tol: float = typer.Option(1e-6, help="Stop when the objective falls by less (relative)."),
    early_stopping: bool = typer.Option(
        False, help="Stop on a validation split carved from the training entries."),
    n_init: int | None = typer.Option(
        None, help=f"Average the predictions of this many inits {_AUTO}."),
    dtype: Dtype = typer.Option(Dtype.float64, help="Floating-point type of the factors."),
    clip: str = typer.Option(
        "auto", help="Clip predictions: auto (ratings: their range; dense: none), none or "
                     "LOW:HIGH."),
    ranking_k: int = typer.Option(10, help="k of precision/recall/NDCG at k."),
    seed: int = typer.Option(0, help="Seed of the run (split and initialisation)."),
    out: Path = typer.Option(Path("out/mf-fit"), "--out", "-o",
                             help="Folder for results, model and figure."),
) -> None:
    """Fit ALS on a matrix and score it on held-out entries beside a damped-bias baseline."""
    from acmlkit.factorization import experiments, figures
    from acmlkit.plotting import save_figure
    from acmlkit.results import save_json

    if lam is not None and (u_lambda is not None or v_lambda is not None):
        raise ValueError("give --lambda or --u-lambda/--v-lambda, not both")
    both = _lambda(lam)
    config = experiments.FitConfig(
        split=split.value, p=p, n_folds=folds, holdout=holdout, n_factors=k,
        u_lambda=both if lam is not None else u_lambda,
        v_lambda=both if lam is not None else v_lambda,
        bias_lambda=bias_lambda, biases=biases, reg_exponent=reg_exponent,
        method=method.value, max_iter=max_iter if max_iter is not None else iterations,
        tol=tol, early_stopping=early_stopping, n_init=n_init, dtype=dtype.value,
        clip=_clip(clip), ranking_k=ranking_k, seed=seed,
        data=_data_config(source, fmt, zero_is_missing, duplicates),
    )
    ratings = experiments.load_data(config.data)
    if model is ModelKind.bayes:
        from acmlkit.factorization import bayes

        train, test = experiments.fit_splits(ratings, config)[0].apply(ratings)
        summary = bayes.fit_and_score(train, test, n_factors=k or 10,
                                      n_samples=config.max_iter or 150, seed=seed,
                                      clip=experiments.fit_clip(config, train), out=out)
        for line in bayes.summary_lines(summary):
            typer.echo(line)
        return
    save_json(config, out / "config.json")
    result, model = experiments.run_fit(config, ratings, out=out)
    model.save(out / "model.npz")
    save_figure(figures.plot_fit_history(result), out / "history.png")
    _write_predictions(model, ratings, config, result.clip, out / "test_predictions.csv")
    m, n = result.shape
    params = result.params
    typer.echo(f"{m} x {n} matrix, {ratings.nnz} observed entries; split {config.split}")
    typer.echo(f"defaults: {result.defaults_reason}")
    if params["u_lambda"] == "baseline":
        typer.echo("ran: the damped-bias baseline (no factors): no factor model beat it on the "
                   "held-out training entries by more than one standard error")
    else:
            typer.echo(f"ran: K = {params['n_factors']}, lambda = {params['u_lambda']:g} (u) / "
                   f"{params['v_lambda']:g} (v), bias lambda = {params['bias_lambda']:g}, "
                   f"biases {'on' if params['biases'] else 'off'}, count exponent "
                   f"{params['reg_exponent']:g}, {params['n_init']} init(s), "
                   f"{params['max_iter']} sweeps max")
    if result.clip is not None:
        typer.echo(f"predictions clipped to [{result.clip[0]:g}, {result.clip[1]:g}]")
    if result.lambda_scores:
        typer.echo("lambda chosen by validation RMSE on held-out training entries: "
                   + ", ".join(f"{_g(s['lambda'])} -> {s['val_rmse']:.4f}"
                               for s in result.lambda_scores))
    typer.echo(f"{'fold':>4} {'train':>7} {'test':>7} {'train RMSE':>11} {'test RMSE':>10} "
               f"{'baseline':>9} {'test MAE':>9} {'NDCG@k':>7} {'sweeps':>6} {'cold test':>9}")
    for f in result.folds:
        typer.echo(f"{f['fold']:>4} {f['n_train']:>7} {f['n_test']:>7} {f['train_rmse']:>11.4f} "
                   f"{f['test_rmse']:>10.4f} {f['baseline_test_rmse']:>9.4f} "
                   f"{f['test_mae']:>9.4f} {f['ndcg_at_k']:>7.4f} {f['n_iter']:>6} "
                   f"{f['cold_test_entries']:>9}")
    if len(result.folds) > 1:
        typer.echo(f"mean test RMSE {result.mean_test_rmse:.4f} ± {result.std_test_rmse:.4f} "
                   f"(damped-bias baseline {result.mean_baseline_test_rmse:.4f})")
    typer.echo(f"wrote {out}/result.json, model.npz, history.png, test_predictions.csv")


def _write_predictions(model, ratings, config, clip, path: Path) -> None:
    """The first fold's test entries with their original ids, true value and prediction."""
    import numpy as np

    from acmlkit.factorization import experiments
    from acmlkit.results import atomic_write

    split = experiments.fit_splits(ratings, config)[0]
    test = ratings.subset(split.test)
    pred = model.predict_pairs(test.rows, test.cols)
    if clip is not None:
        pred = np.clip(pred, *clip)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row_id", "col_id", "value", "prediction"])
    writer.writerows(zip(test.row_ids[test.rows].tolist(), test.col_ids[test.cols].tolist(),
                         test.values.tolist(), pred.tolist()))
    atomic_write(path, buffer.getvalue())


@app.command("study")
def study_cmd(
    study: Study = typer.Argument(..., help="p, k, lambda or grid."),
    source: str = typer.Option("synthetic", "--data", help=_SOURCE_HELP),
    zero_is_missing: bool = typer.Option(False, help="Dense CSV: treat 0 as missing."),
    settings: Settings = typer.Option(
        Settings.auto, help="auto: settings that suit the data (the notebook's for a dense "
                            "matrix, ratings settings for rating triples); notebook: always "
                            "the notebook's."),
    values: str | None = typer.Option(
        None, help="Values of the studied parameter, comma-separated (default: from --settings)."),
    k_values: str | None = typer.Option(None, help="Grid: ranks K (default: from --settings)."),
    lambdas: str | None = typer.Option(None, help="Grid: penalties λ (default: from --settings)."),
    p: float | None = typer.Option(None, help="Training share, where p is not studied."),
    k: int | None = typer.Option(None, "-k", help="Rank K, where K is not studied."),
    reg: float | None = typer.Option(None, "--lambda", help="λ, where λ is not studied."),
    biases: bool | None = typer.Option(
        None, "--biases/--no-biases", help="Fit mean and biases (default: from --settings)."),
    max_iter: int | None = typer.Option(None, "--max-iter", help="Sweeps per fit."),
    iterations: int | None = typer.Option(None, "--iterations", hidden=True),
    seeds: str = typer.Option("0,1,2", help="Seeds, comma-separated; mean and std over them."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Folder (default out/mf-study-STUDY)."),
    jobs: int = JOBS_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    cluster: str | None = CLUSTER_OPTION,
) -> None:
    """The notebook's studies (masked ALS beside the notebook's ALS) over seeds; a rerun
    resumes from the trials already in the output folder."""
    from acmlkit.factorization import experiments, figures
    from acmlkit.sweeps import Execution
    from acmlkit.sweeps.summary import format_mean_std

    name = study.value
    out = out or Path(f"out/mf-study-{name}")
    data = _data_config(source, Format.auto, zero_is_missing, Duplicates.reject)
    seed_list = _numbers(seeds, "--seeds", int)
    execution = Execution(jobs=jobs, scheduler=scheduler, cluster=cluster)
    sweeps = max_iter if max_iter is not None else iterations
    if name == "grid":
        config = experiments.GridConfig(
            k_values=_numbers(k_values, "--k-values", int), lambdas=_numbers(lambdas, "--lambdas"),
            p=p, biases=biases, max_iter=sweeps, seeds=seed_list, settings=settings.value,
            data=data)
        result = experiments.run(config, out, execution=execution)
        typer.echo(f"settings: {result.settings_reason}")
        typer.echo(f"{'K':>3} {'lambda':>7} {'val RMSE':>9} {'test RMSE':>10} {'train RMSE':>11}")
        for row in result.table:
            mark = ("  <- chosen by validation"
                    if (row["k"], row["lambda"]) == (result.best_k, result.best_lambda) else "")
            typer.echo(f"{row['k']:>3} {row['lambda']:>7g} {row['mean_val_rmse']:>9.4f} "
                       f"{row['mean_test_rmse']:>10.4f} {row['mean_train_rmse']:>11.4f}{mark}")
        chosen = format_mean_std(result.mean_selected_test_rmse, result.std_selected_test_rmse)
        naive = format_mean_std(result.mean_notebook_pick_test_rmse,
                                result.std_notebook_pick_test_rmse)
        typer.echo(f"selected per seed by validation: test RMSE {chosen}; the notebook's rule "
                   f"(lowest train error) would give {naive}")
    else:
        cast = int if name == "k" else float
        config = experiments.StudyConfig(
            parameter=name, values=_numbers(values, "--values", cast), p=p, n_factors=k,
            reg=reg, biases=biases, max_iter=sweeps, seeds=seed_list, settings=settings.value,
            data=data)
        result = experiments.run(config, out, execution=execution)
        typer.echo(f"settings: {result.settings_reason}")
        typer.echo(f"{'method':>9} {name:>7} {'train MSE':>18} {'test MSE':>18} {'cold':>6}")
        for row in result.summary:
            typer.echo(
                f"{row['method']:>9} {row['value']:>7g} "
                f"{format_mean_std(row['mean_train_mse'], row['std_train_mse']):>18} "
                f"{format_mean_std(row['mean_test_mse'], row['std_test_mse']):>18} "
                f"{row['mean_cold_test_entries']:>6.0f}")
    paths = figures.plot_result(result, out)
    typer.echo(f"wrote {out}/result.json and {', '.join(p.name for p in paths)}")


@app.command("plot")
def plot_cmd(
    result: Path = typer.Argument(..., help="A result.json (or its folder) written by "
                                            "`acml mf fit` or `acml mf study`."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Folder for figures (default: beside it)."),
) -> None:
    """Redraw the figures of a saved result without re-running anything."""
    from acmlkit.factorization import experiments, figures
    from acmlkit.results import result_path

    loaded = experiments.load_mf_result(result)
    paths = figures.plot_result(loaded, out or result_path(result).parent)
    typer.echo("wrote " + ", ".join(str(p) for p in paths))
