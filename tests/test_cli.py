"""The `acml` shell: one error style, exit codes, --version, -h, lazy subcommands, pipes."""

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import acmlkit
from acmlkit import cli
from acmlkit.cli import SUBCOMMANDS, app
from acmlkit.sweeps import ResultsStore

runner = CliRunner()
BIN = Path(sys.executable).parent
HEAVY = ("numpy", "scipy", "torch", "matplotlib", "sklearn", "pandas")


def one_error_line(result, code):
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_version():
    for args in (["--version"], ["-V"], ["version"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert result.output.strip().endswith(acmlkit.__version__)


def all_command_paths():
    """Every group and command under `acml`, loading each part (as `-h` would)."""
    root = typer.main.get_command(app)
    ctx = root.make_context("acml", ["version"], resilient_parsing=True)
    paths = []

    def walk(command, path):
        paths.append(path)
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, [*path, name])

    walk(root, [])
    return paths


def test_every_command_has_short_and_long_help():
    paths = all_command_paths()
    assert len(paths) > 10 and ["sweep"] in paths and ["mf", "fit"] in paths
    for path in paths:
        for flag in ("-h", "--help"):
            result = runner.invoke(app, [*path, flag])
            assert result.exit_code == 0, (path, result.output)
            assert "Usage:" in result.output and "Traceback" not in result.output


def test_top_level_help_lists_every_command_without_loading_it():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name, (_, short) in SUBCOMMANDS.items():
        assert name in result.output and short[:30] in " ".join(result.output.split())
    assert "Exit codes" in result.output and "--version" in result.output


def imported_heavy(code: str) -> list[str]:
    probe = textwrap.dedent(f"""
        import json, sys
        {code}
        print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_top_level_help_imports_no_numerical_library():
    code = "from acmlkit.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    assert imported_heavy(textwrap.indent(code, "        ").strip()) == []


@pytest.mark.parametrize(
    "name",
    sorted({v[0].split(":")[0] for v in SUBCOMMANDS.values()}),
)
def test_each_part_cli_module_imports_only_stdlib_and_typer(name):
    assert imported_heavy(f"import {name}") == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nope"], "No such command 'nope'"),
        (["--nope"], "No such option: --nope"),
        (["sweep", "--nope"], "No such option: --nope"),
        (["sweep", "--jobs", "x"], "--jobs"),
        (["sweep", "--jobs", "0"], "--jobs"),
        (["results"], "Missing argument"),
        (["mixture", "fit"], "Missing argument"),
        (["sweep", "--cluster"], "--cluster"),
        (["sweep"], "name a sweep TOML file or an --experiment"),
        (["sweep", "f.toml", "--experiment", "als"], "not both"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, needle):
    line = one_error_line(runner.invoke(app, args), 2)
    assert needle in line
    assert "see 'acml" in line or "sweep" in args


@pytest.mark.parametrize("args", [[], ["mixture"], ["mf"], ["nn"]])
def test_a_group_without_its_command_shows_help_with_exit_2(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Usage:" in result.output


def test_data_errors_exit_1_with_one_line(tmp_path):
    line = one_error_line(runner.invoke(app, ["sweep", str(tmp_path / "none.toml")]), 1)
    assert line == f"Error: no sweep file at {tmp_path / 'none.toml'}"


PROBE = """
import typer

app = typer.Typer()


@app.command("a")
def a(x: float = 1.0, xs: list[float] = typer.Option([]), n: int = 1) -> None:
    typer.echo(f"ok {x} {xs} {n}")


@app.command("b")
def b() -> None:
    pass


@app.command("interrupted")
def interrupted() -> None:
    raise KeyboardInterrupt


@app.command("aborted")
def aborted() -> None:
    raise typer.Abort()
"""


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A subcommand group outside acmlkit, loaded by `acml` like any part's."""
    (tmp_path / "acml_probe_cli.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SUBCOMMANDS, "probe", ("acml_probe_cli:app", "A probe."))
    yield
    sys.modules.pop("acml_probe_cli", None)


@pytest.mark.parametrize(
    ("args", "bad"),
    [(["--x", "nan"], "nan"), (["--x", "inf"], "inf"), (["--x", "-inf"], "-inf"),
     (["--x", "1e999"], "inf"), (["--xs", "1", "--xs", "NaN"], "nan")],
)
def test_nan_and_inf_in_any_float_option_are_usage_errors(probe, args, bad):
    ok = runner.invoke(app, ["probe", "a", "--x", "2.5", "--xs", "3"])
    assert ok.exit_code == 0 and ok.output.strip() == "ok 2.5 [3.0] 1"
    line = one_error_line(runner.invoke(app, ["probe", "a", *args]), 2)
    assert f"expected a finite number, got {bad}" in line and "--x" in line


@pytest.mark.parametrize("command", ["interrupted", "aborted"])
def test_an_interrupt_is_one_line_and_exit_130(probe, command):
    assert one_error_line(runner.invoke(app, ["probe", command]), 130) == "Error: interrupted"


def test_the_finite_callback_for_commands_outside_acml():
    import typer as t

    from acmlkit.validation import finite

    assert finite(1.5) == 1.5 and finite(None) is None and finite([1.0, 2.0]) == [1.0, 2.0]
    for value in (float("nan"), [1.0, float("inf")], (float("-inf"),)):
        with pytest.raises(t.BadParameter, match="expected a finite number"):
            finite(value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_every_acml_float_option_rejects_non_finite_values(value):
    # --tol is checked by the guard before the command reads its (missing) file.
    line = one_error_line(runner.invoke(app, ["mixture", "fit", "x.csv", "--tol", value]), 2)
    assert "--tol" in line and "finite" in line


def test_a_bug_is_one_line_and_debug_shows_the_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(cli, "__version__", type("V", (), {"__str__": broken})())
    line = one_error_line(runner.invoke(app, ["version"]), 1)
    assert "internal error (TypeError: unsupported operand)" in line and "--debug" in line
    result = runner.invoke(app, ["--debug", "version"])
    assert isinstance(result.exception, TypeError)
    monkeypatch.setenv("ACMLKIT_DEBUG", "1")
    assert isinstance(runner.invoke(app, ["version"]).exception, TypeError)


def test_user_errors_under_debug_keep_their_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "sweep", str(tmp_path / "none.toml")])
    assert isinstance(result.exception, FileNotFoundError)


def test_a_failed_sweep_exits_1_and_says_how_to_retry(tmp_path, trials_file):
    spec = tmp_path / "s.toml"
    spec.write_text(f'experiment = "{trials_file}:fails_on"\nseeds = [0, 1, 2]\n'
                    "[fixed]\nbad = 1\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(spec), "--allow-code", "-o", str(out)])
    assert result.exit_code == 1
    assert "3 trials: 0 already done, 3 run, 1 failed" in result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: 1 of 3 trials failed (first: {'bad': 1, 'seed': 1}: "
                           "ValueError: seed 1 is bad); the 2 finished trials are kept")
    assert "rerun the same command to retry only the failed ones" in line
    rerun = runner.invoke(app, ["sweep", str(spec), "--allow-code", "-o", str(out)])
    assert rerun.exit_code == 1 and "2 already done, 1 run, 1 failed" in rerun.stdout


def test_a_sweep_file_naming_code_needs_allow_code(tmp_path, trials_file):
    spec = tmp_path / "s.toml"
    spec.write_text(f'experiment = "{trials_file}:square"\n')
    line = one_error_line(runner.invoke(app, ["sweep", str(spec), "-o", str(tmp_path / "o")]), 1)
    assert "--allow-code" in line and "import path" in line
    assert not (tmp_path / "o").exists()
    ok = runner.invoke(app, ["sweep", str(spec), "--allow-code", "-o", str(tmp_path / "o")])
    assert ok.exit_code == 0, ok.output


@pytest.fixture
def trials_file(trials_module):
    return trials_module


@pytest.fixture
def long_results(tmp_path):
    folder = tmp_path / "big"
    ResultsStore(folder)
    rows = [(f"k{i:05d}", "e", json.dumps({"seed": i}), "ok", json.dumps({"y": i}), None, 0.1,
             float(i)) for i in range(5000)]
    with sqlite3.connect(folder / ResultsStore.FILENAME) as db:
        db.executemany("INSERT INTO trials VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return folder


@pytest.mark.timeout(120)
def test_quiet_on_a_closed_pipe(long_results):
    proc = subprocess.Popen([BIN / "acml", "results", str(long_results)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    proc.wait(timeout=60)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert b"param_seed" in first
    # Nothing on stderr (no BrokenPipeError); the exit code is 0 or, when typer's own
    # handler saw the closed pipe first, 1.
    assert stderr == "" and proc.returncode in (0, 1)


def test_results_prints_every_row(long_results):
    result = runner.invoke(app, ["results", str(long_results)])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 5001 and lines[-1].split()[-2:] == ["4999", "0.1"]
