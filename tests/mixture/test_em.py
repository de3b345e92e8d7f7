import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from acmlkit.mixture import COVARIANCE_TYPES, ConvergenceWarning, GaussianMixture

from .conftest import naive_em


def sklearn_initial_parameters(X, kind, K=3, seed=1):
    """Parameters after one scikit-learn EM step: a realistic, shared starting point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SklearnGaussianMixture(K, covariance_type=kind, max_iter=1, random_state=seed).fit(X)
    return dict(weights_init=ref.weights_, means_init=ref.means_, precisions_init=ref.precisions_)


def fit_quietly(model, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, **kwargs)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_per_iteration_loglik_matches_sklearn(blobs, kind):
    init = sklearn_initial_parameters(blobs, kind)
    ref = fit_quietly(
        SklearnGaussianMixture(3, covariance_type=kind, tol=0, max_iter=25, **init), blobs
    )
    ours = fit_quietly(GaussianMixture(3, covariance_type=kind, tol=0, max_iter=25, **init), blobs)
    got = np.array([record["log_likelihood"] for record in ours.history_])
    np.testing.assert_allclose(got, ref.lower_bounds_, rtol=1e-10, atol=0)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ours.predict_proba(blobs), ref.predict_proba(blobs), atol=1e-10)
    np.testing.assert_allclose(ours.score_samples(blobs), ref.score_samples(blobs), rtol=1e-11)
    assert ours.bic(blobs) == pytest.approx(ref.bic(blobs), rel=1e-11)
    assert ours.aic(blobs) == pytest.approx(ref.aic(blobs), rel=1e-11)


def test_matches_naive_scipy_em(blobs):
    rng = np.random.default_rng(5)
    weights = np.array([0.3, 0.3, 0.4])
    means = blobs[rng.choice(len(blobs), 3, replace=False)]
    covs = np.stack([np.eye(3)] * 3)
    lls, w, m, c = naive_em(blobs, weights, means, covs, n_iter=8)
    model = GaussianMixture(
        3,
        tol=0,
        max_iter=8,
        weights_init=weights,
        means_init=means,
        precisions_init=np.linalg.inv(covs),
    )
    fit_quietly(model, blobs)
    np.testing.assert_allclose([r["log_likelihood"] for r in model.history_], lls, rtol=1e-10)
    np.testing.assert_allclose(model.weights_, w, rtol=1e-9)
    np.testing.assert_allclose(model.means_, m, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.covariances_, c, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
@pytest.mark.parametrize("init", ["kmeans++", "random", "random_from_data"])
def test_log_likelihood_never_decreases(blobs, kind, init):
    model = fit_quietly(
        GaussianMixture(
            4, covariance_type=kind, init_params=init, tol=0, max_iter=30, random_state=0
        ),
        blobs,
    )
    lls = np.array([r["log_likelihood"] for r in model.history_])
    assert np.all(np.diff(lls) >= -1e-12 * np.abs(lls[1:]))


def test_finds_the_true_clusters(blobs):
    model = GaussianMixture(3, n_init=2, random_state=0).fit(blobs)
    assert model.converged_
    found = np.sort(model.means_[:, 0])
    np.testing.assert_allclose(found, [0.0, 0.0, 5.0], atol=0.3)


def test_integer_sample_weights_equal_repeated_points(blobs):
    counts = np.random.default_rng(1).integers(0, 3, size=len(blobs))
    init = sklearn_initial_parameters(blobs, "full")
    weighted = fit_quietly(
        GaussianMixture(3, tol=0, max_iter=10, **init), blobs, sample_weight=counts
    )
    repeated = fit_quietly(
        GaussianMixture(3, tol=0, max_iter=10, **init), np.repeat(blobs, counts, axis=0)
    )
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-9)
    np.testing.assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-12)


def test_float32_stays_float32_and_close_to_float64(blobs):
    init = sklearn_initial_parameters(blobs, "full")
    m64 = fit_quietly(GaussianMixture(3, tol=0, max_iter=10, **init), blobs)
    m32 = fit_quietly(GaussianMixture(3, tol=0, max_iter=10, **init), blobs.astype(np.float32))
    assert m32.predict_proba(blobs.astype(np.float32)).dtype == np.float32
    assert m32.score_samples(blobs.astype(np.float32)).dtype == np.float32
    assert m32.lower_bound_ == pytest.approx(m64.lower_bound_, rel=1e-5)
    np.testing.assert_allclose(m32.means_, m64.means_, atol=1e-4)


def test_predictions_are_consistent(blobs):
    model = GaussianMixture(3, covariance_type="diag", random_state=0).fit(blobs)
    proba = model.predict_proba(blobs)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(blobs), proba.argmax(1))
    assert model.score(blobs) == pytest.approx(model.score_samples(blobs).mean())
    assert model.score(blobs) == pytest.approx(model.lower_bound_, abs=1e-3)


def test_random_state_reproducible_bit_for_bit(blobs):
    a = GaussianMixture(3, init_params="random", n_init=2, random_state=7).fit(blobs)
    b = GaussianMixture(3, init_params="random", n_init=2, random_state=7).fit(blobs)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert a.history_ == b.history_


def test_warm_start_continues_where_it_stopped(blobs):
    init = sklearn_initial_parameters(blobs, "full")
    straight = fit_quietly(GaussianMixture(3, tol=0, max_iter=12, **init), blobs)
    warm = GaussianMixture(3, tol=0, max_iter=6, warm_start=True, **init)
    fit_quietly(warm, blobs)
    fit_quietly(warm, blobs)
    np.testing.assert_allclose(warm.means_, straight.means_, rtol=1e-10)
    assert warm.lower_bound_ == pytest.approx(straight.lower_bound_, rel=1e-12)


def test_n_init_keeps_the_best_run(blobs):
    single = [
        fit_quietly(GaussianMixture(5, init_params="random", max_iter=5, random_state=s), blobs)
        for s in range(3)
    ]
    best = fit_quietly(
        GaussianMixture(5, init_params="random", max_iter=5, n_init=6, random_state=0), blobs
    )
    assert best.lower_bound_ >= max(m.lower_bound_ for m in single) - 0.05


def test_callback_sees_every_iteration(blobs):
    seen = []
    model = fit_quietly(
        GaussianMixture(3, tol=0, max_iter=7, callback=seen.append, random_state=0), blobs
    )
    assert [r["iteration"] for r in seen] == list(range(1, 8))
    assert seen == model.history_


def test_non_convergence_warns(blobs):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GaussianMixture(3, max_iter=2, tol=1e-12, random_state=0).fit(blobs)


def test_sample_draws_from_the_fitted_mixture(blobs):
    model = GaussianMixture(3, random_state=0).fit(blobs)
    X, labels = model.sample(20_000, random_state=1)
    assert X.shape == (20_000, 3)
    np.testing.assert_allclose(np.bincount(labels) / 20_000, model.weights_, atol=0.015)
    for k in range(3):
        np.testing.assert_allclose(X[labels == k].mean(0), model.means_[k], atol=0.1)


def test_bic_selects_the_true_number_of_components(blobs):
    bics = [
        GaussianMixture(k, n_init=2, random_state=0).fit(blobs).bic(blobs) for k in (1, 2, 3, 4, 5)
    ]
    assert int(np.argmin(bics)) + 1 == 3


@pytest.mark.parametrize(
    ("X", "kwargs", "message"),
    [
        (np.array([[1.0, np.nan]] * 5), {}, "NaN or infinity"),
        (np.array([[1.0, np.inf]] * 5), {"missing": "em"}, "infinity"),
        (np.ones(5), {}, "2D array"),
        (np.eye(2), {"n_components": 3}, "n_samples >= n_components"),
        (np.array([["a", "b"]] * 3), {}, "convert"),
        (np.zeros((5, 0)), {}, "0 feature"),
        (np.eye(3), {"missing": "drop"}, "missing"),
        (np.eye(3), {"freeze": ("mean",)}, "freeze"),
        (np.eye(3), {"freeze": ("means",), "freeze_components": [3]}, "freeze_components"),
        (np.eye(3), {"n_components": 0}, "n_components"),
        (np.eye(3), {"covariance_type": "banana"}, "covariance_type"),
        (np.eye(3), {"reg_covar": -1.0}, "reg_covar"),
        (np.eye(3), {"init_params": "k-means"}, "init_params"),
    ],
)
def test_bad_input(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**kwargs).fit(X)


def test_bad_initial_parameters(blobs):
    with pytest.raises(ValueError, match="weights_init must sum to 1"):
        GaussianMixture(2, weights_init=[0.5, 0.6]).fit(blobs)
    with pytest.raises(ValueError, match=r"means_init must have shape \(2, 3\)"):
        GaussianMixture(2, means_init=np.zeros((2, 2))).fit(blobs)
    with pytest.raises(ValueError, match="precisions_init.*shape"):
        GaussianMixture(2, precisions_init=np.ones((2, 3))).fit(blobs)
    with pytest.raises(ValueError, match="sample_weight"):
        GaussianMixture(2).fit(blobs, sample_weight=np.ones(3))


def test_singular_covariance_suggests_reg_covar():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0], [3.0, 1.0]], 10, axis=0)
    with pytest.raises(ValueError, match="increase reg_covar"):
        GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X)


def test_predict_checks_dimensions_and_fit(blobs):
    with pytest.raises(NotFittedError, match="not fitted"):
        GaussianMixture(2).predict(blobs)
    model = GaussianMixture(2, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3"):
        model.predict(blobs[:, :2])
