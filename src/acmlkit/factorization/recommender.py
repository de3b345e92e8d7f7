"""What every factorisation model shares as a recommender: users speak in their own ids.

:func:`to_ratings` turns what a user holds (a pandas DataFrame, ``(user, item,
rating)`` arrays in their own ids, a file, a sparse or a dense matrix) into
:class:`~acmlkit.factorization.data.Ratings`. :class:`RecommenderMixin` gives a
fitted model ``predict(users, items)`` by raw ids (unknown ids get the baseline
and are counted), ``recommend(user, n)`` and ``fold_in(new_users)``.

A model using the mixin sets, when fitted, ``row_ids_`` and ``col_ids_`` (sorted
raw ids), ``shape_``, ``mean_``, ``row_bias_``, ``col_bias_`` and the training
pattern (:meth:`RecommenderMixin._remember_seen`), and implements:

- ``_predict_indices(rows, cols) -> (len,)``: predictions at known index pairs;
- ``_score_rows(rows) -> (len(rows), n)``: predictions for every item of those rows;
- ``_fold_in_rows(values: csr (r, n)) -> dict``: the per-row attributes (names in
  ``_ROW_ATTRS``) of ``r`` new rows solved against the frozen item side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from acmlkit.factorization.data import (
    Ratings,
    make_ratings,
    ratings_from_dense,
    ratings_from_triples,
    read_dense_csv,
    read_ratings,
    sniff_format,
)

# DataFrame column names recognised for users, items and ratings (lower case).
_USER_COLUMNS = ("user", "userid", "user_id", "uid")
_ITEM_COLUMNS = ("item", "itemid", "item_id", "movieid", "movie_id", "movie", "iid")
_RATING_COLUMNS = ("rating", "ratings", "score", "value")


def to_ratings(X, *, duplicates: str = "reject") -> Ratings:
    """:class:`Ratings` from any of the inputs a factorisation model takes.

    Parameters
    ----------
    X : Ratings, pandas.DataFrame, (users, items, ratings) tuple, str or Path, sparse
        matrix, or ndarray of shape (m, n) with NaN where missing
        A DataFrame names its columns ``user``/``userId``, ``item``/``movieId``
        and ``rating`` (or has exactly those three columns in that order); a
        tuple holds three 1-D arrays of one length in the user's own ids; a path
        is read like ``acml mf fit`` reads it; sparse matrices store the observed
        entries (stored zeros included) and count as ratings (``layout="triples"``),
        a dense array as the notebook's layout.
    """
    if isinstance(X, Ratings):
        return X
    if isinstance(X, (str, Path)):
        path = Path(X)
        if not path.is_file():
            raise FileNotFoundError(f"no ratings file at {path}")
        if sniff_format(path) == "ratings":
            return read_ratings(path, duplicates=duplicates)
        return read_dense_csv(path)
    if _is_dataframe(X):
        users, items, values = _frame_columns(X)
        return ratings_from_triples(users, items, values, duplicates=duplicates,
                                    source="DataFrame")
    if isinstance(X, (tuple, list)) and len(X) == 3 and all(np.ndim(a) == 1 for a in X):
        users, items, values = (np.asarray(a) for a in X)
        if not users.shape == items.shape == values.shape:
            raise ValueError(f"users, items and ratings must have one length, got "
                             f"{users.shape[0]}, {items.shape[0]} and {values.shape[0]}")
        if values.dtype.kind not in "biuf":
            raise ValueError(f"ratings must be numbers, got dtype {values.dtype}")
        return ratings_from_triples(_exact_ids(users, "users"), _exact_ids(items, "items"),
                                    values, duplicates=duplicates, source="(users, items, "
                                    "ratings) arrays")
    if sp.issparse(X):
        # A sparse matrix is a ratings matrix (users x items), not the notebook's dense one.
        coo = sp.coo_matrix(X)
        coo.sum_duplicates()
        return make_ratings(coo.row, coo.col, coo.data, coo.shape, layout="triples")
    return ratings_from_dense(X)


def _is_dataframe(X) -> bool:
    # pandas is optional: a DataFrame can only exist if the user imported it.
    return type(X).__name__ == "DataFrame" and hasattr(X, "columns")


def _frame_columns(frame):
    lower = {str(c).lower(): c for c in frame.columns}
    picked = [next((lower[n] for n in names if n in lower), None)
              for names in (_USER_COLUMNS, _ITEM_COLUMNS, _RATING_COLUMNS)]
    if None in picked:
        if len(frame.columns) != 3:
            raise ValueError(
                f"DataFrame columns {list(frame.columns)} not understood: expected user, item "
                "and rating columns (e.g. userId, movieId, rating)"
            )
        picked = list(frame.columns)
    return tuple(frame[c].to_numpy() for c in picked)


def _exact_ids(ids: np.ndarray, name: str) -> np.ndarray:
    if ids.dtype.kind == "f":
        if not np.array_equal(ids, np.round(ids)):
            bad = ids[ids != np.round(ids)][0]
            raise ValueError(f"{name} ids must be integers or strings, got {bad}")
        if np.abs(ids).max(initial=0) > 2**53:
            raise ValueError(f"{name} ids given as floats above 2^53 cannot be told apart; pass "
                             "them as integers or strings")
        return ids.astype(np.int64)
    return ids


def _index_of(known: np.ndarray, query) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``query`` ids in the sorted ``known`` ids, and which were found."""
    query = np.atleast_1d(np.asarray(query))
    if query.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    same_kind = (known.dtype.kind in "iu" and query.dtype.kind in "iu") or (
        known.dtype.kind == query.dtype.kind == "U")
    if same_kind:
        pos = np.searchsorted(known, query).clip(0, max(known.size - 1, 0))
        found = known[pos] == query
        return np.where(found, pos, 0).astype(np.int64), found
    lookup = {k: i for i, k in enumerate(known.tolist())}
    pos = np.array([lookup.get(q, -1) for q in query.tolist()], dtype=np.int64)
    return pos.clip(0), pos >= 0


