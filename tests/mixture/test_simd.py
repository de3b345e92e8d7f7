import numba
import numpy as np
import pytest

from acmlkit.mixture import _simd as V


@numba.njit
def elementwise(a, b, c, out):
    # Offsets not multiples of 8 and arrays of two dimensions: any flat start.
    for start in range(0, a.size - V.WIDTH + 1, 3):
        x, y, z = V.load(a, start), V.load(b, start), V.load(c, start)
        V.store(out[0], start, V.fma(x, y, z))
        V.store(out[1], start, V.add(x, y))
        V.store(out[2], start, V.sub(x, y))
        V.store(out[3], start, V.mul(x, y))
        V.store(out[4], start, V.div(x, y))
        V.store(out[5], start, V.sqrt(V.mul(x, x)))
        V.store(out[6], start, V.add(x, V.splat(2)))
        V.store(out[7], start, V.fnma(x, y, z))


@pytest.mark.parametrize("shape", [(8,), (4, 7), (3, 5, 11)])
def test_lane_operations_match_numpy(shape):
    rng = np.random.default_rng(len(shape))
    a, b, c = (rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4, size=shape) for _ in range(3))
    out = np.full((8,) + shape, np.nan)
    elementwise(a, b, c, out)
    covered = np.zeros(a.size, dtype=bool)
    for start in range(0, a.size - V.WIDTH + 1, 3):
        covered[start : start + V.WIDTH] = True
    expected = [a * b + c, a + b, a - b, a * b, a / b, np.abs(a), a + 2, c - a * b]
    for got, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(got.reshape(-1)[covered], want.reshape(-1)[covered], rtol=1e-15)
        assert np.isnan(got.reshape(-1)[~covered]).all()


def test_fma_rounds_once():
    # (1 + 2^-30)^2 - 1 - 2^-29 is 2^-60 exactly; two roundings lose it.
    x = np.full(8, 1 + 2.0**-30)
    c = np.full(8, -(1 + 2.0**-29))
    out = np.empty((8, 8))
    elementwise(x, x, c, out)
    assert np.all(out[0] == 2.0**-60)
    elementwise(x, x, -c, out)
    assert np.all(out[7] == -(2.0**-60))


@numba.njit
def lanes_and_signs(a):
    v = V.load(a, 0)
    return np.array([V.lane(v, i) for i in range(V.WIDTH)]), V.all_positive(v)


@pytest.mark.parametrize("bad", [None, 0.0, -1e-300, np.nan])
def test_lane_values_and_all_positive(bad):
    a = np.arange(1.0, 9.0)
    if bad is not None:
        a[5] = bad
    values, positive = lanes_and_signs(a)
    np.testing.assert_array_equal(values, a)
    assert positive == (bad is None)


def test_rejects_arrays_that_are_not_contiguous_float64():
    with pytest.raises(numba.TypingError):
        lanes_and_signs(np.arange(8, dtype=np.float32))
    with pytest.raises(numba.TypingError):
        lanes_and_signs(np.arange(16.0)[::2])


@numba.njit
def sum_with_prefetches(a, ahead):
    total = 0.0
    for i in range(a.size):
        V.prefetch(a, i + ahead)
        total += a.flat[i]
    return total


def test_prefetch_past_the_end_is_harmless():
    a = np.arange(100.0).reshape(10, 10)
    assert sum_with_prefetches(a, 1 << 20) == a.sum()
    with pytest.raises(numba.TypingError):
        sum_with_prefetches(np.arange(200.0)[::2], 8)
