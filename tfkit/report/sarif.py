"""The SARIF 2.1.0 report: each failing check and drifted resource on the file and line of its resource.

Code-scanning UIs (GitHub, GitLab, Azure DevOps) show a result in place when it has a physical
location, so every result is located with ``tfkit.report.locations`` (the resource block, found with
python-hcl2). Waived findings are kept as results with an external suppression and its reason, so a
reviewer sees what was waived; passed checks are not results. One run for the whole report: GitHub
refuses several runs of one tool and category in one upload.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tfkit._version import __version__
from tfkit.findings import Finding, Severity
from tfkit.report.locations import Location, locate
from tfkit.results import EnvironmentReport, Report

__all__ = ["DRIFT_RULE", "SARIF_SCHEMA", "SARIF_VERSION", "render_sarif", "sarif_document"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DRIFT_RULE = "TFKIT-DRIFT"
_LEVEL = {Severity.HARD: "error", Severity.SOFT: "error", Severity.ADVISORY: "warning"}


def _location(entry: EnvironmentReport, address: str | None, root: Path | None) -> Location | None:
    if entry.directory is None or root is None:
        return None
    return locate(address, entry.directory, root)


def _physical(location: Location | None, address: str | None) -> list[dict[str, Any]]:
    found: dict[str, Any] = {}
    if location is not None:
        found["physicalLocation"] = {
            "artifactLocation": {"uri": location.file, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": location.line},
        }
    if address:
        found["logicalLocations"] = [{"fullyQualifiedName": address, "kind": "resource"}]
    return [found] if found else []


def _fingerprint(*parts: str | None) -> str:
    return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()


def _finding_location(entry: EnvironmentReport, finding: Finding, root: Path | None) -> Location | None:
    if finding.file and finding.line:
        return Location(finding.file, finding.line)
    return _location(entry, finding.address, root)


def _finding_result(entry: EnvironmentReport, finding: Finding, root: Path | None) -> dict[str, Any]:
    where = finding.address or "the plan"
    result: dict[str, Any] = {
        "ruleId": finding.check_id,
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{finding.message} ({entry.environment}: {where})"},
        "locations": _physical(_finding_location(entry, finding, root), finding.address),
        "partialFingerprints": {
            "tfkitFinding/v1": _fingerprint(
                entry.environment, finding.check_id, finding.address, finding.path
            )
        },
        "properties": {
            "environment": entry.environment,
            "severity": finding.severity.value,
            "source": finding.source,
            "blocking": finding.blocking,
        },
    }
    if finding.waiver is not None:
        state = "expired" if finding.waiver_expired else "accepted"
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "rejected" if finding.waiver_expired else state,
                "justification": f"{finding.waiver.reason} (waived until {finding.waiver.expires})",
            }
        ]
    return result


def _drift_results(entry: EnvironmentReport, root: Path | None) -> list[dict[str, Any]]:
    result = entry.drift
    if result is None:
        return []
    items = {i.address: i for i in (*result.to_return, *result.outside)}
    return [
        {
            "ruleId": DRIFT_RULE,
            "level": "error",
            "message": {
                "text": f"{item.one_line()} differs from snapshot {result.snapshot} of {entry.environment}; "
                f"run `{result.fix}`"
            },
            "locations": _physical(_location(entry, address, root), address),
            "partialFingerprints": {"tfkitDrift/v1": _fingerprint(entry.environment, address)},
            "properties": {"environment": entry.environment, "snapshot": result.snapshot},
        }
        for address, item in sorted(items.items())
    ]


def _rule(finding: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": finding.check_id,
        "name": finding.check_id,
        "shortDescription": {"text": finding.name or finding.check_id},
        "defaultConfiguration": {"level": _LEVEL[finding.severity]},
        "properties": {"source": finding.source, "severity": finding.severity.value},
    }
    if finding.guideline and finding.guideline.startswith(("http://", "https://")):
        rule["helpUri"] = finding.guideline
    elif finding.guideline:
        rule["help"] = {"text": finding.guideline}
    return rule


def sarif_document(report: Report) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``report``: one run, rules for every check seen, results for failures."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for entry in report.environments:
        findings = entry.gate.findings if entry.gate is not None else ()
        for finding in findings:
            rules.setdefault(finding.check_id, _rule(finding))
            if not finding.passed:
                results.append(_finding_result(entry, finding, report.root))
        drifted = _drift_results(entry, report.root)
        if drifted:
            rules.setdefault(
                DRIFT_RULE,
                {
                    "id": DRIFT_RULE,
                    "name": "Drift",
                    "shortDescription": {
                        "text": "The environment no longer matches its last passing snapshot"
                    },
                    "defaultConfiguration": {"level": "error"},
                },
            )
            results += drifted
    ordered = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(ordered)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "tfkit",
                "version": __version__,
                "informationUri": "https://pypi.org/project/tfkit/",
                "rules": [rules[r] for r in ordered],
            }
        },
        "automationDetails": {"id": f"tfkit/{report.command}/"},
        "results": results,
        "invocations": [
            {
                "executionSuccessful": all(e.error is None for e in report.environments),
                "exitCode": report.exit_code,
                "toolExecutionNotifications": [
                    *(
                        {"level": "error", "message": {"text": f"{e.environment}: {e.error}"}}
                        for e in report.environments
                        if e.error is not None
                    ),
                    *(
                        {
                            "level": "error",
                            "message": {"text": f"{e.environment}: apply would be refused: {r}"},
                        }
                        for e in report.environments
                        for r in e.refusals
                    ),
                    *(
                        {"level": "warning", "message": {"text": f"{e.environment}: {w}"}}
                        for e in report.environments
                        for w in e.warnings
                    ),
                ],
            }
        ],
    }
    if report.root is not None:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": Path(report.root).resolve().as_uri() + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    """The SARIF log as indented JSON text."""
    return json.dumps(sarif_document(report), indent=2) + "\n"
