"""The damped-bias baseline against its formula, entry by entry."""

import numpy as np
import pytest

from acmlkit.factorization import DampedBaseline
from acmlkit.factorization.data import ratings_from_triples


def naive_baseline(users, items, values, du, di):
    mu = values.mean()
    item_bias = {i: sum(v - mu for v, j in zip(values, items) if j == i)
                 / (sum(items == i) + di) for i in set(items.tolist())}
    user_bias = {u: sum(v - mu - item_bias[j] for v, j, w in zip(values, items, users) if w == u)
                 / (sum(users == u) + du) for u in set(users.tolist())}
    return mu, user_bias, item_bias


@pytest.mark.parametrize(("n_users", "n_items", "n", "scale", "offset", "damping", "seed"),
                         [(10, 8, 40, (1, 5), 0, (5.0, 5.0), 0),
                          (40, 3, 100, (0.5, 5), 10**12, (0.0, 25.0), 1),
                          (5, 60, 90, (-10, 10), 7, (2.0, 0.0), 2)])
def test_matches_the_formula(n_users, n_items, n, scale, offset, damping, seed):
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.c_[rng.integers(0, n_users, n), rng.integers(0, n_items, n)], axis=0)
    users, items = pairs[:, 0] + offset, pairs[:, 1] * 13
    values = rng.uniform(*scale, len(pairs))
    model = DampedBaseline(user_damping=damping[0], item_damping=damping[1])
    model.fit((users, items, values))
    mu, ub, ib = naive_baseline(users, items, values, *damping)
    pred = model.predict(users, items)
    want = [mu + ub[u] + ib[i] for u, i in zip(users.tolist(), items.tolist())]
    np.testing.assert_allclose(pred, want)
    # Damping shrinks: no bias is larger in size than its undamped mean deviation.
    assert model.mean_ == pytest.approx(mu)


def test_fold_in_gives_new_users_their_damped_bias():
    users, items = np.array([1, 1, 2, 2, 3]), np.array([10, 20, 10, 30, 20])
    values = np.array([4.0, 3.0, 5.0, 2.0, 1.0])
    model = DampedBaseline(user_damping=1.0).fit(ratings_from_triples(users, items, values))
    model.fold_in((np.array([9, 9]), np.array([10, 20]), np.array([5.0, 5.0])))
    residual = [5.0 - model.mean_ - model.col_bias_[0], 5.0 - model.mean_ - model.col_bias_[1]]
    assert model.predict([9], [30])[0] == pytest.approx(
        model.mean_ + sum(residual) / 3 + model.col_bias_[2])
