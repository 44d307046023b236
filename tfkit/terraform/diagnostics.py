"""Read Terraform's diagnostics from its ``-json`` output and turn failures into typed errors.

Diagnostics come from the machine-readable stream (one JSON object per line, ``type: diagnostic``)
or from ``validate -json``'s document; text on stderr is only a last resort, for failures that
happen before Terraform starts its JSON output (a bad flag, a crash).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tfkit.errors import (
    Diagnostic,
    MissingVariableError,
    StalePlanError,
    StateLockError,
    TerraformConfigError,
    TerraformError,
)

__all__ = ["diagnostic_from_json", "error_for", "iter_json_lines", "parse_diagnostics"]

_CONFIG_COMMANDS = frozenset({"init", "validate"})


def iter_json_lines(text: str) -> Iterator[dict[str, Any]]:
    """Each line of ``text`` that is a JSON object; other lines (TF_LOG noise) are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def diagnostic_from_json(raw: Mapping[str, Any]) -> Diagnostic:
    """One diagnostic object (as Terraform writes it) as a typed ``Diagnostic``."""
    rng = raw.get("range") or {}
    start = rng.get("start") or {}
    return Diagnostic(
        severity=str(raw.get("severity", "error")),
        summary=" ".join(str(raw.get("summary", "")).split()),
        detail=str(raw.get("detail", "") or ""),
        filename=rng.get("filename"),
        line=start.get("line"),
        column=start.get("column"),
        address=raw.get("address"),
    )


def parse_diagnostics(stdout: str) -> tuple[Diagnostic, ...]:
    """Every diagnostic in a ``-json`` event stream, or in a ``validate -json`` document."""
    found: list[Diagnostic] = []
    for event in iter_json_lines(stdout):
        if event.get("type") == "diagnostic" and isinstance(event.get("diagnostic"), dict):
            found.append(diagnostic_from_json(event["diagnostic"]))
    if not found:
        try:
            doc = json.loads(stdout)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("diagnostics"), list):
            found = [diagnostic_from_json(d) for d in doc["diagnostics"] if isinstance(d, dict)]
    return tuple(found)


def _stderr_diagnostic(stderr: str) -> Diagnostic | None:
    """A last-resort diagnostic from plain stderr (failures before the JSON stream starts)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Error:"):
            summary = line.removeprefix("Error:").strip()
            detail = lines[i + 1] if i + 1 < len(lines) else ""
            return Diagnostic("error", summary or detail, detail if summary else "")
    return Diagnostic("error", lines[0]) if lines else None


_GENERIC_SUMMARIES = ("Terraform encountered problems during initialisation",)


def _primary(errors: Iterable[Diagnostic]) -> list[Diagnostic]:
    errs = list(errors)
    specific = [d for d in errs if not d.summary.startswith(_GENERIC_SUMMARIES)]
    return specific or errs


#: Errors of the configuration itself, whichever command meets them (exit 2, not 1).
_CONFIG_SUMMARIES = (
    "Reference to undeclared",
    "Unreadable module directory",
    "No configuration files",
    "Module not installed",
    "Unsupported argument",
    "Missing required argument",
    "Unsupported block type",
    "Invalid reference",
    "Argument or block definition required",
)


def error_for(
    command: str,
    *,
    workdir: Path,
    returncode: int,
    stdout: str,
    stderr: str,
    diagnostics: tuple[Diagnostic, ...] | None = None,
) -> TerraformError:
    """The typed error for a failed command: its class says what kind of failure it was."""
    diags = diagnostics if diagnostics is not None else parse_diagnostics(stdout)
    errors = _primary(d for d in diags if d.severity == "error")
    if not errors:
        fallback = _stderr_diagnostic(stderr)
        if fallback is not None:
            errors = [fallback]
            diags = (*diags, fallback)
    summaries = " ".join(d.summary for d in errors)
    cls: type[TerraformError] = TerraformError
    in_var_file = [d for d in errors if (d.filename or "").endswith((".tfvars", ".tfvars.json"))]
    if in_var_file:  # a var file that does not parse leaves its variables unset: name the file, not them
        errors = in_var_file
        cls = TerraformConfigError
    elif "Saved plan is stale" in summaries:
        cls = StalePlanError
    elif "Error acquiring the state lock" in summaries or "Error locking state" in summaries:
        cls = StateLockError
    elif "No value for required variable" in summaries:
        cls = MissingVariableError
    elif (
        (command in _CONFIG_COMMANDS and any(d.filename for d in errors))
        or "Invalid value for variable" in summaries
        or any(d.summary.startswith(_CONFIG_SUMMARIES) for d in errors)
    ):
        cls = TerraformConfigError
    if not errors:
        text = f"exited with code {returncode} and no diagnostics"
    elif cls is MissingVariableError:
        names = [n for n in (_quoted(d.detail) for d in errors) if n]
        text = "no value for required variable " + ", ".join(names)
    else:
        text = errors[0].one_line()
        if len(errors) > 1:
            text += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    hint = f"; {cls.hint}" if cls.hint else ""
    message = f"terraform {command} failed in {workdir}: {text}{hint}"
    return cls(message, command=command, diagnostics=diags, stderr=stderr[-4000:], returncode=returncode)


def _quoted(text: str) -> str:
    """The first double-quoted word of ``text`` (Terraform quotes variable names in details)."""
    parts = text.split('"')
    return parts[1] if len(parts) > 2 else ""
