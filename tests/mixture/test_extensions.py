"""Beyond scikit-learn: missing values, fits over chunks, online EM, frozen parameters."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from acmlkit.mixture import COVARIANCE_TYPES, GaussianMixture
from acmlkit.mixture._kernels import WhiteningFullKernel, make_kernel

from .conftest import naive_em


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def shared_start(X, kind, K=3, seed=1):
    ref = quietly(
        SklearnGaussianMixture(K, covariance_type=kind, max_iter=1, random_state=seed).fit,
        np.nan_to_num(X, nan=0.0),
    )
    return dict(weights_init=ref.weights_, means_init=ref.means_, precisions_init=ref.precisions_)


def dense(cov, kind, K, D):
    if kind == "full":
        return cov
    if kind == "tied":
        return np.repeat(cov[None], K, axis=0)
    if kind == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(D)


def with_missing(X, share, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    mask = rng.uniform(size=X.shape) < share
    mask[mask.all(axis=1), 0] = False  # every row keeps an observed entry
    X[mask] = np.nan
    return X


def naive_missing_em(X, weights, means, covs, n_iter, kind, reg_covar=1e-6):
    """Per-row textbook EM for Gaussians with missing entries (scipy densities)."""
    n, D = X.shape
    K = len(weights)
    lls = []
    for _ in range(n_iter):
        nk = np.zeros(K)
        sums = np.zeros((K, D))
        sxx = np.zeros((K, D, D))
        total = 0.0
        for x in X:
            o = ~np.isnan(x)
            m = ~o
            dens = np.array(
                [
                    w * stats.multivariate_normal(mu[o], c[np.ix_(o, o)]).pdf(x[o])
                    for w, mu, c in zip(weights, means, covs)
                ]
            )
            total += np.log(dens.sum())
            r = dens / dens.sum()
            for k in range(K):
                xhat = x.copy()
                C = np.zeros((D, D))
                if m.any():
                    gain = covs[k][np.ix_(m, o)] @ np.linalg.inv(covs[k][np.ix_(o, o)])
                    xhat[m] = means[k][m] + gain @ (x[o] - means[k][o])
                    C[np.ix_(m, m)] = covs[k][np.ix_(m, m)] - gain @ covs[k][np.ix_(o, m)]
                nk[k] += r[k]
                sums[k] += r[k] * xhat
                sxx[k] += r[k] * (np.outer(xhat, xhat) + C)
        lls.append(total / n)
        weights = nk / nk.sum()
        means = sums / nk[:, None]
        full = sxx / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        if kind == "full":
            covs = full + reg_covar * np.eye(D)
        elif kind == "diag":
            covs = np.stack([np.diag(np.diag(c)) for c in full]) + reg_covar * np.eye(D)
        elif kind == "spherical":
            covs = np.stack([np.trace(c) / D * np.eye(D) for c in full]) + reg_covar * np.eye(D)
        else:
            tied = (nk[:, None, None] * full).sum(0) / nk.sum() + reg_covar * np.eye(D)
            covs = np.repeat(tied[None], K, axis=0)
    return np.array(lls), weights, means, covs


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_missing_em_matches_a_naive_per_row_reference(blobs, kind):
    X = with_missing(blobs[:150], 0.25, seed=7)
    init = shared_start(X, kind)
    model = quietly(
        GaussianMixture(3, covariance_type=kind, missing="em", tol=0, max_iter=4, **init).fit, X
    )
    prec = init["precisions_init"]
    covs0 = dense(np.linalg.inv(prec) if kind in ("full", "tied") else 1 / prec, kind, 3, 3)
    lls, w, m, c = naive_missing_em(
        X, init["weights_init"], init["means_init"], covs0, n_iter=4, kind=kind
    )
    np.testing.assert_allclose([r["log_likelihood"] for r in model.history_], lls, rtol=1e-10)
    np.testing.assert_allclose(model.weights_, w, rtol=1e-9)
    np.testing.assert_allclose(model.means_, m, rtol=1e-9, atol=1e-10)
    got = dense(model.covariances_, kind, 3, 3)
    np.testing.assert_allclose(got, c, rtol=1e-9, atol=1e-10)
    # Inference on rows with NaN marginalises the missing entries.
    ll_rows = model.score_samples(X[:20])
    for x, ll in zip(X[:20], ll_rows):
        o = ~np.isnan(x)
        ref = sum(
            wk * stats.multivariate_normal(mk[o], ck[np.ix_(o, o)]).pdf(x[o])
            for wk, mk, ck in zip(model.weights_, model.means_, got)
        )
        assert ll == pytest.approx(np.log(ref), rel=1e-10)
    assert model.predict(X).shape == (150,)


def test_without_nan_missing_em_equals_the_complete_data_fit(blobs):
    for kind in COVARIANCE_TYPES:
        plain = quietly(GaussianMixture(3, covariance_type=kind, random_state=0).fit, blobs)
        em = quietly(
            GaussianMixture(3, covariance_type=kind, random_state=0, missing="em").fit, blobs
        )
        np.testing.assert_allclose(em.means_, plain.means_, rtol=1e-12, atol=0)
        np.testing.assert_allclose(em.covariances_, plain.covariances_, rtol=1e-12, atol=0)
        assert em.lower_bound_ == pytest.approx(plain.lower_bound_, rel=1e-12)


def test_missing_engine_on_complete_data_equals_the_kernels(blobs):
    """The missing-value E/M-steps with one all-observed pattern are today's EM."""
    from acmlkit.mixture._missing import MissingEngine

    init = shared_start(blobs, "full")
    ref = quietly(GaussianMixture(3, tol=0, max_iter=5, **init).fit, blobs)
    model = GaussianMixture(3, tol=0, max_iter=5, **init)
    engine = MissingEngine(blobs, None, "full", 3, 1e-6)
    params = model._initial_parameters(blobs - engine.center, engine.center, None, None, None, None)
    run = model._run_em(engine, params, 0)
    np.testing.assert_allclose(run["params"][1] + engine.center, ref.means_, rtol=1e-12)
    lls = [r["log_likelihood"] for r in run["history"]]
    np.testing.assert_allclose(lls, [r["log_likelihood"] for r in ref.history_], rtol=1e-12)


