"""The HTML report: every part of the notebook, rebuilt from saved results.

Names load on first use, so ``acml``'s start-up (which imports ``report.cli``)
does not pay for numpy, matplotlib and torch.
"""

import importlib

__all__ = ["ReportConfig", "build_page", "run_report"]


def __getattr__(name: str):
    if name in __all__:
        value = getattr(importlib.import_module("acmlkit.report.build"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'acmlkit.report' has no attribute {name!r}")
