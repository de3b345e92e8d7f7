"""The fused kernels' in-place features, folded constants and chunked sources
against independent, naive twins."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from acmlkit.mixture import GaussianMixture, _kernels
from acmlkit.mixture._kernels import (
    DiagKernel,
    QuadraticFullKernel,
    SphericalKernel,
    TiedKernel,
    WhiteningFullKernel,
)
from acmlkit.mixture.densities import precision_cholesky

SHAPES = [(1, 1, 1), (7, 3, 2), (300, 5, 4), (2_000, 16, 8)]


def naive_features(kind, XT):
    """Features (width, n) written out by definition, one point at a time."""
    columns = []
    for x in XT.T:
        if kind == "quadratic":
            quad = [x[i] * x[j] for i in range(x.size) for j in range(i, x.size)]
            columns.append(np.concatenate([np.array(quad, dtype=x.dtype), x]))
        elif kind == "diag":
            columns.append(np.concatenate([x * x, x]))
        elif kind == "spherical":
            columns.append(np.concatenate([[np.dot(x, x)], x]))
        else:
            columns.append(x)
    return np.array(columns, dtype=XT.dtype).T


KERNELS = {
    "quadratic": QuadraticFullKernel,
    "diag": DiagKernel,
    "spherical": SphericalKernel,
    "tied": TiedKernel,
    "whitening": WhiteningFullKernel,
}


@pytest.mark.parametrize("kind", list(KERNELS))
@pytest.mark.parametrize(("n", "D", "K"), SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_features_equal_the_definition(kind, n, D, K, dtype):
    XT = np.random.default_rng(n + D).normal(3.0, 2.0, size=(D, n)).astype(dtype)
    kernel = KERNELS[kind](K, D, dtype)
    got = kernel.features(XT)
    expected = naive_features(kind, XT)
    assert got.shape == (kernel.width, n) and got.dtype == dtype
    if kind == "spherical":
        np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ["quadratic", "diag", "spherical", "whitening"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_feature_source_centres_and_chunks_like_the_naive_twin(kind, dtype, monkeypatch):
    # A small chunk budget forces many chunks and a ragged last one.
    monkeypatch.setattr(_kernels, "_CHUNK_ELEMENTS", 1 << 12)
    rng = np.random.default_rng(1)
    n, D, K = 3_001, 6, 3
    X = rng.normal(-40.0, 5.0, size=(n, D)).astype(dtype)
    center = X.mean(axis=0, dtype=np.float64)
    kernel = KERNELS[kind](K, D, dtype)
    cached = _kernels.FeatureSource(kernel, X, center)
    streamed = _kernels.FeatureSource(kernel, X, center, cache=False)
    centred = X - center.astype(dtype)
    np.testing.assert_array_equal(cached.centred, centred)
    np.testing.assert_array_equal(streamed.centred, centred)
    chunks = list(cached.chunks())
    assert len(chunks) > 2 and chunks[-1].stop == n
    expected = naive_features(kind, np.ascontiguousarray(centred.T))
    for points in chunks:
        np.testing.assert_allclose(cached[points], expected[:, points], rtol=1e-6, atol=0)
        np.testing.assert_array_equal(cached[points], streamed[points])
    # Already-centred input (center None) is taken as it is.
    np.testing.assert_array_equal(_kernels.FeatureSource(kernel, centred).centred, centred)


def random_parameters(rng, K, D):
    weights = rng.dirichlet(np.ones(K))
    means = rng.normal(0, 3, size=(K, D))
    A = rng.normal(size=(K, D, D + 3))
    covariances = A @ A.transpose(0, 2, 1) / (D + 3) + 0.1 * np.eye(D)
    return weights, means, covariances


@pytest.mark.parametrize(("n", "D", "K"), SHAPES[1:])
def test_log_prob_with_the_folded_half_equals_scipy_and_the_unfolded_form(n, D, K):
    rng = np.random.default_rng(D * K)
    weights, means, covariances = random_parameters(rng, K, D)
    X = rng.normal(0, 3, size=(n, D))
    kernel = QuadraticFullKernel(K, D, np.float64)
    kernel.set_parameters(weights, means, precision_cholesky(covariances, "full"))
    F = kernel.features(np.ascontiguousarray(X.T))
    got = kernel.log_prob(F)
    reference = np.array(
        [
            np.log(w) + stats.multivariate_normal(m, c).logpdf(X)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    ).reshape(K, n)
    np.testing.assert_allclose(got, reference, rtol=1e-10, atol=1e-10)
    # -0.5 scales every product and partial sum exactly: the same bits as scaling after.
    coef = kernel._coef
    folded = coef @ F + kernel._const
    unfolded = coef / -0.5 @ F
    unfolded *= -0.5
    unfolded += kernel._const
    np.testing.assert_array_equal(folded, unfolded)
    # The compiled product sums in another order than BLAS.
    np.testing.assert_allclose(got, folded, rtol=1e-13, atol=1e-12 * np.abs(folded).max())


def test_diag_log_prob_equals_scipy():
    rng = np.random.default_rng(5)
    K, D, n = 4, 7, 500
    weights = rng.dirichlet(np.ones(K))
    means = rng.normal(0, 3, size=(K, D))
    variances = rng.uniform(0.2, 3.0, size=(K, D))
    X = rng.normal(0, 3, size=(n, D))
    kernel = DiagKernel(K, D, np.float64)
    kernel.set_parameters(weights, means, 1 / np.sqrt(variances))
    got = kernel.log_prob(kernel.features(np.ascontiguousarray(X.T)))
    reference = np.array(
        [
            np.log(w) + stats.norm(m, np.sqrt(v)).logpdf(X).sum(axis=1)
            for w, m, v in zip(weights, means, variances, strict=True)
        ]
    )
    np.testing.assert_allclose(got, reference, rtol=1e-12)


@pytest.mark.parametrize("kind", ["full", "diag", "tied", "spherical"])
@pytest.mark.parametrize("n", [50, 3_000])
def test_fit_far_from_the_origin_equals_scikit_learn_near_it(kind, n):
    # EM is shift-equivariant. scikit-learn's raw-moment sums lose digits far
    # from the origin, so it runs on the shifted-back data as the reference.
    rng = np.random.default_rng(n)
    centers = rng.normal(0, 4, size=(3, 4))
    X = centers[rng.integers(3, size=n)] + rng.standard_normal((n, 4))
    offset = 1e3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = SklearnGaussianMixture(3, covariance_type=kind, max_iter=1, random_state=0).fit(X)
        init = dict(weights_init=start.weights_, precisions_init=start.precisions_)
        ours = GaussianMixture(
            3, covariance_type=kind, tol=0, max_iter=8, means_init=start.means_ + offset, **init
        ).fit(X + offset)
        ref = SklearnGaussianMixture(
            3, covariance_type=kind, tol=0, max_iter=8, means_init=start.means_, **init
        ).fit(X)
    assert abs(ours.lower_bound_ - ref.lower_bound_) < 1e-11
    np.testing.assert_allclose(ours.means_ - offset, ref.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-8)
