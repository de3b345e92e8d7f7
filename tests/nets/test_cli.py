"""`acml nn` driven through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from acmlkit.cli import app

runner = CliRunner()
TINY = ["--n-train", "300", "--n-test", "100", "--epochs", "1", "--recipe", "small"]


def invoke(*args):
    return runner.invoke(app, ["nn", *args])


def test_params_prints_the_notebook_counts():
    result = invoke("params")
    assert result.exit_code == 0
    assert "cnn: 62,006 parameters, 62,006 trainable" in result.output
    assert "mlp: 402,250 parameters, 402,250 trainable" in result.output


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = invoke("train", "--arch", "mlp", "--permutation", "fixed", "--seed", "4", *TINY,
                    "--out", str(out))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_writes_config_results_and_figures(trained_run):
    out, output = trained_run
    assert "epoch   1" in output and "test accuracy" in output
    for name in ("config.json", "result.json", "history.csv", "model.pt", "samples.png",
                 "history.png", "confusion.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["permutation"] == "fixed"


def test_evaluate_reproduces_the_training_score(trained_run):
    out, _ = trained_run
    saved = json.loads((out / "result.json").read_text())["evaluation"]["accuracy"]
    result = invoke("evaluate", str(out / "model.pt"), "--permutation", "fixed", "--seed", "4",
                    "--n-test", "100", "--out", str(out / "eval"))
    assert result.exit_code == 0, result.output
    assert "parameters: 402,250 total" in result.output
    again = json.loads((out / "eval" / "evaluation.json").read_text())["accuracy"]
    assert again == saved


def test_evaluate_refuses_data_of_another_shape(trained_run, tmp_path, tree_writer):
    import numpy as np

    tree_writer(tmp_path, {(s, c): [np.zeros((20, 20), np.uint8)] for s in ("train", "test")
                           for c in ("a", "b")})
    result = invoke("evaluate", str(trained_run[0] / "model.pt"), "--data", str(tmp_path))
    assert result.exit_code != 0
    assert "holds a MLP for 3x32x32 images, 10 classes, but --data" in result.output


def test_figures_redraws_from_saved_results(trained_run):
    out, _ = trained_run
    (out / "samples.png").unlink()
    result = invoke("figures", str(out))
    assert result.exit_code == 0 and (out / "samples.png").is_file()


def test_resume_with_another_model_is_one_clear_line(trained_run):
    out, _ = trained_run
    result = invoke("train", "--arch", "cnn", "--permutation", "fixed", "--seed", "4", *TINY,
                    "--out", str(out), "--resume")
    assert result.exit_code != 0
    assert "is from another model" in result.output
    assert "Traceback" not in result.output


def test_study_writes_tables_and_figure(tmp_path):
    result = invoke("study", "permutation", "--seeds", "0", "--conditions", "none,fixed",
                    "--n-train", "300", "--n-test", "100", "--epochs", "1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "condition" in result.output and "fixed  mlp" in result.output
    for name in ("config.json", "study.json", "summary.csv", "runs.csv", "per_class_accuracy.png"):
        assert (tmp_path / name).is_file(), name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--permutation", "shuffle"], "permutation must be one of"),
        (["train", "--data", "/no/such/folder"], "no such path exists"),
        (["train", "--resume"], "--resume needs --out"),
        (["study", "permutation", "--seeds", "a,b"], "--seeds must be comma-separated integers"),
        (["figures", "/no/such/folder"], "holds neither study.json nor result.json"),
    ],
)
def test_bad_input_is_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
