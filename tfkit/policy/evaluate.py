"""Run policies on a plan: settings applied per environment, one typed result per policy, with timings.

A policy that raises is reported as an *error* result (a finding of its own severity, so a broken soft or
hard policy fails the gate: fail closed). Messages pass through ``tfkit.redact.mask``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfkit.findings import Finding, Severity
from tfkit.policy.api import Policy, PolicyContext, SkipPolicy, Violation
from tfkit.policy.settings import check_settings, resolve
from tfkit.redact import mask

if TYPE_CHECKING:
    from tfkit.plan import Plan, ResourceChange
    from tfkit.project import Project

__all__ = ["PolicyReport", "PolicyResult", "Status", "evaluate"]

SOURCE = "policy"


class Status(enum.StrEnum):
    """The outcome of one policy on one plan."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy's outcome: its violations, how long it took, and why it errored or was skipped."""

    policy: Policy
    severity: Severity
    status: Status
    violations: tuple[Violation, ...] = ()
    duration: float = 0.0
    detail: str | None = None

    @property
    def id(self) -> str:
        """The policy's id."""
        return self.policy.id

    @property
    def findings(self) -> tuple[Finding, ...]:
        """This result as gate findings: one per violation, one for an error, one *passed* finding."""
        p = self.policy
        if self.status is Status.FAILED:
            return tuple(
                Finding(
                    SOURCE,
                    p.id,
                    self.severity,
                    mask(v.message),
                    address=v.address,
                    path=v.path,
                    name=p.title,
                    file=v.file,
                    line=v.line,
                )
                for v in self.violations
            )
        if self.status is Status.ERROR:
            return (Finding(SOURCE, p.id, self.severity, mask(self.detail or "error"), name=p.title),)
        if self.status is Status.PASSED:
            return (Finding(SOURCE, p.id, self.severity, "passed", name=p.title, passed=True),)
        return ()


@dataclass(frozen=True, slots=True)
class PolicyReport:
    """Every policy's result on one plan in one environment."""

    environment: str | None
    results: tuple[PolicyResult, ...]
    duration: float

    @property
    def findings(self) -> tuple[Finding, ...]:
        """All findings, in policy order (what ``tfkit.gate`` combines with the scanners')."""
        return tuple(f for r in self.results for f in r.findings)

    @property
    def violations(self) -> tuple[tuple[PolicyResult, Violation], ...]:
        """Every violation with the result it belongs to."""
        return tuple((r, v) for r in self.results for v in r.violations)

    @property
    def passed(self) -> bool:
        """No soft or hard violation and no error, waivers not considered (the gate applies those)."""
        return not any(f.blocking for f in self.findings)

    def result(self, policy_id: str) -> PolicyResult | None:
        """The result of one policy by id."""
        return next((r for r in self.results if r.policy.id == policy_id), None)


def _subjects(policy: Policy, plan: Plan) -> Iterable[ResourceChange]:
    selector = policy.resources
    if isinstance(selector, str) and not any(c in selector for c in "*?["):
        return plan.by_type(selector)
    return (rc for rc in plan.resource_changes if policy.selects(rc))


def _run_one(policy: Policy, plan: Plan, context: PolicyContext, severity: Severity) -> PolicyResult:
    start = time.perf_counter()
    try:
        if policy.resources is None:
            violations = policy.run(plan, context)
        else:
            violations = [v for rc in _subjects(policy, plan) for v in policy.run(rc, context)]
    except SkipPolicy as exc:
        return PolicyResult(policy, severity, Status.SKIPPED, (), time.perf_counter() - start, str(exc))
    except Exception as exc:
        detail = f"policy raised {type(exc).__name__}: {mask(str(exc))}"
        return PolicyResult(policy, severity, Status.ERROR, (), time.perf_counter() - start, detail)
    status = Status.FAILED if violations else Status.PASSED
    return PolicyResult(policy, severity, status, tuple(violations), time.perf_counter() - start)


def evaluate(
    plan: Plan,
    policies: Iterable[Policy] | None = None,
    *,
    env: str | None = None,
    project: Project | None = None,
) -> PolicyReport:
    """Run ``policies`` (default: ``load_policies(project)``) on ``plan`` for environment ``env``.

    Settings from the project's tfkit.toml (enable/disable, severity, parameters) apply per environment;
    policies restricted with ``envs=`` run only there.
    """
    start = time.perf_counter()
    if policies is None:
        from tfkit.policy.loader import load_policies

        chosen = load_policies(project)
    else:
        chosen = list(policies)
    check_settings(project, chosen)
    results: list[PolicyResult] = []
    for policy in chosen:
        settings = resolve(policy, project, env)
        if not settings.enabled or not policy.applies_to(env):
            results.append(PolicyResult(policy, settings.severity, Status.DISABLED))
            continue
        context = PolicyContext(env, settings.params, project)
        results.append(_run_one(policy, plan, context, settings.severity))
    return PolicyReport(env, tuple(results), time.perf_counter() - start)
