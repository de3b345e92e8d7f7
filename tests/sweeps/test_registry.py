import pytest

from acmlkit.factorization.experiments import als_trial
from acmlkit.mixture.experiments import mixture_trial
from acmlkit.sweeps.registry import EXPERIMENTS


def test_als_trial_reaches_the_noise_floor_and_the_notebook_method_does_not():
    # noise=0.1 on a unit-variance rank-8 matrix: a perfect model has test MSE 0.01.
    masked = als_trial(seed=0, p=0.5, n_factors=8, lam=0.1)
    assert masked["test_mse"] == pytest.approx(0.01, rel=0.3)
    notebook = als_trial(seed=0, p=0.5, n_factors=8, lam=0.1, method="notebook")
    assert notebook["test_mse"] > 10 * masked["test_mse"]


def test_mixture_trial_prefers_the_true_number_of_components():
    bics = [mixture_trial(seed=0, n_components=k)["bic"] for k in (1, 2, 3, 4)]
    assert bics.index(min(bics)) == 2


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_registered_experiment_takes_a_keyword_seed(name):
    from acmlkit.errors import DataError
    from acmlkit.sweeps.registry import check_parameters, parameters

    params = parameters(name)
    assert "seed" in params and params["seed"].kind is params["seed"].KEYWORD_ONLY
    required = [k for k, p in params.items() if p.default is p.empty and k != "seed"]
    if required:  # a sweep that leaves them out is refused before any trial runs
        with pytest.raises(DataError, match=f"needs parameter\\(s\\) {', '.join(required)}"):
            check_parameters(name, {})
    else:
        check_parameters(name, {})


def test_check_parameters_names_the_parameter_and_what_it_takes():
    from acmlkit.errors import DataError
    from acmlkit.sweeps.registry import check_parameters

    check_parameters("als", {"p": [0.5, 1], "method": ["masked"], "n_factors": [2]})
    with pytest.raises(DataError, match="'als' has no parameter 'colour'; it takes p, "):
        check_parameters("als", {"colour": [1]})
    with pytest.raises(DataError, match="'n_factors' of experiment 'als' must be int, got 2.5"):
        check_parameters("als", {"n_factors": [2, 2.5]})
    with pytest.raises(DataError, match="'p' .* must be float or int, got True"):
        check_parameters("als", {"p": [True]})


def test_import_paths_need_consent():
    from acmlkit.errors import DataError
    from acmlkit.sweeps.registry import check_allowed

    check_allowed("als", allow_code=False)
    check_allowed("os:getcwd", allow_code=True)
    with pytest.raises(DataError, match="import path.*--allow-code"):
        check_allowed("os:getcwd", allow_code=False)
    with pytest.raises(DataError, match="unknown experiment 'banana'"):
        check_allowed("banana", allow_code=True)