def test_impute_fills_conditional_means():
    rng = np.random.default_rng(3)
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    X = rng.multivariate_normal([2.0, -1.0], cov, size=4000)
    holes = with_missing(X, 0.2, seed=4)
    model = GaussianMixture(1, missing="em").fit(holes)
    filled = model.impute(holes)
    assert not np.isnan(filled).any()
    observed = ~np.isnan(holes)
    np.testing.assert_array_equal(filled[observed], holes[observed])
    only_x0 = observed[:, 0] & ~observed[:, 1]
    mu, S = model.means_[0], model.covariances_[0]
    expected = mu[1] + S[1, 0] / S[0, 0] * (holes[only_x0, 0] - mu[0])
    np.testing.assert_allclose(filled[only_x0, 1], expected, rtol=1e-12)
    np.testing.assert_allclose(model.means_[0], [2.0, -1.0], atol=0.06)
    np.testing.assert_allclose(model.covariances_[0], cov, atol=0.08)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_chunks_from_a_generator_equals_the_in_memory_fit(blobs, kind, dtype):
    X = (blobs * [1.0, 30.0, 0.1] + [100.0, -5.0, 0.0]).astype(dtype)
    init = shared_start(X, kind)

    def chunks():
        for start in range(0, len(X), 77):
            yield X[start : start + 77]

    memory = quietly(GaussianMixture(3, covariance_type=kind, tol=0, max_iter=12, **init).fit, X)
    streamed = quietly(
        GaussianMixture(3, covariance_type=kind, tol=0, max_iter=12, **init).fit_chunks, chunks
    )
    # float32 sums in another order differ by float32 rounding of the data's scale.
    rtol = 1e-10 if dtype == np.float64 else 1e-3
    scale = np.abs(memory.covariances_).max()
    np.testing.assert_allclose(streamed.means_, memory.means_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(
        streamed.covariances_, memory.covariances_, rtol=rtol, atol=rtol * scale * 1e-2
    )
    np.testing.assert_allclose(
        [r["log_likelihood"] for r in streamed.history_],
        [r["log_likelihood"] for r in memory.history_],
        rtol=rtol,
    )
    assert streamed.n_samples_seen_ == len(X)


def test_fit_chunks_initialises_itself(blobs):
    model = GaussianMixture(3, init_params="kmeans", n_init=2, random_state=0)
    model.fit_chunks([blobs[:200], blobs[200:400], blobs[400:]])
    np.testing.assert_allclose(np.sort(model.means_[:, 0]), [0.0, 0.0, 5.0], atol=0.3)


def test_partial_fit_online_em_approaches_the_batch_fit():
    rng = np.random.default_rng(8)
    centers = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 7.0]])

    def chunk(n):
        labels = rng.integers(3, size=n)
        return centers[labels] + rng.standard_normal((n, 2)) * [1.0, 0.5]

    online = GaussianMixture(3, init_params="kmeans", random_state=0)
    for _ in range(60):
        online.partial_fit(chunk(500))
    assert online.n_iter_ == 60 and online.n_samples_seen_ == 30_000
    order = np.argsort(online.means_[:, 0] + 10 * online.means_[:, 1])
    np.testing.assert_allclose(online.means_[order], centers, atol=0.05)
    np.testing.assert_allclose(online.weights_, [1 / 3] * 3, atol=0.03)
    np.testing.assert_allclose(
        online.covariances_[order][:, [0, 1], [0, 1]], [[1.0, 0.25]] * 3, rtol=0.1
    )


