"""The damped-bias baseline every factorisation model on ratings must beat.

``x_ui ~ mu + b_u + c_i`` with item biases ``c_i = sum_u (x_ui - mu) / (n_i + item_damping)``
and then user biases ``b_u = sum_i (x_ui - mu - c_i) / (n_u + user_damping)``: means
shrunk towards zero by ``damping`` pseudo-ratings, so that an item seen once does
not get that one rating's full deviation (Koren 2010, section 2.1; LensKit's
``BiasScorer``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from acmlkit.factorization.recommender import RecommenderMixin, to_ratings
from acmlkit.validation import check_real

# Pseudo-ratings of the default baseline (LensKit's examples use 5).
DAMPING = 5.0


class DampedBaseline(RecommenderMixin, BaseEstimator):
    """Global mean plus damped user and item biases.

    Parameters
    ----------
    user_damping, item_damping : float
        Pseudo-ratings at the global mean added to every user's and item's entries.

    Attributes
    ----------
    mean_ : float
    row_bias_, col_bias_ : ndarray of shape (m,) and (n,)
    row_ids_, col_ids_ : ndarray
        The training data's user and item ids.
    """

    def __init__(self, *, user_damping: float = DAMPING, item_damping: float = DAMPING):
        self.user_damping = user_damping
        self.item_damping = item_damping

    def fit(self, X, y=None) -> DampedBaseline:
        """Fit to ratings ``X`` (anything :func:`to_ratings` reads)."""
        check_real(self.user_damping, "user_damping", low=0)
        check_real(self.item_damping, "item_damping", low=0)
        train = to_ratings(X)
        m, n = train.shape
        self.mean_ = float(train.values.mean())
        residual = train.values - self.mean_
        col_counts = np.bincount(train.cols, minlength=n)
        self.col_bias_ = damped_mean(train.cols, residual, col_counts, self.item_damping)
        residual = residual - self.col_bias_[train.cols]
        self.row_bias_ = damped_mean(train.rows, residual, np.bincount(train.rows, minlength=m),
                                      self.user_damping)
        self.row_ids_, self.col_ids_, self.shape_ = train.row_ids, train.col_ids, train.shape
        self._remember_seen(train)
        return self

    def _predict_indices(self, rows, cols) -> np.ndarray:
        return self.mean_ + self.row_bias_[rows] + self.col_bias_[cols]

    def _score_rows(self, rows) -> np.ndarray:
        return self.mean_ + self.row_bias_[rows][:, None] + self.col_bias_[None, :]

    def _fold_in_rows(self, values) -> dict:
        residual = values.data - self.mean_ - self.col_bias_[values.indices]
        rows = np.repeat(np.arange(values.shape[0]), np.diff(values.indptr))
        counts = np.diff(values.indptr)
        return {"row_bias_": damped_mean(rows, residual, counts, self.user_damping)}


def damped_mean(index, values, counts, damping) -> np.ndarray:
    sums = np.bincount(index, weights=values, minlength=counts.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums / (counts + damping)
    # A row with no entries and no damping has no information: bias 0.
    return np.where(counts + damping > 0, out, 0.0)
