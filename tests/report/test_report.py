"""The quick report on three kinds of data: every stated finding checked against the
numbers on the same page, figures legible, metadata complete, rebuilds elsewhere."""

import re
import shutil
import subprocess
import tempfile

import pytest
from tests.report import pagecheck
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.report import build_page

runner = CliRunner()

RUNS = [
    "builtin_run",
    "small_run",
    pytest.param("real_run", marks=[pytest.mark.realdata, pytest.mark.slow]),
]


@pytest.fixture(params=RUNS)
def run(request):
    return request.getfixturevalue(request.param)


def test_every_finding_reads_true_against_the_tables_on_its_page(run):
    checked = pagecheck.check_findings(run.page)
    # Each part states its findings: mixture 3, factorisation 7, networks 3 at least.
    assert len(run.page.findings) >= 12
    assert checked >= 40


def test_figures_are_vector_and_legible_at_page_width(run):
    assert len(run.page.figures) >= 15
    for src in run.page.figures:
        assert pagecheck.smallest_text_px(src) >= 8.0
    assert "http://" not in run.html and "https://" not in run.html


def test_contents_summary_and_metadata(run):
    page = run.page
    assert page.links and set(page.links) <= page.ids
    sections = re.findall(r'<section id="([^"]+)"', run.html)
    assert set(sections) <= set(page.links)
    summary = page.tables["summary"]
    assert len(summary) >= 8
    meta = {row[list(row)[0]]: row[list(row)[1]] for row in page.tables["metadata"]}
    assert meta["seed"] in ("0", "1") and meta["acmlkit"]
    assert meta["command"]
    data = [v for k, v in meta.items() if k.startswith("data: ")]
    assert len(data) == 2 and all("sha256:" in v or "generated" in v for v in data)
    for part in ("mixture models", "matrix factorisation", "neural networks"):
        assert re.fullmatch(r"[\d.]+ s run \(CPU [\d.]+ s\).* \+ [\d.]+ s figures and page",
                            meta[f"duration: {part}"])
    assert "CPUs" in meta["machine"] and "torch" in meta["threads"]


def test_each_column_prints_at_one_precision(run):
    for table_id, rows in run.page.tables.items():
        if table_id in ("summary", "metadata") or not rows:
            continue
        for column in rows[0]:
            places = {pagecheck.decimals(r[column]) for r in rows if r[column] != "–"}
            places.discard(None)
            if any("e-" in r[column] for r in rows):
                continue
            assert len(places) <= 1, f"{table_id}.{column} mixes precisions: {places}"


def test_notebook_cells_are_labelled(run):
    cells = dict(re.findall(r'<section id="([^"]+)"><h2>[^<]*</h2><p class="cell">Notebook: '
                            r"([^<]*)</p>", run.html))
    assert cells["nn-images"] == "cells [9]-[10]"
    assert cells["nn-permutation"] == "cells [20]-[28]"
    assert cells["mf-grid"] == "cells [14]-[17]"
    assert "(cell [15])" in run.html and "(cell [19])" in run.html


def _accuracy(page, condition, model):
    row = next(r for r in page.tables["nn-permutation"]
               if r["condition"] == condition and r["model"] == model)
    return pagecheck.number(row["test accuracy (%)"])


def test_quick_builtin_shows_what_each_section_is_for(builtin_run):
    page = builtin_run.page
    assert _accuracy(page, "none", "CNN") >= _accuracy(page, "none", "MLP") + 10
    assert _accuracy(page, "fixed", "CNN") <= _accuracy(page, "fixed", "MLP")
    assert not page.adaptations
    k_rows = [r for r in page.tables["mf-k"] if r["method"] == "masked ALS"]
    assert min(k_rows, key=lambda r: float(r["test MSE"]))["K"] == "8"
    assert "0.89847673" in page.tables["mixture-responsibilities"][1].values()


