"""One seed per run: independent named streams spawned from it."""

from __future__ import annotations

import numpy as np


def spawn_generators(seed: int | None, names: list[str]) -> dict[str, np.random.Generator]:
    """Independent generators, one per name, all derived from ``seed``.

    The stream for a name depends only on the seed and the name's position, so
    adding a name at the end never changes the earlier streams.
    """
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children)}


def check_random_state(random_state) -> np.random.Generator:
    """A Generator from ``None``, an int seed, a SeedSequence or a Generator."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(random_state)
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}"
    )