class RecommenderMixin:
    """Predict, recommend and fold in new users by the ids the user's data carries."""

    # Per-row (per-user) learned attributes that fold_in extends and reorders.
    _ROW_ATTRS: tuple[str, ...] = ("row_bias_",)

    def _check_fitted(self) -> None:
        if not hasattr(self, "row_ids_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} model is not fitted yet; call "
                                 "fit first")

    def _remember_seen(self, train: Ratings) -> None:
        """Keep the training pattern (CSR rows) for ``recommend(exclude_seen=True)``."""
        pattern = sp.csr_matrix((np.ones(train.nnz, np.int8), (train.rows, train.cols)),
                                shape=train.shape)
        self.seen_indptr_, self.seen_items_ = pattern.indptr, pattern.indices

    # --------------------------------------------------------------- predict
    def predict(self, users, items=None) -> np.ndarray:
        """Predictions for pairs of raw ids ``(users[k], items[k])``.

        ``predict(users, items)`` takes the ids of the training data (a file's
        user and item ids, a DataFrame's values). A pair whose user or item was
        not in training gets the baseline (mean plus the known side's bias);
        ``unknown_counts_`` says how many. ``predict(R)`` with a single
        :class:`Ratings` or sparse matrix of the training shape predicts its
        entries by position.

        Returns
        -------
        ndarray of shape (n_pairs,)
        """
        self._check_fitted()
        if items is None:
            R = to_ratings(users)
            if R.shape != self.shape_:
                raise ValueError(f"X must have the training shape {self.shape_}, got {R.shape}")
            return self.predict_pairs(R.rows, R.cols)
        rows, row_known = _index_of(self.row_ids_, users)
        cols, col_known = _index_of(self.col_ids_, items)
        if rows.shape != cols.shape:
            raise ValueError(f"users and items must have one length, got {rows.size} and "
                             f"{cols.size}")
        both = row_known & col_known
        out = self.mean_ + np.where(row_known, self.row_bias_[rows], 0.0) + np.where(
            col_known, self.col_bias_[cols], 0.0)
        out[both] = self._predict_indices(rows[both], cols[both])
        self.unknown_counts_ = {"unknown_users": int((~row_known).sum()),
                                "unknown_items": int((~col_known).sum()),
                                "baseline_predictions": int((~both).sum())}
        return out

    def predict_pairs(self, rows, cols) -> np.ndarray:
        """Predictions at internal index pairs ``(rows[k], cols[k])``; shape ``(len(rows),)``."""
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        m, n = self.shape_
        if rows.shape != cols.shape or rows.ndim != 1:
            raise ValueError(f"rows and cols must be 1-D of one length, got {rows.shape} and "
                             f"{cols.shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= m or cols.min() < 0 or cols.max() >= n):
            raise ValueError(f"index pairs must lie in the training shape {self.shape_}")
        return self._predict_indices(rows, cols)

    # ------------------------------------------------------------- recommend
    def recommend(self, user, n: int = 10, *, exclude_seen: bool = True) -> list[tuple]:
        """The ``n`` items with the highest predicted rating for one user (raw id).

        An unknown user gets the items with the highest baseline (mean plus item
        bias). Returns a list of ``(item_id, score)``, best first.
        """
        self._check_fitted()
        from acmlkit.validation import check_int

        n = check_int(n, "n", low=1)
        rows, known = _index_of(self.row_ids_, [user])
        if known[0]:
            scores = self._score_rows(rows)[0]
            if exclude_seen:
                seen = self.seen_items_[self.seen_indptr_[rows[0]]:self.seen_indptr_[rows[0] + 1]]
                scores[seen] = -np.inf
        else:
            scores = self.mean_ + np.asarray(self.col_bias_, dtype=np.float64)
        n = min(n, int(np.isfinite(scores).sum()))
        top = np.argpartition(-scores, n - 1)[:n] if n else np.zeros(0, np.int64)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.col_ids_[j].item() if hasattr(self.col_ids_[j], "item")
                 else self.col_ids_[j], float(scores[j])) for j in top]

    # --------------------------------------------------------------- fold in
    def fold_in(self, X):
        """Add new users from their ratings by one exact half-step; the items stay fixed.

        ``X`` is anything :func:`to_ratings` reads, in the training data's item
        ids. Ratings of items the model has not seen are skipped and counted in
        ``fold_in_skipped_``. Users already known are refused (refit to update
        them). Returns ``self``.
        """
        self._check_fitted()
        new = to_ratings(X)
        if (self.row_ids_.dtype.kind in "iu") != (new.row_ids.dtype.kind in "iu"):
            raise ValueError(f"fold_in: new user ids are {new.row_ids.dtype} but the model's are "
                             f"{self.row_ids_.dtype}; give ids of the training data's kind")
        cols, col_known = _index_of(self.col_ids_, new.col_ids[new.cols])
        self.fold_in_skipped_ = int((~col_known).sum())
        _, user_known = _index_of(self.row_ids_, new.row_ids)
        if user_known.any():
            raise ValueError(f"fold_in adds new users; user {new.row_ids[user_known][0]!r} and "
                             f"{int(user_known.sum()) - 1} more are already in the model")
        values = sp.csr_matrix(
            (new.values[col_known], (new.rows[col_known], cols[col_known])),
            shape=(new.shape[0], self.shape_[1]))
        added = self._fold_in_rows(values)
        ids = np.concatenate([self.row_ids_, new.row_ids])
        order = np.argsort(ids, kind="stable")
        for name in self._ROW_ATTRS:
            joined = np.concatenate([getattr(self, name), added[name]])
            setattr(self, name, joined[order])
        old_seen = sp.csr_matrix((np.ones(self.seen_items_.size, np.int8), self.seen_items_,
                                  self.seen_indptr_), shape=self.shape_)
        seen = sp.vstack([old_seen, _pattern(values)]).tocsr()[order]
        self.seen_indptr_, self.seen_items_ = seen.indptr, seen.indices
        self.row_ids_ = ids[order]
        self.shape_ = (int(self.row_ids_.size), self.shape_[1])
        return self


def _pattern(values: sp.csr_matrix) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(values.indices.size, np.int8), values.indices, values.indptr),
                         shape=values.shape)
