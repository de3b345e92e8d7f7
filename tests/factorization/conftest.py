"""Small synthetic matrices and the naive solvers the fast code is checked against."""

from pathlib import Path

import numpy as np
import pytest

from acmlkit.factorization.data import make_ratings, synthetic

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"


@pytest.fixture
def small():
    """A 30 x 20 rank-3 matrix with 40 % of entries missing."""
    return synthetic(30, 20, rank=3, noise=0.05, missing=0.4, seed=3)


@pytest.fixture
def ml100k_path() -> Path:
    path = SHARED_DATASETS / "ml-100k" / "u.data"
    if not path.is_file():
        pytest.skip(f"MovieLens 100K not available at {path}")
    return path


def random_pattern(m, n, density, rng, *, empty_rows=()):
    """A random sparse pattern; ``empty_rows`` get no entries at all."""
    mask = rng.random((m, n)) < density
    mask[list(empty_rows)] = False
    rows, cols = np.nonzero(mask)
    return make_ratings(rows, cols, rng.standard_normal(rows.size), (m, n))


def naive_half_step(dense_targets, observed, fixed, reg, reg_exponent=0.0):
    """Row by row: ``lstsq`` on the observed entries stacked over sqrt(penalty) * I."""
    m, D = dense_targets.shape[0], fixed.shape[1]
    reg = np.broadcast_to(np.asarray(reg, float), (D,))
    out = np.zeros((m, D))
    for i in range(m):
        cols = np.flatnonzero(observed[i])
        if cols.size == 0:
            continue
        scale = cols.size**reg_exponent
        A = np.vstack([fixed[cols], np.diag(np.sqrt(scale * reg))])
        b = np.concatenate([dense_targets[i, cols], np.zeros(D)])
        out[i] = np.linalg.lstsq(A, b, rcond=None)[0]
    return out


def naive_objective(ratings, model):
    """The ALS objective recomputed entry by entry from the learned attributes."""
    sse = 0.0
    for i, j, x in zip(ratings.rows, ratings.cols, ratings.values):
        pred = (model.mean_ + model.row_bias_[i] + model.col_bias_[j]
                + model.row_factors_[i] @ model.col_factors_[j])
        sse += (x - pred) ** 2
    rc = np.bincount(ratings.rows, minlength=ratings.shape[0]).astype(float)
    cc = np.bincount(ratings.cols, minlength=ratings.shape[1]).astype(float)
    a = model.reg_exponent
    rows = (model.u_lambda * (model.row_factors_**2).sum(1)
            + model.bias_lambda * model.row_bias_**2)
    cols = (model.v_lambda * (model.col_factors_**2).sum(1)
            + model.bias_lambda * model.col_bias_**2)
    return sse + np.sum(rc**a * rows) + np.sum(cc**a * cols)
