"""Renderers of tfkit's results: data types never print themselves.

A ``Report`` (one command over one or several environments) renders as text, JSON (versioned schema),
JUnit XML, SARIF 2.1.0 or Markdown; ``write_reports`` writes several formats at once. Plans and gate
results alone have their own renderers in ``tfkit.report.plan`` and ``tfkit.report.gate``.
"""

from tfkit.report.model import FORMATS, EnvironmentReport, Report, render, write_reports

__all__ = ["FORMATS", "EnvironmentReport", "Report", "render", "write_reports"]
