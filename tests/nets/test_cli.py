"""`acml nn` driven through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from acmlkit.cli import app

runner = CliRunner()
TINY = ["--n-train", "300", "--n-test", "100", "--epochs", "1", "--recipe", "small"]
CPU_ONLY = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def invoke(*args):
    return runner.invoke(app, ["nn", *args])


def test_params_prints_the_notebook_counts():
    result = invoke("params")
    assert result.exit_code == 0
    assert "cnn: 62,006 parameters, 62,006 trainable" in result.output
    assert "mlp: 402,250 parameters, 402,250 trainable" in result.output
    assert "mlp-matched: 61,780 parameters" in result.output
    small = invoke("params", "--channels", "1", "--size", "8")
    assert "cnn: 61,706 parameters, 61,706 trainable (on images upscaled to 32x32)" in small.output


def test_choices_mirror_the_library():
    from acmlkit.nets import cli
    from acmlkit.nets.devices import DEVICES
    from acmlkit.nets.models import ARCHITECTURES
    from acmlkit.nets.permutations import CONDITIONS
    from acmlkit.nets.recipes import RECIPE_NAMES

    for enum, values in ((cli.Arch, ARCHITECTURES), (cli.Condition, CONDITIONS),
                         (cli.RecipeName, RECIPE_NAMES), (cli.Device, DEVICES)):
        assert {e.value for e in enum} == set(values)


def test_cli_module_imports_only_stdlib_and_typer():
    import subprocess
    import sys

    code = ("import sys, acmlkit.nets.cli; "
            "print(sorted(m for m in ('numpy', 'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # acmlkit.sweeps' package __init__ (not this module) may still pull numpy in.
    assert "torch" not in out.stdout and "matplotlib" not in out.stdout


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = invoke("train", "--arch", "mlp", "--permutation", "fixed", "--seed", "4", *TINY,
                    "--out", str(out), "--threads", "1")
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_writes_config_results_and_figures(trained_run):
    out, output = trained_run
    assert "epoch   1" in output and "test accuracy" in output
    for name in ("config.json", "result.json", "history.csv", "model.pt", "samples.png",
                 "history.png", "confusion.png", "training_images.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["permutation"] == "fixed" and saved["recipe_name"] == "small"
    assert saved["device"] == "cpu" and "recipe small, device cpu" in output
    assert saved["config"]["threads"] == 1 and saved["provenance"]["threads"]["torch"] == 1


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
    assert "is from another run" in result.output
    assert "Traceback" not in result.output


def test_study_writes_tables_and_figures_and_takes_the_grid_flags(tmp_path):
    result = invoke("study", "permutation", "--seeds", "0", "--conditions", "none,fixed",
                    "--archs", "mlp,mlp-matched", "--n-train", "300", "--n-test", "100",
                    "--epochs", "1", "-o", str(tmp_path), "-j", "1", "--device", "auto")
    assert result.exit_code == 0, result.output
    assert "condition" in result.output and "fixed mlp-matched" in result.output
    for name in ("result.json", "summary.csv", "runs.csv", "per_class_accuracy.png",
                 "summary.png", "trials"):
        assert (tmp_path / name).exists(), name
    help_text = invoke("study", "permutation", "--help").output
    for flag in ("--jobs", "-j", "--cluster", "--scheduler", "--device", "cpu|cuda|mps|auto"):
        assert flag in help_text, flag


@CPU_ONLY
def test_a_missing_device_is_one_line():
    result = invoke("train", "--device", "cuda", *TINY)
    assert result.exit_code == 1
    assert "--device cuda: no CUDA device is available" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--permutation", "shuffle"], "'shuffle' is not one of"),
        (["train", "--data", "/no/such/folder"], "no such path exists"),
        (["train", "--resume"], "--resume needs --out"),
        (["study", "permutation", "--seeds", "a,b"], "expected comma-separated values"),
        (["study", "permutation", "--archs", "cnn,rnn"], "arch must be one of"),
        (["figures", "/no/such/folder"], "no results file at /no/such/folder"),
        (["evaluate", "model.pt", "--permutation", "fixed-recovered"],
         "fixed-recovered cannot be re-derived from a model file"),
    ],
)
def test_bad_input_is_one_line(args, message):
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
