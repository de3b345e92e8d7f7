"""What a sweep is: an experiment, a grid of parameters and a list of seeds."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
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
    def from_dict(cls, data: dict[str, Any], *, source: str = "sweep") -> SweepSpec:
        """Check every field's type and build the spec; errors name ``source`` and the field."""
        if not isinstance(data, dict):
            raise DataError(f"{source}: expected a table of sweep fields, got {_kind(data)}")
        unknown = set(data) - {"experiment", "grid", "seeds", "fixed"}
        if unknown:
            raise DataError(
                f"{source}: unknown field(s) {', '.join(sorted(unknown))}; expected experiment, "
                "grid, seeds, fixed"
            )
        if "experiment" not in data:
            raise DataError(f"{source}: a sweep must name its experiment, e.g. experiment = 'als'")
        experiment = data["experiment"]
        if not isinstance(experiment, str) or not experiment.strip():
            raise DataError(
                f"{source}: field 'experiment' must be a string naming an experiment, "
                f"got {_kind(experiment)}"
            )
        seeds = data.get("seeds", [0])
        if not isinstance(seeds, list) or not seeds:
            raise DataError(
                f"{source}: field 'seeds' must be a non-empty list of integers (seeds = [0, 1]), "
                f"got {_kind(seeds)}"
            )
        for seed in seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise DataError(
                    f"{source}: field 'seeds' must hold integers >= 0, got {_kind(seed)}"
                )
        if len(set(seeds)) != len(seeds):
            raise DataError(f"{source}: field 'seeds' repeats a seed: {seeds}")
        grid = _table(data.get("grid", {}), "grid", source)
        for name, values in grid.items():
            if not isinstance(values, list) or not values:
                raise DataError(
                    f"{source}: grid.{name} must be a non-empty list of values "
                    f"({name} = [1, 2]), got {_kind(values)}"
                )
            for value in values:
                _check_value(value, f"grid.{name}", source)
            if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
                raise DataError(f"{source}: grid.{name} repeats a value: {values}")
        fixed = _table(data.get("fixed", {}), "fixed", source)
        for name, value in fixed.items():
            _check_value(value, f"fixed.{name}", source)
        try:
            return cls(experiment=experiment.strip(), grid=grid, seeds=tuple(seeds), fixed=fixed)
        except ValueError as exc:
            raise DataError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no sweep file at {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise DataError(f"{path} is not a UTF-8 text (TOML) file") from None
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path} is not valid TOML: {exc}") from None
        return cls.from_dict(data, source=str(path))


def _kind(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _table(value: Any, field_name: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(
            f"{source}: field '{field_name}' must be a table ([{field_name}] with NAME = ... "
            f"lines), got {_kind(value)}"
        )
    return dict(value)


def _check_value(value: Any, where: str, source: str) -> None:
    """Parameters must be JSON-ready and finite: they are hashed into the trial key."""
    if isinstance(value, float) and not math.isfinite(value):
        raise DataError(f"{source}: {where} must be a finite number, got {value}")
    if isinstance(value, list):
        for item in value:
            _check_value(item, where, source)
    elif isinstance(value, dict):
        for item in value.values():
            _check_value(item, where, source)
    elif not isinstance(value, (str, int, float, bool)):
        raise DataError(
            f"{source}: {where} must be a string, number, boolean or list, got {_kind(value)}"
        )
