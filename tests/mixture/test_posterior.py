import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special, stats

from acmlkit.mixture import naive_responsibilities, responsibilities, univariate_responsibilities
from acmlkit.mixture.experiments import NORMAL_LOGLIK_PER_DIM, HighDimConfig, run_high_dim


def test_notebook_example():
    # exercise4, cell [2]: x = 5, components (0, var 0.01, 0.5) and (1.13, var 0.006, 0.5).
    resp, _ = univariate_responsibilities([5.0], [0.0, 1.13], [0.01, 0.006], [0.5, 0.5])
    np.testing.assert_allclose(resp[0], [0.10152327, 0.89847673], atol=1e-8)


def test_matches_scipy_softmax_and_logsumexp():
    rng = np.random.default_rng(0)
    log_density = rng.normal(-500, 200, size=(40, 5))
    log_weights = np.log(rng.dirichlet(np.ones(5)))
    resp, log_lik = responsibilities(log_density, log_weights)
    np.testing.assert_allclose(resp, special.softmax(log_density + log_weights, axis=1), rtol=1e-12)
    np.testing.assert_allclose(log_lik, special.logsumexp(log_density + log_weights, axis=1))


def test_log_likelihood_is_the_mixture_density():
    x = np.array([-0.3, 0.5, 1.2])
    means, variances, weights = np.array([0.0, 1.0]), np.array([0.5, 0.2]), np.array([0.3, 0.7])
    _, log_lik = univariate_responsibilities(x, means, variances, weights)
    density = sum(
        w * stats.norm.pdf(x, m, np.sqrt(v)) for m, v, w in zip(means, variances, weights)
    )
    np.testing.assert_allclose(log_lik, np.log(density), rtol=1e-12)


def test_high_dimension_stays_finite_where_naive_route_fails():
    result = run_high_dim(HighDimConfig(dims=(10, 400, 600, 10_000), n_points=100))
    assert all(result.all_finite)
    assert max(result.max_row_sum_error) < 1e-12
    # N(0, I) data: the log-likelihood per dimension tends to -(log 2 pi + 1) / 2.
    assert result.loglik_per_dim[-1] == pytest.approx(NORMAL_LOGLIK_PER_DIM, abs=5e-3)
    assert NORMAL_LOGLIK_PER_DIM == pytest.approx(-1.4189385, abs=1e-7)
    # exp(-1.419 D) underflows float64 (smallest subnormal ~ e^-745) from D ~ 525.
    assert result.naive_nan_share[:2] == [0.0, 0.0]
    assert result.naive_nan_share[2:] == [1.0, 1.0]
    assert result.naive_first_failure == 600


def test_naive_route_agrees_when_it_does_not_underflow():
    rng = np.random.default_rng(3)
    log_density = rng.normal(-5, 1, size=(10, 3))
    log_weights = np.log([0.2, 0.3, 0.5])
    np.testing.assert_allclose(
        naive_responsibilities(log_density, log_weights),
        responsibilities(log_density, log_weights)[0],
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("weights", "message"),
    [([0.5, 0.4], "sum to 1"), ([1.5, -0.5], r"lie in \[0, 1\]"), ([1.0], "shape")],
)
def test_bad_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        univariate_responsibilities([5.0], [0.0, 1.13], [0.01, 0.006], weights)


def test_shape_and_nan_errors():
    with pytest.raises(ValueError, match=r"log_weights must have shape \(2,\)"):
        responsibilities(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        responsibilities(np.array([[np.nan, 0.0]]), np.zeros(2))
    with pytest.raises(ValueError, match="NaN or infinity"):
        univariate_responsibilities([np.nan], [0.0], [1.0], [1.0])


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=st.floats(-1e4, 50)
    ),
    st.floats(-1e3, 1e3),
)
def test_rows_sum_to_one_and_shifts_cancel(log_density, shift):
    log_weights = np.full(log_density.shape[1], -np.log(log_density.shape[1]))
    resp, log_lik = responsibilities(log_density, log_weights)
    assert np.all(np.isfinite(resp)) and np.all(resp >= 0)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    shifted, shifted_ll = responsibilities(log_density + shift, log_weights)
    np.testing.assert_allclose(shifted, resp, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shifted_ll, log_lik + shift, rtol=1e-12, atol=1e-9)
