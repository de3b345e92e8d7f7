import json

import numpy as np
import pytest

from acmlkit.errors import DataError
from acmlkit.factorization import experiments as ex
from acmlkit.factorization import figures
from acmlkit.factorization.data import synthetic
from acmlkit.results import load_result
from acmlkit.rng import RunContext
from acmlkit.sweeps import ResultsStore

SMALL = ex.DataConfig(m=40, n=30, rank=3, noise=0.1)


def test_p_study_masked_beats_notebook_and_saves(tmp_path):
    # Seed 1 included: from a random start it sent masked ALS with lambda = 0.01 to a
    # degenerate local optimum on this small matrix; the spectral start does not.
    config = ex.p_study_config(values=(0.3, 0.7), n_factors=3, seeds=(0, 1), max_iter=10,
                               data=ex.DataConfig(m=80, n=60, rank=3))
    result = ex.run(config, tmp_path / "p")
    assert len(result.rows) == 2 * 2 * 2
    by = {(s["method"], s["value"]): s for s in result.summary}
    for p in (0.3, 0.7):
        assert by[("masked", p)]["mean_test_mse"] < by[("notebook", p)]["mean_test_mse"]
        runs = [r["test_mse"] for r in result.rows if (r["method"], r["value"]) == ("masked", p)]
        assert by[("masked", p)]["mean_test_mse"] == pytest.approx(np.mean(runs))
        # One summary over seeds: sample std (ddof = 1).
        assert by[("masked", p)]["std_test_mse"] == pytest.approx(np.std(runs, ddof=1))
    assert result.findings["masked_beats_notebook"] == [0.3, 0.7]
    assert result.findings["masked"]["best_value"] == 0.7
    # Curves come from the first seed only, one per (method, value), with every sweep.
    assert [len(c["test_mse"]) for c in result.curves] == [10] * 4
    loaded = load_result(tmp_path / "p", expect="mf.")
    assert type(loaded) is ex.StudyResult and loaded.KIND == "mf.study"
    assert loaded.config == config and loaded.summary == result.summary
    assert loaded.settings["n_factors"] == 3 and "notebook" in loaded.settings_reason
    assert (tmp_path / "p" / "summary.csv").read_text().startswith("method,value,n_seeds")
    names = [p.name for p in figures.plot_result(loaded, tmp_path / "fig")]
    assert names == ["error_vs_p.png", "curves_masked.png", "curves_notebook.png"]
    prov = loaded.provenance
    assert prov["data"]["synthetic"].startswith("sha256:") and "threads" in prov
    assert prov["data_layout"] == "dense"


def test_a_study_resumes_from_its_store_and_reruns_nothing(tmp_path, monkeypatch):
    config = ex.k_study_config(values=(1, 2), seeds=(0, 1), max_iter=3, methods=("masked",),
                               data=SMALL)
    first = ex.run(config, tmp_path)
    store = ResultsStore(tmp_path / "trials")
    assert len(store.finished_keys()) == 4
    # Every trial is done: a rerun must not fit anything.
    monkeypatch.setattr(ex.ALS, "fit", lambda *a, **k: pytest.fail("refitted a finished trial"))
    again = ex.run(config, tmp_path)
    assert again.rows == first.rows


def test_study_values_and_settings_apply_to_the_right_parameter():
    ratings = synthetic(30, 25, rank=2, seed=0)
    data = ex.DataConfig(m=30, n=25, rank=2)
    k = ex.run_study(ex.k_study_config(values=(1, 2), seeds=(0,), max_iter=3,
                                       methods=("masked",), data=data), ratings)
    lam = ex.run_study(ex.lambda_study_config(values=(0.01, 5.0), seeds=(0,), max_iter=3,
                                              methods=("masked",), data=data), ratings)
    assert [r["value"] for r in k.rows] == [1, 2] and [r["n_factors"] for r in k.rows] == [1, 2]
    # One seed has no spread: std is None, not 0.
    assert k.summary[0]["std_test_mse"] is None
    # A heavier penalty fits the training entries worse.
    assert lam.rows[0]["train_mse"] < lam.rows[1]["train_mse"]
    assert lam.findings["masked"]["train_trend"] == "rises"


