import json

import numpy as np
import pytest
from typer.testing import CliRunner

from acmlkit.cli import app
from acmlkit.mixture.experiments import BlobsConfig, make_blobs, parse_k_values

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
    lines = (["a,b"] if header else []) + [",".join(map(str, row)) for row in X]
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
        ("", "is empty"),
        ("1,2\n3,x\n", "'x' is not a number"),
        ("1,2\n3\n", "expected 2 columns, got 1"),
        ("1,2\nnan,3\n", "NaN or infinity"),
    ],
)
def test_fit_rejects_bad_csv(tmp_path, content, message):
    data = tmp_path / "bad.csv"
    data.write_text(content)
    result = runner.invoke(app, ["mixture", "fit", str(data), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert message in result.output


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


def test_demo_writes_every_result(tmp_path):
    result = runner.invoke(app, ["mixture", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "BIC chose K = 3" in result.output
    high_dim = json.loads((tmp_path / "high_dim.json").read_text())
    assert high_dim["dims"][-1] == 10_000
    assert all(high_dim["all_finite"])
    for name in ("high_dim.png", "blobs_fit.png", "blobs_bic.png", "responsibilities.json"):
        assert (tmp_path / name).is_file()
