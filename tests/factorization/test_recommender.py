"""Users speak in their own ids: inputs, predict, recommend, fold_in, scikit-learn."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from acmlkit.factorization import ALS, DampedBaseline
from acmlkit.factorization.data import ratings_from_triples
from acmlkit.factorization.recommender import to_ratings

from .conftest import naive_half_step

pd = pytest.importorskip("pandas")


def rating_triples(n_users=40, n_items=30, n=600, seed=0, user_offset=1000, scale=(1, 5)):
    """Random (user, item, rating) arrays with sparse, large or odd ids and a low-rank signal."""
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.c_[rng.integers(0, n_users, n), rng.integers(0, n_items, n)], axis=0)
    u, v = rng.standard_normal((n_users, 2)), rng.standard_normal((n_items, 2))
    low, high = scale
    signal = (u[pairs[:, 0]] * v[pairs[:, 1]]).sum(1) + 0.3 * rng.standard_normal(len(pairs))
    ratings = np.clip(np.round((low + high) / 2 + signal * (high - low) / 6), low, high)
    return pairs[:, 0] * 7 + user_offset, pairs[:, 1] * 3 + 11, ratings


def fitted(triples, **params):
    params = dict(n_factors=2, u_lambda=0.5, v_lambda=0.5, bias_lambda=1.0, biases=True,
                  reg_exponent=0.0, n_init=1, max_iter=20, random_state=0) | params
    return ALS(**params).fit(triples)


def test_dataframe_arrays_and_file_give_the_same_model(tmp_path):
    users, items, values = rating_triples()
    frame = pd.DataFrame({"userId": users, "movieId": items, "rating": values})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    models = [fitted(frame), fitted((users, items, values)), fitted(str(path))]
    for other in models[1:]:
        np.testing.assert_allclose(other.row_factors_, models[0].row_factors_)
        np.testing.assert_array_equal(other.row_ids_, models[0].row_ids_)
    # Columns in the order user, item, rating need no names.
    plain = to_ratings(pd.DataFrame({"a": users, "b": items, "c": values}))
    assert plain.nnz == users.size and plain.layout == "triples"
    with pytest.raises(ValueError, match="DataFrame columns .* not understood"):
        to_ratings(pd.DataFrame({"a": users, "b": items, "c": values, "d": values}))


def test_predict_takes_raw_ids_and_counts_unknowns():
    users, items, values = rating_triples()
    model = fitted((users, items, values))
    r = model.row_ids_.tolist().index(users[5])
    c = model.col_ids_.tolist().index(items[5])
    expected = (model.mean_ + model.row_bias_[r] + model.col_bias_[c]
                + model.row_factors_[r] @ model.col_factors_[c])
    pred = model.predict([users[5], -1, users[5], -2], [items[5], items[5], -3, -3])
    assert pred[0] == pytest.approx(expected)
    # Unknown user: mean + item bias; unknown item: mean + user bias; both: the mean.
    assert pred[1] == pytest.approx(model.mean_ + model.col_bias_[c])
    assert pred[2] == pytest.approx(model.mean_ + model.row_bias_[r])
    assert pred[3] == pytest.approx(model.mean_)
    assert model.unknown_counts_ == {"unknown_users": 2, "unknown_items": 2,
                                     "baseline_predictions": 3}


def test_string_ids_and_ids_beyond_2_53_stay_exact():
    big = 2**53 + np.array([1, 2, 3], dtype=np.int64)
    model = fitted((big.repeat(3), np.tile([1, 2, 3], 3), np.arange(9.0) % 5 + 1),
                   n_factors=1)
    assert model.row_ids_.tolist() == big.tolist()  # three users, not one merged float
    assert np.isfinite(model.predict([int(big[0])], [2])).all()
    names = fitted((np.array(["ann", "bob", "ann", "cy"]), np.array(["x", "y", "y", "x"]),
                    np.array([1.0, 2, 3, 4])), n_factors=1)
    assert names.predict(["bob"], ["y"]).shape == (1,)
    assert names.unknown_counts_["unknown_users"] == 0
    with pytest.raises(ValueError, match="floats above 2\\^53"):
        to_ratings((big.astype(float), np.ones(3), np.ones(3)))


def test_recommend_returns_top_n_unseen_items_by_score():
    users, items, values = rating_triples()
    model = fitted((users, items, values))
    user = users[0]
    top = model.recommend(user, n=5)
    r = model.row_ids_.tolist().index(user)
    scores = model._score_rows(np.array([r]))[0]
    seen = set(items[users == user].tolist())
    ranked = [(model.col_ids_[j].item(), s) for j, s in enumerate(scores)
              if model.col_ids_[j] not in seen]
    ranked.sort(key=lambda t: -t[1])
    assert [i for i, _ in top] == [i for i, _ in ranked[:5]]
    assert [s for _, s in top] == pytest.approx([s for _, s in ranked[:5]])
    everything = model.recommend(user, n=1000, exclude_seen=False)
    assert len(everything) == model.col_ids_.size
    assert {i for i, _ in model.recommend(user, n=1000)} & seen == set()
    # An unknown user gets the items with the highest baseline.
    cold = model.recommend("nobody", n=3)
    best = np.argsort(-model.col_bias_)[:3]
    assert [i for i, _ in cold] == model.col_ids_[best].tolist()


@pytest.mark.parametrize(("biases", "reg_exponent", "n_init"), [(True, 0.0, 1), (True, 0.5, 3),
                                                                (False, 1.0, 2)])
def test_fold_in_equals_the_user_half_step_of_a_refit_with_items_frozen(
        biases, reg_exponent, n_init):
    users, items, values = rating_triples(n_users=50, n=900, seed=1)
    old = users < users.min() + 7 * 40
    model = fitted((users[old], items[old], values[old]), biases=biases,
                   reg_exponent=reg_exponent, n_init=n_init)
    before = model.predict(users[old][:20], items[old][:20])
    new_users = np.unique(users[~old])
    model.fold_in((users[~old], items[~old], values[~old]))
    # The old users are untouched and the new ones are in, in sorted id order.
    np.testing.assert_allclose(model.predict(users[old][:20], items[old][:20]), before)
    assert model.row_ids_.tolist() == sorted(set(users.tolist()))
    # Reference: the whole data, one user half-step per model, item side frozen, by lstsq.
    full = ratings_from_triples(users, items, values)
    dense = full.to_dense(0.0)
    observed = ~np.isnan(full.to_dense())
    K = 2
    for b in range(n_init):
        V = model.col_factors_[:, b * K:(b + 1) * K] * np.sqrt(n_init)
        c = model.col_bias_members_[:, b]
        if biases:
            fixed = np.c_[V, np.ones(V.shape[0])]
            targets = np.where(observed, dense - model.mean_ - c[None, :], 0.0)
            reg = [0.5] * K + [1.0]
        else:
            fixed, targets, reg = V, dense, 0.5
        ref = naive_half_step(targets, observed, fixed, reg, reg_exponent)
        rows = np.searchsorted(model.row_ids_, new_users)
        got_u = model.row_factors_[rows, b * K:(b + 1) * K] * np.sqrt(n_init)
        np.testing.assert_allclose(got_u, ref[rows, :K], atol=1e-8)
        if biases:
            np.testing.assert_allclose(model.row_bias_members_[rows, b], ref[rows, K],
                                       atol=1e-8)
    with pytest.raises(ValueError, match="already in the model"):
        model.fold_in((users[:3], items[:3], values[:3]))
    assert {i for i, _ in model.recommend(new_users[0], 100)} & set(
        items[users == new_users[0]].tolist()) == set()


def test_fold_in_skips_and_counts_unknown_items():
    users, items, values = rating_triples()
    model = fitted((users, items, values))
    model.fold_in((np.array([1, 1, 2]), np.array([items[0], 999_999, items[1]]),
                   np.array([4.0, 5.0, 3.0])))
    assert model.fold_in_skipped_ == 1 and {1, 2} <= set(model.row_ids_.tolist())


def test_scikit_learn_params_set_params_and_clone():
    model = ALS(n_factors=3, u_lambda="auto", random_state=4)
    params = model.get_params(deep=True)
    assert params["n_factors"] == 3 and params["u_lambda"] == "auto"
    assert params == model.get_params(deep=False)
    model.set_params(n_factors=5, max_iter=7)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert not hasattr(copy, "row_factors_")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        copy.predict([1], [1])
    baseline = clone(DampedBaseline(user_damping=2.0))
    assert baseline.get_params() == {"user_damping": 2.0, "item_damping": 5.0}
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(rank=3)


def test_save_and_load_keep_ids_and_the_recommender_state(tmp_path):
    users, items, values = rating_triples()
    model = fitted((users, items, values))
    loaded = ALS.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.predict(users[:9], items[:9]),
                                  model.predict(users[:9], items[:9]))
    assert loaded.recommend(users[0], 4) == model.recommend(users[0], 4)
    loaded.fold_in((np.array([1]), items[:1], values[:1]))
    assert 1 in loaded.row_ids_.tolist()
