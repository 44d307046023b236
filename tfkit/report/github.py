"""GitHub Actions integration: the Markdown report as the job's step summary, findings as annotations.

Active only when ``GITHUB_ACTIONS`` is ``true`` (GitHub sets it on every runner). The step summary is
appended to the file named by ``GITHUB_STEP_SUMMARY``; annotations are workflow commands printed on
stdout (``::error file=...,line=...,title=...::message``), which GitHub shows on the pull request's
changed files. Messages are escaped as the workflow-command syntax requires.
"""

# No ``from __future__ import annotations``: it would be shadowed by ``annotations()`` below, whose
# name is this module's API; every annotation here is valid at run time.
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from tfkit.findings import Severity
from tfkit.report import render
from tfkit.report.locations import Location, locate
from tfkit.results import EnvironmentReport, Report

__all__ = ["annotations", "in_github_actions", "publish", "write_step_summary"]


def in_github_actions(environ: Mapping[str, str] | None = None) -> bool:
    """Whether tfkit runs inside a GitHub Actions job."""
    return (environ if environ is not None else os.environ).get("GITHUB_ACTIONS", "").lower() == "true"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(level: str, message: str, title: str, location: Location | None) -> str:
    props = []
    if location is not None:
        props += [f"file={_escape_property(location.file)}", f"line={location.line}"]
    props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def _where(entry: EnvironmentReport, address: str | None, root: Path | None) -> Location | None:
    if entry.directory is None or root is None:
        return None
    return locate(address, entry.directory, root)


def _entry_annotations(entry: EnvironmentReport, root: Path | None) -> Iterator[str]:
    env = entry.environment
    if entry.error is not None:
        yield _command("error", entry.error, f"tfkit {entry.operation} {env}", None)
    if entry.gate is not None:
        for finding in entry.gate.findings:
            if finding.passed or finding.waived:
                continue
            level = "warning" if finding.severity is Severity.ADVISORY else "error"
            if finding.file and finding.line:
                location: Location | None = Location(finding.file, finding.line)
            else:
                location = _where(entry, finding.address, root)
            where = finding.address or "the plan"
            yield _command(level, f"{finding.message} ({where})", f"{finding.check_id} ({env})", location)
    if entry.drift is not None:
        result = entry.drift
        items = {i.address: i for i in (*result.to_return, *result.outside)}
        for address, item in sorted(items.items()):
            message = f"{item.one_line()}: differs from snapshot {result.snapshot}; run `{result.fix}`"
            yield _command("error", message, f"drift ({env})", _where(entry, address, root))


def annotations(report: Report) -> list[str]:
    """The workflow commands annotating every failing finding, drifted resource and error."""
    return [line for entry in report.environments for line in _entry_annotations(entry, report.root)]


def write_step_summary(report: Report, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append the Markdown report to ``$GITHUB_STEP_SUMMARY``; returns the file, or None if unset."""
    target = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(render(report, "markdown") + "\n")
    return path


def publish(report: Report, environ: Mapping[str, str] | None = None) -> list[str]:
    """In GitHub Actions: write the step summary and return the annotation lines to print."""
    if not in_github_actions(environ):
        return []
    write_step_summary(report, environ)
    return annotations(report)
