import json

import numpy as np
import pytest
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.mixture.experiments import BlobsConfig, load_points_csv, make_blobs, parse_k_values

runner = CliRunner()


def test_responsibilities_prints_the_notebook_table():
    result = runner.invoke(
        app,
        [
            "mixture",
            "responsibilities",
            "--x",
            "5",
            "--component",
            "0:0.01:0.5",
            "--component",
            "1.13:0.006:0.5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "0.10152327" in result.output and "0.89847673" in result.output


@pytest.mark.parametrize(
    ("component", "message"),
    [
        ("0:-0.01:0.5", "variances must be positive"),
        ("0:0.01:0.4", "weights must sum to 1"),
        ("0:0.01", "MEAN:VARIANCE:WEIGHT"),
    ],
)
def test_bad_components_give_one_line_and_no_traceback(component, message):
    result = runner.invoke(
        app,
        [
            "mixture",
            "responsibilities",
            "--x",
            "5",
            "--component",
            component,
            "--component",
            "1.13:0.006:0.5",
        ],
    )
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def write_csv(path, X, header=True):
    names = ",".join(f"x{j}" for j in range(np.shape(X)[1]))
    lines = ([names] if header else []) + [",".join(map(str, row)) for row in X]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_chooses_k_by_bic_and_writes_results(tmp_path):
    X, _ = make_blobs(BlobsConfig(n_samples=600))
    data = write_csv(tmp_path / "points.csv", X)
    result = runner.invoke(
        app, ["mixture", "fit", str(data), "-k", "1..5", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "out" / "result.json").read_text())
    assert saved["best_k"] == 3
    assert saved["k_values"] == [1, 2, 3, 4, 5]
    assert (tmp_path / "out" / "fit.png").stat().st_size > 0
    assert (tmp_path / "out" / "bic.png").stat().st_size > 0


def test_fit_on_one_dimensional_data(tmp_path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, 300), rng.normal(6, 0.5, 300)])[:, None]
    data = write_csv(tmp_path / "x.csv", X, header=False)
    result = runner.invoke(
        app,
        [
            "mixture",
            "fit",
            str(data),
            "-k",
            "2",
            "--covariance",
            "diag",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    means = sorted(m[0] for m in json.loads((tmp_path / "out/result.json").read_text())["means"])
    np.testing.assert_allclose(means, [0.0, 6.0], atol=0.2)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        ("a,b\n", "a header but no data rows"),
        ("1,2\n3,x\n", "row 2, column 2: expected a number, got 'x'"),
        ("1,x\n3,4\n", "row 1, column 2: expected a number, got 'x'"),
        ("a,b\n1,2\n3\n", "row 3: expected 2 columns (as in the first row), got 1"),
        ("1,2\n3,4,5\n", "row 2: expected 2 columns (as in the first row), got 3"),
        ("1,2\nnan,3\n", "row 2, column 1: expected a number, got a missing value"),
        ("1,2\n,3\n", "row 2, column 1: expected a number, got an empty cell"),
        # A row of separators only is a row of empty cells, not a blank line.
        ("1,2\n,\n3,4\n", "row 2, column 1: expected a number, got an empty cell"),
        ("1,2\ninf,3\n", "row 2, column 1: expected a finite number"),
        ("x,y\n1,2\n3,-inf\n", "row 3, column 2: expected a finite number"),
        ("a,b\n1,2\n3,oops\n", "row 3, column 2 ('b'): expected a number"),
    ],
)
def test_fit_rejects_bad_csv(tmp_path, content, message):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    result = runner.invoke(app, ["mixture", "fit", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert str(data) in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,c\n1,2,3\nnan,,NA\n4,5,6\n", "row 3: every cell is missing"),
        ("1,2\nNA,nan\n", "row 2: every cell is missing"),
        ("1,2,3\n,,\n4,5,6\n", "row 2: every cell is missing"),
        ("a,b,c\n1,,3\n4,nan,6\n7,,9\n", "column 2 ('b') has no observed value"),
        ("1,nan\n2,\n", "column 2 has no observed value"),
    ],
)
def test_missing_values_need_an_observed_value_in_every_row_and_column(
    tmp_path, content, message
):
    data = tmp_path / "holes.csv"
    data.write_text(content)
    result = runner.invoke(
        app, ["mixture", "fit", str(data), "-k", "1", "--missing", "em", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    assert f"{data}: {message}" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_stream_with_missing_values_is_a_usage_error(tmp_path):
    data = write_csv(tmp_path / "x.csv", np.arange(12.0).reshape(6, 2))
    result = runner.invoke(
        app, ["mixture", "fit", str(data), "--missing", "em", "--stream", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "drop --stream" in result.output and "Traceback" not in result.output


def test_byte_order_mark_and_header_keep_every_data_row(tmp_path):
    X, _ = make_blobs(BlobsConfig(n_samples=50))
    for header in (True, False):
        text = ("a,b\n" if header else "") + "\n".join(
            ",".join(repr(float(v)) for v in r) for r in X
        )
        data = tmp_path / f"bom-{header}.csv"
        data.write_bytes(b"\xef\xbb\xbf" + text.encode())
        np.testing.assert_array_equal(load_points_csv(data), X)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", "1..1000000000"], "GiB but"),
        (["-k", "1..900"], "n_samples=60 < 900"),
        (["-k", "5..2"], "range LOW..HIGH"),
        (["--n-init", "5000"], "--n-init"),
        (["--tol", "nan"], "--tol"),
        (["--reg-covar", "inf"], "--reg-covar"),
        (["--tol", "-1"], ">= 0"),
        (["--covariance", "banana"], "banana"),
        (["--sample-weight", "zz"], "no column 'zz'"),
    ],
)
def test_fit_refuses_bad_options_before_work(tmp_path, args, message):
    X, _ = make_blobs(BlobsConfig(n_samples=60))
    data = write_csv(tmp_path / "p.csv", X)
    result = runner.invoke(app, ["mixture", "fit", str(data), *args, "--out", str(tmp_path / "o")])
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_plot_redraws_and_names_a_foreign_kind(tmp_path):
    from acmlkit.results import Result, result_kind  # noqa: F401

    result = runner.invoke(app, ["mixture", "demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    (tmp_path / "demo" / "blobs_bic.png").unlink()
    again = runner.invoke(app, ["mixture", "plot", str(tmp_path / "demo")])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "demo" / "blobs_bic.png").stat().st_size > 0
    foreign = tmp_path / "other" / "result.json"
    foreign.parent.mkdir()
    foreign.write_text(json.dumps({"kind": "mf.study", "format_version": 1}))
    wrong = runner.invoke(app, ["mixture", "plot", str(foreign.parent)])
    assert wrong.exit_code == 1
    assert "holds a 'mf.study' result; this command reads mixture." in wrong.output
    assert len(wrong.output.strip().splitlines()) == 1


def test_fit_needs_enough_points(tmp_path):
    data = write_csv(tmp_path / "few.csv", np.eye(3))
    result = runner.invoke(app, ["mixture", "fit", str(data), "-k", "5", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "n_samples >= n_components" in result.output


def test_missing_file(tmp_path):
    result = runner.invoke(app, ["mixture", "fit", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert "no data file" in result.output


def test_parse_k_values():
    assert parse_k_values("1..4") == (1, 2, 3, 4)
    assert parse_k_values("2,5") == (2, 5)
    with pytest.raises(ValueError, match="-k"):
        parse_k_values("0..3")
    with pytest.raises(ValueError, match="n_samples=10 < 12"):
        parse_k_values("1..12", data_shape=(10, 2))


def test_demo_writes_every_result(tmp_path):
    result = runner.invoke(app, ["mixture", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "BIC chose K = 3" in result.output
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["kind"] == "mixture.demo"
    assert saved["high_dim"]["dims"][-1] == 10_000
    assert all(saved["high_dim"]["all_finite"])
    for name in ("high_dim.png", "blobs_fit.png", "blobs_bic.png", "criteria.csv"):
        assert (tmp_path / name).is_file()


def test_fit_with_a_sample_weight_column_equals_repeated_rows(tmp_path):
    X, _ = make_blobs(BlobsConfig(n_samples=300))
    counts = np.random.default_rng(2).integers(1, 4, size=300)
    rows = [f"{a},{b},{c}" for (a, b), c in zip(X, counts)]
    weighted = tmp_path / "w.csv"
    weighted.write_text("x1,x2,count\n" + "\n".join(rows) + "\n")
    repeated = write_csv(tmp_path / "r.csv", np.repeat(X, counts, axis=0))
    outs = {}
    for name, args in (
        ("w", [str(weighted), "--sample-weight", "count"]),
        ("r", [str(repeated)]),
    ):
        result = runner.invoke(
            app,
            [
                "mixture",
                "fit",
                *args,
                "-k",
                "3",
                "--init",
                "kmeans++",
                "--n-init",
                "1",
                "--out",
                str(tmp_path / name),
            ],
        )
        assert result.exit_code == 0, result.output
        outs[name] = json.loads((tmp_path / name / "result.json").read_text())
    assert outs["w"]["n_features"] == 2
    means_w = np.array(sorted(outs["w"]["means"]))
    means_r = np.array(sorted(outs["r"]["means"]))
    np.testing.assert_allclose(means_w, means_r, atol=0.05)


def test_fit_with_missing_cells(tmp_path):
    X, _ = make_blobs(BlobsConfig(n_samples=400))
    lines = ["x1,x2"]
    for i, (a, b) in enumerate(X):
        lines.append(f",{b}" if i % 7 == 0 else (f"{a},nan" if i % 11 == 0 else f"{a},{b}"))
    data = tmp_path / "holes.csv"
    data.write_text("\n".join(lines) + "\n")
    refused = runner.invoke(app, ["mixture", "fit", str(data), "-k", "3", "-o", str(tmp_path)])
    assert refused.exit_code == 1 and "--missing em" in refused.output
    result = runner.invoke(
        app,
        ["mixture", "fit", str(data), "-k", "2..4", "--missing", "em", "-o", str(tmp_path / "m")],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "m" / "result.json").read_text())
    assert saved["best_k"] == 3
    found = sorted(tuple(np.round(m)) for m in saved["means"])
    assert found == [(-3.0, 5.0), (0.0, 0.0), (4.0, 4.0)]


def test_stream_reads_chunks_and_matches_the_in_memory_fit(tmp_path):
    X, _ = make_blobs(BlobsConfig(n_samples=500))
    data = write_csv(tmp_path / "p.csv", X)
    saved = {}
    for name, extra in (("mem", []), ("stream", ["--stream", "--chunk-rows", "64"])):
        result = runner.invoke(
            app, ["mixture", "fit", str(data), "-k", "1..4", *extra, "-o", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        saved[name] = json.loads((tmp_path / name / "result.json").read_text())
    assert saved["stream"]["best_k"] == saved["mem"]["best_k"] == 3
    assert saved["stream"]["n_samples"] == 500
    np.testing.assert_allclose(
        sorted(saved["stream"]["means"]), sorted(saved["mem"]["means"]), atol=0.05
    )


def test_freeze_means_keeps_the_initial_means(tmp_path):
    X, _ = make_blobs(BlobsConfig(n_samples=300))
    data = write_csv(tmp_path / "p.csv", X)
    result = runner.invoke(
        app,
        [
            "mixture",
            "fit",
            str(data),
            "-k",
            "3",
            "--freeze",
            "means",
            "--max-iter",
            "5",
            "-o",
            str(tmp_path / "f"),
        ],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "f" / "result.json").read_text())
    assert saved["config"]["freeze"] == ["means"]
    assert saved["history"][-1]["iteration"] <= 5
