import numpy as np
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.results import load_json

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["mf", *args])


def test_fit_writes_results_model_and_predictions(tmp_path):
    matrix = tmp_path / "m.csv"
    rows = [",".join(str((i * j) % 5 + 1) for j in range(12)) for i in range(10)]
    matrix.write_text("\n".join(rows) + "\n")
    out = tmp_path / "fit"
    result = run("fit", str(matrix), "-k", "2", "--max-iter", "5", "--clip", "1:5",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "10 x 12 matrix, 120 observed entries" in result.output
    saved = load_json(out / "result.json")
    assert saved["config"]["clip"] == [1.0, 5.0]
    header, first = (out / "test_predictions.csv").read_text().splitlines()[:2]
    assert header == "row_id,col_id,value,prediction"
    assert 1.0 <= float(first.split(",")[3]) <= 5.0
    for name in ("model.npz", "history.png", "config.json", "history.csv"):
        assert (out / name).is_file()


def write_matrix(tmp_path):
    """A 20 x 15 rank-2 matrix as a dense CSV file."""
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((20, 2)) @ rng.standard_normal((2, 15))
    path = tmp_path / "m.csv"
    np.savetxt(path, matrix, delimiter=",")
    return path


def test_study_then_plot_from_saved_result(tmp_path):
    out = tmp_path / "k"
    result = run("study", "k", "--values", "2,4", "--seeds", "0", "--iterations", "3",
                 "--p", "0.5", "--data", str(write_matrix(tmp_path)), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "masked" in result.output and "notebook" in result.output
    again = run("plot", str(out / "result.json"), "--out", str(tmp_path / "figs"))
    assert again.exit_code == 0, again.output
    assert (tmp_path / "figs" / "error_vs_k.png").is_file()


def test_grid_study_reports_the_validation_choice(tmp_path):
    result = run("study", "grid", "--k-values", "2,4", "--lambdas", "0.1,1", "--seeds", "0",
                 "--iterations", "3", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "<- chosen by validation" in result.output
    assert "the notebook's rule (lowest train error)" in result.output
    assert (tmp_path / "heatmap.png").is_file()


def one_line_error(result, text):
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.output


def test_bad_input_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,x\n")
    one_line_error(run("fit", str(bad)), "non-numeric cell 'x' at line 2, column 2")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    one_line_error(run("fit", str(empty)), "is empty")
    one_line_error(run("fit", "--p", "1.5"), "p must be in (0, 1), got 1.5")
    one_line_error(run("fit", "-k", "600"), "n_factors must be at most min(m, n) = 375")
    one_line_error(run("fit", "--u-lambda", "-1"), "u_lambda must be in [0, None], got -1.0")
    one_line_error(run("fit", "--clip", "5"), "--clip must be auto, none or LOW:HIGH")
    assert run("study", "q").exit_code == 2
    one_line_error(run("study", "p", "--seeds", "a"), "--seeds must be comma-separated")


def write_ratings(tmp_path, n_users=40, n_items=25, seed=0, one_each=False):
    """A ratings CSV with a header and half stars."""
    rng = np.random.default_rng(seed)
    if one_each:
        pairs = np.c_[np.arange(n_users), rng.integers(0, n_items, n_users)]
    else:
        pairs = np.unique(np.c_[rng.integers(0, n_users, 600), rng.integers(0, n_items, 600)],
                          axis=0)
    stars = np.clip(np.round(2 * (3 + rng.standard_normal(len(pairs)))) / 2, 0.5, 5)
    path = tmp_path / "ratings.csv"
    path.write_text("userId,movieId,rating\n"
                    + "".join(f"{u},{i},{r}\n" for (u, i), r in zip(pairs, stars)))
    return path


def test_fit_on_ratings_says_which_defaults_and_beats_or_ties_the_baseline(tmp_path):
    result = run("fit", str(write_ratings(tmp_path)), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert "defaults: rating triples" in result.output
    assert "lambda chosen by validation RMSE" in result.output
    saved = load_json(tmp_path / "o" / "result.json")
    assert saved["kind"] == "mf.fit" and saved["clip"] == [0.5, 5.0]
    fold = saved["folds"][0]
    assert fold["test_rmse"] <= fold["baseline_test_rmse"] + 1e-9


def test_bad_options_and_impossible_runs_are_one_line(tmp_path):
    ratings = str(write_ratings(tmp_path))
    one_line_error(run("fit", ratings, "--clip", "nan:5"), "--clip LOW must be a finite number")
    one_line_error(run("fit", ratings, "--lambda", "inf"), "--lambda must be a finite number")
    assert run("fit", ratings, "--p", "nan").exit_code == 2
    one_line_error(run("fit", ratings, "--n-init", "100000000"), "GiB is available")
    single = str(write_ratings(tmp_path, one_each=True))
    one_line_error(run("fit", single, "--split", "user"), "holds out nothing")
    one_line_error(run("study", "lambda", "--values", "0.1,nan", "--seeds", "0"),
                   "--values must list finite numbers")


def test_plot_names_the_kind_it_found(tmp_path):
    other = tmp_path / "mix"
    other.mkdir()
    (other / "result.json").write_text('{"kind": "mixture.study", "format_version": 1}')
    one_line_error(run("plot", str(other / "result.json")), "holds a 'mixture.study' result")


def test_study_on_ratings_uses_ratings_settings_and_grid_flags(tmp_path):
    out = tmp_path / "k"
    result = run("study", "k", "--values", "1,2", "--seeds", "0,1", "--max-iter", "3",
                 "--data", str(write_ratings(tmp_path)), "-j", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "settings: rating triples" in result.output
    saved = load_json(out / "result.json")
    assert saved["kind"] == "mf.study" and saved["settings"]["biases"] is True
    assert (out / "trials" / "results.sqlite").is_file()


def test_cli_module_imports_only_stdlib_and_typer():
    import subprocess
    import sys

    code = ("import sys, acmlkit.factorization.cli; "
            "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'sklearn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