def test_partial_fit_first_step_is_one_em_step(blobs):
    init = shared_start(blobs, "diag")
    one = quietly(GaussianMixture(3, covariance_type="diag", max_iter=1, **init).fit, blobs)
    online = GaussianMixture(3, covariance_type="diag", **init).partial_fit(blobs)
    np.testing.assert_allclose(online.means_, one.means_, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(online.covariances_, one.covariances_, rtol=1e-12)


@pytest.mark.parametrize(
    ("freeze", "components"),
    [
        (("means",), None),
        (("means",), [1]),
        (("weights",), [0, 2]),
        (("covariances",), [2]),
        (("weights", "means", "covariances"), [0]),
    ],
)
def test_frozen_parameters_match_a_naive_em(blobs, freeze, components):
    init = shared_start(blobs, "full")
    covs = np.linalg.inv(init["precisions_init"])
    idx = np.arange(3) if components is None else np.array(components)
    lls, w, m, c = naive_em(
        blobs, init["weights_init"], init["means_init"], covs, 6, freeze=freeze, idx=idx
    )
    model = GaussianMixture(
        3, tol=0, max_iter=6, freeze=freeze, freeze_components=components, **init
    )
    quietly(model.fit, blobs)
    np.testing.assert_allclose([r["log_likelihood"] for r in model.history_], lls, rtol=1e-10)
    np.testing.assert_allclose(model.weights_, w, rtol=1e-9)
    np.testing.assert_allclose(model.means_, m, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(model.covariances_, c, rtol=1e-8, atol=1e-10)
    if "means" in freeze:
        np.testing.assert_allclose(model.means_[idx], init["means_init"][idx], rtol=0, atol=1e-14)


def test_frozen_means_for_every_covariance_type(blobs):
    means = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 3.0]])
    for kind in COVARIANCE_TYPES:
        model = quietly(
            GaussianMixture(
                3, covariance_type=kind, means_init=means, freeze=("means",), random_state=0
            ).fit,
            blobs,
        )
        np.testing.assert_allclose(model.means_, means, atol=1e-12)
        lls = np.array([r["log_likelihood"] for r in model.history_])
        assert np.all(np.diff(lls) >= -1e-12)


def test_whitening_full_kernel_when_d_exceeds_4k():
    """D > 4 K selects the whitening form of the full-covariance kernel; it must agree too."""
    rng = np.random.default_rng(11)
    K, D = 2, 12
    assert isinstance(make_kernel("full", K, D, np.float64), WhiteningFullKernel)
    X = np.vstack([rng.standard_normal((300, D)), rng.standard_normal((300, D)) * 0.7 + 3])
    init = shared_start(X, "full", K=K)
    ref = quietly(SklearnGaussianMixture(K, tol=0, max_iter=15, **init).fit, X)
    ours = quietly(GaussianMixture(K, tol=0, max_iter=15, **init).fit, X)
    np.testing.assert_allclose(
        [r["log_likelihood"] for r in ours.history_], ref.lower_bounds_, rtol=1e-10
    )
    np.testing.assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-11)


