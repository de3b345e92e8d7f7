"""``acml report`` checks every input and option before it runs anything."""

import json

import pytest
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.report import build
from acmlkit.report.build import ReportConfig, build_page

runner = CliRunner()


def _report(*args):
    return runner.invoke(app, ["report", "--quick", *args])


def _one_line_error(result, code):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error"), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--matrix", "{tmp}/missing.csv"], 1, "missing.csv"),
        (["--images", "{tmp}/no-such-folder"], 1, "no-such-folder"),
        (["--images", "{tmp}/empty"], 1, "empty"),
        (["--matrix", "{tmp}/broken.csv"], 1, "broken.csv"),
        (["--seed", "-1"], 2, "seed"),
        (["--seed", "one"], 2, "seed"),
        (["--out", "{tmp}/a-file"], 1, "a-file"),
    ],
)
def test_a_bad_input_stops_the_run_before_anything_runs(tmp_path, monkeypatch, args, code,
                                                          words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.csv").write_text("userId,movieId,rating\n1,2,five\n")
    (tmp_path / "a-file").write_text("not a folder")
    ran = []
    for part in ("mixture", "mf"):
        monkeypatch.setattr(build._module(part), "run", lambda *a, part=part: ran.append(part))
    monkeypatch.setattr(build, "_start_nets", lambda *a: ran.append("nn"))
    out = tmp_path / "out"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(out)]
    line = _one_line_error(_report(*args), code)
    assert words in line
    assert not ran and not out.exists()


def test_from_takes_no_run_options(tmp_path):
    line = _one_line_error(runner.invoke(app, ["report", "--from", str(tmp_path), "--seed",
                                               "3"]), 2)
    assert "--seed" in line
    line = _one_line_error(runner.invoke(app, ["report", "--from", str(tmp_path / "nope")]), 2)
    assert "not a folder" in line


def _mixture_only_run(folder, errors):
    inputs = build.Inputs(None, None, {})
    build._run_part("mixture", folder, ReportConfig(quick=True), inputs)
    run = {"config": {"seed": 0, "images": "synthetic", "matrix": "synthetic", "quick": True},
           "provenance": {}, "durations": {}, "errors": errors}
    (folder / build.RUN_FILE).write_text(json.dumps(run))


def test_from_dir_out_other_writes_there_and_only_reads_dir(tmp_path):
    """(The full byte-for-byte rebuild of a whole page is a slow test in test_report.py.)"""
    source, other = tmp_path / "run", tmp_path / "page"
    _mixture_only_run(source, {"mf": "not run", "nn": "not run"})
    before = {p: p.stat().st_mtime_ns for p in source.rglob("*")}
    result = runner.invoke(app, ["report", "--from", str(source), "--out", str(other)])
    assert result.exit_code == 0, result.output
    assert {p: p.stat().st_mtime_ns for p in source.rglob("*")} == before
    html = (other / "report.html").read_text()
    assert 'id="mixture-em"' in html and "page rebuilt from" in html
    assert sorted(p.name for p in (other / "figures").iterdir()) == [
        "mixture-bic.svg", "mixture-fit.svg", "mixture-high-dim.svg"]


def test_a_part_that_fails_leaves_its_error_on_a_written_page(tmp_path, monkeypatch):
    """The other parts are built; the failed one says why; the run ends with one error."""
    from acmlkit.report.sections import mf

    def fails(*args):
        raise ValueError("the matrix section broke")

    monkeypatch.setattr(mf, "run", fails)
    inputs = build.Inputs(None, None, {})
    wall, cpu, error = build._run_part("mf", tmp_path, ReportConfig(quick=True), inputs)
    assert error == "ValueError: the matrix section broke"
    assert "Traceback" in (tmp_path / "mf" / "error.txt").read_text()
    _mixture_only_run(tmp_path, {"mf": error, "nn": "not run"})
    html = build_page(tmp_path).read_text()
    assert 'id="mixture-em"' in html and 'id="mf-error"' in html
    assert "the matrix section broke" in html and 'id="nn-error"' in html


def test_a_networks_process_that_dies_is_an_error_on_the_page(tmp_path):
    import subprocess
    import sys

    log = (tmp_path / build.NETS_LOG).open("w")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], stdout=log)
    wall, cpu, error, page = build._finish_nets(process, log, tmp_path)
    assert "exited with code 3" in error and page is None


def test_a_failed_part_ends_the_command_with_one_line_after_writing_the_page(tmp_path,
                                                                              monkeypatch):
    from acmlkit.report.sections import mf

    def fails(*args):
        raise ValueError("the matrix section broke")

    monkeypatch.setattr(mf, "run", fails)
    monkeypatch.setattr(build, "_start_nets", lambda *a: (None, None))
    monkeypatch.setattr(build, "_finish_nets", lambda *a: (0.0, 0.0, "nets skipped", None))
    result = _report("--out", str(tmp_path))
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in result.output
    line = errors[0]
    assert "mf, nn failed" in line and "the matrix section broke" in line
    html = (tmp_path / "report.html").read_text()
    assert 'id="mixture-em"' in html and 'id="mf-error"' in html and 'id="nn-error"' in html


@pytest.mark.parametrize(
    "saved, words",
    [
        ([], "expected an object"),
        ({}, "field 'config'"),
        ({"config": 5}, "field 'config'"),
        ({"config": {"colour": 1}}, "unknown config key 'colour'"),
        ({"config": {"seed": "0"}}, "config.seed must be int"),
        ({"config": {"seed": 0}, "errors": []}, "'errors' must be an object"),
    ],
)
def test_a_damaged_saved_run_is_one_line(tmp_path, saved, words):
    (tmp_path / build.RUN_FILE).write_text(json.dumps(saved))
    line = _one_line_error(runner.invoke(app, ["report", "--from", str(tmp_path)]), 1)
    assert build.RUN_FILE in line and words in line
