"""``acml mixture``: responsibilities, EM fits and the mixture demo."""

from __future__ import annotations

from pathlib import Path

import typer

from acmlkit.results import load_json, save_json

# Commands import the experiment and figure modules themselves: they pull in scipy and
# matplotlib, which every other `acml` command would otherwise pay for at start-up.
app = typer.Typer(no_args_is_help=True, help="Gaussian mixtures: responsibilities and EM.")


def _parse_component(text: str) -> tuple[float, float, float]:
    try:
        mean, var, weight = (float(part) for part in text.split(":"))
    except ValueError:
        raise ValueError(
            f"--component must be MEAN:VARIANCE:WEIGHT (e.g. 0:0.01:0.5), got {text!r}"
        ) from None
    return mean, var, weight


@app.command("responsibilities")
def responsibilities_cmd(
    x: list[float] = typer.Option(..., "--x", help="Point(s) to evaluate; repeat for several."),
    component: list[str] = typer.Option(
        ..., "--component", "-c", help="MEAN:VARIANCE:WEIGHT of one component; repeat."
    ),
    out: Path | None = typer.Option(None, help="Also write the result as JSON here."),
) -> None:
    """Posterior p(component | x) of a 1-D Gaussian mixture, by log-sum-exp."""
    from acmlkit.mixture import experiments

    config = experiments.ResponsibilitiesConfig(
        x=tuple(x), components=tuple(_parse_component(c) for c in component)
    )
    result = experiments.run_responsibilities(config)
    header = "x".rjust(10) + "".join(f"p(c={k}|x)".rjust(14) for k in range(len(component)))
    typer.echo(header + "log p(x)".rjust(14))
    for xi, row, ll in zip(config.x, result.responsibilities, result.log_likelihood):
        typer.echo(f"{xi:10.4g}" + "".join(f"{p:14.8f}" for p in row) + f"{ll:14.6g}")
    if out is not None:
        save_json(result, out)


@app.command("fit")
def fit_cmd(
    data: Path = typer.Argument(..., help="CSV file, one point per row (header optional)."),
    k: str = typer.Option("1..8", "-k", help="Components: 3, a range 1..8 (BIC picks), or 2,4."),
    covariance: str = typer.Option("full", "--covariance", help="full, tied, diag or spherical."),
    n_init: int = typer.Option(3, help="Initialisations per K."),
    max_iter: int = typer.Option(200, help="EM iterations per initialisation."),
    tol: float = typer.Option(1e-4, help="Stop when the mean log-likelihood moves less."),
    reg_covar: float = typer.Option(1e-6, help="Added to covariance diagonals."),
    seed: int = typer.Option(0, help="Seed of the run."),
    out: Path = typer.Option(Path("out/mixture-fit"), help="Folder for result.json and figures."),
) -> None:
    """Fit Gaussian mixtures to a CSV file and choose K by BIC."""
    from acmlkit.mixture import experiments, figures

    X = experiments.load_points_csv(data)
    config = experiments.FitConfig(
        k_values=experiments.parse_k_values(k),
        covariance_type=covariance,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        reg_covar=reg_covar,
        seed=seed,
    )
    result = experiments.fit_mixtures(X, config)
    save_json(config, out / "config.json")
    save_json(result, out / "result.json")
    figures.plot_fit(result, X, out / "fit.png")
    if len(result.k_values) > 1:
        figures.plot_bic(result, out / "bic.png")
    typer.echo(f"{'K':>3} {'BIC':>14} {'AIC':>14} {'mean loglik':>12} converged")
    rows = zip(result.k_values, result.bic, result.aic, result.log_likelihood, result.converged)
    for K, bic, aic, loglik, converged in rows:
        marker = "  <- best" if K == result.best_k else ""
        typer.echo(f"{K:>3} {bic:>14.2f} {aic:>14.2f} {loglik:>12.4f} {converged!s:>9}{marker}")
    typer.echo(f"wrote {out}/result.json")


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("out/mixture"), help="Folder for results and figures."),
    seed: int = typer.Option(0, help="Seed of the run."),
) -> None:
    """The notebook example, the high-dimension demo and EM with BIC on generated blobs."""
    from acmlkit.mixture import experiments

    written = experiments.run_demo(out, seed)
    resp = load_json(written["responsibilities"])["responsibilities"][0]
    typer.echo(f"notebook example at x=5: responsibilities = {resp}")
    high = load_json(written["high_dim"])
    typer.echo("D       loglik/D   naive NaN share")
    for D, ll, nan in zip(high["dims"], high["loglik_per_dim"], high["naive_nan_share"]):
        typer.echo(f"{D:<7} {ll:9.4f}   {nan:.2f}")
    fit = load_json(written["blobs_fit"])
    typer.echo(f"blobs: BIC chose K = {fit['best_k']} (true K = 3)")
    typer.echo(f"wrote {len(written)} files to {out}")