def test_ratings_and_tiny_images_are_adapted_and_say_so(small_run):
    page = small_run.page
    text = " ".join(page.adaptations)
    assert "rating triples" in text and "p = 0.8" in text
    assert "8x8 images were upscaled" in text
    classes = {r["class"] for r in page.tables["nn-per-class"]}
    assert classes == {"bars", "blob", "columns", "diagonal"}


@pytest.mark.realdata
@pytest.mark.slow
def test_real_data_uses_ratings_settings_and_cifar_as_designed(real_run):
    text = " ".join(real_run.page.adaptations)
    assert "rating triples" in text and "upscaled" not in text
    overall = real_run.page.tables["nn-overall"]
    assert [r["parameters"] for r in overall] == ["62,006", "402,250"]


@pytest.mark.slow
def test_page_rebuilds_elsewhere_from_saved_results_alone(small_run, tmp_path):
    source = tmp_path / "source"
    shutil.copytree(small_run.out, source)
    shutil.rmtree(source / "figures")
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    other = tmp_path / "other"
    result = runner.invoke(app, ["report", "--from", str(source), "--out", str(other)])
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before
    rebuilt = (other / "report.html").read_text()
    for svg in sorted((small_run.out / "figures").glob("*.svg")):
        assert (other / "figures" / svg.name).read_bytes() == svg.read_bytes(), svg.name
    strip = re.compile(r'<section id="run">.*?</section>|<footer>.*?</footer>', re.S)
    assert strip.sub("", rebuilt) == strip.sub("", small_run.html)
    assert "page rebuilt from" in rebuilt
    assert len(list((other / "figures").glob("*.svg"))) == len(small_run.page.figures)


def test_rebuild_needs_a_saved_run(tmp_path):
    result = runner.invoke(app, ["report", "--from", str(tmp_path)])
    assert result.exit_code == 1
    assert "no saved report run" in result.output
    with pytest.raises(FileNotFoundError, match="no saved report run"):
        build_page(tmp_path)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_page_renders_in_a_real_browser(builtin_run):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--virtual-time-budget=10000",
    ]
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                *flags,
                f"--user-data-dir={profile}",
                "--dump-dom",
                (builtin_run.out / "report.html").resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    status = re.search(
        r'id="page-status" data-figures="(\d+)/(\d+)" data-errors="(\d+)"', done.stdout
    )
    assert status, f"the page did not finish loading:\n{done.stderr[-2000:]}"
    loaded, total, errors = map(int, status.groups())
    assert total >= 15 and loaded == total
    assert errors == 0
    console_errors = [
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line and ("Error" in line or "Uncaught" in line)
    ]
    assert not console_errors


def test_matrix_section_reads_true_on_a_dense_csv(tmp_path):
    """A header-less dense CSV (the notebook's layout, other size and scale): the notebook's
    settings, no adaptation note, every finding true. The matrix part alone, to stay cheap."""
    import numpy as np

    from acmlkit.report import build
    from acmlkit.report.html import render_page
    from acmlkit.report.sections import mf

    rng = np.random.default_rng(11)
    dense = 5 * rng.normal(size=(90, 4)) @ rng.normal(size=(4, 120)) + rng.normal(size=(90, 120))
    path = tmp_path / "dense.csv"
    np.savetxt(path, dense, delimiter=",", fmt="%.4f")
    config = build.ReportConfig(quick=True, matrix=str(path))
    ratings, fingerprint = mf.load_matrix(config)
    assert ratings.shape == (90, 120) and fingerprint.startswith("sha256:")
    wall, cpu, error = build._run_part("mf", tmp_path, config, build.Inputs(ratings, None, {}))
    assert error is None
    sections, numbers, _ = build._build_part("mf", tmp_path, build.Drawer(tmp_path / "figures"),
                                             None, config)
    page = pagecheck.parse(render_page("t", sections, key_numbers=numbers))
    assert pagecheck.check_findings(page) >= 20
    assert not page.adaptations
    assert {r["p"] for r in page.tables["mf-p"]} == {"0.1", "0.3", "0.5", "0.7"}
