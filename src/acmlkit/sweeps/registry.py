"""Experiments a sweep can run, by name. Each trial function lives with its part.

A trial function takes keyword parameters (``seed`` among them) and returns a
flat dict of JSON-ready metrics. Names map to import paths so that a sweep
imports only the part it runs.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

EXPERIMENTS: dict[str, str] = {
    "mixture": "acmlkit.mixture.experiments:mixture_trial",
    "als": "acmlkit.factorization.experiments:als_trial",
}


def _import(path: str) -> Callable[..., dict]:
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import experiment {path!r}: {exc}") from None


def resolve(name: str) -> Callable[..., dict]:
    """The trial function for a registered name or an import path ``module:function``."""
    if name in EXPERIMENTS:
        return _import(EXPERIMENTS[name])
    if ":" in name:
        return _import(name)
    raise ValueError(
        f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)} "
        "or give package.module:function"
    )


def parameters(name: str) -> dict[str, inspect.Parameter]:
    """The keyword parameters a trial function takes (``seed`` included)."""
    return dict(inspect.signature(resolve(name)).parameters)
