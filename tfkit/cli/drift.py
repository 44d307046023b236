"""``tfkit drift``: does an environment still match its last passing snapshot? Exit 1 when it does not."""

from __future__ import annotations

import time

import click

from tfkit.cli._app import State, cli, env_option, jobs_option, pass_state
from tfkit.cli.report_options import Reporting, report_options
from tfkit.cli.run import run_every_environment
from tfkit.results import EnvironmentReport, Report


@cli.command()
@env_option(required=False)
@click.option("--all", "all_envs", is_flag=True, help="Check every environment (in worker processes).")
@jobs_option()
@report_options()
@pass_state
def drift(state: State, env_name: str | None, all_envs: bool, jobs: int, reporting: Reporting) -> None:
    """Compare an environment with its last passing snapshot (refreshed); exit 1 on drift.

    Reports what changed outside Terraform and what it would take to return; the fix is
    `tfkit rollback --env E`. An environment never applied by tfkit has no snapshot (exit 2).
    """
    from tfkit.drift import drift as find_drift

    if all_envs == bool(env_name):
        raise click.UsageError("name an environment with --env, or pass --all (not both)")
    if all_envs:
        run_every_environment(state, "drift", jobs, reporting)
        return
    assert env_name is not None
    env = state.project.environment(env_name)
    start = time.perf_counter()
    result = find_drift(env, state.options(env.name))
    entry = EnvironmentReport(
        env.name,
        "drift",
        plan=result.plan,
        drift=result,
        duration=time.perf_counter() - start,
        directory=env.directory,
    )
    report = Report("drift", (entry,), root=state.project.root)
    reporting.emit(report)
    if report.exit_code:
        raise SystemExit(report.exit_code)
