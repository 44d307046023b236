"""Running Terraform on environments: envs, validate, plan, apply, output, destroy, show."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tfkit.cli._app import (
    State,
    ask,
    cli,
    env_option,
    err,
    jobs_option,
    lock_timeout_option,
    out,
    pass_state,
    render_gate,
    render_plan,
    show_review,
)
from tfkit.cli.report_options import Reporting, report_options
from tfkit.redact import MASK, mask
from tfkit.results import EnvironmentReport, Report

if TYPE_CHECKING:
    from tfkit import workflow
    from tfkit.gate import GateResult
    from tfkit.plan import Plan
    from tfkit.project import Environment


@cli.command()
@pass_state
def envs(state: State) -> None:
    """List the environments in promotion order."""
    for env in state.project.environments:
        flags = " (protected)" if env.protected else ""
        rel = (
            env.directory.relative_to(state.project.root)
            if env.directory.is_relative_to(state.project.root)
            else env.directory
        )
        out(f"{env.index + 1}. {env.name}{flags}  {rel}")


def _selected(state: State, env_name: str | None, all_envs: bool) -> list[Environment]:
    if all_envs and env_name:
        raise click.UsageError("use either --env or --all, not both")
    if all_envs:
        return list(state.project.environments)
    if not env_name:
        raise click.UsageError("Missing option '--env' (name an environment, or pass --all for every one)")
    return [state.project.environment(env_name)]


def run_every_environment(
    state: State, operation: str, jobs: int, reporting: Reporting, *, gate: bool = True
) -> None:
    """Run ``operation`` on every environment in worker processes; print each one's output as one block.

    Progress lines go to stderr as they happen; each environment's block goes to stdout in one piece,
    in promotion order (text format); the combined report is written once; the exit code is the worst.
    """
    from tfkit.multi import run_environments
    from tfkit.report.text import render_block, render_summary

    project = state.project
    text = reporting.format == "text"

    def progress(environment: str, step: str) -> None:
        click.secho(
            mask(f"tfkit: {environment}: {step}" + ("" if step == "done" else "...")), err=True, dim=True
        )

    names = list(project.names)
    finished: dict[str, EnvironmentReport] = {}

    def done(entry: EnvironmentReport) -> None:
        # each environment's block is printed whole, in promotion order, as soon as those before it are
        finished[entry.environment] = entry
        while text and names and names[0] in finished:
            out(render_block(finished[names.pop(0)]) + "\n")

    report = run_environments(
        project.root,
        project.names,
        operation,
        jobs=jobs,
        engine=state.engine,
        binary=state.binary,
        gate=gate,
        progress=progress,
        on_done=done,
    )
    if text:
        out(render_summary(report))
    reporting.emit(report, show=not text)
    if report.exit_code:
        failed = [f"{e.environment} ({e.outcome})" for e in report.environments if e.exit_code]
        err(f"error: {operation} failed for {', '.join(failed)}")
        raise SystemExit(report.exit_code)


@cli.command()
@env_option(required=False)
@click.option("--all", "all_envs", is_flag=True, help="Validate every environment (in worker processes).")
@jobs_option()
@report_options()
@pass_state
def validate(state: State, env_name: str | None, all_envs: bool, jobs: int, reporting: Reporting) -> None:
    """Check that an environment's configuration is valid."""
    from tfkit import workflow

    if all_envs:
        _selected(state, env_name, all_envs)
        run_every_environment(state, "validate", jobs, reporting)
        return
    env = _selected(state, env_name, all_envs)[0]
    start = time.perf_counter()
    result = workflow.validate(env, options=state.options(env.name))
    entry = EnvironmentReport(
        env.name,
        "validate",
        warnings=tuple(w.one_line() for w in result.warnings),
        duration=time.perf_counter() - start,
        directory=env.directory,
    )
    reporting.emit(Report("validate", (entry,), root=state.project.root))


