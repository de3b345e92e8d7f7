"""Rating errors and ranking metrics against a naive twin and a hand-computed case."""

import math

import numpy as np
import pytest

from acmlkit.factorization.data import make_ratings
from acmlkit.factorization.metrics import mae, ranking_metrics, rmse


class FixedScores:
    """A 'model' whose scores are a given (m, n) matrix."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=float)

    def _score_rows(self, rows):
        return self.scores[rows].copy()


def naive_ranking(scores, train, test, k, threshold=None):
    prec, rec, ndcg = [], [], []
    seen = {(i, j) for i, j in zip(train.rows, train.cols)}
    relevant = {}
    for i, j, x in zip(test.rows, test.cols, test.values):
        if threshold is None or x >= threshold:
            relevant.setdefault(int(i), set()).add(int(j))
    for user, rel in sorted(relevant.items()):
        candidates = [j for j in range(scores.shape[1]) if (user, j) not in seen]
        top = sorted(candidates, key=lambda j: -scores[user, j])[:k]
        hits = [1.0 if j in rel else 0.0 for j in top]
        prec.append(sum(hits) / k)
        rec.append(sum(hits) / len(rel))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        ideal = sum(1 / math.log2(r + 2) for r in range(min(len(rel), k)))
        ndcg.append(dcg / ideal)
    return np.mean(prec), np.mean(rec), np.mean(ndcg)


def test_hand_computed_case():
    # One user, four items; item 0 seen in training; items 1 and 3 relevant in test.
    scores = [[9.0, 1.0, 3.0, 2.0]]
    train = make_ratings([0], [0], [5.0], (1, 4))
    test = make_ratings([0, 0], [1, 3], [4.0, 5.0], (1, 4))
    got = ranking_metrics(FixedScores(scores), train, test, k=2)
    # Ranking of unseen items: 2 (3.0), 3 (2.0), 1 (1.0); top 2 = [2, 3]: one hit at rank 2.
    assert got["precision_at_k"] == pytest.approx(0.5)
    assert got["recall_at_k"] == pytest.approx(0.5)
    assert got["ndcg_at_k"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert got["n_ranked_users"] == 1
    # With a threshold of 5 only item 3 is relevant: ideal DCG is 1.
    strict = ranking_metrics(FixedScores(scores), train, test, k=2, threshold=5)
    assert strict["recall_at_k"] == 1.0 and strict["ndcg_at_k"] == pytest.approx(1 / math.log2(3))


@pytest.mark.parametrize(("m", "n", "k", "threshold", "seed"),
                         [(30, 20, 5, None, 0), (7, 50, 10, 3.5, 1), (60, 12, 1, 4.0, 2),
                          (25, 25, 25, None, 3)])
def test_ranking_matches_naive_twin(m, n, k, threshold, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((m, n)) < 0.4
    rows, cols = np.nonzero(mask)
    values = rng.integers(1, 6, rows.size).astype(float)
    in_test = rng.random(rows.size) < 0.3
    train = make_ratings(rows[~in_test], cols[~in_test], values[~in_test], (m, n))
    test = make_ratings(rows[in_test], cols[in_test], values[in_test], (m, n))
    scores = rng.standard_normal((m, n))
    got = ranking_metrics(FixedScores(scores), train, test, k=k, threshold=threshold, batch=4)
    want = naive_ranking(scores, train, test, k, threshold)
    assert (got["precision_at_k"], got["recall_at_k"], got["ndcg_at_k"]) == pytest.approx(want)


def test_errors_refuse_nan_and_empty_sides():
    assert rmse([1.0, 3.0], [2.0, 2.0]) == 1.0 and mae([1.0, 4.0], [2.0, 2.0]) == 1.5
    with pytest.raises(ValueError, match="NaN or infinite"):
        rmse([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="no entries to score"):
        mae([], [])
    train = make_ratings([0], [0], [1.0], (1, 2))
    test = make_ratings([0], [1], [1.0], (1, 2))
    with pytest.raises(ValueError, match="no test entry is relevant"):
        ranking_metrics(FixedScores([[0.0, 1.0]]), train, test, k=1, threshold=3)
