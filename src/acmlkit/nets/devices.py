"""Which torch device a run uses: ``cpu``, ``cuda``, ``mps`` or ``auto``."""

from __future__ import annotations

DEVICES = ("cpu", "cuda", "mps", "auto")


def _available(kind: str) -> bool:
    import torch

    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        backend = getattr(torch.backends, "mps", None)
        return backend is not None and backend.is_available()
    return True


def resolve_device(name: str = "cpu") -> str:
    """The device ``name`` stands for: ``auto`` is CUDA, else MPS, else the CPU.

    A device that is named but absent raises ValueError in one line (rather than
    a run that silently falls back and reports CPU times as GPU ones).
    """
    if name not in DEVICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "auto":
        return next(k for k in ("cuda", "mps", "cpu") if _available(k))
    if not _available(name):
        raise ValueError(
            f"--device {name}: no {name.upper()} device is available to torch on this machine; "
            "use --device cpu, or --device auto to take the best one present"
        )
    return name
