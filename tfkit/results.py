"""What one command produced over its environments: a ``Report`` of ``EnvironmentReport``\\ s.

Plain data, rendered by nobody here: ``tfkit.report`` turns a ``Report`` into text, JSON, JUnit, SARIF
or Markdown. It lives in the core (not in ``tfkit.report``) because the core builds it: ``tfkit.multi``
returns one from its workers, and the core never imports the renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfkit.drift import DriftResult
    from tfkit.gate import GateResult
    from tfkit.plan import Plan

__all__ = ["EnvironmentReport", "Report"]


@dataclass(frozen=True, slots=True)
class EnvironmentReport:
    """What one command produced for one environment (any part may be absent).

    ``error`` is the one-line message of a ``TfkitError`` that stopped the environment and
    ``error_code`` its exit code; ``details`` holds JSON-ready data of apply, status and the like.
    ``refusals`` are the rules (promotion order, health) that would refuse applying this plan, which
    ``tfkit plan`` states so that a green plan means the apply will go ahead.
    """

    environment: str
    operation: str
    plan: Plan | None = None
    gate: GateResult | None = None
    drift: DriftResult | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    error: str | None = None
    error_code: int = 0
    duration: float | None = None
    log: str = ""
    directory: Path | None = None
    refusals: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this environment: the error's, 4 when the apply would be refused,
        1 for a failed gate or drift, else 0 (the apply checks refusals before the gate)."""
        if self.error is not None:
            return self.error_code or 1
        if self.refusals:
            return 4
        if self.gate is not None and not self.gate.passed:
            return 1
        if self.drift is not None and self.drift.has_drift:
            return 1
        return 0

    @property
    def skipped(self) -> str | None:
        """Why this environment did not run (a graph run stopped downstream of a failure), else None."""
        reason = self.details.get("skipped")
        return reason if isinstance(reason, str) else None

    @property
    def outcome(self) -> str:
        """One word: ``skipped`` (downstream of a failure), ``error``, ``refused`` (the apply would be),
        ``failed`` (the gate), ``drift``, ``passed`` (a gate ran) or ``ok``."""
        if self.skipped is not None:
            return "skipped"
        if self.error is not None:
            return "error"
        if self.refusals:
            return "refused"
        if self.gate is not None and not self.gate.passed:
            return "failed"
        if self.drift is not None and self.drift.has_drift:
            return "drift"
        return "passed" if self.gate is not None else "ok"


@dataclass(frozen=True, slots=True)
class Report:
    """The results of one command (``plan``, ``check``, ``drift``, ...) over its environments."""

    command: str
    environments: tuple[EnvironmentReport, ...]
    root: Path | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    #: The text and Markdown reviews list attribute values before and after; ``False``: paths only.
    values: bool = True

    @property
    def exit_code(self) -> int:
        """The worst exit code of the environments (0 when every one succeeded)."""
        return max((e.exit_code for e in self.environments), default=0)

    @property
    def passed(self) -> bool:
        """Every environment succeeded: no error, no failed gate, no drift."""
        return self.exit_code == 0

    @classmethod
    def single(
        cls, command: str, environment: str | None, *, root: Path | None = None, **parts: Any
    ) -> Report:
        """A report of one environment (``parts`` are ``EnvironmentReport`` fields)."""
        entry = EnvironmentReport(environment or "(plan)", parts.pop("operation", command), **parts)
        return cls(command, (entry,), root=root)
