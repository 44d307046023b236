"""Everything tfkit prints as plain text: a plan, a gate result, drift, and a whole ``Report``.

A plan is a compact summary (drift, changes grouped by module and action with reasons, outputs, totals);
a gate result is one greppable line per finding grouped by severity, then the verdict; a report prints
one environment exactly as the single-environment commands do (plan text, then gate text), several
environments each under a heading, so their output stays together. Only ids, addresses, paths and
messages are printed, never attribute values; the CLI masks the text once more on its way out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tfkit.findings import Finding, Severity
from tfkit.gate import GateResult
from tfkit.plan import Plan, ResourceChange
from tfkit.redact import MASK
from tfkit.report.vocabulary import (
    DRIFT,
    SYMBOL,
    TITLE,
    change_notes,
    changed_outputs,
    changed_paths,
    empty_text,
    grouped,
    listed_changes,
    one_line,
    summary_line,
)
from tfkit.results import EnvironmentReport, Report

__all__ = [
    "render_block",
    "render_drift_text",
    "render_environment_text",
    "render_gate_text",
    "render_plan_text",
    "render_summary",
    "render_text",
    "verdict_line",
]


# ----------------------------------------------------------------------------------------------- plan


def render_plan_text(plan: Plan) -> str:
    """A compact human summary: drift, changes grouped by module and action with reasons, outputs, totals."""
    lines = [f"Terraform {plan.terraform_version or '(unknown version)'}, plan format {plan.format_version}"]
    if plan.errored:
        lines.append(
            "Warning: the plan is errored (Terraform reported an error while planning); do not apply it."
        )
    lines += _text_drift(plan)
    changes = listed_changes(plan)
    for module, actions in grouped(changes).items():
        lines += ["", module or "Root module"]
        for action, items in actions.items():
            lines.append(f"  {SYMBOL[action]} {TITLE[action]} ({len(items)})")
            lines += [f"      {_text_item(rc)}" for rc in items]
    lines += _text_deferred(plan)
    lines += _text_outputs(plan)
    lines.append("")
    if changes:
        summary = plan.summary()
        lines.append(summary_line(summary))
        extra = [f"{summary.replace} replaced"] if summary.replace else []
        extra += [f"{summary.forget} to forget"] if summary.forget else []
        extra += [f"{summary.move} moved"] if summary.move else []
        extra += [f"{summary.read} to read"] if summary.read else []
        if extra:
            lines.append(f"({', '.join(extra)}.)")
    else:
        lines.append(empty_text(plan))
    return "\n".join(lines) + "\n"


def _text_item(rc: ResourceChange) -> str:
    """One change: address, then its notes and changed paths in parentheses."""
    notes = change_notes(rc)
    paths = changed_paths(rc)
    if paths:
        notes.append(f"changes {paths}")
    return f"{one_line(rc.address)}  ({'; '.join(notes)})" if notes else one_line(rc.address)


def _text_drift(plan: Plan) -> list[str]:
    """Objects changed outside of Terraform."""
    if not plan.drift:
        return []
    lines = ["", f"Objects changed outside of Terraform ({len(plan.drift)}):"]
    for rc in plan.drift:
        what = DRIFT.get(rc.change.action, rc.change.action.value)
        lines.append(f"  {SYMBOL[rc.change.action]} {one_line(rc.address)} {what}")
    return lines


def _text_deferred(plan: Plan) -> list[str]:
    """Changes deferred to a later plan."""
    if not plan.deferred_changes:
        return []
    lines = ["", f"Deferred to a later plan ({len(plan.deferred_changes)}):"]
    for deferred in plan.deferred_changes:
        rc = deferred.resource_change
        lines.append(f"  {SYMBOL[rc.change.action]} {one_line(rc.address)}  ({deferred.reason})")
    return lines


def _text_outputs(plan: Plan) -> list[str]:
    """Root module outputs that change (names only; sensitive ones say so)."""
    changed = changed_outputs(plan)
    if not changed:
        return []
    lines = ["", "Changes to outputs:"]
    for name, action, sensitive in changed:
        lines.append(f"  {SYMBOL[action]} {one_line(name)}{f' {MASK}' if sensitive else ''}")
    return lines


# ----------------------------------------------------------------------------------------------- gate

_HEADINGS = {
    Severity.HARD: "hard (cannot be waived)",
    Severity.SOFT: "soft (fail unless waived)",
    Severity.ADVISORY: "advisory (reported only)",
}


def _location(finding: Finding) -> str:
    if finding.file is None:
        return ""
    return f"  ({finding.file}:{finding.line})" if finding.line is not None else f"  ({finding.file})"


def _source(finding: Finding, details: bool) -> str:
    return f" [{finding.source}]" if details else ""


def verdict_line(result: GateResult) -> str:
    """``gate passed|FAILED for <env>: N hard, N soft, N advisory, N waived, N passed``."""
    failed = [f for f in result.findings if not f.passed]
    counts = {s: sum(1 for f in failed if f.severity is s and not f.waived) for s in Severity}
    waived = sum(1 for f in failed if f.waived)
    passed = sum(1 for f in result.findings if f.passed)
    env = f" for {result.environment}" if result.environment else ""
    word = "passed" if result.passed else "FAILED"
    parts = [f"{counts[s]} {s.value}" for s in (Severity.HARD, Severity.SOFT, Severity.ADVISORY)]
    parts += [f"{waived} waived", f"{passed} passed"]
    errors = f", {len(result.errors)} error(s)" if result.errors else ""
    return f"gate {word}{env}: {', '.join(parts)}{errors}"


def render_gate_text(result: GateResult, *, details: bool = True) -> str:
    """The findings grouped by severity (hard first), gate errors, and the verdict line.

    Each finding line reads ``SEVERITY CHECK_ID ADDRESS: message``, so ``grep CKV_AWS_20`` or
    ``grep module.service`` finds it. With ``details`` (the default), each finding also names its source
    (`` [policy]``) and the scanners that ran are listed (name, version, seconds).
    """
    lines: list[str] = []
    for severity in (Severity.HARD, Severity.SOFT, Severity.ADVISORY):
        group = sorted(result.by_severity(severity), key=lambda f: (f.check_id, f.address or ""))
        if not group:
            continue
        lines.append(f"{_HEADINGS[severity]}:")
        lines.extend(f"  {f.one_line()}{_source(f, details)}{_location(f)}" for f in group)
    if result.errors:
        lines.append("gate errors:")
        lines.extend(f"  {e}" for e in result.errors)
    if details:
        for tool, version in sorted(result.tools.items()):
            took = result.timings.get(tool)
            lines.append(f"scanner: {tool} {version}" + (f" ({took:.2f}s)" if took is not None else ""))
        lines.extend(f"scanner: {tool} off ({why})" for tool, why in sorted(result.off.items()))
    lines.append(verdict_line(result))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- report


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
