"""Results serialise to JSON so figures and reports can be redrawn without re-running."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, numpy arrays and numpy scalars into plain JSON types.

    Non-finite floats become ``None`` so that the files stay valid JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def save_json(obj: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")
    return path


def load_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


def save_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a flat table (list of dicts with the same keys) as CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        path.write_text("")
        return path
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(to_jsonable(rows))
    return path


def from_dict(cls, data: dict[str, Any]):
    """Rebuild a (possibly nested) dataclass from :func:`to_jsonable` output.

    Nested dataclass fields are rebuilt from their annotations; lists of
    dataclasses are not, and must be handled by the caller.
    """
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        if name not in hints:
            continue
        field_type = hints[name]
        if isinstance(field_type, str):
            field_type = _resolve(cls, field_type)
        if dataclasses.is_dataclass(field_type) and isinstance(value, dict):
            value = from_dict(field_type, value)
        kwargs[name] = value
    return cls(**kwargs)


def _resolve(cls, annotation: str):
    import sys

    module = sys.modules.get(cls.__module__)
    return getattr(module, annotation, None)
