import numpy as np
import pytest

from acmlkit.rng import RunContext, check_random_state


def _bits(gen: np.random.Generator) -> np.ndarray:
    return gen.integers(0, 2**63, size=64, dtype=np.int64)


def test_a_stream_depends_on_its_name_not_on_what_else_is_drawn():
    alone = _bits(RunContext(7).stream("split"))
    ctx = RunContext(7)
    _bits(ctx.stream("init"))
    assert np.array_equal(_bits(ctx.stream("split")), alone)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**40])
def test_no_two_named_streams_of_a_run_coincide(seed):
    names = ["split", "init", "data", "blobs", "permutation", "labels", "train", "test"]
    ctx = RunContext(seed)
    draws = {name: _bits(ctx.stream(name)) for name in names}
    draws["child/split"] = _bits(ctx.child("trial-1").stream("split"))
    values = list(draws.values())
    for i in range(len(values)):
        for j in range(i + 1, len(values)):
            # Independent 63-bit streams share a value with negligible probability.
            assert not np.intersect1d(values[i], values[j]).size


def test_streams_differ_across_seeds_and_match_numpy_seed_sequence():
    assert not np.array_equal(_bits(RunContext(0).stream("a")), _bits(RunContext(1).stream("a")))
    # The key is the name's hash appended to the path's keys: reproducible with plain numpy.
    ctx = RunContext(3)
    expected = np.random.default_rng(ctx.seed_sequence("x"))
    assert np.array_equal(_bits(ctx.stream("x")), _bits(expected))


def test_torch_seeds_are_distinct_per_name_and_fit_63_bits():
    ctx = RunContext(0)
    seeds = {ctx.torch_seed(name) for name in ("init", "epochs", "whiten", "data")}
    assert len(seeds) == 4
    assert all(0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", None, True])
def test_bad_seeds_are_rejected(bad):
    with pytest.raises(ValueError, match="seed"):
        RunContext(bad)


def test_check_random_state_passes_generators_through_and_rejects_junk():
    gen = np.random.default_rng(0)
    assert check_random_state(gen) is gen
    with pytest.raises(ValueError, match="random_state"):
        check_random_state("seed")
    with pytest.raises(ValueError, match="non-negative"):
        check_random_state(-3)
