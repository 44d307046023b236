"""The one gate: the plan's own findings, policies and scanners on one plan, waivers applied, one verdict.

A plan that fails the gate is never applied, by any front door. ``evaluate`` is what ``tfkit plan``,
``tfkit check``, ``tfkit apply`` and the Python API call; ``combine`` turns findings gathered
elsewhere (``tfkit scan`` runs only the scanners) into a result with the same waiver handling.
Scanners run as ``[checkov]`` says (``tfkit.scan``); a scanner that cannot run raises its
``ScanError`` rather than letting an unscanned plan pass, and one that is off says why in ``off``.
With the policies, the var files the environment reads are secret-scanned (``tfkit.var_file_scan``).
What Terraform itself says about the plan (errored, not applyable, incomplete, failed checks:
``tfkit.plan_findings``) comes first.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

from tfkit.findings import Finding, Severity

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.policy.api import Policy
    from tfkit.project import Project

__all__ = ["GateResult", "Prepared", "combine", "evaluate", "prepare"]


@dataclass(frozen=True, slots=True)
class GateResult:
    """Every finding on a plan, with its source, severity and waiver, and the verdict."""

    environment: str | None
    findings: tuple[Finding, ...]
    errors: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    tools: Mapping[str, str] = field(default_factory=dict)
    #: The scanners that did not run, each with why (``{"checkov": "tfkit.toml has no [checkov] table"}``).
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


#: The modules ``evaluate`` imports as it runs, imported by ``prepare`` ahead of it.
_EVALUATES = ("tfkit.plan_findings", "tfkit.policy.evaluate", "tfkit.policy.waivers", "tfkit.scan.checkov")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What ``evaluate`` reads before it looks at the plan, loaded ahead by ``prepare``.

    ``None`` is a part not loaded (or whose loading failed): ``evaluate`` then loads it itself, and
    raises what that raises, where it always did.
    """

    policies: tuple[Policy, ...] | None = None
    var_files: tuple[Finding, ...] | None = None


def prepare(environment: str | None, project: Project) -> Prepared:
    """Load the policies and secret-scan the var files of ``environment``, and import what ``evaluate``
    runs, before the plan exists (``tfkit.ahead``: while the engine plans). Never raises for a part that
    fails: that part stays ``None``, for ``evaluate`` to do again and fail in its place."""
    from tfkit.policy.loader import load_policies

    policies: tuple[Policy, ...] | None = None
    var_files: tuple[Finding, ...] | None = None
    try:
        policies = tuple(load_policies(project))
    except Exception:  # evaluate loads them again and raises it in its place
        policies = None
    if environment in project.names:
        from tfkit.var_file_scan import var_file_findings

        try:
            var_files = tuple(var_file_findings(project.environment(environment)))
        except Exception:  # evaluate scans again and raises it in its place
            var_files = None
    for module in _EVALUATES:
        with contextlib.suppress(ImportError):  # evaluate imports it again and raises it in its place
            importlib.import_module(module)
    return Prepared(policies, var_files)


def evaluate(
    plan: Plan,
    environment: str | None = None,
    *,
    project: Project | None = None,
    policies: bool = True,
    scanners: bool = True,
    plan_checks: bool = True,
    today: date | None = None,
    prepared: Prepared | None = None,
) -> GateResult:
    """The plan's own findings, then the policies and scanners configured for ``environment``, on
    ``plan``; with the policies, secret-scan the var files ``environment`` reads when ``project`` has it.

    ``prepared`` (``prepare`` of the same environment and project) holds what was loaded ahead; the
    result is the same with or without it.
    """
    from tfkit.plan_findings import plan_findings

    ahead = prepared or Prepared()
    findings: list[Finding] = plan_findings(plan, environment, project) if plan_checks else []
    timings: dict[str, float] = {}
    tools: dict[str, str] = {}
    off: dict[str, str] = {}
    if policies:
        from tfkit.policy import evaluate as evaluate_policies

        start = time.perf_counter()
        report = evaluate_policies(plan, ahead.policies, env=environment, project=project)
        findings.extend(report.findings)
        timings["policies"] = time.perf_counter() - start
        if project is not None and environment in project.names:
            from tfkit.var_file_scan import var_file_findings

            start = time.perf_counter()
            found = ahead.var_files
            if found is None:
                found = tuple(var_file_findings(project.environment(environment)))
            findings.extend(found)
            timings["var files"] = time.perf_counter() - start
    if scanners:
        from tfkit.scan import run_scanners, scanners_off

        off.update(scanners_off(project, environment))
        for scan in run_scanners(plan, environment=environment, project=project):
            findings.extend(scan.findings)
            timings[scan.tool] = scan.duration
            tools[scan.tool] = scan.version
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
