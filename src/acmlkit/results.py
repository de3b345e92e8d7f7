"""Every experiment's result saves as JSON with a kind tag, so figures and the report can be
redrawn from files without re-running anything, and one loader reads any of them.

A result class is a dataclass deriving from :class:`Result`, registered under a
kind (``"mf.study"``) with :func:`result_kind`. ``result.save(folder)`` writes
``folder/result.json`` (plus the CSV tables the class names) atomically;
:func:`load_result` reads any saved result back into its class, checking the
kind and the format version and naming what is wrong in one line.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import platform
import sys
import tempfile
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from acmlkit.errors import DataError

RESULT_FILE = "result.json"


# ------------------------------------------------------------------ plain JSON
def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, numpy arrays and numpy scalars into plain JSON types.

    Non-finite floats become ``None`` so that the files stay valid JSON.
    """
    if isinstance(obj, Result):
        return obj.to_json()
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


# -------------------------------------------------------------- atomic writes
def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    A reader never sees a half-written file, and a failure (full disk, killed
    process) leaves the old file, or none, in place.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_json(obj: Any, path: str | Path) -> Path:
    return atomic_write(path, json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n")


def load_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}")
    try:
        return json.loads(path.read_text(), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise DataError(f"{path} is not valid JSON: {exc}") from None


def _reject_constant(name: str):
    # save_json writes with allow_nan=False, so NaN/Infinity mean an edited or damaged file.
    raise ValueError(f"it holds {name}, which acmlkit never writes (edited or damaged)")


def save_csv(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a flat table (list of dicts; the union of their keys, in first-seen order) as CSV."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(to_jsonable(rows))
    return atomic_write(path, buffer.getvalue())


# ---------------------------------------------------------- dataclass rebuild
def from_dict(cls, data: dict[str, Any], *, source: str = "saved result"):
    """Rebuild a (possibly nested) dataclass from :func:`to_jsonable` output.

    Nested dataclass fields (also inside ``list[...]`` and ``tuple[...]``) are
    rebuilt from their annotations, and lists become tuples where the field is a
    tuple. A missing required field or a value of the wrong shape raises
    :class:`DataError` naming ``source`` and the field.
    """
    if not isinstance(data, dict):
        raise DataError(f"{source}: expected an object for {cls.__name__}, got {_kind_of(data)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name not in data:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required:
                raise DataError(f"{source}: missing field {cls.__name__}.{f.name}")
            continue
        if data[f.name] is None and f.default is not None and not _optional(hints[f.name]):
            raise DataError(f"{source}: field {cls.__name__}.{f.name} is null")
        kwargs[f.name] = _rebuild(hints[f.name], data[f.name], f"{source}: {cls.__name__}.{f.name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{source}: {cls.__name__} could not be rebuilt: {exc}") from None


def _rebuild(annotation, value, where: str):
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _rebuild(options[0], value, where) if len(options) == 1 else value
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        return from_dict(annotation, value, source=where)
    if origin in (list, tuple) and not isinstance(value, list):
        raise DataError(f"{where}: expected a list, got {_kind_of(value)}")
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return [_rebuild(item, v, where) for v in value]
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_rebuild(args[0], v, where) for v in value)
        if args and len(args) == len(value):
            return tuple(_rebuild(a, v, where) for a, v in zip(args, value))
        return tuple(value)
    if origin is dict and not isinstance(value, dict):
        raise DataError(f"{where}: expected an object, got {_kind_of(value)}")
    if annotation in _SCALARS and not (
        isinstance(value, _SCALARS[annotation])
        and (annotation is bool or not isinstance(value, bool))
    ):
        raise DataError(f"{where}: expected {annotation.__name__}, got {_kind_of(value)}")
    if annotation is float and isinstance(value, int):
        return float(value)
    return value


# The JSON types a field of each scalar annotation may hold (ints pass for floats).
_SCALARS = {float: (int, float), int: (int,), str: (str,), bool: (bool,)}


def _optional(annotation) -> bool:
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _kind_of(value) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), repr(value))


# ------------------------------------------------------------------- results
_KINDS: dict[str, type[Result]] = {}

# Where each kind's class lives, so that load_result can import only what it needs.
KIND_MODULES = {
    "mixture.": "acmlkit.mixture.experiments",
    "mf.": "acmlkit.factorization.experiments",
    "nn.": "acmlkit.nets.experiments",
}


