"""The blocked Gram kernels against naive per-row references."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from acmlkit.factorization import solvers
from acmlkit.factorization.solvers import (
    als_half_step,
    gaussian_rows,
    plan_rows,
    row_systems,
    run_plans,
)

from .conftest import naive_half_step, random_pattern


def _assembled(R, targets, fixed, block_entries):
    """Every row's system from row_systems over all blocks, rows without entries zero."""
    D = fixed.shape[1]
    out = np.zeros((R.shape[0], D + 1, D + 1))
    seen = np.zeros(R.shape[0], int)
    for plan in plan_rows(R.indptr, R.indices, block_entries):
        for rows, system in row_systems(plan, targets, fixed):
            out[rows] = system
            seen[rows] += 1
    return out, seen


@pytest.mark.parametrize("m, n, density, D, block_entries", [
    (30, 40, 0.3, 3, 1 << 18),       # one block, short rows
    (12, 2600, 0.5, 14, 1 << 18),    # rows longer than LONGEST: several pieces each
    (50, 300, 0.2, 6, 200),          # many blocks
])
def test_row_systems_match_per_row_products(m, n, density, D, block_entries):
    rng = np.random.default_rng(D)
    ratings = random_pattern(m, n, density, rng, empty_rows=(1, m - 1))
    R = ratings.to_csr()
    fixed = rng.standard_normal((n, D))
    targets = rng.standard_normal(R.nnz)
    out, seen = _assembled(R, targets, fixed, block_entries)
    counts = np.diff(R.indptr)
    np.testing.assert_array_equal(seen, (counts > 0).astype(int))
    for i in range(m):
        cols = R.indices[R.indptr[i]:R.indptr[i + 1]]
        t = targets[R.indptr[i]:R.indptr[i + 1]]
        F = fixed[cols]
        np.testing.assert_allclose(out[i, :D, :D], F.T @ F, atol=1e-10)
        np.testing.assert_allclose(out[i, :D, D], F.T @ t, atol=1e-10)
        assert out[i, D, D] == pytest.approx(t @ t, abs=1e-10)
    if n > solvers.LONGEST:
        assert counts.max() > solvers.LONGEST


@pytest.mark.parametrize("reg_exponent", [0.0, 1.0])
def test_blocked_half_step_for_large_rank_matches_lstsq(reg_exponent):
    # D > 12 takes the blocked path; some rows span several pieces.
    rng = np.random.default_rng(2)
    ratings = random_pattern(20, 1500, 0.75, rng, empty_rows=(4,))
    fixed = rng.standard_normal((1500, 16))
    fast, sse = als_half_step(ratings.to_csr(), fixed, 0.4, reg_exponent=reg_exponent,
                              return_sse=True)
    observed = ~np.isnan(ratings.to_dense())
    slow = naive_half_step(ratings.to_dense(0.0), observed, fixed, 0.4, reg_exponent)
    np.testing.assert_allclose(fast, slow, atol=1e-10)
    assert np.all(fast[4] == 0)
    residual = ratings.values - np.sum(fast[ratings.rows] * fixed[ratings.cols], axis=1)
    assert sse == pytest.approx(residual @ residual, rel=1e-9)


def test_blocked_half_step_names_the_fix_for_singular_rows():
    rng = np.random.default_rng(3)
    ratings = random_pattern(6, 40, 0.2, rng)
    with pytest.raises(ValueError, match="raise u_lambda/v_lambda"):
        als_half_step(ratings.to_csr(), rng.standard_normal((40, 14)), 0.0)


def test_gaussian_rows_is_mean_plus_inverse_cholesky_transpose_noise():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((25, 5, 8))
    P = A @ A.transpose(0, 2, 1) + 0.3 * np.eye(5)
    h = rng.standard_normal((25, 5))
    z = rng.standard_normal((25, 5))
    x = gaussian_rows(P, h, z)
    for i in range(25):
        L = np.linalg.cholesky(P[i])
        expected = np.linalg.solve(P[i], h[i]) + np.linalg.solve(L.T, z[i])
        np.testing.assert_allclose(x[i], expected, atol=1e-10)
    np.testing.assert_allclose(gaussian_rows(P, h, np.zeros_like(z)),
                               np.linalg.solve(P, h[:, :, None])[:, :, 0], atol=1e-10)


def test_gaussian_rows_covariance_is_the_inverse_precision():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3, 3))
    P = A @ A.T + np.eye(3)
    N = 40_000
    draws = gaussian_rows(np.broadcast_to(P, (N, 3, 3)).copy(), np.zeros((N, 3)),
                          rng.standard_normal((N, 3)))
    np.testing.assert_allclose(np.cov(draws.T), np.linalg.inv(P), atol=0.03)


def test_threads_and_blocks_do_not_change_a_bit():
    rng = np.random.default_rng(6)
    ratings = random_pattern(80, 200, 0.3, rng)
    R = ratings.to_csr()
    fixed = rng.standard_normal((200, 15))
    one, _ = _assembled(R, R.data, fixed, 1 << 18)

    def blocked(threads):
        out = np.zeros_like(one)

        def work(plan):
            for rows, system in row_systems(plan, R.data, fixed):
                out[rows] = system

        with threadpool_limits(threads):
            run_plans(plan_rows(R.indptr, R.indices, 300), work)
        return out

    np.testing.assert_array_equal(blocked(1), one)
    np.testing.assert_array_equal(blocked(2), one)
