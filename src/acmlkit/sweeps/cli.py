"""``acml sweep`` and ``acml results``.

Only the standard library and typer are imported here at module level: the
sweep engine (and numpy with it) is imported when a command runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import typer

# One spelling of the execution flags for `acml sweep` and every study command.
JOBS_OPTION = typer.Option(
    1, "--jobs", "-j", min=1, help="Parallel processes (joblib) or local Dask workers."
)
SCHEDULER_OPTION = typer.Option(None, "--scheduler", help="Running Dask scheduler, tcp://HOST:PORT.")
CLUSTERS = ("local", "inprocess")


def _cluster_choice(value: str | None) -> str | None:
    if value is not None and value not in CLUSTERS:
        raise typer.BadParameter(f"choose local or inprocess, got {value!r}")
    return value


CLUSTER_OPTION = typer.Option(
    None,
    "--cluster",
    callback=_cluster_choice,
    help="local|inprocess: 'local' starts a Dask cluster of --jobs worker processes, "
    "'inprocess' uses threads in this process.",
)


def _literal(text: str):
    for convert in (int, float):
        try:
            value = convert(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"grid values must be finite numbers, got {text!r}")
        return value
    return {"true": True, "false": False}.get(text.lower(), text)


def _assignments(items: list[str], option: str) -> dict[str, list]:
    out = {}
    for item in items:
        name, sep, values = item.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise ValueError(f"{option} must look like NAME=V1,V2,...; got {item!r}")
        if name in out:
            raise ValueError(f"{option} names {name!r} twice")
        parts = [v.strip() for v in values.split(",")]
        if any(not v for v in parts):
            raise ValueError(f"{option} {name}: empty value in {values!r}")
        out[name] = [_literal(v) for v in parts]
    return out


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",")]
    except ValueError:
        raise ValueError(
            f"--seeds must be comma-separated integers like 0,1,2; got {text!r}"
        ) from None
    return seeds


def sweep(
    spec_file: Path | None = typer.Argument(None, help="Sweep TOML file (or use the flags)."),
    experiment: str | None = typer.Option(
        None, help="Registered experiment (mixture, als, ...), when no TOML is given."
    ),
    grid: list[str] = typer.Option([], "--grid", help="NAME=V1,V2,... one grid axis; repeat."),
    fixed: list[str] = typer.Option([], "--fixed", help="NAME=VALUE held fixed; repeat."),
    seeds: str = typer.Option("0", help="Seeds, comma separated."),
    out: Path = typer.Option(Path("out/sweep"), "--out", "-o", help="Folder of the results store."),
    jobs: int = JOBS_OPTION,
    scheduler: str | None = SCHEDULER_OPTION,
    cluster: str | None = CLUSTER_OPTION,
    allow_code: bool = typer.Option(
        False,
        "--allow-code",
        help="Allow an experiment given as package.module:function: it imports and runs "
        "that code, so only for sweep files you trust like a script.",
    ),
) -> None:
    """Run a grid of trials; rerunning the same command resumes where it stopped.

    Exits 1 when any trial failed; the finished trials are kept and a rerun
    retries only the failed ones.
    """
    from acmlkit.errors import RunFailed
    from acmlkit.sweeps.runner import run_sweep
    from acmlkit.sweeps.spec import SweepSpec
    from acmlkit.sweeps.store import ResultsStore

    if spec_file is not None:
        if experiment or grid or fixed:
            raise typer.BadParameter("give a sweep file or --experiment/--grid/--fixed, not both")
        spec = SweepSpec.from_toml(spec_file)
    elif experiment:
        fixed_values = {}
        for name, values in _assignments(fixed, "--fixed").items():
            if len(values) != 1:
                raise ValueError(f"--fixed {name} takes one value, got {values}")
            fixed_values[name] = values[0]
        spec = SweepSpec.from_dict(
            {
                "experiment": experiment,
                "grid": _assignments(grid, "--grid"),
                "seeds": _seeds(seeds),
                "fixed": fixed_values,
            },
            source="command line",
        )
    else:
        raise typer.BadParameter("name a sweep TOML file or an --experiment")
    summary = run_sweep(
        spec, out, jobs=jobs, scheduler=scheduler, cluster=cluster, allow_code=allow_code
    )
    typer.echo(
        f"{summary['trials']} trials: {summary['skipped']} already done, {summary['ran']} run, "
        f"{summary['failed']} failed; results in {out / ResultsStore.FILENAME}"
    )
    if summary["failed"]:
        first = summary["errors"][0]
        raise RunFailed(
            f"{summary['failed']} of {summary['ran']} trials failed (first: {first['params']}: "
            f"{first['error']}); the {summary['trials'] - summary['failed']} finished trials "
            f"are kept in {out}: fix the cause and rerun the same command to retry only the "
            f"failed ones (`acml results {out}` lists every error)"
        )


def results(
    folder: Path = typer.Argument(..., help="A sweep's output folder."),
    csv: Path | None = typer.Option(None, help="Write the table as CSV here (atomically)."),
    parquet: Path | None = typer.Option(
        None, help="Write the table as Parquet here (needs pandas and pyarrow)."
    ),
) -> None:
    """Print a sweep's results as a table; export to CSV or Parquet."""
    from acmlkit.results import atomic_write, save_csv
    from acmlkit.sweeps.store import ResultsStore

    if not folder.is_dir():
        raise FileNotFoundError(f"no sweep folder at {folder}")
    table = ResultsStore(folder, create=False).table()
    if csv is not None:
        save_csv(table, csv)
    if parquet is not None:
        atomic_write(parquet, _parquet_bytes(table))
    if not table:
        typer.echo("no trials recorded")
        return
    columns = [c for c in table[0] if c not in ("key", "experiment", "error")]
    for row in table[1:]:
        columns += [c for c in row if c not in columns and c not in ("key", "experiment", "error")]
    widths = {c: max(len(c), *(len(_fmt(row.get(c))) for row in table)) for c in columns}
    typer.echo("  ".join(c.rjust(widths[c]) for c in columns))
    for row in table:
        typer.echo("  ".join(_fmt(row.get(c)).rjust(widths[c]) for c in columns))
    errors = [row for row in table if row["status"] == "error"]
    for row in errors:
        typer.echo(f"error in {row['key']}: {row['error']}")


def _parquet_bytes(table: list[dict]) -> bytes:
    try:
        import io

        import pandas as pd
        import pyarrow  # noqa: F401  (pandas' Parquet engine)
    except ImportError:
        raise ValueError(
            "Parquet export needs pandas and pyarrow: pip install 'acmlkit[parquet]'"
        ) from None
    buffer = io.BytesIO()
    pd.DataFrame(table).to_parquet(buffer, index=False)
    return buffer.getvalue()


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    return "" if value is None else str(value)