def result_kind(kind: str, version: int = 1):
    """Register a :class:`Result` subclass under ``kind`` with its format ``version``."""

    def register(cls):
        if kind in _KINDS and _KINDS[kind] is not cls:
            raise RuntimeError(f"result kind {kind!r} registered twice")
        cls.KIND, cls.FORMAT_VERSION = kind, version
        _KINDS[kind] = cls
        return cls

    return register


@dataclass
class Result:
    """Base of every experiment's result: a dataclass with a kind, a version and provenance.

    Subclasses list their fields as usual and may override :meth:`tables` to
    name CSV files written beside ``result.json``.
    """

    KIND: ClassVar[str] = ""
    FORMAT_VERSION: ClassVar[int] = 1
    provenance: dict = field(default_factory=dict, kw_only=True)

    def tables(self) -> dict[str, list[dict]]:
        """CSV files to write beside ``result.json``: file name -> rows."""
        return {}

    def to_json(self) -> dict:
        body = {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"kind": self.KIND, "format_version": self.FORMAT_VERSION, **body}

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/result.json`` and the CSV tables; returns the JSON's path."""
        folder = Path(folder)
        for name, rows in self.tables().items():
            save_csv(rows, folder / name)
        return save_json(self.to_json(), folder / RESULT_FILE)

    @classmethod
    def from_json(cls, data: dict, source: str = "saved result"):
        body = {k: v for k, v in data.items() if k not in ("kind", "format_version")}
        return from_dict(cls, body, source=source)

    @classmethod
    def load(cls, path: str | Path):
        """Load a saved result of this class's kind (a folder or its ``result.json``)."""
        return load_result(path, expect=cls.KIND)


def result_path(path: str | Path) -> Path:
    path = Path(path)
    return path / RESULT_FILE if path.is_dir() else path


def load_result(path: str | Path, expect: str | tuple[str, ...] | None = None) -> Result:
    """Read any saved result (a folder holding ``result.json``, or the file itself).

    ``expect`` names the kind(s) the caller can use, and a result of another
    kind raises :class:`DataError` saying which kind was found.
    """
    path = result_path(path)
    data = load_json(path)
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str):
        raise DataError(f"{path} is not an acmlkit result (no 'kind' field)")
    wanted = (expect,) if isinstance(expect, str) else expect
    if wanted and not any(kind == w or (w.endswith(".") and kind.startswith(w)) for w in wanted):
        raise DataError(f"{path} holds a {kind!r} result; this command reads {' or '.join(wanted)}")
    cls = result_class(kind, path)
    version = data.get("format_version")
    if version != cls.FORMAT_VERSION:
        raise DataError(
            f"{path} is format version {version!r} of {kind!r}; this acmlkit reads version "
            f"{cls.FORMAT_VERSION} (re-run the experiment to refresh it)"
        )
    return cls.from_json(data, source=str(path))


def result_class(kind: str, path: str | Path = "result") -> type[Result]:
    if kind not in _KINDS:
        import importlib

        for prefix, module in KIND_MODULES.items():
            if kind.startswith(prefix):
                importlib.import_module(module)
    if kind not in _KINDS:
        raise DataError(f"{path} holds an unknown result kind {kind!r}")
    return _KINDS[kind]


# ---------------------------------------------------------------- provenance
def fingerprint_file(path: str | Path) -> str:
    """``sha256:<hex>`` of a file's bytes (or, for a folder, of its files' names and bytes)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """``sha256:<hex>`` of arrays' dtypes, shapes and bytes: data the package made itself."""
    digest = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        digest.update(f"{arr.dtype.str}{arr.shape}".encode())
        digest.update(arr.data)
    return "sha256:" + digest.hexdigest()


def thread_counts() -> dict[str, Any]:
    """Threads that numerical results depend on: BLAS pools and, if loaded, torch's."""
    counts: dict[str, Any] = {}
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            counts[f"{pool['user_api']}:{pool['internal_api']}"] = pool["num_threads"]
    except ImportError:
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        counts["torch"] = torch.get_num_threads()
        counts["torch_interop"] = torch.get_num_interop_threads()
    return counts


def provenance(data: dict[str, str] | None = None, **extra) -> dict[str, Any]:
    """What ran: versions, command line, machine, threads and data fingerprints.

    ``data`` maps a data source's name to its fingerprint; ``extra`` adds
    run-specific entries (durations, resolved recipes).
    """
    from acmlkit import __version__

    versions = {
        "acmlkit": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for name in ("scipy", "torch", "sklearn"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", "?")
    return {
        "versions": versions,
        "command": sys.argv[:],
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "threads": thread_counts(),
        "data": dict(data or {}),
        **extra,
    }
