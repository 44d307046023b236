"""The text report: per environment, the plan, the gate's findings, drift, and the closing lines.

One environment renders exactly as the single-environment commands always printed (the plan text,
then the gate text); several environments each get a heading, so their output stays together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tfkit.report.model import EnvironmentReport, Report

__all__ = ["render_block", "render_drift_text", "render_environment_text", "render_summary", "render_text"]


def render_drift_text(entry: EnvironmentReport) -> list[str]:
    """Drift lines: what changed outside Terraform, what it takes to return, and the fix."""
    result = entry.drift
    if result is None:
        return []
    lines: list[str] = []
    if result.outside:
        lines.append(f"Changed outside of Terraform ({len(result.outside)}):")
        lines += [f"  {item.one_line()}" for item in result.outside]
    if result.to_return:
        lines.append(f"To return to snapshot {result.snapshot} ({len(result.to_return)}):")
        lines += [f"  {item.one_line()}" for item in result.to_return]
    lines.append(result.summary())
    return lines


def _details(details: Mapping[str, Any]) -> list[str]:
    """JSON-ready details (apply, status) as ``key: value`` lines."""
    lines = []
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        lines.append(f"{key}: {shown}")
    return lines


def render_environment_text(entry: EnvironmentReport) -> str:
    """One environment's block: log, plan, gate, drift, details, warnings and any error."""
    from tfkit.report.gate import render_gate_text
    from tfkit.report.plan import render_text as render_plan_text

    parts: list[str] = []
    if entry.log.strip():
        parts.append(entry.log.rstrip("\n"))
    if entry.plan is not None and entry.drift is None:
        parts.append(render_plan_text(entry.plan).rstrip("\n"))
    if entry.gate is not None:
        parts.append(render_gate_text(entry.gate))
    drift_lines = render_drift_text(entry)
    if drift_lines:
        parts.append("\n".join(drift_lines))
    if entry.details:
        parts.append("\n".join(_details(entry.details)))
    parts += [f"warning: {entry.environment}: {w}" for w in entry.warnings]
    if entry.error is not None:
        parts.append(f"error: {entry.error}")
    elif entry.operation == "validate":
        parts.append(f"{entry.environment}: valid")
    return "\n".join(parts)


def render_block(entry: EnvironmentReport) -> str:
    """One environment's output under a heading naming it, the operation and how long it took."""
    took = f", {entry.duration:.1f}s" if entry.duration is not None else ""
    return f"=== {entry.environment} ({entry.operation}{took}) ===\n{render_environment_text(entry)}"


def render_summary(report: Report) -> str:
    """One verdict line per environment, then the worst exit code."""
    verdicts = [f"  {e.environment}: {e.outcome} (exit {e.exit_code})" for e in report.environments]
    return "\n".join([f"=== {report.command}: exit {report.exit_code} ===", *verdicts])


def render_text(report: Report) -> str:
    """The whole report; with several environments, each under its own heading, then the verdicts."""
    if len(report.environments) == 1:
        return render_environment_text(report.environments[0])
    return "\n\n".join([*(render_block(e) for e in report.environments), render_summary(report)])