@cli.command()
@env_option(required=False)
@click.option("--all", "all_envs", is_flag=True, help="Plan every environment (in worker processes).")
@jobs_option()
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the plan JSON (sensitive values redacted) to this file (with --env only).",
)
@click.option("--no-gate", is_flag=True, help="Only plan; do not run policies and scanners.")
@report_options()
@pass_state
def plan(
    state: State,
    env_name: str | None,
    all_envs: bool,
    jobs: int,
    out_file: Path | None,
    no_gate: bool,
    reporting: Reporting,
) -> None:
    """Plan an environment (or --all), run the gate, and show both; exit 1 if the gate fails."""
    from tfkit import gate, workflow
    from tfkit.errors import GateFailedError

    if all_envs:
        _selected(state, env_name, all_envs)
        if out_file is not None:
            raise click.UsageError("--out writes one plan; use it with --env, not --all")
        run_every_environment(state, "plan", jobs, reporting, gate=not no_gate)
        return
    env = _selected(state, env_name, all_envs)[0]
    start = time.perf_counter()
    decoded = workflow.plan(env, options=state.options(env.name))
    if out_file is not None:
        from tfkit.fsutil import write_output

        write_output(out_file, mask(decoded.redacted().decode()))
        err(f"tfkit: wrote the redacted plan JSON to {out_file}")
    result = None if no_gate else gate.evaluate(decoded, env.name, project=state.project)
    entry = EnvironmentReport(
        env.name,
        "plan",
        plan=decoded,
        gate=result,
        duration=time.perf_counter() - start,
        directory=env.directory,
    )
    reporting.emit(Report("plan", (entry,), root=state.project.root))
    if result is not None and not result.passed:
        raise GateFailedError(f"the plan of '{env.name}' failed the gate", result=result)


@cli.command()
@env_option()
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--rollback-on-failure", is_flag=True, help="Roll back to the last snapshot if the apply fails."
)
@click.option(
    "--allow-unstable", is_flag=True, help="Apply although the environment is unstable (needs --reason)."
)
@click.option(
    "--skip-promotion-check",
    is_flag=True,
    help="Apply modules the previous environment has not (needs --reason).",
)
@click.option("--reason", default=None, help="Why a rule is overridden; recorded in the ledger.")
@lock_timeout_option()
@report_options()
@pass_state
def apply(
    state: State,
    env_name: str,
    auto_approve: bool,
    rollback_on_failure: bool,
    allow_unstable: bool,
    skip_promotion_check: bool,
    reason: str | None,
    lock_timeout: str | None,
    reporting: Reporting,
) -> None:
    """Plan, gate, confirm and apply exactly that plan; then verify and snapshot it."""
    from tfkit import workflow
    from tfkit.errors import GateFailedError

    if (allow_unstable or skip_promotion_check) and not reason:
        raise click.UsageError("--allow-unstable and --skip-promotion-check need --reason '...'")
    env = state.project.environment(env_name)
    text = reporting.format == "text"
    reviews: list[workflow.Review] = []

    def show(review: workflow.Review) -> None:
        reviews.append(review)
        if text:
            show_review(review)

    try:
        outcome = workflow.apply(
            env,
            auto_approve=auto_approve,
            confirm=ask("apply"),
            rollback_on_failure=rollback_on_failure,
            allow_unstable=reason if allow_unstable else None,
            skip_promotion_check=reason if skip_promotion_check else None,
            options=state.options(env.name, show=show, lock_timeout=lock_timeout),
        )
    except GateFailedError:
        if reviews:
            _emit_apply(state, env, reporting, reviews[-1].plan, reviews[-1].gate, {"applied": False})
        raise
    if text:
        report_apply(outcome, "apply")
    details = {"applied": outcome.applied, "snapshot": outcome.snapshot, "converged": outcome.converged}
    _emit_apply(state, env, reporting, outcome.plan, outcome.gate, details)


