"""Experiments a sweep can run, by name. Each trial function lives with its part.

A trial function takes keyword parameters (``seed`` among them) and returns a
flat dict of JSON-ready metrics. Names map to import paths so that a sweep
imports only the part it runs.

An experiment given as ``package.module:function`` instead of a name runs any
importable code, so a sweep file that names one is trusted like a script:
:func:`check_allowed` refuses it unless the caller opted in (``--allow-code``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from acmlkit.errors import DataError

EXPERIMENTS: dict[str, str] = {
    "mixture": "acmlkit.mixture.experiments:mixture_trial",
    "als": "acmlkit.factorization.experiments:als_trial",
    "permutation": "acmlkit.nets.experiments:permutation_trial",
}

# Annotation names (``from __future__ import annotations`` keeps them as strings) and
# the Python types a value of that parameter may have. ints pass for floats.
_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
}


def _import(path: str) -> Callable[..., dict]:
    module_name, _, attr = path.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"cannot import experiment {path!r}: {exc}") from None
    if not callable(function):
        raise ValueError(f"experiment {path!r} is not a function")
    return function


def is_registered(name: str) -> bool:
    return name in EXPERIMENTS


def check_allowed(name: str, allow_code: bool) -> None:
    """Refuse an import path unless ``allow_code``: importing it runs arbitrary code."""
    if is_registered(name):
        return
    if ":" not in name:
        raise DataError(
            f"unknown experiment {name!r}; choose one of {', '.join(sorted(EXPERIMENTS))} "
            "(or give package.module:function with --allow-code)"
        )
    if not allow_code:
        raise DataError(
            f"experiment {name!r} is an import path, not one of the registered experiments "
            f"({', '.join(sorted(EXPERIMENTS))}); importing it runs its code, so pass "
            "--allow-code if you trust this sweep like a script"
        )


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


def check_parameters(
    name: str, params: Mapping[str, list], *, source: str = "sweep"
) -> None:
    """Check parameter names and value types against the trial function's signature.

    ``params`` maps each grid or fixed parameter to the list of values it takes.
    Raises :class:`DataError` naming the parameter, what the function expects and
    what was given, before any trial runs.
    """
    signature = parameters(name)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values())
    accepted = {
        key: p
        for key, p in signature.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    for key, values in params.items():
        if key not in accepted:
            if takes_any:
                continue
            choices = ", ".join(k for k in accepted if k != "seed")
            raise DataError(
                f"{source}: experiment {name!r} has no parameter {key!r}; it takes {choices}"
            )
        expected = _expected_types(accepted[key])
        if expected is None:
            continue
        for value in values:
            if not _matches(value, expected):
                names = " or ".join(sorted({t.__name__ for t in expected}))
                raise DataError(
                    f"{source}: parameter {key!r} of experiment {name!r} must be {names}, "
                    f"got {value!r} ({type(value).__name__})"
                )
    missing = [
        key for key, p in accepted.items()
        if p.default is inspect.Parameter.empty and key != "seed" and key not in params
    ]
    if missing:
        raise DataError(
            f"{source}: experiment {name!r} needs parameter(s) {', '.join(missing)} "
            "in [fixed] or [grid]"
        )


def _expected_types(parameter: inspect.Parameter) -> tuple[type, ...] | None:
    annotation = parameter.annotation
    if isinstance(annotation, str) and annotation in _TYPES:
        return _TYPES[annotation]
    if isinstance(annotation, type) and annotation.__name__ in _TYPES:
        return _TYPES[annotation.__name__]
    default = parameter.default
    if default is not inspect.Parameter.empty and default is not None:
        kind = type(default).__name__
        if kind in _TYPES:
            return _TYPES[kind]
    return None


def _matches(value: Any, expected: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in expected
    return isinstance(value, expected)
