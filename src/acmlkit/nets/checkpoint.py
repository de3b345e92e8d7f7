"""Model files and training checkpoints: a versioned header with a checksum, then the state.

A file is one header line, ``ACMLKIT-NETS <kind> v<version> sha256:<hex> <bytes>``,
followed by the ``torch.save`` bytes of a state dict. Loading checks the kind,
the version, the length and the sha256 of those bytes before unpickling any of
them, so a truncated, bit-flipped or foreign file is refused in one line instead
of yielding weights like 3e36.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acmlkit.errors import DataError
from acmlkit.nets.inference import TrainedModel
from acmlkit.nets.models import NetConfig, build_model
from acmlkit.results import atomic_write

MAGIC = b"ACMLKIT-NETS"
FORMAT_VERSION = 2
KINDS = ("model", "checkpoint")
_MAX_HEADER = 200


def write_state(path: str | Path, state: dict, kind: str) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) as a ``kind`` file, atomically."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    header = b"%s %s v%d sha256:%s %d\n" % (
        MAGIC, kind.encode(), FORMAT_VERSION, digest.encode(), len(payload)
    )
    return atomic_write(path, header + payload)


def read_state(path: str | Path, kinds: tuple[str, ...] = KINDS) -> dict:
    """The state saved by :func:`write_state`, after checking header and checksum.

    ``kinds`` lists the file kinds the caller accepts.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    blob = path.read_bytes()
    line, sep, payload = blob.partition(b"\n")
    fields = line.split(b" ") if sep and len(line) <= _MAX_HEADER else []
    if len(fields) != 5 or fields[0] != MAGIC:
        raise DataError(
            f"{path}: not an acmlkit model file or checkpoint (no {MAGIC.decode()} header; "
            "files from acmlkit before format v2 must be retrained)"
        )
    kind, version, checksum, size = (f.decode(errors="replace") for f in fields[1:])
    if kind not in kinds:
        raise DataError(f"{path} is a {kind} file; expected a {' or '.join(kinds)}")
    if version != f"v{FORMAT_VERSION}":
        raise DataError(
            f"{path} is format {version}; this acmlkit reads v{FORMAT_VERSION} (retrain it)"
        )
    if not size.isdigit() or int(size) != len(payload):
        raise DataError(
            f"{path} is truncated or padded: its header promises {size} bytes of state, "
            f"the file holds {len(payload)}"
        )
    actual = hashlib.sha256(payload).hexdigest()
    if checksum != f"sha256:{actual}":
        raise DataError(
            f"{path} is corrupt: its contents' sha256 is {actual[:16]}..., the header says "
            f"{checksum[7:23]}...; restore the file or retrain"
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises assorted types for bad pickles
        raise DataError(f"{path}: its state cannot be read ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a saved state dict, got {type(state).__name__}")
    return state


def save_model(
    path: str | Path,
    model: nn.Module,
    config: NetConfig,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    classes: tuple[str, ...] | None = None,
    recipe: dict | None = None,
    history: list[dict] | None = None,
) -> Path:
    """Save weights together with everything needed to rebuild and use them."""
    state = {
        "config": config.to_dict(),
        "recipe": recipe,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "mean": np.asarray(mean, dtype=float).tolist(),
        "std": np.asarray(std, dtype=float).tolist(),
        "classes": list(classes) if classes is not None else None,
        "history": history or [],
    }
    return write_state(path, state, "model")


def load_model(
    path: str | Path, *, expect: NetConfig | None = None, device: str = "cpu"
) -> TrainedModel:
    """Rebuild a model saved by :func:`save_model` or a training checkpoint on ``device``.

    ``expect``, when given, must match the saved config (else a clear error).
    """
    from acmlkit.nets.devices import resolve_device

    state = read_state(path)
    try:
        config = NetConfig(**state["config"])
    except (TypeError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: its model config is invalid ({exc})") from None
    if expect is not None and config != expect:
        raise DataError(f"{path} holds a {config.describe()}, expected a {expect.describe()}")
    model = build_model(config)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        detail = str(exc).splitlines()[0]
        raise DataError(f"{path}: weights do not fit a {config.describe()} ({detail})") from None
    model.to(resolve_device(device)).eval()
    classes = tuple(state["classes"]) if state.get("classes") else None
    return TrainedModel(
        model, config, np.asarray(state["mean"], np.float32), np.asarray(state["std"], np.float32),
        classes, state.get("history"), bool((state.get("recipe") or {}).get("test_flip")),
    )
