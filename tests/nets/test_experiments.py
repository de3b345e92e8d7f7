"""Runs and the permutation study: what they show, what they record, and how they resume."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from acmlkit.nets import experiments as ex
from acmlkit.nets.data import make_shapes
from acmlkit.nets.experiments import (
    PermutationStudyConfig,
    PermutationStudyResult,
    TrainConfig,
    TrainResult,
    run,
    run_permutation_study,
    train_model,
)
from acmlkit.nets.figures import (
    plot_class_comparison,
    plot_confusion,
    plot_history,
    plot_per_class_accuracy,
    plot_permutation_summary,
    plot_recovered_layout,
    plot_sample_grid,
    plot_training_images,
)
from acmlkit.nets.recipes import RECIPES
from acmlkit.results import load_result
from acmlkit.rng import RunContext
from acmlkit.sweeps import Execution


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("study")


@pytest.fixture(scope="module")
def study(study_folder):
    # The --quick sizes: the CNN must beat the MLP clearly, and a fixed permutation take
    # that away, at this size already.
    config = replace(ex.quick_configs()["permutation"], conditions=("none", "fixed"),
                     archs=("cnn", "mlp"))
    return run_permutation_study(config, study_folder)


def test_cnn_beats_mlp_on_quick_shapes(study):
    assert study.accuracy("none", "cnn") > study.accuracy("none", "mlp") + 0.2


def test_fixed_permutation_removes_the_cnn_advantage(study):
    # The CNN falls to (or below) the MLP, while the MLP barely moves.
    assert study.accuracy("fixed", "cnn") < study.accuracy("fixed", "mlp") + 0.05
    assert study.accuracy("fixed", "cnn") < study.accuracy("none", "cnn") - 0.3
    assert abs(study.accuracy("fixed", "mlp") - study.accuracy("none", "mlp")) < 0.08


def test_study_round_trip_tables_and_figures(study, study_folder):
    rows = study.summary()
    assert {r["n_seeds"] for r in rows} == {1} and {r["std_accuracy"] for r in rows} == {None}
    assert {"result.json", "runs.csv", "summary.csv", "trials"} <= {
        p.name for p in study_folder.iterdir()}
    loaded = load_result(study_folder, expect="nn.permutation")
    assert isinstance(loaded, PermutationStudyResult)
    assert loaded.summary() == rows and loaded.config == study.config
    assert loaded.provenance["recipes"] == {"cnn": "small", "mlp": "small"}
    for fig in (plot_per_class_accuracy(loaded), plot_permutation_summary(loaded)):
        assert fig.get_figwidth() <= 8.0 and fig.axes


def test_notebook_condition_reuses_the_plain_model_faithfully(tmp_path):
    config = PermutationStudyConfig(conditions=("none", "notebook"), archs=("mlp",), seeds=(2,),
                                    epochs=1, n_train=300, n_test=200)
    shortcut = run_permutation_study(config).runs[1]
    direct = run(TrainConfig(arch="mlp", permutation="notebook", seed=2, epochs=1,
                             n_train=300, n_test=200))
    assert shortcut.condition == "notebook"
    assert shortcut.accuracy == direct.evaluation.accuracy


def test_study_resumes_and_worker_processes_give_the_in_process_results(tmp_path):
    config = PermutationStudyConfig(conditions=("none", "fixed"), archs=("mlp-matched",),
                                    seeds=(0, 1), epochs=1, n_train=300, n_test=100, threads=1)
    alone = run_permutation_study(config, tmp_path / "a")
    again = run_permutation_study(config, tmp_path / "a")  # every trial read from the store
    parallel = run_permutation_study(config, tmp_path / "b", execution=Execution(jobs=2))

    def cells(result):
        return [(r.arch, r.condition, r.seed, r.accuracy, r.per_class_accuracy)
                for r in result.runs]

    assert cells(again) == cells(alone) == cells(parallel)
    assert [r.train_seconds for r in again.runs] == [r.train_seconds for r in alone.runs]


def test_training_run_saves_what_ran(tmp_path):
    config = TrainConfig(arch="mlp", permutation="fixed", epochs=1, n_train=300, n_test=100)
    result = run(config, tmp_path)
    for name in ("model.pt", "checkpoints/checkpoint.pt", "result.json", "history.csv",
                 "config.json"):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["recipe_name"] == "small"
    assert saved["recipe"] == {**json.loads(json.dumps(vars(RECIPES["small"]["mlp"]))),
                               "epochs": 1}
    prov = saved["provenance"]
    assert prov["threads"]["torch"] >= 1 and "torch" in prov["versions"]
    assert prov["data"]["synthetic"].startswith("sha256:") and prov["command"]
    loaded = load_result(tmp_path, expect="nn.train")
    assert isinstance(loaded, TrainResult)
    assert loaded.config == config and loaded.evaluation == result.evaluation
    assert loaded.recipe == replace(RECIPES["small"]["mlp"], epochs=1)
    assert sum(map(sum, loaded.evaluation.confusion)) == 100
    assert loaded.evaluation.n_parameters == 402_250
    for plot in (plot_history, plot_sample_grid, plot_confusion, plot_training_images):
        fig = plot(loaded)
        assert fig.axes and fig.get_figwidth() <= 8.0


def test_samples_are_drawn_across_classes_even_from_class_sorted_data():
    data = make_shapes(400, 200, seed=1)
    order = np.argsort(data.y_test, kind="stable")
    sorted_data = replace_split(data, order)
    result = run(TrainConfig(arch="mlp", epochs=1), dataset=sorted_data)
    assert len(set(result.sample_true)) == 10 and len(result.sample_true) == ex.N_SAMPLES
    assert len(set(result.train_labels)) == 10
    cnn = run(TrainConfig(arch="cnn", epochs=1), dataset=sorted_data)
    fig = plot_class_comparison([cnn, result])
    assert len(fig.axes[0].patches) == 2 * 10


def replace_split(data, test_order):
    from acmlkit.nets.data import ImageDataset

    return ImageDataset(data.x_train, data.y_train, data.x_test[test_order],
                        data.y_test[test_order], data.classes, data.name)


@pytest.mark.parametrize(("channels", "size"), [(1, 8), (3, 12), (1, 28)])
def test_small_images_are_adapted_for_the_cnn_and_the_result_says_so(channels, size):
    rng = np.random.default_rng(size)
    from acmlkit.nets.data import ImageDataset

    x = rng.integers(0, 256, size=(80, channels, size, size), dtype=np.uint8)
    y = np.arange(80) % 3
    data = ImageDataset(x[:60], y[:60], x[60:], y[60:], ("a", "b", "c"))
    cnn = run(TrainConfig(arch="cnn", epochs=1), dataset=data)
    mlp = run(TrainConfig(arch="mlp", epochs=1), dataset=data)
    if size < 16:
        assert cnn.adaptation.startswith(f"{size}x{size} images were upscaled to 32x32")
        assert (cnn.net.height, cnn.net.width) == (32, 32)
    else:
        assert cnn.adaptation is None and cnn.net.height == size
    assert mlp.adaptation is None and (mlp.net.height, mlp.net.in_channels) == (size, channels)
    assert 0 <= cnn.evaluation.accuracy <= 1


def test_upscaling_repeats_pixels_into_blocks():
    x = np.arange(2 * 1 * 8 * 8, dtype=np.uint8).reshape(2, 1, 8, 8)
    big, note = ex.adapt_for("cnn", x)
    np.testing.assert_array_equal(big, np.repeat(np.repeat(x, 4, axis=2), 4, axis=3))
    assert "8x8 images were upscaled to 32x32" in note
    assert ex.adapt_for("mlp", x) == (x, None)


def test_no_two_named_streams_of_a_run_coincide(monkeypatch):
    drawn: dict[tuple, np.ndarray] = {}
    original_stream, original_torch = RunContext.stream, RunContext.torch_seed

    def stream(self, name):
        bits = original_stream(self, name).integers(0, 2**63, size=32, dtype=np.int64)
        drawn[(self.seed, *self.path, name)] = bits
        return original_stream(self, name)

    def torch_seed(self, name):
        value = original_torch(self, name)
        drawn[(self.seed, *self.path, "torch", name)] = np.array([value])
        return value

    monkeypatch.setattr(RunContext, "stream", stream)
    monkeypatch.setattr(RunContext, "torch_seed", torch_seed)
    # Seed 0 for the run as for the data: the case where positions used to collide.
    train_model(TrainConfig(arch="cnn", permutation="fixed", seed=0, epochs=2, n_train=200,
                            n_test=50, recipe="fast"))
    names = set(drawn)
    assert {(0, "permutation"), (0, "samples"), (0, "trainer", "whiten"),
            (0, "trainer", "torch", "init"), (0, "trainer", "epochs", "0"),
            (0, "trainer", "epochs", "1"), (0, "data", "shapes-train"),
            (0, "data", "shapes-test")} <= names
    values = list(drawn.values())
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            assert not np.intersect1d(values[i], values[j]).size


def test_seeded_runs_are_reproducible_bit_for_bit():
    config = TrainConfig(arch="cnn", permutation="fixed", seed=5, epochs=1, n_train=200,
                         n_test=100)
    a, b = run(config), run(config)
    assert a.history == [{**h, "seconds": a.history[i]["seconds"]} for i, h in
                         enumerate(b.history)]
    assert a.sample_pred == b.sample_pred and a.evaluation == b.evaluation


def test_quick_configs_are_the_quick_sizes():
    quick = ex.quick_configs(data="synthetic", seed=3)
    assert quick["cnn"].seed == quick["mlp"].seed == 3 and quick["permutation"].seeds == (3,)
    assert 1000 <= quick["cnn"].n_train <= 2000 and quick["cnn"].n_test == 500


def test_bad_configs():
    with pytest.raises(ValueError, match=r"permutation must be one of .* got 'random'"):
        TrainConfig(permutation="random")
    with pytest.raises(ValueError, match=r"device must be one of .* got 'gpu'"):
        TrainConfig(device="gpu")
    with pytest.raises(ValueError, match=r"condition must be one of"):
        PermutationStudyConfig(conditions=("none", "shuffled"))
    with pytest.raises(ValueError, match="at least one condition, architecture and seed"):
        PermutationStudyConfig(seeds=())
    with pytest.raises(ValueError, match=r"seeds must be distinct, got \[1, 1\]"):
        PermutationStudyConfig(seeds=(1, 1))


def test_fixed_recovered_trains_on_the_recovered_layout(monkeypatch):
    # An oracle recovery (the exact inverse) makes the condition the plain images again:
    # the same model, bit for bit, as 'none', and every neighbourhood kept.
    from acmlkit.nets import layout

    monkeypatch.setattr(layout, "recover_layout",
                        lambda images, h, w: np.argsort(_secret["perm"]))
    original = ex.apply_condition

    def spy(x_train, x_test, condition, rng):
        if condition == "fixed-recovered":
            _secret["perm"] = ex.apply_condition(x_train, x_test, "fixed",
                                                 RunContext(4).stream("permutation")).permutation
        return original(x_train, x_test, condition, rng)

    _secret: dict = {}
    monkeypatch.setattr(ex, "apply_condition", spy)
    config = TrainConfig(arch="cnn", seed=4, epochs=1, n_train=200, n_test=100)
    plain = run(config)
    recovered = run(replace(config, permutation="fixed-recovered"))
    assert recovered.neighbour_share == 1.0 and plain.neighbour_share is None
    assert recovered.layout["height"] == 32 and len(recovered.layout["order"]) == 1024
    assert recovered.evaluation == plain.evaluation
    assert recovered.history[0]["train_loss"] == plain.history[0]["train_loss"]


def test_images_without_a_layout_train_permuted_and_say_why():
    from acmlkit.nets.data import ImageDataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(90, 1, 8, 8), dtype=np.uint8)  # noise: no spatial structure
    y = np.arange(90) % 3
    data = ImageDataset(x[:60], y[:60], x[60:], y[60:], ("a", "b", "c"))
    result = run(TrainConfig(arch="cnn", permutation="fixed-recovered", epochs=1), dataset=data)
    assert result.recovery_note.startswith("no layout was recovered (")
    assert 0 <= result.neighbour_share < 0.5
    fig = plot_recovered_layout(result)
    assert len(fig.axes) >= 2
    with pytest.raises(ValueError, match="holds no fixed-recovered run of cnn"):
        plot_recovered_layout(run(TrainConfig(arch="mlp", epochs=1), dataset=data))
