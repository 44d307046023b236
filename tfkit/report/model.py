"""The data every report renders: one ``Report`` of one command over one or several environments.

A ``Report`` holds, per environment, what the command produced (a plan, a gate result, a drift
result, apply or status details, an error) and nothing rendered: the renderers in this package turn
it into text, JSON, JUnit, SARIF or Markdown. ``write_reports`` writes several formats at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfkit.drift import DriftResult
    from tfkit.gate import GateResult
    from tfkit.plan import Plan

__all__ = ["FORMATS", "EnvironmentReport", "Report", "render", "write_reports"]

#: The report formats, in the order ``--format`` lists them.
FORMATS: tuple[str, ...] = ("text", "json", "junit", "sarif", "markdown")


@dataclass(frozen=True, slots=True)
class EnvironmentReport:
    """What one command produced for one environment (any part may be absent).

    ``error`` is the one-line message of a ``TfkitError`` that stopped the environment and
    ``error_code`` its exit code; ``details`` holds JSON-ready data of apply, status and the like.
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

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this environment: the error's, 1 for a failed gate or drift, else 0."""
        if self.error is not None:
            return self.error_code or 1
        if self.gate is not None and not self.gate.passed:
            return 1
        if self.drift is not None and self.drift.has_drift:
            return 1
        return 0

    @property
    def outcome(self) -> str:
        """One word: ``error``, ``failed`` (the gate), ``drift``, ``passed`` (a gate ran) or ``ok``."""
        if self.error is not None:
            return "error"
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


def _renderers() -> Mapping[str, Callable[[Report], str]]:
    from tfkit.report import json as json_report
    from tfkit.report import junit, markdown, sarif, text

    return {
        "text": text.render_text,
        "json": json_report.render_json,
        "junit": junit.render_junit,
        "sarif": sarif.render_sarif,
        "markdown": markdown.render_markdown,
    }


def render(report: Report, fmt: str) -> str:
    """``report`` in one of ``FORMATS``, masked (no registered secret survives)."""
    from tfkit.errors import ConfigError
    from tfkit.redact import mask

    renderers = _renderers()
    if fmt not in renderers:
        raise ConfigError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}")
    return mask(renderers[fmt](report))


def write_reports(report: Report, formats: Sequence[tuple[str, Path | None]]) -> dict[str, str]:
    """Render ``report`` in each ``(format, path)``; write those with a path (atomically).

    Returns ``{format: text}`` of every format rendered (each rendered once, however many paths).
    """
    from tfkit.fsutil import atomic_write

    rendered: dict[str, str] = {}
    for fmt, path in formats:
        if fmt not in rendered:
            rendered[fmt] = render(report, fmt)
        if path is not None:
            atomic_write(Path(path), rendered[fmt])
    return rendered
