"""Pure functions that build Terraform's argv: one per command, unit-tested, shared by both engines.

Every command runs non-interactively (``-input=false``), without colour, and with ``-json`` where
Terraform offers it so diagnostics are read as data. Variables are never put on the command line
(``-var``): values come from var files or ``TF_VAR_*`` in the process environment, which other
users of the machine cannot read from the process list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "apply_args",
    "destroy_args",
    "init_args",
    "output_args",
    "plan_args",
    "show_plan_args",
    "state_pull_args",
    "validate_args",
    "version_args",
]


def _var_file_flags(var_files: Iterable[Path]) -> list[str]:
    return [f"-var-file={Path(v)}" for v in var_files]


def _lock_flags(lock_timeout: str | None) -> list[str]:
    return [f"-lock-timeout={lock_timeout}"] if lock_timeout else []


def init_args(
    *,
    backend_config: Mapping[str, str] | None = None,
    upgrade: bool = False,
    backend: bool = True,
    reconfigure: bool = False,
) -> list[str]:
    """``terraform init``; backend settings become ``-backend-config=key=value`` in a stable order."""
    args = ["init", "-input=false", "-no-color"]
    if not backend:
        args.append("-backend=false")
    if upgrade:
        args.append("-upgrade")
    if reconfigure:
        args.append("-reconfigure")
    args += [f"-backend-config={k}={v}" for k, v in sorted((backend_config or {}).items())]
    return args


def validate_args() -> list[str]:
    """``terraform validate -json``: one JSON document with ``valid`` and ``diagnostics``."""
    return ["validate", "-json", "-no-color"]


def plan_args(
    *,
    out: Path,
    var_files: Sequence[Path] = (),
    destroy: bool = False,
    refresh_only: bool = False,
    refresh: bool = True,
    targets: Sequence[str] = (),
    lock_timeout: str | None = None,
) -> list[str]:
    """``terraform plan`` to a saved plan file; ``-detailed-exitcode`` makes 2 mean "has changes"."""
    if destroy and refresh_only:
        raise ValueError("a plan cannot be both destroy and refresh-only")
    args = ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", f"-out={out}"]
    if destroy:
        args.append("-destroy")
    if refresh_only:
        args.append("-refresh-only")
    if not refresh:
        args.append("-refresh=false")
    args += _lock_flags(lock_timeout)
    args += [f"-target={t}" for t in targets]
    args += _var_file_flags(var_files)
    return args


def show_plan_args(plan_file: Path) -> list[str]:
    """``terraform show -json PLAN``: the plan as JSON (the format tfkit.plan reads)."""
    return ["show", "-json", "-no-color", str(plan_file)]


def show_plan_text_args(plan_file: Path) -> list[str]:
    """``terraform show PLAN``: the plan as Terraform's own human-readable text."""
    return ["show", "-no-color", str(plan_file)]


def providers_schema_args() -> list[str]:
    """``terraform providers schema -json``: the schemas of the providers the configuration uses."""
    return ["providers", "schema", "-json"]


def apply_args(plan_file: Path, *, lock_timeout: str | None = None) -> list[str]:
    """``terraform apply PLAN``: applies exactly the saved plan; no variables may be passed."""
    return ["apply", "-input=false", "-no-color", "-json", *_lock_flags(lock_timeout), str(plan_file)]


def output_args() -> list[str]:
    """``terraform output -json``: every root output with its value, type and sensitivity."""
    return ["output", "-json", "-no-color"]


def state_pull_args() -> list[str]:
    """``terraform state pull``: the raw state document from the configured backend."""
    return ["state", "pull"]


def destroy_args(*, var_files: Sequence[Path] = (), lock_timeout: str | None = None) -> list[str]:
    """``terraform destroy`` without a prompt (tfkit confirms before it calls this)."""
    return [
        "destroy",
        "-input=false",
        "-no-color",
        "-json",
        "-auto-approve",
        *_lock_flags(lock_timeout),
        *_var_file_flags(var_files),
    ]


def version_args() -> list[str]:
    """``terraform version -json``."""
    return ["version", "-json"]
