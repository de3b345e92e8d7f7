"""``acml report``."""

from __future__ import annotations

from pathlib import Path

import typer

DEFAULT_OUT = Path("out/report")


# acmlkit.report.build is imported when the report runs: it pulls in numpy, matplotlib
# and torch, which every other `acml` command would otherwise pay for at start-up.
def report(
    out: Path | None = typer.Option(
        None, "--out", "-o",
        help=f"Folder for the page and its figures [default: {DEFAULT_OUT}; with --from, the "
        "--from folder].",
    ),
    from_dir: Path | None = typer.Option(
        None, "--from",
        help="Rebuild the page from the results saved here, without re-running anything.",
    ),
    seed: int | None = typer.Option(None, min=0, help="Seed of the run (a non-negative integer) "
                                    "[default: 0]."),
    images: str | None = typer.Option(
        None,
        help="Images: synthetic, cifar10 (downloaded), cifar10:PATH, or an image folder/archive "
        "ROOT/{train,test}/<class>/* (8x8 and up, 1 or 3 channels) [default: synthetic].",
    ),
    matrix: str | None = typer.Option(
        None,
        help="Matrix: synthetic, movielens-100k, movielens-1m, or a file: dense CSV, u.data, or "
        "a ratings CSV with header userId,movieId,rating [default: synthetic].",
    ),
    quick: bool = typer.Option(
        False, help="One seed, fewer iterations, grid points and images: about 30 s."
    ),
) -> None:
    """Run the whole exercise session and write one self-contained HTML page.

    Every input is checked before anything runs. The page opens offline; each part's
    results are saved beside it as JSON/CSV and each figure as SVG.
    """
    if from_dir is not None:
        given = [name for name, value in (("--seed", seed), ("--images", images),
                                          ("--matrix", matrix)) if value is not None]
        if quick:
            given.append("--quick")
        if given:
            raise typer.BadParameter(
                f"--from rebuilds a saved run as it ran; {', '.join(given)} cannot change it "
                "(run acml report without --from to run again)",
                param_hint="--from",
            )
        if not from_dir.is_dir():
            raise typer.BadParameter(f"{from_dir} is not a folder", param_hint="--from")
    from acmlkit.report.build import ReportConfig, build_page, run_report

    if from_dir is not None:
        path = build_page(from_dir, out)
    else:
        config = ReportConfig(
            seed=0 if seed is None else seed,
            images="synthetic" if images is None else images,
            matrix="synthetic" if matrix is None else matrix,
            quick=quick,
        )
        path = run_report(out or DEFAULT_OUT, config, echo=lambda m: typer.echo(m, err=True))
    typer.echo(f"wrote {path}")
