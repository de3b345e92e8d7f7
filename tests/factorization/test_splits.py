import numpy as np
import pytest

from acmlkit.factorization.data import make_ratings, synthetic
from acmlkit.factorization.splits import (
    bernoulli_split,
    carve_validation,
    cold_start_counts,
    kfold_splits,
    user_holdout_split,
)


@pytest.fixture
def ratings():
    return synthetic(50, 40, rank=2, missing=0.5, seed=0)


def assert_partition(split, nnz):
    assert np.intersect1d(split.train, split.test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([split.train, split.test])),
                                  np.arange(nnz))


def test_bernoulli_split_is_disjoint_and_about_p(ratings):
    split = bernoulli_split(ratings, 0.3, seed=1)
    assert_partition(split, ratings.nnz)
    assert split.train.size / ratings.nnz == pytest.approx(0.3, abs=0.03)
    again = bernoulli_split(ratings, 0.3, seed=1)
    np.testing.assert_array_equal(split.train, again.train)


def test_bernoulli_splits_from_one_seed_are_nested(ratings):
    small, large = bernoulli_split(ratings, 0.1, 4), bernoulli_split(ratings, 0.7, 4)
    assert np.isin(small.train, large.train).all()


@pytest.mark.parametrize("p", [0, 1, -0.2, 1.5])
def test_p_outside_open_unit_interval(ratings, p):
    with pytest.raises(ValueError, match=rf"p must be in \(0, 1\), got {p}"):
        bernoulli_split(ratings, p)


def test_kfold_test_sides_partition_the_entries(ratings):
    splits = kfold_splits(ratings, 4, seed=0)
    tests = np.concatenate([s.test for s in splits])
    np.testing.assert_array_equal(np.sort(tests), np.arange(ratings.nnz))
    for split in splits:
        assert_partition(split, ratings.nnz)


def test_user_holdout_holds_out_a_share_of_each_row(ratings):
    split = user_holdout_split(ratings, 0.25, seed=0)
    assert_partition(split, ratings.nnz)
    counts = np.bincount(ratings.rows, minlength=50)
    held = np.bincount(ratings.rows[split.test], minlength=50)
    np.testing.assert_array_equal(held, np.minimum(np.round(0.25 * counts), counts - 1))


def test_validation_is_carved_from_training_only(ratings):
    split = bernoulli_split(ratings, 0.5, seed=0)
    fit, val = carve_validation(split.train, 0.2, seed=0)
    assert np.intersect1d(fit, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), split.train)


def test_cold_start_counts_by_hand():
    r = make_ratings([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], [1.0, 2, 3, 4, 5], (3, 3))
    train, test = r.subset(np.array([0, 1, 2])), r.subset(np.array([3, 4]))
    # Row 2 and column 2 have no training entries; both test entries sit in row 2.
    assert cold_start_counts(train, test) == {
        "cold_rows": 1, "cold_cols": 1, "cold_test_entries": 2}
