import pytest

from acmlkit.sweeps import SweepSpec, Trial
from acmlkit.sweeps.registry import resolve


def test_trials_cover_the_grid_once_per_seed():
    spec = SweepSpec(
        "mixture",
        grid={"n_components": [1, 2, 3], "covariance_type": ["full", "diag"]},
        seeds=(0, 1),
        fixed={"n_samples": 100},
    )
    trials = spec.trials()
    assert len(trials) == 3 * 2 * 2
    assert len({t.key for t in trials}) == len(trials)
    assert all(t.params["n_samples"] == 100 for t in trials)
    assert {(t.params["n_components"], t.params["seed"]) for t in trials} == {
        (k, s) for k in (1, 2, 3) for s in (0, 1)
    }


def test_key_depends_on_parameters_not_on_their_order():
    a = Trial("mixture", {"seed": 0, "n_components": 2})
    b = Trial("mixture", {"n_components": 2, "seed": 0})
    c = Trial("mixture", {"n_components": 3, "seed": 0})
    assert a.key == b.key != c.key


def test_toml_round_trip(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('experiment = "mixture"\nseeds = [3]\n[grid]\nn_components = [2, 4]\n')
    spec = SweepSpec.from_toml(path)
    assert spec == SweepSpec("mixture", grid={"n_components": [2, 4]}, seeds=(3,))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds = [1]\n", "must name its experiment"),
        ('experiment = "mixture"\ncolour = 1\n', "unknown sweep keys"),
        ('experiment = "mixture"\n[grid]\nn_components = []\n', "non-empty list"),
        ('experiment = "mixture"\n[grid]\nseed = [1, 2]\n', "give seeds with 'seeds'"),
        ("experiment = \n", "not valid TOML"),
    ],
)
def test_bad_sweep_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        SweepSpec.from_toml(path)


def test_unknown_experiment():
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        resolve("nope")
    with pytest.raises(ValueError, match="cannot import experiment"):
        resolve("no_such_module:run")