def _emit_apply(
    state: State,
    env: Environment,
    reporting: Reporting,
    plan: Plan,
    gate: GateResult | None,
    details: Mapping[str, object],
) -> None:
    """The apply's report in the requested formats (text was already printed step by step)."""
    if reporting.format == "text" and not reporting.outputs:
        return
    report = Report.single(
        "apply",
        env.name,
        plan=plan,
        gate=gate,
        details=details,
        root=state.project.root,
        directory=env.directory,
    )
    reporting.emit(report, show=reporting.format != "text")


def report_apply(outcome: workflow.ApplyOutcome, what: str) -> None:
    """The closing lines of an apply or promotion."""
    name = outcome.environment
    if not outcome.applied:
        if outcome.converged:
            out(render_plan(outcome.plan))
            if outcome.gate is not None:
                out(render_gate(outcome.gate))
        out(f"{name}: no changes; nothing to {what}" if outcome.converged else f"{name}: {what} cancelled")
        return
    counts = outcome.result.counts if outcome.result else None
    done = f"{counts.add} added, {counts.change} changed, {counts.remove} destroyed" if counts else "done"
    out(f"{name}: {what} complete: {done}; snapshot {outcome.snapshot}")
    for warning in outcome.warnings:
        err(f"warning: {name}: {warning}")


@cli.command()
@env_option()
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON (sensitive values masked).")
@click.option("--show-sensitive", is_flag=True, help="Print sensitive values in the clear.")
@pass_state
def output(state: State, env_name: str, as_json: bool, show_sensitive: bool) -> None:
    """Show an environment's outputs; sensitive values are masked unless asked for."""
    from tfkit import workflow

    env = state.project.environment(env_name)
    values = workflow.output(env, options=state.options(env.name))

    def shown(o: Any) -> Any:
        return MASK if o.sensitive and not show_sensitive else o.value

    if as_json:
        doc = {n: {"value": shown(o), "sensitive": o.sensitive} for n, o in values.items()}
        text = json.dumps(doc, indent=2, sort_keys=True)
        click.echo(text if show_sensitive else mask(text))
        return
    for name, o in values.items():
        value = shown(o)
        rendered = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        line = f"{name} = {rendered}"
        click.echo(line if show_sensitive else mask(line))


@cli.command()
@env_option()
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
@click.option("--allow-protected", is_flag=True, help="Allow destroying a protected environment.")
@pass_state
def destroy(state: State, env_name: str, auto_approve: bool, allow_protected: bool) -> None:
    """Destroy every resource of an environment (protected environments need --allow-protected)."""
    from tfkit import workflow

    env = state.project.environment(env_name)
    outcome = workflow.destroy(
        env,
        auto_approve=auto_approve,
        confirm=ask("destroy"),
        allow_protected=allow_protected,
        options=state.options(env.name),
    )
    if not outcome.applied:
        out(f"{env.name}: nothing to destroy" if outcome.converged else f"{env.name}: destroy cancelled")
        return
    counts = outcome.result.counts if outcome.result else None
    out(f"{env.name}: destroy complete: {counts.remove if counts else '?'} destroyed")


@cli.command()
@click.argument("plan_json", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--markdown", is_flag=True, help="Print Markdown for a pull-request comment.")
@click.option(
    "--validate", "check_schema", is_flag=True, help="Also validate the file against the plan JSON Schema."
)
def show(plan_json: Path, as_json: bool, markdown: bool, check_schema: bool) -> None:
    """Summarise a plan JSON file (from `terraform show -json`; at most 1 GiB)."""
    from tfkit.errors import PlanError
    from tfkit.plan import load_plan, read_plan_bytes, validate_plan_schema
    from tfkit.report.json import summary_json
    from tfkit.report.markdown import render_plan_markdown

    data = read_plan_bytes(plan_json)
    decoded = load_plan(data)
    if check_schema:
        problems = validate_plan_schema(data)
        if problems:
            raise PlanError(f"{plan_json}: not valid plan JSON: {problems[0]} ({len(problems)} problem(s))")
    if as_json:
        out(json.dumps(summary_json(decoded), indent=2, sort_keys=True))
    elif markdown:
        out(render_plan_markdown(decoded))
    else:
        out(render_plan(decoded))
