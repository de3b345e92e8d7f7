"""One seed per run, and a stream of randomness for every stable name in it.

A :class:`RunContext` derives each stream from the run's seed and the stream's
*name* (hashed into the SeedSequence spawn key), never from a position in a
list: adding, removing or reordering streams cannot change another stream, and
two names never share bits. Generators are passed down to the code that draws;
nothing re-seeds itself from an integer drawn off another generator.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> tuple[int, ...]:
    """Four 32-bit words of the name's SHA-256: a spawn key no other name shares."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a stream name must be a non-empty string, got {name!r}")
    digest = hashlib.sha256(name.encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RunContext:
    """The randomness of one run: ``seed`` plus a name gives one independent stream.

    Parameters
    ----------
    seed : int
        The run's seed (a non-negative integer).
    path : tuple of str
        Names of the enclosing contexts (see :meth:`child`); part of every key.

    Examples
    --------
    >>> ctx = RunContext(0)
    >>> split = ctx.stream("split")
    >>> same = RunContext(0).stream("split")
    >>> int(split.integers(1 << 30)) == int(same.integers(1 << 30))
    True
    """

    def __init__(self, seed: int, path: tuple[str, ...] = ()):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.path = tuple(path)
        self._key = tuple(word for name in self.path for word in _name_key(name))

    def __repr__(self) -> str:
        return f"RunContext(seed={self.seed}, path={self.path!r})"

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The SeedSequence of stream ``name``: entropy is the seed, the key the names."""
        return np.random.SeedSequence(self.seed, spawn_key=self._key + _name_key(name))

    def stream(self, name: str) -> np.random.Generator:
        """A fresh generator for stream ``name``; the same name always gives the same bits."""
        return np.random.default_rng(self.seed_sequence(name))

    def child(self, name: str) -> RunContext:
        """A context for a part of the run (a trial, a sub-experiment) with its own names."""
        return RunContext(self.seed, self.path + (name,))

    def torch_seed(self, name: str) -> int:
        """A 63-bit seed for ``torch.Generator.manual_seed``, which takes only an integer.

        Drawn from the named stream's SeedSequence state, so it is as independent
        of the other streams as they are of each other.
        """
        words = self.seed_sequence(name).generate_state(2, dtype=np.uint32)
        return int((int(words[0]) << 31) ^ int(words[1]))


def check_random_state(random_state) -> np.random.Generator:
    """A Generator from ``None``, an int seed, a SeedSequence or a Generator.

    For estimators' ``random_state`` parameter (scikit-learn's convention);
    experiments pass generators from a :class:`RunContext` instead.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer, np.random.SeedSequence)):
        if isinstance(random_state, (int, np.integer)) and random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return np.random.default_rng(random_state)
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}"
    )
