"""Train/test splits of observed entries, disjoint by construction.

A split holds positions into a :class:`~acmlkit.factorization.data.Ratings`
object's entry arrays, never copies of the data; every entry lands in exactly
one side, so train and test cannot overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acmlkit.factorization.data import Ratings
from acmlkit.rng import check_random_state
from acmlkit.validation import check_int, check_real


@dataclass(frozen=True, eq=False)
class Split:
    """Entry positions of the training and the test side, sorted, disjoint."""

    train: np.ndarray
    test: np.ndarray

    def apply(self, ratings: Ratings) -> tuple[Ratings, Ratings]:
        return ratings.subset(self.train), ratings.subset(self.test)


def check_p(p) -> float:
    return check_real(p, "p", low=0, high=1, low_open=True, high_open=True)


def bernoulli_split(ratings: Ratings, p: float, seed=0) -> Split:
    """The notebook's mask: each observed entry goes to training with probability ``p``.

    Unlike the notebook's ``train_test``, this draws over observed entries only,
    so a missing cell can never become a zero "observation" on either side.
    """
    p = check_p(p)
    in_train = check_random_state(seed).random(ratings.nnz) < p
    split = Split(np.flatnonzero(in_train), np.flatnonzero(~in_train))
    for side, index in (("training", split.train), ("test", split.test)):
        if index.size == 0:
            raise ValueError(
                f"p={p} leaves the {side} side empty for {ratings.nnz} observed entries; "
                "choose p further from 0 and 1"
            )
    return split


def kfold_splits(ratings: Ratings, n_folds: int = 5, seed=0) -> list[Split]:
    """``n_folds`` splits whose test sides partition the entries (one permutation)."""
    n_folds = check_int(n_folds, "n_folds", low=2, high=ratings.nnz)
    perm = check_random_state(seed).permutation(ratings.nnz)
    folds = np.array_split(perm, n_folds)
    splits = []
    for k, fold in enumerate(folds):
        train = np.concatenate([f for j, f in enumerate(folds) if j != k])
        splits.append(Split(np.sort(train), np.sort(fold)))
    return splits


def user_holdout_split(ratings: Ratings, fraction: float = 0.2, seed=0) -> Split:
    """Hold out ``fraction`` of every row's entries (rounded; at least one stays in training).

    Rows with a single entry keep it for training, so every row seen in
    training is also evaluated wherever it has enough entries.
    """
    fraction = check_real(fraction, "holdout", low=0, high=1, low_open=True, high_open=True)
    rng = check_random_state(seed)
    # Random keys sorted within each row give a uniform random order per row.
    order = np.lexsort((rng.random(ratings.nnz), ratings.rows))
    counts = np.bincount(ratings.rows, minlength=ratings.shape[0])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_row = np.arange(ratings.nnz) - np.repeat(starts, counts)
    n_test = np.minimum(np.round(fraction * counts).astype(np.int64), counts - 1)
    held = rank_in_row < np.repeat(n_test, counts)
    if not held.any():
        raise ValueError(
            f"a per-user split with holdout {fraction} holds out nothing: every one of the "
            f"{ratings.shape[0]} users has too few ratings (most: {int(counts.max())}; a user "
            "needs round(holdout * count) >= 1 and one rating left for training); raise "
            "--holdout or use --split bernoulli"
        )
    test = np.sort(order[held])
    train = np.sort(order[~held])
    return Split(train, test)


def carve_validation(train: np.ndarray, fraction: float, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Split training positions into (fit, validation); the test side is never touched."""
    fraction = check_real(fraction, "validation_fraction", low=0, high=1, low_open=True,
                          high_open=True)
    in_val = check_random_state(seed).random(train.size) < fraction
    if in_val.all() or not in_val.any():
        raise ValueError(
            f"validation_fraction={fraction} leaves no entries on one side of {train.size} "
            "training entries"
        )
    return train[~in_val], train[in_val]


def cold_start_counts(train: Ratings, test: Ratings) -> dict[str, int]:
    """Test rows, columns and entries whose row or column has no training entries.

    Those are predicted from the global mean and the other side's bias alone.
    """
    row_seen = np.bincount(train.rows, minlength=train.shape[0]) > 0
    col_seen = np.bincount(train.cols, minlength=train.shape[1]) > 0
    cold_entry = ~row_seen[test.rows] | ~col_seen[test.cols]
    return {
        "cold_rows": int(np.unique(test.rows[~row_seen[test.rows]]).size),
        "cold_cols": int(np.unique(test.cols[~col_seen[test.cols]]).size),
        "cold_test_entries": int(cold_entry.sum()),
    }
