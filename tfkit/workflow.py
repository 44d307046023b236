"""The operations on an environment: validate, plan, apply, output, destroy.

Every front door (CLI, pytest plugin, CI scripts) calls these, so they behave the same everywhere.
A ``Session`` holds one engine on one environment for the duration of an operation, so the plan
that was shown is the plan file that gets applied.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from tfkit.errors import ApplyRefusedError, ProtectedEnvironmentError
from tfkit.secrets import secret_environment
from tfkit.terraform import ApplyResult, ChangeCounts, CliEngine, OutputValue, ValidateResult, open_engine
from tfkit.terraform.runner import EventCallback

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Environment

__all__ = [
    "ApplyOutcome",
    "PlanOutcome",
    "RunOptions",
    "Session",
    "apply",
    "destroy",
    "output",
    "plan",
    "validate",
]

#: Called with a short step name ("init", "plan", ...) as an operation proceeds.
StepCallback = Callable[[str], None]
#: Asked before an apply or destroy; returns whether to go ahead.
ConfirmCallback = Callable[["Plan"], bool]


def _no_step(step: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """A saved, decoded plan of one environment."""

    environment: str
    plan: Plan
    plan_file: Path
    has_changes: bool
    counts: ChangeCounts | None


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """The result of an apply: what was planned, whether it ran, and whether it converged."""

    environment: str
    plan: Plan
    applied: bool
    result: ApplyResult | None = None
    converged: bool | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: the engine (overriding tfkit.toml and ``TFKIT_ENGINE``) and progress callbacks."""

    engine: str | None = None
    binary: str | None = None
    on_event: EventCallback | None = None
    on_step: StepCallback | None = None


class Session:
    """One engine on one environment, initialised once; close it to remove plan files."""

    def __init__(self, environment: Environment, options: RunOptions | None = None) -> None:
        options = options or RunOptions()
        environment.check()
        self.environment = environment
        self.on_step = options.on_step or _no_step
        config = environment.project.config.engine
        kind = options.engine or os.environ.get("TFKIT_ENGINE") or config.kind
        binary = options.binary or os.environ.get("TFKIT_BINARY") or config.binary
        extra = secret_environment(environment.secrets, base=environment.project.root)
        self.engine: CliEngine = open_engine(
            kind, environment.directory, binary=binary, env=extra, on_event=options.on_event
        )
        self._initialised = False
        self._plans = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the engine's run directory and the plan files in it."""
        self.engine.close()

    def init(self) -> None:
        """``terraform init`` with the environment's backend settings (once per session)."""
        if not self._initialised:
            self.on_step("init")
            self.engine.init(backend_config=self.environment.backend)
            self._initialised = True

    def validate(self) -> ValidateResult:
        """Initialise without touching the backend's state, then validate."""
        self.init()
        self.on_step("validate")
        return self.engine.validate()

    def plan(self, *, destroy: bool = False, refresh_only: bool = False) -> PlanOutcome:
        """Plan to a saved file in the session's private directory and decode it."""
        from tfkit.plan import load_plan

        self.init()
        self._plans += 1
        plan_file = self.engine.run_dir / f"plan-{self._plans}.tfplan"
        self.on_step("plan")
        result = self.engine.plan(
            out=plan_file,
            var_files=self.environment.var_files,
            destroy=destroy,
            refresh_only=refresh_only,
        )
        decoded = load_plan(self.engine.show_plan(plan_file))
        return PlanOutcome(self.environment.name, decoded, plan_file, result.has_changes, result.counts)

    def apply(self, planned: PlanOutcome) -> ApplyResult:
        """Apply exactly the saved plan file of ``planned``."""
        self.on_step("apply")
        return self.engine.apply(planned.plan_file)

    def output(self) -> dict[str, OutputValue]:
        """The environment's outputs (sensitive ones flagged)."""
        self.init()
        self.on_step("output")
        return self.engine.output()


def validate(environment: Environment, *, options: RunOptions | None = None) -> ValidateResult:
    """Validate one environment's configuration."""
    with Session(environment, options) as s:
        return s.validate()


def plan(environment: Environment, *, options: RunOptions | None = None) -> Plan:
    """Plan one environment and return the decoded plan (the plan file is discarded)."""
    with Session(environment, options) as s:
        return s.plan().plan


def _confirmed(planned: PlanOutcome, auto_approve: bool, confirm: ConfirmCallback | None, what: str) -> bool:
    if auto_approve:
        return True
    if confirm is None:
        raise ApplyRefusedError(
            f"{what} of '{planned.environment}' needs confirmation and there is no terminal to ask on; "
            "pass --auto-approve to go ahead without asking"
        )
    return confirm(planned.plan)


def apply(
    environment: Environment,
    *,
    auto_approve: bool = False,
    confirm: ConfirmCallback | None = None,
    verify: bool = True,
    options: RunOptions | None = None,
) -> ApplyOutcome:
    """Plan, confirm, apply that same plan file, then check that a follow-up plan is empty."""
    with Session(environment, options) as s:
        planned = s.plan()
        if not planned.has_changes:
            return ApplyOutcome(environment.name, planned.plan, applied=False, converged=True)
        if not _confirmed(planned, auto_approve, confirm, "apply"):
            return ApplyOutcome(environment.name, planned.plan, applied=False)
        result = s.apply(planned)
        converged: bool | None = None
        warnings: tuple[str, ...] = ()
        if verify:
            s.on_step("verify")
            converged = not s.plan().has_changes
            if not converged:
                warnings = (
                    "a plan made right after the apply still has changes: "
                    "the configuration does not converge",
                )
        return ApplyOutcome(environment.name, planned.plan, True, result, converged, warnings)


def output(environment: Environment, *, options: RunOptions | None = None) -> dict[str, OutputValue]:
    """The outputs of one environment."""
    with Session(environment, options) as s:
        return s.output()


def destroy(
    environment: Environment,
    *,
    auto_approve: bool = False,
    confirm: ConfirmCallback | None = None,
    allow_protected: bool = False,
    options: RunOptions | None = None,
) -> ApplyOutcome:
    """Plan a destroy, confirm it, and apply that plan; protected environments need a flag."""
    if environment.protected and not allow_protected:
        raise ProtectedEnvironmentError(
            f"environment '{environment.name}' is protected; destroying it needs --allow-protected"
        )
    with Session(environment, options) as s:
        planned = s.plan(destroy=True)
        if not planned.has_changes:
            return ApplyOutcome(environment.name, planned.plan, applied=False, converged=True)
        if not _confirmed(planned, auto_approve, confirm, "destroy"):
            return ApplyOutcome(environment.name, planned.plan, applied=False)
        return ApplyOutcome(environment.name, planned.plan, True, s.apply(planned))
