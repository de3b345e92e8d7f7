"""``acml mixture``: responsibilities, EM fits, the mixture demo and redrawing figures.

Only stdlib and typer at module level: the commands import numpy, the
experiments and matplotlib themselves, which every other ``acml`` command
would otherwise pay for at start-up.
"""

from __future__ import annotations

import enum
import math
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="Gaussian mixtures: responsibilities and EM.")


class Covariance(enum.StrEnum):
    full = "full"
    tied = "tied"
    diag = "diag"
    spherical = "spherical"


class Init(enum.StrEnum):
    kmeans = "kmeans"
    kmeanspp = "kmeans++"
    random = "random"
    random_from_data = "random_from_data"


class Missing(enum.StrEnum):
    error = "error"
    em = "em"


class Freezable(enum.StrEnum):
    weights = "weights"
    means = "means"
    covariances = "covariances"


def _parse_component(text: str) -> tuple[float, float, float]:
    try:
        mean, var, weight = (float(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(
            f"--component must be MEAN:VARIANCE:WEIGHT (e.g. 0:0.01:0.5), got {text!r}"
        ) from None
    if not all(math.isfinite(v) for v in (mean, var, weight)):
        raise ValueError(f"--component values must be finite numbers, got {text!r}")
    return mean, var, weight


@app.command("responsibilities")
def responsibilities_cmd(
    x: list[float] = typer.Option(..., "--x", help="Point(s) to evaluate; repeat for several."),
    component: list[str] = typer.Option(
        ..., "--component", "-c", help="MEAN:VARIANCE:WEIGHT of one component; repeat."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also save the result here."),
) -> None:
    """Posterior p(component | x) of a 1-D Gaussian mixture, by log-sum-exp."""
    from acmlkit.mixture import experiments

    config = experiments.ResponsibilitiesConfig(
        x=tuple(x), components=tuple(_parse_component(c) for c in component)
    )
    result = experiments.run_responsibilities(config, out)
    header = "x".rjust(10) + "".join(f"p(c={k}|x)".rjust(14) for k in range(len(component)))
    typer.echo(header + "log p(x)".rjust(14))
    for xi, row, ll in zip(config.x, result.responsibilities, result.log_likelihood):
        typer.echo(f"{xi:10.4g}" + "".join(f"{p:14.8f}" for p in row) + f"{ll:14.6g}")


# The largest n_init accepted: each initialisation is a whole EM run per K.
MAX_N_INIT = 1000


@app.command("fit")
def fit_cmd(
    data: Path = typer.Argument(..., help="CSV file, one point per row (header optional)."),
    k: str = typer.Option("1..8", "-k", help="Components: 3, a range 1..8 (BIC picks), or 2,4."),
    covariance: Covariance = typer.Option(Covariance.full, "--covariance"),
    n_init: int = typer.Option(5, "--n-init", help=f"Initialisations per K (1..{MAX_N_INIT})."),
    init: Init = typer.Option(Init.kmeans, "--init", help="How initialisations are drawn."),
    max_iter: int = typer.Option(200, "--max-iter", help="EM iterations per initialisation."),
    iterations: int | None = typer.Option(None, "--iterations", hidden=True),
    tol: float = typer.Option(1e-4, help="Stop when the mean log-likelihood moves less."),
    reg_covar: float = typer.Option(1e-6, "--reg-covar", help="Added to covariance diagonals."),
    missing: Missing = typer.Option(
        Missing.error, "--missing", help="em: empty or NaN cells are values missing at random."
    ),
    sample_weight: str | None = typer.Option(
        None, "--sample-weight", help="Column (header name or 1-based number) of point weights."
    ),
    freeze: list[Freezable] = typer.Option(
        [], "--freeze", help="Hold a parameter at its initial value; repeat for several."
    ),
    stream: bool = typer.Option(
        False, "--stream", help="Read the file in chunks on every EM pass (files beyond memory)."
    ),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", help="Rows per chunk for --stream."),
    seed: int = typer.Option(0, help="Seed of the run."),
    out: Path = typer.Option(Path("out/mixture-fit"), "--out", "-o", help="Output folder."),
) -> None:
    """Fit Gaussian mixtures to a CSV file and choose K by BIC.

    The defaults (k-means initialisation, 5 restarts per K) reach scikit-learn's
    optimum on well-separated data; they are FitConfig's defaults.
    """
    if iterations is not None:
        max_iter = iterations
    for value, name, low, high in (
        (n_init, "--n-init", 1, MAX_N_INIT),
        (max_iter, "--max-iter", 1, 10**7),
        (chunk_rows, "--chunk-rows", 1, 10**9),
    ):
        if not low <= value <= high:
            raise typer.BadParameter(f"must be in [{low}, {high}], got {value}", param_hint=name)
    if tol < 0 or reg_covar < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--tol/--reg-covar")
    if stream and missing is Missing.em:
        raise typer.BadParameter(
            "fits over chunks do not take missing values yet; drop --stream to fit the "
            "file in memory",
            param_hint="--stream with --missing em",
        )

    from acmlkit.mixture import experiments, figures
    from acmlkit.mixture.data import csv_chunks, parse_k_values, read_points_csv
    from acmlkit.plotting import save_figure

    allow_missing = missing is Missing.em
    if stream:
        source = csv_chunks(data, chunk_rows, allow_missing=allow_missing)
        shape, X, weight = source.shape, None, None
    else:
        table = read_points_csv(data, allow_missing=allow_missing)
        X, weight = table.split_weight(sample_weight)
        shape = X.shape
    config = experiments.FitConfig(
        data=str(data),
        k_values=parse_k_values(k, data_shape=shape, covariance_type=covariance.value),
        covariance_type=covariance.value,
        n_init=n_init,
        init_params=init.value,
        max_iter=max_iter,
        tol=tol,
        reg_covar=reg_covar,
        missing=missing.value,
        sample_weight_column=sample_weight,
        freeze=tuple(f.value for f in freeze),
        stream=stream,
        chunk_rows=chunk_rows,
        seed=seed,
    )
    if stream:
        result = experiments.run_fit(config, out)
    else:
        result = experiments.run_fit(config, out, X=X, sample_weight=weight)
        save_figure(figures.fit_figure(result, X), out / "fit.png")
    if len(result.k_values) > 1:
        save_figure(figures.bic_figure(result), out / "bic.png")
    _print_fit(result)
    typer.echo(f"wrote {out}/result.json")


def _print_fit(result) -> None:
    typer.echo(f"{'K':>3} {'BIC':>14} {'AIC':>14} {'mean loglik':>12} converged")
    rows = zip(result.k_values, result.bic, result.aic, result.log_likelihood, result.converged)
    for K, bic, aic, loglik, converged in rows:
        marker = "  <- best" if K == result.best_k else ""
        typer.echo(f"{K:>3} {bic:>14.2f} {aic:>14.2f} {loglik:>12.4f} {converged!s:>9}{marker}")


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("out/mixture"), "--out", "-o", help="Output folder."),
    seed: int = typer.Option(0, help="Seed of the run."),
) -> None:
    """The notebook example, the high-dimension demo and EM with BIC on generated blobs."""
    from acmlkit.mixture import experiments, figures

    result = experiments.run_demo(experiments.DemoConfig(seed=seed), out)
    written = figures.save_demo_figures(result, out)
    typer.echo(
        f"notebook example at x=5: responsibilities = {result.responsibilities.responsibilities[0]}"
    )
    high = result.high_dim
    typer.echo("D       loglik/D   naive NaN share")
    for D, ll, nan in zip(high.dims, high.loglik_per_dim, high.naive_nan_share):
        typer.echo(f"{D:<7} {ll:9.4f}   {nan:.2f}")
    typer.echo(f"blobs: BIC chose K = {result.fit.best_k} (true K = 3)")
    typer.echo(f"wrote {out}/result.json and {len(written)} figures")


@app.command("plot")
def plot_cmd(
    result_path: Path = typer.Argument(..., help="A saved mixture result (folder or result.json)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for figures (default: its own)."
    ),
) -> None:
    """Redraw the figures of a saved mixture result without re-running anything."""
    from acmlkit.mixture import experiments, figures
    from acmlkit.plotting import save_figure
    from acmlkit.results import load_result
    from acmlkit.results import result_path as resolve

    result = load_result(result_path, expect="mixture.")
    folder = out if out is not None else resolve(result_path).parent
    if isinstance(result, experiments.DemoResult):
        written = list(figures.save_demo_figures(result, folder).values())
    elif isinstance(result, experiments.FitResult):
        written = [save_figure(figures.bic_figure(result), folder / "bic.png")]
    elif isinstance(result, experiments.HighDimResult):
        written = [save_figure(figures.high_dim_figure(result), folder / "high_dim.png")]
    else:
        raise ValueError(f"{result_path}: a {result.KIND!r} result has no figures")
    for path in written:
        typer.echo(f"wrote {path}")
