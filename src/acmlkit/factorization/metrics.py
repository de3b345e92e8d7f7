"""Scores of a fitted model on a split: rating errors (RMSE, MAE) and ranking (at k).

Every metric refuses to return NaN: an empty side or a non-finite prediction
is an error naming what was scored, never a printed ``nan``.
"""

from __future__ import annotations

import numpy as np

from acmlkit.factorization.data import Ratings
from acmlkit.factorization.splits import cold_start_counts


def _errors(y_true, y_pred, what: str) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{what}: {y_true.shape[0]} true values but {y_pred.shape[0]} "
                         "predictions")
    if y_true.size == 0:
        raise ValueError(f"{what}: no entries to score (the side of the split is empty)")
    if not np.isfinite(y_pred).all():
        raise ValueError(f"{what}: {int((~np.isfinite(y_pred)).sum())} predictions are NaN or "
                         "infinite; the model diverged (raise the penalties)")
    return y_true - y_pred


def rmse(y_true, y_pred, what: str = "RMSE") -> float:
    """Root mean squared error; raises ValueError instead of returning NaN."""
    return float(np.sqrt(np.mean(_errors(y_true, y_pred, what) ** 2)))


def mae(y_true, y_pred, what: str = "MAE") -> float:
    """Mean absolute error; raises ValueError instead of returning NaN."""
    return float(np.mean(np.abs(_errors(y_true, y_pred, what))))


def split_metrics(model, train: Ratings, test: Ratings, clip=None) -> dict:
    """A fitted model's train and test MSE and RMSE, test MAE and cold-start counts.

    ``clip`` (low, high) clips the test predictions, as a ratings scale would.
    """
    train_err = _errors(train.values, model.predict_pairs(train.rows, train.cols), "train")
    test_pred = model.predict_pairs(test.rows, test.cols)
    if clip is not None:
        test_pred = np.clip(test_pred, *clip)
    test_err = _errors(test.values, test_pred, "test")
    train_mse, test_mse = float(np.mean(train_err**2)), float(np.mean(test_err**2))
    return {
        "train_mse": train_mse,
        "test_mse": test_mse,
        "train_rmse": float(np.sqrt(train_mse)),
        "test_rmse": float(np.sqrt(test_mse)),
        "test_mae": float(np.mean(np.abs(test_err))),
        **cold_start_counts(train, test),
    }


def ranking_metrics(model, train: Ratings, test: Ratings, k: int = 10, *,
                    threshold: float | None = None, batch: int = 1024) -> dict:
    """Precision, recall and NDCG at ``k`` of top-``k`` lists, mean over test users.

    For each user with at least one relevant test entry (value >= ``threshold``;
    every test entry when ``threshold`` is None) the model ranks every item the
    user has no training entry for; precision@k = hits / k, recall@k = hits /
    relevant, NDCG@k = DCG / ideal DCG with binary gains and ``1 / log2(rank + 1)``
    discounts (rank from 1).

    Parameters
    ----------
    model : fitted model with ``_score_rows(rows) -> (len(rows), n)``
    train, test : Ratings of one shape (the two sides of a split)
    k : int

    Returns
    -------
    dict with ``precision_at_k``, ``recall_at_k``, ``ndcg_at_k``, ``k`` and
    ``n_ranked_users``.
    """
    from acmlkit.validation import check_int

    k = check_int(k, "k", low=1, high=train.shape[1])
    relevant = test.values >= threshold if threshold is not None else np.ones(test.nnz, bool)
    rel_rows, rel_cols = test.rows[relevant], test.cols[relevant]
    users = np.unique(rel_rows)
    if users.size == 0:
        raise ValueError(f"ranking metrics: no test entry is relevant (threshold {threshold}); "
                         "lower the threshold")
    m, n = train.shape
    seen = _csr_bool(train.rows, train.cols, (m, n))
    truth = _csr_bool(rel_rows, rel_cols, (m, n))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg = [], [], []
    for start in range(0, users.size, batch):
        rows = users[start:start + batch]
        scores = np.asarray(model._score_rows(rows), dtype=np.float64)
        scores[seen[rows].toarray()] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1,
                                                 kind="stable"), 1)
        hit = np.take_along_axis(truth[rows].toarray(), top, 1)
        n_rel = np.asarray(truth[rows].sum(axis=1)).ravel()
        hits = hit.sum(axis=1)
        precision.append(hits / k)
        recall.append(hits / n_rel)
        ideal = np.cumsum(discounts)[np.minimum(n_rel, k) - 1]
        ndcg.append((hit * discounts).sum(axis=1) / ideal)
    return {
        "k": k,
        "precision_at_k": float(np.mean(np.concatenate(precision))),
        "recall_at_k": float(np.mean(np.concatenate(recall))),
        "ndcg_at_k": float(np.mean(np.concatenate(ndcg))),
        "n_ranked_users": int(users.size),
    }


def _csr_bool(rows, cols, shape):
    import scipy.sparse as sp

    return sp.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=shape)
