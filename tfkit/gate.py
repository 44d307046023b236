"""The one gate: policies and scanners on one plan, waivers applied, one verdict.

A plan that fails the gate is never applied, by any front door. ``evaluate`` is what ``tfkit plan``,
``tfkit check``, ``tfkit apply`` and the Python API call; ``combine`` turns findings gathered
elsewhere (``tfkit scan`` runs only the scanners) into a result with the same waiver handling.
Scanners run as ``[checkov]`` says (``tfkit.scan``); a scanner that cannot run raises its
``ScanError`` rather than letting an unscanned plan pass.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from tfkit.findings import Finding, Severity

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Project

__all__ = ["GateResult", "combine", "evaluate"]


@dataclass(frozen=True, slots=True)
class GateResult:
    """Every finding on a plan, with its source, severity and waiver, and the verdict."""

    environment: str | None
    findings: tuple[Finding, ...]
    errors: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    tools: Mapping[str, str] = field(default_factory=dict)
    #: Scanners that did not run, each with why ("no [checkov] table in tfkit.toml").
    off: Mapping[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """No blocking finding and no gate error (such as an expired waiver)."""
        return not self.errors and not any(f.blocking for f in self.findings)

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The findings that fail the gate, hard first."""
        return tuple(sorted((f for f in self.findings if f.blocking), key=lambda f: f.severity.rank))

    def by_severity(self, severity: Severity) -> tuple[Finding, ...]:
        """The failed (not passed) findings of one severity."""
        return tuple(f for f in self.findings if f.severity is severity and not f.passed)


def evaluate(
    plan: Plan,
    environment: str | None = None,
    *,
    project: Project | None = None,
    policies: bool = True,
    scanners: bool = True,
    today: date | None = None,
) -> GateResult:
    """Run the policies and scanners configured for ``environment`` on ``plan``."""
    findings: list[Finding] = []
    timings: dict[str, float] = {}
    tools: dict[str, str] = {}
    if policies:
        from tfkit.policy import evaluate as evaluate_policies

        start = time.perf_counter()
        report = evaluate_policies(plan, env=environment, project=project)
        findings.extend(report.findings)
        timings["policies"] = time.perf_counter() - start
    off: dict[str, str] = {}
    if scanners:
        from tfkit.scan import run_scanners, scanners_off

        for scan in run_scanners(plan, environment=environment, project=project):
            findings.extend(scan.findings)
            timings[scan.tool] = scan.duration
            tools[scan.tool] = scan.version
        off = scanners_off(project, environment)
    result = combine(findings, environment, project=project, today=today, timings=timings, tools=tools)
    return replace(result, off=off) if off else result


def combine(
    findings: Iterable[Finding],
    environment: str | None,
    *,
    project: Project | None = None,
    today: date | None = None,
    timings: Mapping[str, float] | None = None,
    tools: Mapping[str, str] | None = None,
) -> GateResult:
    """One ``GateResult`` from findings already gathered: the project's waivers applied, if any."""
    found = list(findings)
    errors: list[str] = []
    if project is not None:
        from tfkit.policy.waivers import apply_waivers, load_waivers

        waived, errors = apply_waivers(
            found, load_waivers(project), environment=environment, today=today or date.today()
        )
        found = list(waived)
    return GateResult(environment, tuple(found), tuple(errors), dict(timings or {}), dict(tools or {}))
