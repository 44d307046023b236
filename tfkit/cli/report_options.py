"""``--format`` and ``--output`` for every command that produces a ``Report``, and the function that emits it.

``@report_options()`` adds ``--format text|json|junit|sarif|markdown`` (what stdout shows) and a
repeatable ``--output [FORMAT=]FILE`` (also write FORMAT to FILE; without ``FORMAT=`` the file's
extension decides: .json, .xml, .sarif, .md, .txt) and ``--names-only`` (the text and Markdown reviews list
changed attribute paths without their values, as ``[review] values = false`` does), and passes one
``reporting: Reporting`` argument.
A command then ends with ``reporting.emit(report)``. In GitHub Actions the Markdown report also goes
to the step summary and findings become annotations.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tfkit.cli._app import err, out
from tfkit.report import FORMATS, write_reports
from tfkit.results import Report

__all__ = ["Reporting", "emit_report", "parse_output", "report_options"]

_BY_SUFFIX = {
    ".json": "json",
    ".xml": "junit",
    ".sarif": "sarif",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
}


def parse_output(value: str, default: str) -> tuple[str, Path]:
    """``FORMAT=FILE`` or ``FILE`` to ``(format, path)``; a bare file: its suffix, else ``default``."""
    head, sep, tail = value.partition("=")
    if sep and head in FORMATS:
        if not tail:
            raise click.BadParameter(f"'{value}' names no file after '{head}='", param_hint="--output")
        return head, Path(tail)
    if sep and head and "/" not in head and "." not in head:
        raise click.BadParameter(
            f"unknown format '{head}' in '{value}'; use one of {', '.join(FORMATS)}", param_hint="--output"
        )
    path = Path(value)
    return _BY_SUFFIX.get(path.suffix.lower(), default), path


def emit_report(report: Report, fmt: str, outputs: Sequence[tuple[str, Path]], *, show: bool = True) -> None:
    """Print ``report`` as ``fmt`` on stdout (unless ``show`` is false: the caller printed it already),
    write every ``--output``, and publish it in GitHub Actions."""
    from tfkit.report.github import publish

    rendered = write_reports(report, [*([(fmt, None)] if show else []), *outputs])  # not shown: not rendered
    if show:
        out(rendered[fmt].rstrip("\n"))
    for written_fmt, path in outputs:
        err(f"tfkit: wrote the {written_fmt} report to {path}")
    for line in publish(report):
        out(line)


@dataclass(frozen=True, slots=True)
class Reporting:
    """The report options of one invocation; ``emit`` renders and writes a report with them."""

    format: str
    outputs: tuple[tuple[str, Path], ...]
    names_only: bool = False

    def emit(self, report: Report, *, show: bool = True) -> None:
        """Print and write ``report`` as the options say (``show=False``: do not print it again)."""
        if self.names_only or not review_values():
            report = dataclasses.replace(report, values=False)
        emit_report(report, self.format, self.outputs, show=show)


def review_values() -> bool:
    """``[review] values`` of the repository this command has loaded (``True`` when none is loaded)."""
    from tfkit.cli._app import State

    context = click.get_current_context(silent=True)
    state = context.find_object(State) if context is not None else None
    project = state.loaded_project if state is not None else None
    return project is None or project.config.review.values


def report_options() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``--format`` and ``--output`` to a click command; it receives ``reporting: Reporting``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(
            *args: Any, report_format: str, report_outputs: tuple[str, ...], names_only: bool, **kwargs: Any
        ) -> Any:
            outputs = tuple(parse_output(v, report_format) for v in report_outputs)
            return command(*args, reporting=Reporting(report_format, outputs, names_only), **kwargs)

        # functools.wraps shared the list of click parameters; give the wrapper its own
        wrapper.__click_params__ = list(getattr(command, "__click_params__", []))  # type: ignore[attr-defined]
        options = (
            click.option(
                "--names-only",
                is_flag=True,
                help="List changed attribute paths without their values before and after "
                "(also [review] values = false in tfkit.toml).",
            ),
            click.option(
                "--output",
                "-o",
                "report_outputs",
                multiple=True,
                metavar="[FORMAT=]FILE",
                help="Also write the report to FILE (repeatable); FORMAT defaults from the extension "
                "(.json, .xml=junit, .sarif, .md, .txt), else --format.",
            ),
            click.option(
                "--format",
                "report_format",
                type=click.Choice(list(FORMATS)),
                default="text",
                show_default=True,
                help="How to print the report on stdout.",
            ),
        )
        decorated: Callable[..., Any] = wrapper
        for option in options:
            decorated = option(decorated)
        return decorated

    return decorate
