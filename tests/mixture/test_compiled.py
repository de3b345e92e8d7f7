import numba
import numpy as np
import pytest
from scipy import special

from acmlkit.mixture._compiled import (
    AffinePass,
    _exp_nonpositive,
    accumulate_weighted_sums,
    normalise_in_place,
)


def ulps_apart(a, b):
    """Distance in units in the last place between positive float64 arrays."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5, 1_000), (1, 7), (3, 1), (8, 4_099)])
def test_equals_logsumexp_and_softmax(dtype, shape):
    rng = np.random.default_rng(shape[1])
    log_prob = rng.normal(0, 400, size=shape)
    if shape[0] >= 4 and shape[1] >= 30:
        # Entries far below their column's maximum: libm's exp underflows to subnormals and 0.
        log_prob[1, :10] = log_prob[:, :10].max(axis=0) - 800
        log_prob[2, 10:20] = -np.inf
        log_prob[3, 20:30] = log_prob[:, 20:30].max(axis=0) - 720
    log_prob = log_prob.astype(dtype)
    reference_ll = special.logsumexp(log_prob.astype(np.float64), axis=0)
    reference_resp = special.softmax(log_prob.astype(np.float64), axis=0)
    resp = log_prob.copy()
    ll = normalise_in_place(resp)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(ll, reference_ll, rtol=tol)
    # Near the smallest normal number only absolute agreement is meaningful; the
    # kernel takes e^z below e^-707 (~1e-307; float32: e^-86, ~4e-38) as 0.
    atol = np.exp(-86.0) if dtype == np.float32 else np.exp(-707.0)
    np.testing.assert_allclose(resp, reference_resp, rtol=tol * 10, atol=atol)
    np.testing.assert_allclose(resp.sum(axis=0), 1, rtol=tol)
    if shape[0] >= 4 and shape[1] >= 30:
        assert np.all(resp[2, 10:20] == 0)


@numba.njit
def compiled_exp(z):
    out = np.empty_like(z)
    for j in range(z.size):
        out[j] = _exp_nonpositive(z[j])
    return out


def test_float32_exp_within_two_ulp_of_numpy_down_to_its_floor():
    rng = np.random.default_rng(1)
    z = np.concatenate([
        -rng.uniform(0, 86, 200_000), -rng.exponential(1.0, 50_000), np.linspace(-86, 0, 10_007)
    ]).astype(np.float32)
    got = compiled_exp(z)
    assert got.dtype == np.float32
    reference = np.exp(z.astype(np.float64)).astype(np.float32)
    assert np.abs(got.view(np.int32) - reference.view(np.int32)).max() <= 2
    assert compiled_exp(np.array([-86.5, -1e4, -np.inf], np.float32)).tolist() == [0, 0, 0]


def test_exp_within_two_ulp_of_libm_down_to_its_floor():
    rng = np.random.default_rng(0)
    z = np.concatenate([
        -rng.uniform(0, 707, 200_000),
        -rng.exponential(1.0, 50_000),
        np.linspace(-707, 0, 100_003),
        [0.0, -np.log(2) / 2, -np.log(2), -0.0, -1e-300],
    ])
    assert ulps_apart(compiled_exp(z), np.exp(z)).max() <= 2


def test_below_the_floor_is_zero_and_the_rest_is_untouched():
    gap = np.array([-706.9, -707.1, -745.2, -1e6, -np.inf])
    log_prob = np.vstack([gap + 3.0, np.full(gap.size, 3.0)])
    ll = normalise_in_place(log_prob)
    np.testing.assert_allclose(log_prob[0, 0], np.exp(-706.9), rtol=1e-15)
    assert np.all(log_prob[0, 1:] == 0)
    assert np.all(log_prob[1] == 1)
    np.testing.assert_allclose(ll, 3.0, rtol=1e-15)


def test_a_strided_view_is_normalised_in_place():
    rng = np.random.default_rng(5)
    block = rng.normal(0, 50, size=(4, 30))
    untouched = block[:, ::2].copy()
    view = block[:, 1::2]
    expected_resp = special.softmax(view, axis=0)
    expected_ll = special.logsumexp(view, axis=0)
    ll = normalise_in_place(view)
    np.testing.assert_allclose(block[:, 1::2], expected_resp, rtol=1e-14)
    np.testing.assert_allclose(ll, expected_ll, rtol=1e-14)
    assert np.array_equal(block[:, ::2], untouched)


@pytest.mark.parametrize("K", [1, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("W", [1, 2, 3, 7, 32, 152])
@pytest.mark.parametrize("m", [1, 6, 257])
def test_weighted_sums_equal_the_matrix_product(K, W, m):
    # Every split of K into blocks of 4 and W into blocks of 3, remainders included.
    rng = np.random.default_rng(K * 1000 + W * 10 + m)
    resp = rng.uniform(size=(K, m))
    features = rng.normal(0, 3, size=(W, m))
    moments = rng.normal(size=(K, W))
    nk = rng.uniform(size=K)
    expected_moments = moments + resp @ features.T
    expected_nk = nk + resp.sum(axis=1)
    accumulate_weighted_sums(resp, features, moments, nk)
    np.testing.assert_allclose(moments, expected_moments, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nk, expected_nk, rtol=1e-14)


@pytest.mark.parametrize(("K", "W", "m"), [(1, 1, 1), (5, 7, 257), (8, 152, 3_449), (9, 32, 6)])
def test_float32_weighted_sums_are_within_float32_summation_error(K, W, m):
    rng = np.random.default_rng(K + W + m)
    resp = rng.uniform(size=(K, m)).astype(np.float32)
    features = rng.normal(0, 3, size=(W, m)).astype(np.float32)
    moments, nk = np.zeros((K, W)), np.zeros(K)
    accumulate_weighted_sums(resp, features, moments, nk)
    exact = resp.astype(np.float64) @ features.astype(np.float64).T
    # The bound of summing m float32 products one after another.
    bound = m * np.finfo(np.float32).eps * (resp.astype(np.float64) @ np.abs(features.T))
    assert np.all(np.abs(moments - exact) <= bound)
    np.testing.assert_allclose(nk, resp.astype(np.float64).sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_sums_of_float32_and_strided_inputs(dtype):
    rng = np.random.default_rng(7)
    resp = rng.uniform(size=(4, 40)).astype(dtype)
    features = rng.normal(size=(9, 80)).astype(dtype)[:, ::2]
    moments = np.zeros((4, 9))
    nk = np.zeros(4)
    accumulate_weighted_sums(resp, features, moments, nk)
    exact = resp.astype(np.float64) @ features.astype(np.float64).T
    np.testing.assert_allclose(moments, exact, rtol=1e-5 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(nk, resp.astype(np.float64).sum(axis=1), rtol=1e-6)


@pytest.mark.parametrize(
    ("K", "W", "n"), [(1, 1, 1), (3, 17, 5), (8, 152, 3_449), (11, 32, 13), (16, 5, 6)]
)
def test_affine_pass_equals_the_matrix_product(K, W, n):
    rng = np.random.default_rng(K * W + n)
    coef, F, const = rng.normal(size=(K, W)), rng.normal(size=(W, n)), rng.normal(size=(K, 1))
    expected = coef @ F + const
    scale = np.abs(coef) @ np.abs(F) + np.abs(const)
    got = AffinePass(coef, const)(F)
    assert got.shape == (K, n)
    assert np.all(np.abs(got - expected) <= 1e-14 * W * scale)
    # Strided features and float32 go through BLAS, with the same result.
    wide = np.zeros((W, 2 * n))
    wide[:, ::2] = F
    strided = AffinePass(coef, const)(wide[:, ::2])
    np.testing.assert_allclose(strided, expected, rtol=1e-12, atol=1e-12)
    single = AffinePass(coef.astype(np.float32), const.astype(np.float32))(F.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, expected, rtol=1e-4, atol=1e-4 * scale.max())