def test_settings_for_ratings_differ_from_the_notebooks_and_say_why(tmp_path):
    path = tmp_path / "r.csv"
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 60, 1500), rng.integers(0, 40, 1500)
    pairs = np.unique(np.c_[users, items], axis=0)
    stars = np.clip(np.round(2 * (3 + rng.standard_normal(len(pairs)))) / 2, 0.5, 5)
    lines = ["userId,movieId,rating"] + [f"{u},{i},{r}" for (u, i), r in zip(pairs, stars)]
    path.write_text("\n".join(lines) + "\n")
    ratings = ex.load_data(ex.DataConfig(source=str(path)))
    settings, reason = ex.study_settings(ratings)
    assert settings["biases"] and settings["reg_exponent"] > 0 and settings["p"] == 0.8
    assert "rating triples" in reason and ". " not in reason  # one sentence
    dense, why = ex.study_settings(synthetic(20, 20, rank=2))
    assert not dense["biases"] and dense["p"] == 0.1 and "notebook" in why
    config = ex.lambda_study_config(seeds=(0,), max_iter=3, methods=("masked",),
                                    data=ex.DataConfig(source=str(path)))
    result = ex.run(config)
    assert result.settings["values"] == settings["lambdas"]
    assert result.settings_reason == reason + "; given explicitly: max_iter"
    assert result.provenance["data"][str(path)].startswith("sha256:")
    asked = ex.run(ex.lambda_study_config(seeds=(0,), max_iter=3, methods=("masked",),
                                          settings="notebook",
                                          data=ex.DataConfig(source=str(path))))
    assert not asked.settings["biases"] and asked.settings["values"][-1] == 1.0


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"values": (0.1, 1.0)}, r"p must be in \(0, 1\), got 1.0"),
        ({"parameter": "k", "values": (0,)}, r"K must be in \[1, None\], got 0"),
        ({"parameter": "lambda", "values": (-1.0,)}, r"lambda must be in \[0, None\], got -1.0"),
        ({"parameter": "lambda", "values": (float("nan"),)}, "lambda must be a finite number"),
        ({"methods": ("svd",)}, "methods must be one of"),
        ({"seeds": ()}, "at least one seed"),
        ({"settings": "best"}, "settings must be one of"),
    ],
)
def test_bad_study_configs(changes, match):
    with pytest.raises(ValueError, match=match):
        ex.run_study(ex.p_study_config(**changes), synthetic(10, 10, rank=2))


def test_grid_selects_by_validation_not_train(tmp_path):
    config = ex.GridConfig(k_values=(1, 3, 8), lambdas=(0.001, 1.0), p=0.5, seeds=(0, 1),
                           max_iter=10, data=SMALL)
    result = ex.run(config, tmp_path)
    val = np.array(result.val_rmse)
    i, j = np.unravel_index(np.argmin(val), val.shape)
    assert (result.best_k, result.best_lambda) == (config.k_values[i], config.lambdas[j])
    # Lowest train error goes to the most flexible, least penalised fit; validation
    # error does not reward that.
    assert all(s["notebook_pick_k"] == 8 and s["notebook_pick_lambda"] == 0.001
               for s in result.selections)
    assert result.mean_selected_test_rmse < result.mean_notebook_pick_test_rmse
    f = result.findings
    assert (f["best_k"], f["best_lambda"]) == (result.best_k, result.best_lambda)
    assert f["test_by_k"] == [row[j] for row in result.test_rmse]
    assert f["selected_beats_notebook_pick"]
    loaded = load_result(tmp_path)
    assert type(loaded) is ex.GridResult and loaded.best_k == result.best_k
    assert loaded.config == config
    figs = figures.figures_for(loaded)
    assert list(figs) == ["heatmap.png", "loss_vs_lambda.png", "loss_vs_k.png"]
    # Cell [15]: the loss-against-K panel plots the grid's test column at the chosen lambda.
    lines = {ln.get_label(): ln for ln in figs["loss_vs_k.png"].axes[0].get_lines()}
    np.testing.assert_allclose(lines["test RMSE"].get_ydata(), f["test_by_k"])
    np.testing.assert_allclose(lines["test RMSE"].get_xdata(), config.k_values)
    lines = {ln.get_label(): ln for ln in figs["loss_vs_lambda.png"].axes[0].get_lines()}
    np.testing.assert_allclose(lines["test RMSE"].get_ydata(), result.test_rmse[i])


