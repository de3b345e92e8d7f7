"""The HTML report: every part of the notebook, rebuilt from saved results.

Names load on first use, so ``acml``'s start-up (which imports ``report.cli``)
does not pay for numpy, matplotlib and torch.
"""

from acmlkit.lazy import lazy_exports

_EXPORTS = {"ReportConfig": "build", "build_page": "build", "run_report": "build"}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
