"""``acml mf``: ALS fits, the notebook's studies and figures redrawn from saved results."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import typer

from acmlkit.results import save_json

if TYPE_CHECKING:
    from acmlkit.factorization.experiments import DataConfig

# Commands import the experiment and figure modules themselves: they pull in scipy and
# matplotlib, which every other `acml` command would otherwise pay for at start-up.
app = typer.Typer(no_args_is_help=True, help="Matrix completion by alternating least squares.")

_SOURCE_HELP = ("'synthetic' (375 x 500, rank 8), 'movielens-100k', 'movielens-1m' (downloaded "
                "and checksummed), or a file: dense CSV without header, u.data, ratings.dat, "
                "or CSV with header userId,movieId,rating[,timestamp].")


def _numbers(text: str, name: str, cast=float) -> tuple:
    try:
        values = tuple(cast(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must list at least one value, got {text!r}")
    return values


def _clip(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    low, _, high = text.partition(":")
    try:
        bounds = (float(low), float(high))
    except ValueError:
        raise ValueError(f"--clip must be LOW:HIGH (e.g. 1:5), got {text!r}") from None
    if bounds[0] >= bounds[1]:
        raise ValueError(f"--clip needs LOW < HIGH, got {text!r}")
    return bounds


def _data_config(source, fmt, zero_is_missing, duplicates, seed=0) -> DataConfig:
    from acmlkit.factorization import experiments

    return experiments.DataConfig(source=source, format=fmt, zero_is_missing=zero_is_missing,
                                  duplicates=duplicates, seed=seed)


@app.command("fit")
def fit_cmd(
    source: str = typer.Argument("synthetic", help=_SOURCE_HELP),
    fmt: str = typer.Option("auto", "--format", help="auto, dense or ratings."),
    zero_is_missing: bool = typer.Option(
        False, help="Dense CSV: treat 0 as missing (the notebook's reading)."),
    duplicates: str = typer.Option("reject", help="Repeated (user, item): reject or average."),
    split: str = typer.Option("bernoulli", help="bernoulli (share --p trains), kfold or user."),
    p: float = typer.Option(0.8, help="Share of observed entries used for training."),
    folds: int = typer.Option(5, help="Folds for --split kfold."),
    holdout: float = typer.Option(0.2, help="Share of each user's entries held out (user)."),
    k: int = typer.Option(8, "-k", "--factors", help="Rank K."),
    u_lambda: float = typer.Option(0.1, help="Penalty on the row (user) factors."),
    v_lambda: float = typer.Option(0.1, help="Penalty on the column (item) factors."),
    bias_lambda: float = typer.Option(1.0, help="Penalty on the biases."),
    biases: bool = typer.Option(True, help="Fit the global mean and row/column biases."),
    reg_exponent: float = typer.Option(
        0.0, help="Penalties scaled by entry counts to this power; 1 is ALS-WR."),
    method: str = typer.Option("masked", help="masked, or notebook (zeros as data; comparison)."),
    max_iter: int = typer.Option(30, help="Sweeps."),
    tol: float = typer.Option(1e-6, help="Stop when the objective falls by less (relative)."),
    early_stopping: bool = typer.Option(
        False, help="Stop on a validation split carved from the training entries."),
    n_init: int = typer.Option(1, help="Average the predictions of this many inits."),
    dtype: str = typer.Option("float64", help="float64 or float32."),
    clip: str | None = typer.Option(None, help="Clip predictions to LOW:HIGH, e.g. 1:5."),
    seed: int = typer.Option(0, help="Seed of the run (split and initialisation)."),
    out: Path = typer.Option(Path("out/mf-fit"), help="Folder for results, model and figure."),
) -> None:
    """Fit ALS on a matrix and score it on held-out entries."""
    from acmlkit.factorization import experiments, figures

    config = experiments.FitConfig(
        split=split, p=p, n_folds=folds, holdout=holdout, n_factors=k, u_lambda=u_lambda,
        v_lambda=v_lambda, bias_lambda=bias_lambda, biases=biases, reg_exponent=reg_exponent,
        method=method, max_iter=max_iter, tol=tol, early_stopping=early_stopping,
        n_init=n_init, dtype=dtype,
        clip=_clip(clip), seed=seed,
        data=_data_config(source, fmt, zero_is_missing, duplicates),
    )
    ratings = experiments.load_data(config.data)
    save_json(config, out / "config.json")
    result, model = experiments.run_fit(config, ratings)
    result.save(out)
    model.save(out / "model.npz")
    figures.plot_fit_history(result, out / "history.png")
    _write_predictions(model, ratings, config, out / "test_predictions.csv")
    m, n = result.shape
    typer.echo(f"{m} x {n} matrix, {ratings.nnz} observed entries; split {config.split}")
    typer.echo(f"{'fold':>4} {'train':>7} {'test':>7} {'train RMSE':>11} {'test RMSE':>10} "
               f"{'test MAE':>9} {'sweeps':>6} {'cold test':>9}")
    for f in result.folds:
        typer.echo(f"{f['fold']:>4} {f['n_train']:>7} {f['n_test']:>7} {f['train_rmse']:>11.4f} "
                   f"{f['test_rmse']:>10.4f} {f['test_mae']:>9.4f} {f['n_iter']:>6} "
                   f"{f['cold_test_entries']:>9}")
    if len(result.folds) > 1:
        typer.echo(f"mean test RMSE {result.mean_test_rmse:.4f} ± {result.std_test_rmse:.4f}")
    typer.echo(f"wrote {out}/result.json, model.npz, history.png, test_predictions.csv")


def _write_predictions(model, ratings, config, path: Path) -> None:
    """The first fold's test entries with their original ids, true value and prediction."""
    from acmlkit.factorization import experiments

    split = experiments.fit_splits(ratings, config)[0]
    test = ratings.subset(split.test)
    pred = model.predict(test)
    if config.clip is not None:
        pred = np.clip(pred, *config.clip)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row_id", "col_id", "value", "prediction"])
        writer.writerows(zip(test.row_ids[test.rows].tolist(), test.col_ids[test.cols].tolist(),
                             test.values.tolist(), pred.tolist()))


