"""The JSON report: a versioned document (``tfkit/schemas/report.schema.json``) for CI scripts.

``report_version`` follows the schema: a new optional key keeps the major version, anything a
reader could trip over (a removed or retyped key) bumps it. No attribute value is included: plans
appear as their summary (``summary_json``: addresses, actions, paths), findings as ids, addresses and
messages.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import cache
from importlib import resources
from typing import Any

from tfkit._version import __version__
from tfkit.plan import ActionInvocation, Plan, ResourceChange
from tfkit.report.text import verdict_line
from tfkit.report.vocabulary import changed_outputs, check_problems, listed_changes, summary_line
from tfkit.results import EnvironmentReport, Report

__all__ = [
    "REPORT_VERSION",
    "render_json",
    "report_document",
    "report_schema",
    "summary_json",
    "validate_report",
]

REPORT_VERSION = "1.0"
"""The version of the report document's shape (``major.minor``)."""


def summary_json(plan: Plan) -> dict[str, Any]:
    """A machine-readable summary (JSON-ready builtins): versions, counts, changes, drift and outputs."""
    summary = plan.summary()
    return {
        "format_version": plan.format_version,
        "terraform_version": plan.terraform_version,
        "timestamp": plan.timestamp,
        "applyable": plan.applyable,
        "complete": plan.complete,
        "errored": plan.errored,
        "has_changes": plan.has_changes,
        "refresh_only": plan.is_refresh_only,
        "empty_reason": plan.empty_reason.value if plan.empty_reason else None,
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
            "replace": summary.replace,
            "import": summary.import_,
            "forget": summary.forget,
            "move": summary.move,
            "read": summary.read,
            "noop": summary.noop,
            "invoke": summary.invoke,
            "deferred": summary.deferred,
        },
        "line": summary_line(summary),
        "resource_changes": [_change_json(rc) for rc in listed_changes(plan)],
        "drift": [
            {"address": rc.address, "action": rc.change.action.value, "previous_address": rc.previous_address}
            for rc in plan.drift
        ],
        "actions": [_invocation_json(a) for a in plan.action_invocations],
        "checks": [
            {"status": status, "address": where, "message": message}
            for status, where, message in check_problems(plan)
        ],
        "deferred": [
            {
                "address": d.resource_change.address,
                "action": d.resource_change.action.value,
                "reason": d.reason,
            }
            for d in plan.deferred_changes
        ]
        + [
            {"address": d.action_invocation.address, "action": "invoke", "reason": d.reason}
            for d in plan.deferred_action_invocations
        ],
        "outputs": [
            {"name": name, "action": action.value, "sensitive": sensitive}
            for name, action, sensitive in changed_outputs(plan)
        ],
    }


def _invocation_json(invocation: ActionInvocation) -> dict[str, Any]:
    """One action invocation, without its configuration values."""
    lifecycle = invocation.lifecycle_action_trigger
    return {
        "address": invocation.address,
        "type": invocation.type,
        "name": invocation.name,
        "provider_name": invocation.provider_name,
        "trigger": invocation.trigger,
        "triggering_resource": lifecycle.triggering_resource_address if lifecycle else None,
        "event": lifecycle.action_trigger_event if lifecycle else None,
    }


def _change_json(rc: ResourceChange) -> dict[str, Any]:
    """One listed change, without values."""
    return {
        "address": rc.address,
        "action": rc.change.action.value,
        "module_address": rc.module_address,
        "mode": rc.mode,
        "type": rc.type,
        "name": rc.name,
        "index": rc.index,
        "deposed": rc.deposed,
        "action_reason": rc.action_reason,
        "previous_address": rc.previous_address,
        "importing": rc.change.importing is not None,
        "replace_paths": [list(path) for path in rc.change.replace_paths],
    }


def _finding(finding: Any) -> dict[str, Any]:
    waiver = finding.waiver
    return {
        "source": finding.source,
        "check_id": finding.check_id,
        "name": finding.name,
        "severity": finding.severity.value,
        "message": finding.message,
        "address": finding.address,
        "path": finding.path,
        "file": finding.file,
        "line": finding.line,
        "guideline": finding.guideline,
        "passed": finding.passed,
        "blocking": finding.blocking,
        "waived": finding.waived,
        "waiver": None
        if waiver is None
        else {
            "check_id": waiver.check_id,
            "address": waiver.address,
            "reason": waiver.reason,
            "expires": waiver.expires.isoformat(),
            "environments": list(waiver.environments),
            "expired": finding.waiver_expired,
        },
    }


def _gate(entry: EnvironmentReport) -> dict[str, Any] | None:
    result = entry.gate
    if result is None:
        return None
    return {
        "passed": result.passed,
        "verdict": verdict_line(result),
        "errors": list(result.errors),
        "tools": dict(result.tools),
        "off": dict(result.off),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "findings": [_finding(f) for f in result.findings],
    }


def _drift(entry: EnvironmentReport) -> dict[str, Any] | None:
    result = entry.drift
    if result is None:
        return None
    return {
        "snapshot": result.snapshot,
        "has_drift": result.has_drift,
        "addresses": list(result.addresses),
        "outside": [asdict(i) for i in result.outside],
        "to_return": [asdict(i) for i in result.to_return],
        "fix": result.fix,
    }


def _environment(entry: EnvironmentReport) -> dict[str, Any]:
    return {
        "environment": entry.environment,
        "operation": entry.operation,
        "outcome": entry.outcome,
        "exit_code": entry.exit_code,
        "error": entry.error,
        "duration": None if entry.duration is None else round(entry.duration, 3),
        "warnings": list(entry.warnings),
        "refusals": list(entry.refusals),
        "plan": summary_json(entry.plan) if entry.plan is not None else None,
        "gate": _gate(entry),
        "drift": _drift(entry),
        "details": json.loads(json.dumps(dict(entry.details), default=str)) if entry.details else None,
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as JSON-ready builtins, following ``report.schema.json``."""
    return {
        "report_version": REPORT_VERSION,
        "tfkit_version": __version__,
        "command": report.command,
        "created": report.created,
        "passed": report.passed,
        "exit_code": report.exit_code,
        "environments": [_environment(e) for e in report.environments],
    }


def render_json(report: Report) -> str:
    """The report document as indented JSON text."""
    return json.dumps(report_document(report), indent=2, sort_keys=True) + "\n"


@cache
def report_schema() -> dict[str, Any]:
    """The JSON Schema of the report document, shipped in the package."""
    text = resources.files("tfkit").joinpath("schemas", "report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_report(document: Any) -> list[str]:
    """Problems of ``document`` against the report schema (``path: message``); empty when valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(report_schema())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '$'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
