"""The secret scan of the var files an environment reads, part of its gate (a finding is hard).

Terraform reads an environment's configured var files and, by itself, ``terraform.tfvars``,
``terraform.tfvars.json``, ``*.auto.tfvars`` and ``*.auto.tfvars.json`` in its directory. A credential
committed in one of them reaches Terraform whatever the plan's sensitivity marks say, so the gate scans
them with the change guard's secret scan (``tfkit.guard``: detect-secrets and tfkit's Terraform rules).
The guard's baseline of reviewed false positives applies; nothing else can waive a finding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfkit.findings import Finding, Severity

if TYPE_CHECKING:
    from pathlib import Path

    from tfkit.project import Environment

__all__ = ["CHECK_ID", "read_var_files", "var_file_findings"]

CHECK_ID = "TFK201"
#: The files Terraform loads from a root module's directory without being told (its documented order).
_AUTOMATIC = ("terraform.tfvars", "terraform.tfvars.json", "*.auto.tfvars", "*.auto.tfvars.json")
_ADVICE = "revoke it, remove it from the file and its git history, and read it from [secrets] instead"


def read_var_files(environment: Environment) -> tuple[Path, ...]:
    """Every var file Terraform reads for ``environment``: the automatic ones, then the configured ones."""
    found: list[Path] = []
    for pattern in _AUTOMATIC:
        found += sorted(p for p in environment.directory.glob(pattern) if p.is_file())
    found += [p for p in environment.var_files if p.is_file()]
    return tuple(dict.fromkeys(p.resolve() for p in found))


def var_file_findings(environment: Environment) -> list[Finding]:
    """One hard finding per var file line holding a possible secret (never the value); the guard's baseline
    (``tfkit check-secrets --update-baseline``) records reviewed false positives."""
    from tfkit.guard import load_baseline, scan_files

    project = environment.project
    root = project.root
    files = [p.relative_to(root).as_posix() for p in read_var_files(environment) if p.is_relative_to(root)]
    if not files:
        return []
    baseline = load_baseline(root / project.config.guard.baseline)  # the loaded tfkit.toml, not a re-read
    by_line: dict[tuple[str, int], list[str]] = {}
    scan = scan_files(root, files, baseline=baseline, cache_dir=project.cache_dir)
    for found in scan.findings:
        by_line.setdefault((found.file, found.line), []).append(f"{found.kind} [{found.detector}]")
    return [
        Finding(
            "secrets",
            CHECK_ID,
            Severity.HARD,
            f"possible secret on line {line} of a var file '{environment.name}' reads: "
            f"{', '.join(kinds)}; {_ADVICE}",
            address=file,
            name="no secret in a var file",
            file=file,
            line=line,
        )
        for (file, line), kinds in sorted(by_line.items())
    ]