def test_fit_with_kfold_reports_every_fold():
    config = ex.FitConfig(split="kfold", n_folds=3, max_iter=5, data=SMALL)
    result, model = ex.run_fit(config)
    assert [f["fold"] for f in result.folds] == [0, 1, 2]
    assert sum(f["n_test"] for f in result.folds) == 40 * 30
    assert result.mean_test_rmse == pytest.approx(np.mean([f["test_rmse"] for f in result.folds]))
    assert result.std_test_rmse == pytest.approx(
        np.std([f["test_rmse"] for f in result.folds], ddof=1))
    assert "test_rmse" in result.history[0]
    assert result.params["n_factors"] == 8 and "dense" in result.defaults_reason


def test_fit_clips_predictions():
    ratings = synthetic(30, 20, rank=2, noise=0.5, seed=0)
    clipped, _ = ex.run_fit(ex.FitConfig(clip=(-0.1, 0.1), max_iter=3), ratings)
    free, _ = ex.run_fit(ex.FitConfig(max_iter=3), ratings)
    assert clipped.folds[0]["test_rmse"] != free.folds[0]["test_rmse"]
    assert free.clip is None  # "auto" does not clip a dense matrix
    for bad in ((float("nan"), 5.0), (5.0, 1.0)):
        with pytest.raises(ValueError, match="clip"):
            ex.run_fit(ex.FitConfig(clip=bad, max_iter=3), ratings)


def test_fit_result_round_trips_and_wrong_kinds_are_named(tmp_path):
    result, _ = ex.run_fit(ex.FitConfig(max_iter=3, data=SMALL), out=tmp_path / "fit")
    loaded = ex.load_mf_result(tmp_path / "fit")
    assert type(loaded) is ex.FitResult and loaded.folds == result.folds
    other = tmp_path / "other"
    other.mkdir()
    (other / "result.json").write_text(json.dumps({"kind": "mixture.fit", "format_version": 1}))
    with pytest.raises(DataError, match="holds a 'mixture.fit' result; this command reads mf."):
        ex.load_mf_result(other)


def test_load_data_detects_formats(tmp_path):
    dense = tmp_path / "dense.csv"
    dense.write_text("1,2\n3,\n")
    triples = tmp_path / "r.csv"
    triples.write_text("userId,movieId,rating\n5,6,4.5\n")
    assert ex.load_data(ex.DataConfig(source=str(dense))).nnz == 3
    assert ex.load_data(ex.DataConfig(source=str(triples))).row_ids.tolist() == [5]
    with pytest.raises(FileNotFoundError, match="no data file at"):
        ex.load_data(ex.DataConfig(source=str(tmp_path / "none.csv")))


def test_trial_streams_are_named_and_never_coincide():
    ctx = RunContext(0)
    draws = {name: ctx.stream(name).random(8) for name in ("split", "validation", "init")}
    values = list(draws.values())
    assert all(not np.allclose(a, b) for k, a in enumerate(values) for b in values[k + 1:])
    # A seed's split is its "split" stream, whatever else the trial does.
    ratings = synthetic(20, 15, rank=2, seed=0)
    split = ex.bernoulli_split(ratings, 0.5, RunContext(3).stream("split"))
    row = ex.als_trial(seed=3, p=0.5, n_factors=2, max_iter=2, m=20, n=15, rank=2)
    assert row["train_mse"] >= 0 and split.test.size == 300 - split.train.size
    a = ex.als_trial(seed=3, p=0.5, n_factors=2, max_iter=2, m=20, n=15, rank=2)
    assert a["test_mse"] == row["test_mse"]  # bit for bit


def test_repeated_seeds_are_refused():
    with pytest.raises(ValueError, match="seeds must be distinct"):
        ex.run_study(ex.p_study_config(seeds=(0, 0)), synthetic(10, 10, rank=2))
    with pytest.raises(ValueError, match="seeds must be distinct"):
        ex.run_grid_study(ex.GridConfig(seeds=(1, 1)), synthetic(10, 10, rank=2))
