"""Running Terraform on environments: envs, validate, plan, apply, output, destroy, show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tfkit.cli._app import (
    State,
    ask,
    cli,
    env_option,
    err,
    lock_timeout_option,
    out,
    pass_state,
    render_gate,
    render_plan,
    show_review,
)
from tfkit.redact import MASK, mask

if TYPE_CHECKING:
    from tfkit import workflow
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
        raise click.UsageError("name an environment with --env, or pass --all")
    return [state.project.environment(env_name)]


@cli.command()
@env_option(required=False)
@click.option("--all", "all_envs", is_flag=True, help="Validate every environment.")
@pass_state
def validate(state: State, env_name: str | None, all_envs: bool) -> None:
    """Check that an environment's configuration is valid."""
    from tfkit import workflow

    for env in _selected(state, env_name, all_envs):
        result = workflow.validate(env, options=state.options(env.name))
        for warning in result.warnings:
            err(f"warning: {env.name}: {warning.one_line()}")
        out(f"{env.name}: valid")


@cli.command()
@env_option()
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the plan JSON (sensitive values redacted) to this file.",
)
@click.option("--no-gate", is_flag=True, help="Only plan; do not run policies and scanners.")
@pass_state
def plan(state: State, env_name: str, out_file: Path | None, no_gate: bool) -> None:
    """Plan an environment, run the gate, and show both; exit 1 if the gate fails."""
    from tfkit import gate, workflow
    from tfkit.errors import GateFailedError

    env = state.project.environment(env_name)
    decoded = workflow.plan(env, options=state.options(env.name))
    out(render_plan(decoded))
    if out_file is not None:
        from tfkit.fsutil import atomic_write

        atomic_write(out_file, mask(decoded.redacted().decode()))
        err(f"tfkit: wrote the redacted plan JSON to {out_file}")
    if no_gate:
        return
    result = gate.evaluate(decoded, env.name, project=state.project)
    out(render_gate(result))
    if not result.passed:
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
) -> None:
    """Plan, gate, confirm and apply exactly that plan; then verify and snapshot it."""
    from tfkit import workflow

    if (allow_unstable or skip_promotion_check) and not reason:
        raise click.UsageError("--allow-unstable and --skip-promotion-check need --reason '...'")
    env = state.project.environment(env_name)
    outcome = workflow.apply(
        env,
        auto_approve=auto_approve,
        confirm=ask("apply"),
        rollback_on_failure=rollback_on_failure,
        allow_unstable=reason if allow_unstable else None,
        skip_promotion_check=reason if skip_promotion_check else None,
        options=state.options(env.name, show=show_review, lock_timeout=lock_timeout),
    )
    report_apply(outcome, "apply")


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
    """Summarise a plan JSON file (from `terraform show -json`)."""
    from tfkit.errors import PlanError
    from tfkit.plan import load_plan, validate_plan_schema
    from tfkit.report.plan import render_markdown, summary_json

    try:
        data = plan_json.read_bytes()
    except OSError as exc:
        raise PlanError(f"{plan_json}: cannot read: {exc.strerror or exc}") from None
    decoded = load_plan(data)
    if check_schema:
        problems = validate_plan_schema(data)
        if problems:
            raise PlanError(f"{plan_json}: not valid plan JSON: {problems[0]} ({len(problems)} problem(s))")
    if as_json:
        out(json.dumps(summary_json(decoded), indent=2, sort_keys=True))
    elif markdown:
        out(render_markdown(decoded))
    else:
        out(render_plan(decoded))
