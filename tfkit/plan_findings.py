"""Findings from the plan itself (source ``plan``): what Terraform says about the plan, before any policy.

Terraform marks a plan it could not finish (``errored``), one it will not apply (``applyable: false``)
and one that leaves work for a later plan (``complete: false``); it reports check blocks and resource and
output conditions in ``checks``. Those are findings like a policy's, shown first, so no front door gates
or applies such a plan as if it were fine.

=======  ==========================================================  ====================================
Code     When                                                        Severity
=======  ==========================================================  ====================================
TFP001   ``errored: true`` (Terraform failed while planning)         hard
TFP002   ``applyable: false`` on a plan that lists changes           hard
TFP003   ``complete: false`` or deferred changes/actions              ``[plan_checks] incomplete`` (soft)
TFP010   a check or condition with status ``fail`` or ``error``      ``failed_checks`` (soft), or
                                                                     ``failed_checks_protected`` (hard)
TFP011   a check whose result is ``unknown`` until apply             advisory
=======  ==========================================================  ====================================

``applyable: false`` alone is no finding: Terraform writes it for every plan with nothing to apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfkit.config import PlanChecksConfig
from tfkit.findings import Finding, Severity

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Project

__all__ = ["CODES", "SOURCE", "blocking_state", "first_key", "plan_findings"]

SOURCE = "plan"
"""The ``Finding.source`` of every finding made here."""

CODES = {
    "TFP001": "plan errored",
    "TFP002": "plan not applyable",
    "TFP003": "plan incomplete",
    "TFP010": "check failed",
    "TFP011": "check unknown",
}
"""Each code and its short name (``Finding.name``)."""


def plan_findings(
    plan: Plan, environment: str | None = None, project: Project | None = None
) -> list[Finding]:
    """The findings the plan itself gives, most serious first; severities from ``[plan_checks]``."""
    settings = project.config.plan_checks if project is not None else PlanChecksConfig()
    findings = blocking_state(plan, Severity(settings.incomplete))
    failed = settings.failed_checks_protected if _protected(environment, project) else settings.failed_checks
    return findings + _check_findings(plan, Severity(failed))


def first_key(finding: Finding) -> tuple[bool, str, str]:
    """Sort key that puts the plan's own findings first, then by check id and address (for every report)."""
    return (finding.source != SOURCE, finding.check_id, finding.address or "")


def blocking_state(plan: Plan, incomplete: Severity = Severity.SOFT) -> list[Finding]:
    """TFP001-TFP003: whether Terraform itself marks the plan errored, not applyable or incomplete."""
    findings: list[Finding] = []
    if plan.errored:
        findings.append(
            _finding(
                "TFP001", Severity.HARD, "Terraform reported an error while planning; it cannot be applied"
            )
        )
    elif plan.applyable is False and plan.has_changes:
        findings.append(
            _finding(
                "TFP002",
                Severity.HARD,
                "Terraform marks this plan not applyable (applyable: false) although it lists changes",
            )
        )
    deferred = len(plan.deferred_changes) + len(plan.deferred_action_invocations)
    if not plan.errored and (plan.complete is False or deferred):
        why = f"{deferred} change(s) deferred to a later plan" if deferred else "a partial (targeted) plan"
        message = f"the plan is incomplete (complete: false): {why}; plan again after applying it"
        findings.append(_finding("TFP003", incomplete, message))
    return findings


def _check_findings(plan: Plan, failed: Severity) -> list[Finding]:
    """One finding per check instance that failed, errored (TFP010) or is unknown (TFP011), then one
    passed finding per checkable object that passed (so reports count it)."""
    out: list[Finding] = []
    for outcome in plan.check_outcomes:
        address = outcome.address or None
        if outcome.status == "unknown":
            out.append(_finding("TFP011", Severity.ADVISORY, "result not known until apply", address))
        else:
            status = {"fail": "failed", "error": "errored"}.get(outcome.status, outcome.status)
            message = f"{_WORD.get(outcome.kind, 'check')} {status}: {outcome.message or '(no message)'}"
            out.append(_finding("TFP010", failed, message, address))
    for result in plan.checks:
        if result.status == "pass":
            word, address = _WORD.get(result.address.kind, "check"), result.address.to_display or None
            out.append(_finding("TFP010", failed, f"{word} passed", address, passed=True))
    return out


#: What kind of condition a checkable object's kind is, in words.
_WORD = {"check": "check", "resource": "condition", "output_value": "output condition"}


def _protected(environment: str | None, project: Project | None) -> bool:
    """The environment is marked protected in tfkit.toml."""
    if project is None or environment is None or environment not in project.names:
        return False
    return project.environment(environment).protected


def _finding(
    code: str, severity: Severity, message: str, address: str | None = None, *, passed: bool = False
) -> Finding:
    """A finding of this source."""
    return Finding(SOURCE, code, severity, message, address=address, name=CODES[code], passed=passed)