# At scale 1e80 (1e-80) the product of 6 or 11 pivots overflows (underflows):
# the log det falls back to a sum of logs.
@pytest.mark.parametrize("scale", [1.0, 1e80, 1e-80])
@pytest.mark.parametrize("c", [1, 2, 3, 6, 11])
@pytest.mark.parametrize("K", [5, 13])
def test_pattern_terms_match_numpy(K, c, scale):
    # Per run of rows with one pattern, the missing-value EM factors P_mm of a
    # group of components at once; its inverse, log det and mean terms against numpy's.
    from acmlkit.mixture._missing import _LOG_2PI, W, _pattern_terms
    from acmlkit.mixture._simd import components_last

    D = 12
    rng = np.random.default_rng(c)
    B = rng.standard_normal((K, D, D))
    P = (B @ np.swapaxes(B, -1, -2) + 0.1 * np.eye(D)) * scale
    mu = rng.standard_normal((K, D))
    cols = np.sort(rng.choice(D, size=c, replace=False))
    PMu = components_last(np.einsum("kde,ke->kd", P, mu), 0.0)
    lanes = (components_last(P, np.eye(D)[:, :, None]), components_last(mu, 0.0), PMu)
    groups = lanes[0].shape[-1] // W
    # Arrays wider than c, as a chunk's are: its widest pattern sets their size.
    # One run of rows, one pattern, its terms packed as the chunk pass packs them.
    run_start, ptr, squares = np.array([0]), np.array([0, c]), np.array([0, c * c])
    inverse = np.empty((groups, c, c, W))
    Pa, mu_m, corr = np.empty((groups, c, W)), np.empty((groups, c, W)), np.empty((groups, 1, W))
    for g in range(groups):
        terms = inverse.reshape(-1), Pa.reshape(-1), mu_m.reshape(-1), corr
        assert _pattern_terms(g, run_start, ptr, cols, *lanes, squares, ptr, *terms)
    corr = corr[:, 0]

    def components(lanes_last):
        return np.moveaxis(lanes_last, 0, -2).reshape(lanes_last.shape[1:-1] + (-1,))[..., :K]

    P_mm = P[:, cols][:, :, cols]
    np.testing.assert_allclose(
        np.moveaxis(components(inverse)[:c, :c], -1, 0), np.linalg.inv(P_mm),
        rtol=1e-9, atol=1e-10 / scale,
    )  # fmt: skip
    b = np.zeros((K, D))
    b[:, cols] = mu[:, cols]
    expected_Pa = np.einsum("kde,ke->kd", P, mu - b)[:, cols]
    np.testing.assert_allclose(components(Pa).T, expected_Pa, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_array_equal(components(mu_m).T, mu[:, cols])
    b_P_b = np.einsum("kd,kde,ke->k", b, P, b)
    expected_corr = 0.5 * (c * _LOG_2PI - np.linalg.slogdet(P_mm)[1] + b_P_b)
    np.testing.assert_allclose(corr.reshape(-1)[:K], expected_corr, rtol=1e-11)


def test_a_precision_that_is_not_positive_definite_names_reg_covar():
    from acmlkit.mixture._missing import MissingEngine

    X = np.array([[1.0, np.nan], [0.5, 2.0], [np.nan, 1.0], [2.0, 0.0]])
    engine = MissingEngine(X, None, "full", 1, 1e-6)
    # P = L L^T has P[1, 1] = 1e-400, which underflows to 0: P_mm of row 0 is singular.
    prec_chol = np.array([[[1.0, 0.0], [0.0, 1e-200]]])
    with pytest.raises(ValueError, match="reg_covar"):
        engine.e_pass((np.ones(1), np.zeros((1, 2)), prec_chol))