@app.command("study")
def study_cmd(
    study: str = typer.Argument(..., help="p, k, lambda or grid."),
    source: str = typer.Option("synthetic", "--data", help=_SOURCE_HELP),
    zero_is_missing: bool = typer.Option(False, help="Dense CSV: treat 0 as missing."),
    values: str | None = typer.Option(
        None, help="Values of the studied parameter, comma-separated (default: notebook's)."),
    k_values: str = typer.Option("2,4,6,8,10", help="Grid: ranks K."),
    lambdas: str = typer.Option("0.01,0.1,0.5,1,10", help="Grid: penalties λ."),
    p: float = typer.Option(0.1, help="Training share, where p is not the studied parameter."),
    k: int = typer.Option(8, "-k", help="Rank K, where K is not studied."),
    reg: float = typer.Option(0.01, "--lambda", help="λ, where λ is not studied."),
    biases: bool = typer.Option(False, help="Fit mean and biases (the notebook had none)."),
    iterations: int = typer.Option(30, help="Sweeps per fit (the notebook's 30)."),
    seeds: str = typer.Option("0,1,2", help="Seeds, comma-separated; mean and std over them."),
    out: Path | None = typer.Option(None, help="Folder (default out/mf-study-STUDY)."),
) -> None:
    """The notebook's studies, masked ALS beside the notebook's ALS, over seeds."""
    from acmlkit.factorization import experiments, figures

    if study not in ("p", "k", "lambda", "grid"):
        raise ValueError(f"study must be one of p, k, lambda, grid, got {study!r}")
    out = out or Path(f"out/mf-study-{study}")
    data = _data_config(source, "auto", zero_is_missing, "reject")
    seed_list = _numbers(seeds, "--seeds", int)
    if study == "grid":
        config = experiments.GridConfig(
            k_values=_numbers(k_values, "--k-values", int), lambdas=_numbers(lambdas, "--lambdas"),
            p=p, biases=biases, n_iter=iterations, seeds=seed_list, data=data)
        save_json(config, out / "config.json")
        result = experiments.run_grid(config)
        result.save(out)
        paths = figures.plot_result(result, out)
        typer.echo(f"{'K':>3} {'lambda':>7} {'val RMSE':>9} {'test RMSE':>10} {'train RMSE':>11}")
        for row in result.table:
            mark = ("  <- chosen by validation"
                    if (row["k"], row["lambda"]) == (result.best_k, result.best_lambda) else "")
            typer.echo(f"{row['k']:>3} {row['lambda']:>7g} {row['mean_val_rmse']:>9.4f} "
                       f"{row['mean_test_rmse']:>10.4f} {row['mean_train_rmse']:>11.4f}{mark}")
        typer.echo(f"selected per seed by validation: test RMSE "
                   f"{result.mean_selected_test_rmse:.4f} ± {result.std_selected_test_rmse:.4f}; "
                   "the notebook's rule (lowest train "
                   f"error) would give {result.mean_notebook_pick_test_rmse:.4f} ± "
                   f"{result.std_notebook_pick_test_rmse:.4f}")
    else:
        base = {"p": experiments.p_study_config, "k": experiments.k_study_config,
                "lambda": experiments.lambda_study_config}[study]()
        changes = dict(p=p, n_factors=k, reg=reg, biases=biases, n_iter=iterations,
                       seeds=seed_list, data=data)
        if values is not None:
            changes["values"] = _numbers(values, "--values", int if study == "k" else float)
        config = dataclasses.replace(base, **changes)
        save_json(config, out / "config.json")
        result = experiments.run_study(config)
        result.save(out)
        paths = figures.plot_result(result, out)
        typer.echo(f"{'method':>9} {study:>7} {'train MSE':>18} {'test MSE':>18} {'cold':>6}")
        for row in result.summary:
            typer.echo(
                f"{row['method']:>9} {row['value']:>7g} "
                f"{row['mean_train_mse']:>9.4g} ± {row['std_train_mse']:<6.2g} "
                f"{row['mean_test_mse']:>9.4g} ± {row['std_test_mse']:<6.2g} "
                f"{row['mean_cold_test_entries']:>6.0f}")
    typer.echo(f"wrote {out}/result.json and {', '.join(p.name for p in paths)}")


@app.command("plot")
def plot_cmd(
    result: Path = typer.Argument(..., help="A result.json written by `acml mf fit` or `study`."),
    out: Path | None = typer.Option(None, help="Folder for figures (default: beside it)."),
) -> None:
    """Redraw the figures of a saved result without re-running anything."""
    from acmlkit.factorization import experiments, figures

    loaded = experiments.load_result(result)
    paths = figures.plot_result(loaded, out or result.parent)
    typer.echo("wrote " + ", ".join(str(p) for p in paths))
