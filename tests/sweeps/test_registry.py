import pytest

from acmlkit.factorization.experiments import als_trial
from acmlkit.mixture.experiments import mixture_trial


def test_als_trial_reaches_the_noise_floor_and_the_notebook_method_does_not():
    # noise=0.1 on a unit-variance rank-8 matrix: a perfect model has test MSE 0.01.
    masked = als_trial(seed=0, p=0.5, n_factors=8, lam=0.1)
    assert masked["test_mse"] == pytest.approx(0.01, rel=0.3)
    notebook = als_trial(seed=0, p=0.5, n_factors=8, lam=0.1, method="notebook")
    assert notebook["test_mse"] > 10 * masked["test_mse"]


def test_mixture_trial_prefers_the_true_number_of_components():
    bics = [mixture_trial(seed=0, n_components=k)["bic"] for k in (1, 2, 3, 4)]
    assert bics.index(min(bics)) == 2
