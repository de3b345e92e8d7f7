"""The HTML report: every part of the notebook, rebuilt from saved results."""

from acmlkit.report.build import ReportConfig, build_page, run_report

__all__ = ["ReportConfig", "build_page", "run_report"]
