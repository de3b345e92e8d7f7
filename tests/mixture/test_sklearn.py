"""GaussianMixture is a scikit-learn estimator: the contract is check_estimator."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from acmlkit.mixture import GaussianMixture

# Checks that cannot apply, with the reason. With one component (the default)
# every check passes; with K >= 2 one check cannot:
EXPECTED_FAILED_CHECKS_K2 = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the random initialisation draws points by index, so repeating a point shifts every "
        "later draw and EM starts elsewhere (and may label components in another order); "
        "from the same initial parameters weights equal repetitions (test_em)"
    ),
}


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        (GaussianMixture(), {}),
        (GaussianMixture(2, covariance_type="diag", missing="em"), EXPECTED_FAILED_CHECKS_K2),
    ],
    ids=["default", "diag-missing-em"],
)
def test_check_estimator(estimator, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None, expected_failed_checks=expected)
    failed = [(r["check_name"], str(r["exception"])) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) > 40


def test_params_clone_and_repr():
    model = GaussianMixture(3, covariance_type="diag", n_init=2, freeze=("means",))
    assert model.get_params()["covariance_type"] == "diag"
    assert model.get_params(deep=True)["freeze"] == ("means",)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    model.set_params(n_components=5, tol=1e-6)
    assert (model.n_components, model.tol) == (5, 1e-6)
    assert repr(GaussianMixture(4)) == "GaussianMixture(n_components=4)"
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(bogus=1)


def test_unfitted_and_zero_features(blobs):
    for method in ("predict", "predict_proba", "score_samples", "score", "impute"):
        with pytest.raises(NotFittedError):
            getattr(GaussianMixture(2), method)(blobs)
    with pytest.raises(ValueError, match="0 feature"):
        GaussianMixture(1).fit(np.zeros((10, 0)))


def test_fit_predict_equals_predict_after_fit(blobs):
    model = GaussianMixture(3, random_state=0)
    labels = model.fit_predict(blobs)
    np.testing.assert_array_equal(labels, model.predict(blobs))
    assert np.bincount(labels).min() > 100


def test_grid_search_picks_the_true_k(blobs):
    search = GridSearchCV(
        GaussianMixture(random_state=0, n_init=2), {"n_components": [1, 2, 3]}, cv=3
    ).fit(blobs)
    assert search.best_params_["n_components"] == 3
    assert search.best_estimator_.means_.shape == (3, 3)


def test_pipeline_with_a_scaler_matches_sklearn(blobs):
    X = blobs * [1.0, 100.0, 0.01] + [0.0, 5e3, -2.0]
    ref_scaled = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SklearnGaussianMixture(3, max_iter=1, random_state=1).fit(ref_scaled)
    init = dict(weights_init=ref.weights_, means_init=ref.means_, precisions_init=ref.precisions_)
    ours = make_pipeline(StandardScaler(), GaussianMixture(3, tol=0, max_iter=20, **init))
    theirs = make_pipeline(StandardScaler(), SklearnGaussianMixture(3, tol=0, max_iter=20, **init))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X)
        theirs.fit(X)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
