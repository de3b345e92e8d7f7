import re
import shutil
import subprocess
import tempfile

import pytest
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.report import ReportConfig, build_page, run_report

runner = CliRunner()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    run_report(out, ReportConfig(seed=0, quick=True), echo=lambda message: None)
    return out


def test_page_embeds_every_figure_and_opens_offline(report_dir):
    page = (report_dir / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= 3
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "http://" not in page and "https://" not in page
    assert "0.10152327" in page and "0.89847673" in page


def test_page_rebuilds_from_saved_results_alone(report_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(report_dir, copy)
    for png in copy.rglob("*.png"):
        png.unlink()
    (copy / "report.html").unlink()
    build_page(copy)
    rebuilt = (copy / "report.html").read_text()
    original = (report_dir / "report.html").read_text()
    strip = re.compile(r"results and figures in [^<]*")
    assert strip.sub("", rebuilt) == strip.sub("", original)


def test_cli_rebuild_needs_saved_results(tmp_path):
    result = runner.invoke(app, ["report", "--from", str(tmp_path)])
    assert result.exit_code == 1
    assert "no saved results" in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_page_renders_in_a_real_browser(report_dir):
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
                (report_dir / "report.html").resolve().as_uri(),
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
    assert total >= 3 and loaded == total
    assert errors == 0
    console_errors = [
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line and ("Error" in line or "Uncaught" in line)
    ]
    assert not console_errors
