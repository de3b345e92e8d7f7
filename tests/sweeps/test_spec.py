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
        ('experiment = "mixture"\ncolour = 1\n', "unknown field.*colour"),
        ("experiment = 5\n", "field 'experiment' must be a string.*5 \\(int\\)"),
        ('experiment = ""\n', "field 'experiment' must be a string"),
        ('experiment = "als"\nseeds = 0\n', "field 'seeds' must be a non-empty list.*0 \\(int\\)"),
        ('experiment = "als"\nseeds = []\n', "field 'seeds' must be a non-empty list"),
        ('experiment = "als"\nseeds = [1.5]\n', "'seeds' must hold integers"),
        ('experiment = "als"\nseeds = [-1]\n', "'seeds' must hold integers >= 0"),
        ('experiment = "als"\nseeds = [true]\n', "'seeds' must hold integers"),
        ('experiment = "als"\nseeds = [1, 1]\n', "repeats a seed"),
        ('experiment = "als"\ngrid = 5\n', "field 'grid' must be a table.*5 \\(int\\)"),
        ('experiment = "als"\nfixed = [1]\n', "field 'fixed' must be a table"),
        ('experiment = "als"\n[grid]\np = 0.5\n', "grid.p must be a non-empty list.*0.5"),
        ('experiment = "als"\n[grid]\np = [0.5, nan]\n', "grid.p must be a finite number"),
        ('experiment = "als"\n[grid]\np = [0.5, 0.5]\n', "grid.p repeats a value"),
        ('experiment = "als"\n[fixed]\np = inf\n', "fixed.p must be a finite number"),
        ('experiment = "als"\n[fixed]\nwhen = 1979-05-27\n', "fixed.when must be a string"),
        ('experiment = "als"\n[grid]\np=[1]\n[fixed]\np=2\n', "both fixed and in the grid"),
        ('experiment = "mixture"\n[grid]\nn_components = []\n', "non-empty list"),
        ('experiment = "mixture"\n[grid]\nseed = [1, 2]\n', "give seeds with 'seeds'"),
        ("experiment = \n", "not valid TOML"),
    ],
)
def test_bad_sweep_files(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        SweepSpec.from_toml(path)
    assert "\n" not in str(info.value)
    if "TOML" not in message:
        assert str(info.value).startswith(str(path))


def test_a_binary_sweep_file_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="not a UTF-8 text"):
        SweepSpec.from_toml(path)


def test_unknown_experiment():
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        resolve("nope")
    with pytest.raises(ValueError, match="cannot import experiment"):
        resolve("no_such_module:run")
