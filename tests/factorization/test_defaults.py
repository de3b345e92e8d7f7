"""Defaults that fit the data: the notebook's for a dense matrix, tuned ones for ratings."""

import numpy as np
import pytest

from acmlkit import validation
from acmlkit.factorization import ALS, DampedBaseline
from acmlkit.factorization import experiments as ex
from acmlkit.factorization.data import ratings_from_triples, read_ratings, synthetic
from acmlkit.factorization.metrics import rmse


def generated(n_users, n_items, n, scale, rank, noise, seed, half=False, offset=0):
    """Rating triples with long-tailed activity, biases, a rank-``rank`` signal and rounding."""
    rng = np.random.default_rng(seed)
    pu = rng.pareto(1.5, n_users) + 1
    pi = rng.pareto(1.5, n_items) + 1
    pairs = np.unique(np.c_[rng.choice(n_users, n, p=pu / pu.sum()),
                            rng.choice(n_items, n, p=pi / pi.sum())], axis=0)
    x = 0.5 * rng.standard_normal(n_users)[pairs[:, 0]] + 0.7 * rng.standard_normal(
        n_items)[pairs[:, 1]] + noise * rng.standard_normal(len(pairs))
    if rank:
        U, V = rng.standard_normal((n_users, rank)), rng.standard_normal((n_items, rank))
        x += (U[pairs[:, 0]] * V[pairs[:, 1]]).sum(1) / np.sqrt(rank)
    low, high = scale
    step = 0.5 if half else 1.0
    x = np.clip(np.round(((low + high) / 2 + x * (high - low) / 6) / step) * step, low, high)
    return ratings_from_triples(pairs[:, 0] + offset, pairs[:, 1] * 5 + 3, x)


CASES = {
    "1-5, 200 x 150, rank 3": dict(n_users=200, n_items=150, n=6000, scale=(1, 5), rank=3,
                                   noise=0.5, seed=0),
    "half stars, ids near 1e15": dict(n_users=80, n_items=300, n=3000, scale=(0.5, 5), rank=2,
                                      noise=0.7, seed=1, half=True, offset=10**15),
    "1-10, biases only": dict(n_users=500, n_items=60, n=8000, scale=(1, 10), rank=0,
                              noise=0.8, seed=2),
    "tiny, 50 x 40": dict(n_users=50, n_items=40, n=400, scale=(1, 5), rank=2, noise=1.0,
                          seed=3),
    "0-100": dict(n_users=300, n_items=300, n=5000, scale=(0, 100), rank=4, noise=0.6, seed=4),
    "30 users, 1000 items": dict(n_users=30, n_items=1000, n=2000, scale=(1, 5), rank=1,
                                 noise=0.3, seed=5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_defaults_never_lose_to_the_damped_baseline_on_ratings(name):
    ratings = generated(**CASES[name])
    result, model = ex.run_fit(ex.FitConfig(), ratings)
    fold = result.folds[0]
    # The baseline below is fitted independently on the same split and clipped alike.
    split = ex.fit_splits(ratings, ex.FitConfig())[0]
    train, test = split.apply(ratings)
    low, high = train.values.min(), train.values.max()
    base = np.clip(DampedBaseline().fit(train).predict_pairs(test.rows, test.cols), low, high)
    assert fold["baseline_test_rmse"] == pytest.approx(rmse(test.values, base))
    assert fold["test_rmse"] <= fold["baseline_test_rmse"] + 1e-9
    assert result.params["biases"] and result.params["reg_exponent"] == 0.5
    assert "rating triples" in result.defaults_reason and result.clip == [low, high]


def test_lambda_auto_is_chosen_on_training_entries_only():
    ratings = generated(**CASES["1-5, 200 x 150, rank 3"])
    split = ex.fit_splits(ratings, ex.FitConfig())[0]
    train, test = split.apply(ratings)
    plain = ALS(random_state=0).fit(train)
    scored = ALS(random_state=0).fit(train, test=test)
    # Passing a test set (scored per sweep only) changes nothing about the choice.
    assert plain.lambda_scores_ == scored.lambda_scores_
    chosen = min(plain.lambda_scores_, key=lambda s: s["val_rmse"])["lambda"]
    assert plain.params_["u_lambda"] == plain.params_["v_lambda"] == chosen
    assert len(plain.lambda_scores_) == 7  # six penalties and the baseline
    np.testing.assert_array_equal(plain.row_factors_, scored.row_factors_)


def test_dense_matrix_keeps_the_notebook_style_defaults():
    model = ALS(random_state=0).fit(synthetic(30, 20, rank=2, seed=0))
    assert model.params_["n_factors"] == 8 and model.params_["u_lambda"] == 0.1
    assert model.params_["n_init"] == 1 and model.lambda_scores_ == []
    assert "dense" in model.defaults_reason_
    explicit = ALS(n_factors=3, random_state=0).fit(synthetic(30, 20, rank=2, seed=0))
    assert explicit.defaults_reason_.endswith("given explicitly: n_factors")


def test_sizes_that_cannot_fit_are_refused_with_the_estimate(monkeypatch):
    ratings = synthetic(60, 50, rank=2, seed=0)
    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB but [\d.]+ GiB is available"):
        ALS(n_init=10**7).fit(ratings)
    monkeypatch.setattr(validation, "available_memory", lambda: 10 * 2**20)
    with pytest.raises(ValueError, match="lower n_init or n_factors"):
        ALS(n_init=5000).fit(ratings)
    ALS(n_init=2, max_iter=2).fit(ratings)  # a size that fits still runs


@pytest.mark.realdata
def test_udata_defaults_meet_the_target(ml100k_path):
    ratings = read_ratings(ml100k_path)
    result, _ = ex.run_fit(ex.FitConfig(), ratings)
    fold = result.folds[0]
    assert fold["n_test"] == pytest.approx(20_000, rel=0.02)  # 80/20
    assert fold["test_rmse"] <= 0.915
    assert fold["test_rmse"] < fold["baseline_test_rmse"]


def test_one_penalty_given_sets_both_where_the_default_is_auto():
    ratings = generated(**CASES["tiny, 50 x 40"])
    model = ALS(u_lambda=2.0, random_state=0).fit(ratings)
    assert model.params_["u_lambda"] == model.params_["v_lambda"] == 2.0
    assert model.lambda_scores_ == []
    with pytest.raises(ValueError, match=r"u_lambda must be in \[0, None\], got -1"):
        ALS(u_lambda=-1.0).fit(ratings)
