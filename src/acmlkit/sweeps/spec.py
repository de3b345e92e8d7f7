"""What a sweep is: an experiment, a grid of parameters and a list of seeds."""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acmlkit.errors import DataError


@dataclass(frozen=True)
class Trial:
    """One run of an experiment with fully specified parameters (seed included)."""

    experiment: str
    params: dict[str, Any]

    @property
    def key(self) -> str:
        """Stable identity: a hash of the experiment and its canonical parameters."""
        canonical = json.dumps([self.experiment, self.params], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SweepSpec:
    """An experiment name, fixed parameters, a grid and seeds.

    Every combination of the grid's values is run once per seed.
    """

    experiment: str
    grid: dict[str, list] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    fixed: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.seeds:
            raise ValueError("seeds must list at least one seed")
        for name, values in self.grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ValueError(
                    f"grid parameter {name!r} must be a non-empty list, got {values!r}"
                )
        overlap = set(self.grid) & set(self.fixed)
        if overlap:
            raise ValueError(f"parameters {sorted(overlap)} are both fixed and in the grid")
        if "seed" in self.grid or "seed" in self.fixed:
            raise ValueError("give seeds with 'seeds', not as a grid or fixed parameter")

    def trials(self) -> list[Trial]:
        names = sorted(self.grid)
        combos = itertools.product(*(self.grid[name] for name in names))
        return [
            Trial(self.experiment, {**self.fixed, **dict(zip(names, combo)), "seed": seed})
            for combo in combos
            for seed in self.seeds
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "grid": dict(self.grid),
            "seeds": list(self.seeds),
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepSpec:
        unknown = set(data) - {"experiment", "grid", "seeds", "fixed"}
        if unknown:
            raise DataError(
                f"unknown sweep keys {sorted(unknown)}; expected experiment, grid, seeds, fixed"
            )
        if "experiment" not in data:
            raise DataError("a sweep must name its experiment")
        return cls(
            experiment=data["experiment"],
            grid={
                k: list(v) if isinstance(v, (list, tuple)) else v
                for k, v in data.get("grid", {}).items()
            },
            seeds=tuple(data.get("seeds", (0,))),
            fixed=dict(data.get("fixed", {})),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no sweep file at {path}")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path} is not valid TOML: {exc}") from None
        return cls.from_dict(data)
