"""``acml sweep`` and ``acml results``."""

from __future__ import annotations

from pathlib import Path

import typer

from acmlkit.results import save_csv
from acmlkit.sweeps.runner import run_sweep
from acmlkit.sweeps.spec import SweepSpec
from acmlkit.sweeps.store import ResultsStore

# One spelling of the execution flags for `acml sweep` and every study command.
JOBS_OPTION = typer.Option(
    1, "--jobs", "-j", help="Parallel processes (joblib) or local Dask workers."
)
SCHEDULER_OPTION = typer.Option(None, "--scheduler", help="Running Dask scheduler, tcp://HOST:PORT.")
CLUSTER_OPTION = typer.Option(None, "--cluster", help="'local' starts a local Dask cluster.")


def _literal(text: str):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _assignments(items: list[str], option: str) -> dict[str, list]:
    out = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"{option} must look like NAME=V1,V2,...; got {item!r}")
        out[name.strip()] = [_literal(v.strip()) for v in values.split(",")]
    return out


def sweep(
    spec_file: Path | None = typer.Argument(None, help="Sweep TOML file (or use the flags)."),
    experiment: str | None = typer.Option(None, help="Experiment name, when no TOML is given."),
    grid: list[str] = typer.Option([], "--grid", help="NAME=V1,V2,... one grid axis; repeat."),
    fixed: list[str] = typer.Option([], "--fixed", help="NAME=VALUE held fixed; repeat."),
    seeds: str = typer.Option("0", help="Seeds, comma separated."),
    out: Path = typer.Option(Path("out/sweep"), help="Folder of the results store."),
    jobs: int = JOBS_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    cluster: str | None = CLUSTER_OPTION,
) -> None:
    """Run a grid of trials; rerunning the same command resumes where it stopped."""
    if spec_file is not None:
        if experiment or grid or fixed:
            raise ValueError("give a sweep file or --experiment/--grid/--fixed, not both")
        spec = SweepSpec.from_toml(spec_file)
    elif experiment:
        spec = SweepSpec(
            experiment=experiment,
            grid=_assignments(grid, "--grid"),
            seeds=tuple(int(s) for s in seeds.split(",")),
            fixed={k: v[0] for k, v in _assignments(fixed, "--fixed").items()},
        )
    else:
        raise ValueError("name a sweep TOML file or an --experiment")
    summary = run_sweep(spec, out, jobs=jobs, scheduler=scheduler, cluster=cluster)
    typer.echo(
        f"{summary['trials']} trials: {summary['skipped']} already done, {summary['ran']} run, "
        f"{summary['failed']} failed; results in {out / ResultsStore.FILENAME}"
    )


def results(
    folder: Path = typer.Argument(..., help="A sweep's output folder."),
    csv: Path | None = typer.Option(None, help="Write the table as CSV here."),
    parquet: Path | None = typer.Option(None, help="Write the table as Parquet (needs pandas)."),
) -> None:
    """Print a sweep's results as a table; export to CSV or Parquet."""
    if not (folder / ResultsStore.FILENAME).is_file():
        raise FileNotFoundError(f"no {ResultsStore.FILENAME} in {folder}; run acml sweep first")
    table = ResultsStore(folder).table()
    if csv is not None:
        save_csv(table, csv)
    if parquet is not None:
        try:
            import pandas as pd
        except ImportError:
            raise ValueError(
                "Parquet export needs pandas and pyarrow: pip install 'acmlkit[parquet]'"
            ) from None
        pd.DataFrame(table).to_parquet(parquet)
    if not table:
        typer.echo("no trials recorded")
        return
    columns = [c for c in table[0] if c not in ("key", "experiment", "error")]
    widths = {c: max(len(c), *(len(_fmt(row.get(c))) for row in table)) for c in columns}
    typer.echo("  ".join(c.rjust(widths[c]) for c in columns))
    for row in table:
        typer.echo("  ".join(_fmt(row.get(c)).rjust(widths[c]) for c in columns))
    errors = [row for row in table if row["status"] == "error"]
    for row in errors:
        typer.echo(f"error in {row['key']}: {row['error']}")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return "" if value is None else str(value)
