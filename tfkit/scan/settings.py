"""The ``[checkov]`` settings of ``tfkit.toml``, top level merged with ``[environments.<env>.checkov]``.

Each key set for an environment replaces the top-level one (lists are not concatenated), so what an
environment runs can be read in one place. Without any ``[checkov]`` table the scanner is off: a
repository opts in by writing the table.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.config import CheckovConfig
from tfkit.errors import ScanConfigError
from tfkit.findings import Severity
from tfkit.scan.managed import ManagedCheckov, managed_checkov

if TYPE_CHECKING:
    from tfkit.project import Project

__all__ = ["CHECKOV_SEVERITIES", "CheckovSettings", "find_checkov", "load_settings", "off_reason"]

#: Checkov's severities, plus UNKNOWN for checks that carry none (every built-in one offline).
CHECKOV_SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "UNKNOWN")
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class CheckovSettings:
    """What the Checkov scanner runs for one environment."""

    enabled: bool = True
    command: str | None = None
    checks: tuple[str, ...] = ()
    skip_checks: tuple[str, ...] = ()
    fail_on: tuple[str, ...] = CHECKOV_SEVERITIES
    external_checks_dirs: tuple[Path, ...] = ()
    deleted_data: Severity = Severity.SOFT
    timeout: float = DEFAULT_TIMEOUT
    cache_dir: Path | None = None
    #: Where the repository's own set-up installs Checkov (``make setup``: ``.venv-checkov``).
    local_install: Path | None = None
    #: The pinned Checkov ``tfkit scanners install`` keeps under the user's cache directory.
    managed: ManagedCheckov | None = None

    def severity_of(self, checkov_severity: str | None) -> Severity:
        """The gate severity of a failed check: SOFT if its Checkov severity is in ``fail_on``."""
        name = (checkov_severity or "UNKNOWN").upper()
        return Severity.SOFT if name in self.fail_on else Severity.ADVISORY

    def check_key(self) -> dict[str, Any]:
        """What of these settings changes Checkov's output (the part of every cache key).

        The external checks directories enter the key by content (``tfkit.scan.checkov``), not by path, so
        a copy or a fresh clone elsewhere (a CI runner restoring ``.tfkit/cache``) keeps hitting the cache.
        """
        return {"checks": sorted(self.checks), "skip_checks": sorted(self.skip_checks)}


def load_settings(project: Project | None, environment: str | None) -> CheckovSettings:
    """The settings for ``environment``; checks the directories. No project: disabled (nothing asks)."""
    if project is None:
        return CheckovSettings(enabled=False)
    top, per_env = _tables(project, environment)
    merged = (top or CheckovConfig()).merged(per_env or CheckovConfig())
    where = str(project.config.path)
    dirs = tuple(_checks_dir(project.root / d, d, where) for d in merged.external_checks_dirs or ())
    default = CheckovSettings()
    return CheckovSettings(
        enabled=off_reason(project, environment) is None,
        command=top.command if top is not None else None,
        checks=merged.checks or default.checks,
        skip_checks=merged.skip_checks or default.skip_checks,
        fail_on=default.fail_on if merged.fail_on is None else merged.fail_on,
        external_checks_dirs=dirs,
        deleted_data=default.deleted_data if merged.deleted_data is None else Severity(merged.deleted_data),
        timeout=default.timeout if merged.timeout is None else float(merged.timeout),
        cache_dir=project.cache_dir / "checkov",
        local_install=project.root / ".venv-checkov" / "bin" / "checkov",
        managed=managed_checkov(),
    )


def _tables(project: Project, environment: str | None) -> tuple[CheckovConfig | None, CheckovConfig | None]:
    """The top-level ``[checkov]`` table and ``environment``'s own, each ``None`` when absent."""
    env_cfg = project.config.environment(environment) if environment else None
    return project.config.checkov, env_cfg.checkov if env_cfg is not None else None


def off_reason(project: Project | None, environment: str | None) -> str | None:
    """Why Checkov does not scan ``environment``'s plans, in a few words; ``None`` when it does.

    Writing a ``[checkov]`` table opts in (an environment's empty table alone does not), and
    ``enabled = false`` (top-level or the environment's) turns it off again. The gate states the reason
    in one line, so a scanner that is off is never mistaken for a scan that found nothing.
    """
    if project is None:
        return "no tfkit.toml (a plan checked outside a repository)"
    top, per_env = _tables(project, environment)
    configured = top is not None or (per_env is not None and per_env != CheckovConfig())
    enabled = (top or CheckovConfig()).merged(per_env or CheckovConfig()).enabled
    name = project.config.path.name
    if enabled is False:
        own = per_env is not None and per_env.enabled is False
        where = f"environments.{environment}.checkov" if own else "checkov"
        return f"[{where}] enabled = false in {name}"
    if not configured:
        return f"{name} has no [checkov] table (add one to scan plans with Checkov)"
    return None


def _checks_dir(path: Path, raw: str, where: str) -> Path:
    """``path`` resolved; a one-line error if missing, or if it has Python checks and no ``__init__.py``.

    Checkov imports the ``.py`` files of an external checks directory only when it is a package and
    otherwise skips them silently (logging at info level), which would let a custom check vanish.
    """
    key = "checkov.external_checks_dirs"
    if not path.is_dir():
        raise ScanConfigError(f"{where}: {key}: directory {raw} does not exist", key=key)
    for folder, _subdirs, files in os.walk(path):
        checks = [f for f in files if f.endswith(".py") and f != "__init__.py"]
        if checks and "__init__.py" not in files:
            rel = Path(folder).relative_to(path.parent) if Path(folder) != path else Path(raw)
            raise ScanConfigError(
                f"{where}: {key}: {rel} holds Python checks ({checks[0]}) but no __init__.py, so Checkov "
                f"would ignore them; add an empty {rel}/__init__.py",
                key=key,
            )
    return path.resolve()


def find_checkov(settings: CheckovSettings, environ: Mapping[str, str] | None = None) -> str:
    """The checkov executable: ``[checkov] command``, else ``TFKIT_CHECKOV``, else the managed one
    (``tfkit scanners install``), else ``checkov`` on PATH, else the one the repository's set-up
    installed in ``.venv-checkov`` (so tfkit run by hand after ``make demo`` finds the Makefile's)."""
    env = os.environ if environ is None else environ
    for source, value in (
        ("[checkov] command", settings.command),
        ("TFKIT_CHECKOV", env.get("TFKIT_CHECKOV")),
    ):
        if value:
            found = shutil.which(value)
            if found is None:
                raise ScanConfigError(
                    f"checkov not found: {source} is {value!r}, which is not an executable file; "
                    f"fix {source}, or unset it and run `tfkit scanners install`",
                    key="checkov.command",
                )
            return found
    if settings.managed is not None and settings.managed.installed:
        return str(settings.managed.executable)
    found = shutil.which("checkov")
    if found is None and settings.local_install is not None and os.access(settings.local_install, os.X_OK):
        found = str(settings.local_install)
    if found is None:
        raise ScanConfigError(
            "checkov not found: run `tfkit scanners install` (a pinned Checkov in its own environment), "
            "or set [checkov] command in tfkit.toml or TFKIT_CHECKOV",
            key="checkov.command",
        )
    return found
