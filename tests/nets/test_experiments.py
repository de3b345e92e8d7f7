"""The permutation study on synthetic shapes, and saving/loading results and figures."""

from __future__ import annotations

from dataclasses import replace

import pytest

from acmlkit.nets.experiments import (
    PermutationStudyConfig,
    PermutationStudyResult,
    TrainConfig,
    TrainResult,
    run_permutation_study,
    run_training,
)
from acmlkit.nets.figures import (
    plot_confusion,
    plot_history,
    plot_per_class_accuracy,
    plot_sample_grid,
)


@pytest.fixture(scope="module")
def study(shapes):
    config = PermutationStudyConfig(conditions=("none", "fixed"), seeds=(0,))
    return run_permutation_study(config, dataset=shapes)


def _acc(study, arch, condition):
    return next(r["mean_accuracy"] for r in study.summary()
                if r["arch"] == arch and r["condition"] == condition)


def test_cnn_beats_mlp_on_shapes(study):
    assert _acc(study, "cnn", "none") > _acc(study, "mlp", "none") + 0.2


def test_fixed_permutation_removes_the_cnn_advantage(study):
    # The CNN falls to (or below) the MLP, while the MLP barely moves.
    assert _acc(study, "cnn", "fixed") < _acc(study, "mlp", "fixed") + 0.05
    assert _acc(study, "cnn", "fixed") < _acc(study, "cnn", "none") - 0.3
    assert abs(_acc(study, "mlp", "fixed") - _acc(study, "mlp", "none")) < 0.08


def test_study_round_trip_and_figure(study, tmp_path):
    study.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"study.json", "runs.csv", "summary.csv"}
    loaded = PermutationStudyResult.load(tmp_path)
    assert loaded.summary() == study.summary()
    assert loaded.config == study.config
    assert plot_per_class_accuracy(loaded, tmp_path / "fig.png").stat().st_size > 10_000


def test_notebook_condition_reuses_the_plain_model_faithfully(shapes):
    small = shapes.subsample(300, 200)
    config = PermutationStudyConfig(conditions=("none", "notebook"), archs=("mlp",), seeds=(2,),
                                    epochs=1, n_jobs=1)
    shortcut = run_permutation_study(config, dataset=small).runs[1]
    direct, _ = run_training(
        TrainConfig(arch="mlp", recipe="small", permutation="notebook", seed=2, epochs=1),
        dataset=small,
    )
    assert shortcut.condition == "notebook"
    assert shortcut.accuracy == direct.evaluation.accuracy


def test_worker_processes_give_the_in_process_results(shapes):
    small = shapes.subsample(300, 100)
    config = PermutationStudyConfig(conditions=("none", "fixed"), seeds=(0, 1), epochs=1,
                                    n_jobs=1)
    alone = run_permutation_study(config, dataset=small)
    parallel = run_permutation_study(replace(config, n_jobs=2), dataset=small)
    assert [(r.arch, r.condition, r.seed, r.accuracy, r.per_class_accuracy)
            for r in parallel.runs] == [(r.arch, r.condition, r.seed, r.accuracy,
                                        r.per_class_accuracy) for r in alone.runs]


def test_training_run_saves_model_result_and_figures(shapes, tmp_path):
    config = TrainConfig(arch="mlp", recipe="small", permutation="fixed", epochs=1, n_train=300,
                         n_test=100)
    result, trained = run_training(config, dataset=shapes, out=tmp_path)
    assert (tmp_path / "model.pt").is_file()
    assert (tmp_path / "checkpoints" / "checkpoint.pt").is_file()
    result.save(tmp_path / "result.json")
    loaded = TrainResult.load(tmp_path / "result.json")
    assert loaded.config == config and loaded.evaluation == result.evaluation
    assert sum(map(sum, loaded.evaluation.confusion)) == 100
    assert loaded.evaluation.n_parameters == 402_250
    for plot in (plot_history, plot_sample_grid, plot_confusion):
        assert plot(loaded, tmp_path / f"{plot.__name__}.png").stat().st_size > 5_000


def test_bad_configs():
    with pytest.raises(ValueError, match=r"permutation must be one of .* got 'random'"):
        TrainConfig(permutation="random")
    with pytest.raises(ValueError, match=r"condition must be one of"):
        PermutationStudyConfig(conditions=("none", "shuffled"))
    with pytest.raises(ValueError, match="at least one condition, architecture and seed"):
        PermutationStudyConfig(seeds=())
