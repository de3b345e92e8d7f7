import numpy as np
import pytest
from scipy import stats

from acmlkit.mixture import COVARIANCE_TYPES, log_gaussian_density, univariate_log_density
from acmlkit.mixture.densities import (
    covariances_from_precision_cholesky,
    precision_cholesky,
)


def random_covariances(kind, K, D, rng):
    if kind == "full":
        A = rng.standard_normal((K, D, D))
        return A @ A.transpose(0, 2, 1) + D * np.eye(D)
    if kind == "tied":
        A = rng.standard_normal((D, D))
        return A @ A.T + D * np.eye(D)
    if kind == "diag":
        return rng.uniform(0.2, 3.0, size=(K, D))
    return rng.uniform(0.2, 3.0, size=K)


def dense(kind, covs, K, D):
    if kind == "full":
        return covs
    if kind == "tied":
        return np.repeat(covs[None], K, axis=0)
    if kind == "diag":
        return np.stack([np.diag(c) for c in covs])
    return covs[:, None, None] * np.eye(D)


def test_univariate_matches_scipy_with_variances():
    x = np.linspace(-2, 7, 31)
    means, variances = np.array([0.0, 1.13]), np.array([0.01, 0.006])
    expected = np.stack([stats.norm.logpdf(x, m, np.sqrt(v)) for m, v in zip(means, variances)], 1)
    np.testing.assert_allclose(univariate_log_density(x, means, variances), expected, rtol=1e-12)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_multivariate_matches_scipy(kind):
    rng = np.random.default_rng(1)
    K, D = 3, 4
    X = rng.standard_normal((50, D)) * 2
    means = rng.standard_normal((K, D))
    covs = random_covariances(kind, K, D, rng)
    got = log_gaussian_density(X, means, precision_cholesky(covs, kind), kind)
    full = dense(kind, covs, K, D)
    expected = np.stack(
        [stats.multivariate_normal(means[k], full[k]).logpdf(X) for k in range(K)], axis=1
    )
    np.testing.assert_allclose(got, expected, rtol=1e-11)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_precision_cholesky_round_trip(kind):
    rng = np.random.default_rng(2)
    covs = random_covariances(kind, 3, 4, rng)
    back = covariances_from_precision_cholesky(precision_cholesky(covs, kind), kind)
    np.testing.assert_allclose(back, covs, rtol=1e-11)


def test_singular_covariance_suggests_reg_covar():
    singular = np.ones((1, 2, 2))
    with pytest.raises(ValueError, match="component 0.*reg_covar"):
        precision_cholesky(singular, "full", reg_hint=0.0)


def test_non_positive_variance_is_rejected():
    with pytest.raises(ValueError, match="variances must be positive"):
        univariate_log_density([1.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="same length"):
        univariate_log_density([1.0], [0.0, 1.0], [1.0])
