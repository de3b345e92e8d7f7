"""The missing-value E-step and statistics against a per-row textbook twin, with runs
of one pattern whole and cut by chunk boundaries (many patterns, one row or many each)."""

import numpy as np
import pytest
from scipy import linalg, special

from acmlkit.mixture import _kernels
from acmlkit.mixture._missing import MissingEngine, missing_log_prob_and_impute


def holes(n, D, share, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D)) @ rng.standard_normal((D, D)) + rng.uniform(-5, 5, D)
    mask = rng.uniform(size=X.shape) < share
    # Some heavily repeated patterns next to many rare ones.
    mask[: n // 4] = mask[0]
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X


def parameters(X, K, seed):
    rng = np.random.default_rng(seed)
    D = X.shape[1]
    weights = rng.dirichlet(np.ones(K) * 3)
    means = rng.standard_normal((K, D))
    covs = []
    for _ in range(K):
        A = rng.standard_normal((D, D))
        covs.append(A @ A.T / D + 0.5 * np.eye(D))
    covs = np.array(covs)
    prec_chol = np.array([linalg.cholesky(np.linalg.inv(c), lower=True) for c in covs])
    return weights, means, covs, prec_chol


def naive_pass(Xc, weights, means, covs, sample_weight):
    """Per-row joint log densities (K, n), fills, and the weighted expected statistics."""
    n, D = Xc.shape
    K = len(weights)
    joint = np.empty((K, n))
    xhat = np.empty((K, n, D))
    cond = np.zeros((K, n, D, D))
    for i, x in enumerate(Xc):
        o = ~np.isnan(x)
        m = ~o
        for k in range(K):
            S = covs[k]
            S_oo = S[np.ix_(o, o)]
            r = x[o] - means[k][o]
            _, log_det = np.linalg.slogdet(S_oo)
            joint[k, i] = np.log(weights[k]) - 0.5 * (
                o.sum() * np.log(2 * np.pi) + log_det + r @ np.linalg.solve(S_oo, r)
            )
            xhat[k, i] = np.where(o, x, 0.0)
            if m.any():
                gain = S[np.ix_(m, o)] @ np.linalg.inv(S_oo)
                xhat[k, i, m] = means[k][m] + gain @ r
                cond[k, i][np.ix_(m, m)] = S[np.ix_(m, m)] - gain @ S[np.ix_(o, m)]
    point_ll = special.logsumexp(joint, axis=0)
    resp = np.exp(joint - point_ll) * sample_weight
    nk = resp.sum(axis=1)
    sums = np.einsum("kn,knd->kd", resp, xhat)
    sxx = np.einsum("kn,knd,kne->kde", resp, xhat, xhat) + np.einsum("kn,knde->kde", resp, cond)
    log_lik = (sample_weight @ point_ll) / sample_weight.sum()
    imputed = np.einsum("kn,knd->nd", np.exp(joint - point_ll), xhat)
    return joint, imputed, log_lik, nk, sums, sxx


# The smallest chunk is 256 rows: the test data spans several.
CHUNKS = pytest.mark.parametrize("chunk_elements", [1 << 19, 1], ids=["one-chunk", "chunks"])


@CHUNKS
# K = 11 takes two groups of vector lanes, the second partly padding.
@pytest.mark.parametrize(
    "n, D, K, share", [(700, 6, 3, 0.45), (400, 9, 2, 0.3), (600, 4, 5, 0.1), (500, 5, 11, 0.3)]
)
def test_e_pass_matches_a_per_row_twin(monkeypatch, chunk_elements, n, D, K, share):
    monkeypatch.setattr(_kernels, "_CHUNK_ELEMENTS", chunk_elements)
    X = holes(n, D, share, seed=D)
    sample_weight = np.random.default_rng(1).uniform(0.2, 3.0, n)
    engine = MissingEngine(X, sample_weight, "full", K, 1e-6)
    weights, means, covs, prec_chol = parameters(X, K, seed=K)
    log_lik, stats = engine.e_pass((weights, means, prec_chol))
    _, _, ref_ll, nk, sums, sxx = naive_pass(X - engine.center, weights, means, covs, sample_weight)
    assert log_lik == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(stats["nk"], nk, rtol=1e-11)
    np.testing.assert_allclose(stats["sums"], sums, rtol=1e-10, atol=1e-10 * np.abs(sums).max())
    np.testing.assert_allclose(stats["sxx"], sxx, rtol=1e-10, atol=1e-10 * np.abs(sxx).max())


@CHUNKS
def test_log_prob_and_impute_match_a_per_row_twin(monkeypatch, chunk_elements):
    monkeypatch.setattr(_kernels, "_CHUNK_ELEMENTS", chunk_elements)
    X = holes(500, 7, 0.4, seed=3)
    Xc = X - np.nanmean(X, axis=0)
    weights, means, covs, prec_chol = parameters(X, 10, seed=5)
    joint, imputed = missing_log_prob_and_impute(Xc, weights, means, prec_chol, "full")
    ref_joint, ref_imputed, *_ = naive_pass(Xc, weights, means, covs, np.ones(len(X)))
    np.testing.assert_allclose(joint, ref_joint, rtol=1e-11)
    np.testing.assert_allclose(imputed, ref_imputed, rtol=1e-10, atol=1e-10)
    observed = ~np.isnan(Xc)
    np.testing.assert_array_equal(imputed[observed], Xc[observed])


def test_statistics_do_not_depend_on_the_row_order():
    X = holes(600, 5, 0.5, seed=11)
    perm = np.random.default_rng(0).permutation(len(X))
    weights, means, _, prec_chol = parameters(X, 3, seed=2)
    a = MissingEngine(X, None, "full", 3, 1e-6)
    b = MissingEngine(X[perm], None, "full", 3, 1e-6)
    ll_a, sa = a.e_pass((weights, means, prec_chol))
    ll_b, sb = b.e_pass((weights, means, prec_chol))
    assert ll_a == pytest.approx(ll_b, rel=1e-13)
    np.testing.assert_allclose(sa["sxx"], sb["sxx"], rtol=1e-12, atol=1e-12)
