"""``tfkit scan``: only the scanners (Checkov), on an environment's fresh plan or on a plan JSON file.

Exit codes: 0 no blocking finding, 1 the scan fails the gate (or Checkov crashed), 2 usage or
configuration error (Checkov missing, bad ``[checkov]`` settings, unreadable plan).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tfkit.cli._app import State, cli, env_option, err, out, pass_state
from tfkit.cli.report_options import Reporting, report_options

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Project
    from tfkit.scan import CheckovSettings, ScanReport


def _read_plan(path: Path) -> Plan:
    from tfkit.plan import load_plan, read_plan_bytes

    data = read_plan_bytes(path)
    return load_plan(data)


def _settings(project: Project | None, env_name: str | None) -> CheckovSettings:
    """``[checkov]`` for the environment; an explicit scan runs even where the gate has it off."""
    from tfkit.scan import CheckovSettings
    from tfkit.scan.settings import load_settings

    if project is None:
        return CheckovSettings()
    return dataclasses.replace(load_settings(project, env_name), enabled=True)


def _figures(report: ScanReport) -> str:
    return (
        f"tfkit: {report.tool} {report.version}: {len(report.sent)} resource(s) sent, {report.cached} from "
        f"cache, {report.skipped} without checks, {report.duration:.2f}s"
    )


@cli.command()
@click.argument("plan_json", required=False, type=click.Path(path_type=Path, dir_okay=False))
@env_option(required=False)
@report_options()
@pass_state
def scan(state: State, plan_json: Path | None, env_name: str | None, reporting: Reporting) -> None:
    """Run Checkov on an environment's plan (--env E) or on PLAN_JSON, without the policies."""
    from tfkit.gate import combine
    from tfkit.report.text import render_gate_text
    from tfkit.scan.checkov import scan_plan

    if (plan_json is None) == (env_name is None):
        raise click.UsageError("give either --env ENV or a PLAN_JSON file")
    if env_name is not None:
        from tfkit import workflow

        project: Project | None = state.project
        assert project is not None
        env = project.environment(env_name)
        plan = workflow.plan(env, options=state.options(env.name))
        file = None
    else:
        assert plan_json is not None
        project = state.optional_project()
        plan = _read_plan(plan_json)
        file = str(plan_json)
    report = scan_plan(plan, _settings(project, env_name), file=file)
    err(_figures(report))
    result = combine(
        report.findings,
        env_name,
        project=project,
        timings={report.tool: report.duration},
        tools={report.tool: report.version},
    )
    if reporting.format == "text":
        out(render_gate_text(result))
    if reporting.format != "text" or reporting.outputs:
        from tfkit.results import Report

        directory = project.environment(env_name).directory if project and env_name else None
        root = project.root if project else None
        report_ = Report.single("scan", env_name, plan=plan, gate=result, root=root, directory=directory)
        reporting.emit(report_, show=reporting.format != "text")
    if not result.passed:
        raise SystemExit(1)
