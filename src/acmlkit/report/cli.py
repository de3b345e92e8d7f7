"""``acml report``."""

from __future__ import annotations

from pathlib import Path

import typer


# acmlkit.report.build is imported when the report runs: it pulls in scipy, matplotlib
# and torch, which every other `acml` command would otherwise pay for at start-up.
def report(
    out: Path = typer.Option(Path("out/report"), help="Folder for the page and all results."),
    from_dir: Path | None = typer.Option(
        None, "--from", help="Rebuild the page from results saved here, without re-running."
    ),
    seed: int = typer.Option(0, help="Seed of the run."),
    images: str = typer.Option(
        "synthetic", help="Images: synthetic, cifar10 (downloaded), or a folder/archive."
    ),
    matrix: str = typer.Option(
        "synthetic", help="Matrix: synthetic, movielens-100k, or a CSV/ratings file."
    ),
    quick: bool = typer.Option(False, help="One seed and fewer images: a smoke test."),
) -> None:
    """Run the whole exercise session on built-in data and write one HTML page."""
    from acmlkit.report.build import ReportConfig, build_page, run_report

    if from_dir is not None:
        path = build_page(from_dir)
    else:
        path = run_report(
            out,
            ReportConfig(seed=seed, images=images, matrix=matrix, quick=quick),
            echo=lambda m: typer.echo(m, err=True),
        )
    typer.echo(f"wrote {path}")
