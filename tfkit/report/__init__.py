"""Renderers of tfkit's results: data types never print themselves, and the core never imports these.

Organised by format, one module each: ``text``, ``markdown``, ``json``, ``junit``, ``sarif`` (plus
``github``, which publishes the Markdown and annotations in GitHub Actions, and ``locations``, which finds
where a resource is declared for SARIF and annotations). By format, not by subject, because what a
module must get right is its format: Markdown's escaping and size budget, XML's allowed characters,
SARIF's locations. A subject (a plan, a gate result, drift, a whole ``Report``) is shown in several
formats, and what those must agree on (which changes are listed, in what order, in which words) is in
``vocabulary``, once. The data rendered lives in the core (``tfkit.plan``, ``tfkit.gate``,
``tfkit.drift``, ``tfkit.results``) and imports nothing from here.

This module is the registry of the formats a ``Report`` renders in: ``render(report, fmt)`` looks the
format up in ``RENDERERS`` and masks the result; ``write_reports`` writes several formats at once.
``RENDERERS`` names each renderer's module and function, imported when a format is first rendered, so
naming the formats (``FORMATS``, for ``--format``'s choices) loads no renderer: ``tfkit --help`` stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from tfkit.errors import ConfigError
from tfkit.fsutil import write_output
from tfkit.redact import mask
from tfkit.results import Report

__all__ = ["FORMATS", "RENDERERS", "render", "renderer", "write_reports"]

RENDERERS: Mapping[str, str] = MappingProxyType(
    {
        "text": "tfkit.report.text:render_text",
        "json": "tfkit.report.json:render_json",
        "junit": "tfkit.report.junit:render_junit",
        "sarif": "tfkit.report.sarif:render_sarif",
        "markdown": "tfkit.report.markdown:render_markdown",
    }
)
"""Each report format and ``module:function`` of the function that renders a ``Report`` in it (unmasked)."""

FORMATS: tuple[str, ...] = tuple(RENDERERS)
"""The report formats, in the order ``--format`` lists them."""


def renderer(fmt: str) -> Callable[[Report], str]:
    """The function rendering a ``Report`` in ``fmt`` (unmasked), imported on first use."""
    home = RENDERERS.get(fmt)
    if home is None:
        raise ConfigError(f"unknown report format '{fmt}'; use one of {', '.join(FORMATS)}")
    module, _, name = home.partition(":")
    function: Callable[[Report], str] = getattr(importlib.import_module(module), name)
    return function


def render(report: Report, fmt: str) -> str:
    """``report`` in one of ``FORMATS``, masked (no registered secret survives)."""
    return mask(renderer(fmt)(report))


def write_reports(report: Report, formats: Sequence[tuple[str, Path | None]]) -> dict[str, str]:
    """Render ``report`` in each ``(format, path)``; write those with a path (``fsutil.write_output``).

    Returns ``{format: text}`` of every format rendered (each rendered once, however many paths).
    """
    rendered: dict[str, str] = {}
    for fmt, path in formats:
        if fmt not in rendered:
            rendered[fmt] = render(report, fmt)
        if path is not None:
            write_output(Path(path), rendered[fmt])
    return rendered
