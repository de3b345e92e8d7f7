"""Package attributes imported on first use (PEP 562).

The CLI imports every part's package for its ``cli`` module, so a package's
``__init__`` must not import numpy, scipy or torch: ``acml --help`` would pay for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``name`` lives in the
    submodule ``exports[name]`` (relative to the package). A name is imported once,
    then cached in the package's namespace."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
