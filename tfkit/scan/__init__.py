"""The scanners of the gate: third-party tools run on a plan, their results as ``Finding``\\ s.

Checkov is the one scanner (``tfkit.scan.checkov``); ``run_scanners`` runs every scanner enabled for
an environment and returns one ``ScanReport`` each, which ``tfkit.gate.evaluate`` merges with the
policies' findings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfkit.errors import ScanConfigError, ScanError
from tfkit.scan.report import ScanReport
from tfkit.scan.settings import CheckovSettings, load_settings

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Project

__all__ = ["CheckovSettings", "ScanConfigError", "ScanError", "ScanReport", "run_scanners", "scanners_off"]


def run_scanners(
    plan: Plan, *, environment: str | None = None, project: Project | None = None, file: str | None = None
) -> list[ScanReport]:
    """Run the scanners enabled for ``environment`` of ``project`` on ``plan``.

    ``[checkov]`` decides (no table, or no project: no scan; ``tfkit.scan.checkov.scan_plan`` scans
    unconditionally); results are cached under the project's ``.tfkit/cache/checkov``.
    """
    from tfkit.scan.checkov import scan_plan

    settings = load_settings(project, environment)
    if not settings.enabled:
        return []
    return [scan_plan(plan, settings, file=file)]


def scanners_off(project: Project | None, environment: str | None) -> dict[str, str]:
    """The scanners that do not run for ``environment``, each with why (the gate states it in one line)."""
    if project is None:
        return {"checkov": "no tfkit.toml"}
    if load_settings(project, environment).enabled:
        return {}
    env_cfg = project.config.environment(environment) if environment else None
    if env_cfg is not None and env_cfg.checkov is not None and env_cfg.checkov.enabled is False:
        return {"checkov": f"[environments.{environment}.checkov] enabled = false"}
    if project.config.checkov is None:
        return {"checkov": f"no [checkov] table in {project.config.path.name}"}
    return {"checkov": "[checkov] enabled = false"}
