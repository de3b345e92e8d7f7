"""``acml report``: run the whole exercise session and write one HTML page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from acmlkit.report import sections
from acmlkit.report.html import render_page
from acmlkit.results import load_json, save_json

PAGE = "report.html"


@dataclass(frozen=True)
class ReportConfig:
    """What the report runs on; the defaults need no download.

    ``images`` is ``synthetic``, ``cifar10`` or an image folder/archive;
    ``matrix`` is ``synthetic``, ``movielens-100k`` or a CSV/ratings file.
    ``quick`` runs one seed and, for the networks, fewer images: a smoke test.
    """

    seed: int = 0
    images: str = "synthetic"
    matrix: str = "synthetic"
    quick: bool = False


PARTS = {
    "mixture": (
        lambda out, c: sections.run_mixture(out, c.seed),
        sections.mixture_sections,
    ),
    "mf": (
        lambda out, c: sections.run_factorization(out, c.seed, c.matrix, c.quick),
        sections.factorization_sections,
    ),
    "nn": (
        lambda out, c: sections.run_nets(out, c.seed, c.images, c.quick),
        sections.nets_sections,
    ),
}


def run_report(out_dir: str | Path, config: ReportConfig = ReportConfig(), echo=print) -> Path:
    """Run every part into ``out_dir/<part>/`` and write the page; returns its path."""
    out = Path(out_dir)
    save_json(config, out / "report_config.json")
    timings = {}
    for name, (run, _) in PARTS.items():
        echo(f"[report] running {name} ...")
        start = time.perf_counter()
        run(out / name, config)
        timings[name] = time.perf_counter() - start
    save_json(timings, out / "timings.json")
    return build_page(out)


def build_page(out_dir: str | Path) -> Path:
    """Write the page from the results saved in ``out_dir``, redrawing every figure."""
    out = Path(out_dir)
    missing = [name for name in PARTS if not (out / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"{out} holds no saved results for {', '.join(missing)}; run acml report --out {out}"
        )
    page_sections = []
    for name, (_, build) in PARTS.items():
        page_sections.extend(build(out / name))
    config = load_json(out / "report_config.json")
    footer = (
        f"acmlkit report: seed {config['seed']}, images {config['images']}, matrix "
        f"{config['matrix']}; results and figures in {out.resolve()}"
    )
    path = out / PAGE
    path.write_text(render_page("Exercise session 4, done properly", page_sections, footer))
    return path
