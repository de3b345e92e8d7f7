import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_blas_thread():
    """OpenBLAS threads spin for milliseconds per small call on this shared machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def blobs():
    """Three well separated 3-D clusters, 600 points."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    scales = np.array([1.0, 0.6, 1.4])
    labels = rng.integers(3, size=600)
    return centers[labels] + scales[labels, None] * rng.standard_normal((600, 3))


def naive_em(X, weights, means, covs, n_iter, freeze=(), idx=(), reg_covar=1e-6):
    """Textbook full-covariance EM with scipy densities: the independent reference.

    ``freeze`` names parameters (weights, means, covariances) held at their start for
    the components ``idx``."""
    weights, means, covs = weights.copy(), means.copy(), covs.copy()
    lls = []
    for _ in range(n_iter):
        dens = np.stack(
            [w * stats.multivariate_normal(m, c).pdf(X) for w, m, c in zip(weights, means, covs)], 1
        )
        lls.append(np.log(dens.sum(1)).mean())
        resp = dens / dens.sum(1, keepdims=True)
        nk = resp.sum(0)
        new_w = nk / nk.sum()
        new_m = resp.T @ X / nk[:, None]
        if "weights" in freeze:
            free = np.setdiff1d(np.arange(len(nk)), idx)
            new_w[idx] = weights[idx]
            new_w[free] = nk[free] / nk[free].sum() * (1 - weights[idx].sum())
        if "means" in freeze:
            new_m[idx] = means[idx]
        new_c = np.stack(
            [
                (resp[:, k, None] * (X - new_m[k])).T @ (X - new_m[k]) / nk[k]
                + reg_covar * np.eye(X.shape[1])
                for k in range(len(nk))
            ]
        )
        if "covariances" in freeze:
            new_c[idx] = covs[idx]
        weights, means, covs = new_w, new_m, new_c
    return np.array(lls), weights, means, covs
