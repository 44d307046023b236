"""Running Terraform on environments: envs, validate, plan, apply, output, destroy, show."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
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
from tfkit.head_start import head_start
from tfkit.redact import MASK, mask
from tfkit.results import EnvironmentReport, Report

if TYPE_CHECKING:
    from tfkit import workflow
    from tfkit.errors import TfkitError
    from tfkit.gate import GateResult
    from tfkit.plan import Plan
    from tfkit.project import Environment


@cli.command()
@click.option(
    "--graph",
    "graph_format",
    type=click.Choice(["text", "mermaid", "dot"]),
    is_flag=False,
    flag_value="text",
    default=None,
    help="Show the graph (after/needs) as text levels, a Mermaid flowchart or a Graphviz digraph.",
)
@pass_state
def envs(state: State, graph_format: str | None) -> None:
    """List the environments in promotion order (--graph: what each comes after and needs)."""
    if graph_format is not None:
        from tfkit.graph import render_dot, render_mermaid, render_text

        render = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}[graph_format]
        out(render(state.project.graph))
        return
    for env in state.project.environments:
        flags = " (protected)" if env.protected else ""
        rel = (
            env.directory.relative_to(state.project.root)
            if env.directory.is_relative_to(state.project.root)
            else env.directory
        )
        chain = (state.project.names[env.index - 1],) if env.index else ()  # the default: say nothing
        after = f"  after: {', '.join(env.after) or '(none)'}" if env.after != chain else ""
        needs = f"  needs: {', '.join(env.needs)}" if env.needs else ""
        out(f"{env.index + 1}. {env.name}{flags}  {rel}{after}{needs}")


def _selected(state: State, env_name: str | None, all_envs: bool) -> list[Environment]:
    if all_envs and env_name:
        raise click.UsageError("use either --env or --all, not both")
    if all_envs:
        return list(state.project.environments)
    if not env_name:
        raise click.UsageError("Missing option '--env' (name an environment, or pass --all for every one)")
    return [state.project.environment(env_name)]


def run_every_environment(
    state: State,
    operation: str,
    jobs: int,
    reporting: Reporting,
    *,
    gate: bool = True,
    only: list[str] | None = None,
    lock_timeout: str | None = None,
) -> None:
    """Run ``operation`` on every environment (or ``only`` those) in worker processes; print each one's
    output as one block.

    ``plan`` and ``apply`` walk the graph: an environment's result counts once those it comes after or
    needs are done, and a failure skips everything downstream; an apply starts only then, a plan may
    start ahead while jobs are free (``tfkit.multi``). Progress lines go to stderr as they happen; each
    environment's block goes to stdout in one piece, in graph order (text format); the combined report is
    written once; the exit code is the worst.
    """
    from tfkit.multi import run_environments
    from tfkit.report.text import render_block, render_summary

    project = state.project
    text = reporting.format == "text"
    values = not reporting.names_only and project.config.review.values

    def progress(environment: str, step: str) -> None:
        click.secho(
            mask(f"tfkit: {environment}: {step}" + ("" if step == "done" else "...")), err=True, dim=True
        )

    graph = project.graph
    chosen = set(project.names if only is None else only)
    walk = operation in ("plan", "apply")
    order = [n for n in (graph.order() if walk else project.names) if n in chosen]
    names = list(order)
    finished: dict[str, EnvironmentReport] = {}

    def done(entry: EnvironmentReport) -> None:
        # each environment's block is printed whole, in promotion order, as soon as those before it are
        finished[entry.environment] = entry
        while text and names and names[0] in finished:
            out(render_block(finished[names.pop(0)], values=values) + "\n")

    report = run_environments(
        project.root,
        order,
        operation,
        jobs=jobs,
        engine=state.engine,
        binary=state.binary,
        gate=gate,
        progress=progress,
        on_done=done,
        after=graph.restricted(order) if walk else None,
        lock_timeout=lock_timeout,
    )
    if text:
        out(render_summary(report))
    reporting.emit(report, show=not text)
    if report.exit_code:
        failed = [f"{e.environment} ({e.outcome})" for e in report.environments if e.exit_code]
        skipped = [e.environment for e in report.environments if e.skipped]
        more = f"; skipped downstream: {', '.join(skipped)}" if skipped else ""
        err(f"error: {operation} failed for {', '.join(failed)}{more}")
        raise SystemExit(report.exit_code)


def affected_options() -> Callable[[Any], Any]:
    """``--affected`` and ``--base REF``: run only the environments a change since REF affects."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--base",
            default=None,
            metavar="REF",
            help="With --affected: the branch or commit to compare with.",
        )(command)
        return click.option(
            "--affected",
            "affected_only",
            is_flag=True,
            help="Only the environments a change since --base affects.",
        )(command)

    return decorate


def affected_names(state: State, affected_only: bool, base: str | None) -> list[str] | None:
    """The environments ``--affected --base REF`` selects (None without --affected), said on stderr."""
    if not affected_only:
        if base is not None:
            raise click.UsageError("--base goes with --affected")
        return None
    if base is None:
        raise click.UsageError("--affected needs --base REF (e.g. --base origin/main)")
    from tfkit.affected import affected

    names = list(affected(state.project, base).names)
    err(f"tfkit: {len(names)} of {len(state.project.names)} environments affected since {base}")
    return names


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
@click.option(
    "--no-gate",
    is_flag=True,
    help="Only plan: do not run policies and scanners, nor check whether the apply would be refused.",
)
@affected_options()
@report_options()
@pass_state
def plan(
    state: State,
    env_name: str | None,
    all_envs: bool,
    jobs: int,
    out_file: Path | None,
    no_gate: bool,
    affected_only: bool,
    base: str | None,
    reporting: Reporting,
) -> None:
    """Plan an environment (or --all, --affected), run the gate, and say if its apply would be refused.

    Exit 4 if `tfkit apply` would refuse it (the environment is unstable, or a shared module has not
    passed the previous environment: the checks apply makes first), else 1 if the gate fails, else 0.
    With --all or --affected, the environments are planned in graph order, as the promotion sequence
    they are applied in, so only health is checked. Terraform's warnings and a scanner that is off are
    stated in the output and the reports.
    """
    from tfkit.errors import GateFailedError, RefusedError

    only = affected_names(state, affected_only, base)
    if all_envs or only is not None:
        _selected(state, env_name, True)
        if out_file is not None:
            raise click.UsageError("--out writes one plan; use it with --env, not --all")
        run_every_environment(state, "plan", jobs, reporting, gate=not no_gate, only=only)
        return
    env = _selected(state, env_name, all_envs)[0]
    start = time.perf_counter()
    # The engine's worker starts before the workflow is imported, and the gate loads while the engine
    # plans (``tfkit.head_start``).
    with head_start(env, state.project, engine=state.engine, binary=state.binary, gate=not no_gate) as ahead:
        from tfkit import gate, workflow

        options = ahead.options(state.options(env.name))
        previewed = workflow.preview(env, options=options, check_apply=not no_gate)
        prepared = ahead.prepared()
    decoded = previewed.plan
    if out_file is not None:
        from tfkit.fsutil import write_output
        from tfkit.recording import recorded_plan  # the one writer form: redacted, secrets masked

        write_output(out_file, recorded_plan(decoded))
        err(f"tfkit: wrote the redacted plan JSON to {out_file}")
    result = None if no_gate else gate.evaluate(decoded, env.name, project=state.project, prepared=prepared)
    entry = EnvironmentReport(
        env.name,
        "plan",
        plan=decoded,
        gate=result,
        duration=time.perf_counter() - start,
        directory=env.directory,
        warnings=workflow.terraform_warnings(previewed.warnings),
        refusals=previewed.refusals,
        details=_apply_note(previewed),
    )
    reporting.emit(Report("plan", (entry,), root=state.project.root))
    if previewed.refusals:
        raise RefusedError(previewed.refusals[0])
    if result is not None and not result.passed:
        raise GateFailedError(f"the plan of '{env.name}' failed the gate", result=result)


def _apply_note(previewed: workflow.PlanPreview) -> dict[str, str]:
    """The plan report's ``apply`` detail when no checked rule refuses the apply."""
    note = previewed.apply_note()
    return {"apply": note} if note is not None else {}


@cli.command()
@env_option(required=False)
@click.option(
    "--all", "all_envs", is_flag=True, help="Apply every environment in graph order (needs --auto-approve)."
)
@jobs_option()
@affected_options()
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
@click.option(
    "--wait",
    "wait_for",
    default=None,
    metavar="TIMEOUT",
    help="CI fan-out: wait this long (e.g. 30m) for what the environment comes after or needs to apply "
    "first; refuse at once if anything upstream is unstable.",
)
@lock_timeout_option()
@report_options()
@pass_state
def apply(
    state: State,
    env_name: str | None,
    all_envs: bool,
    jobs: int,
    affected_only: bool,
    base: str | None,
    auto_approve: bool,
    rollback_on_failure: bool,
    allow_unstable: bool,
    skip_promotion_check: bool,
    reason: str | None,
    wait_for: str | None,
    lock_timeout: str | None,
    reporting: Reporting,
) -> None:
    """Plan, gate, confirm and apply exactly that plan; then verify and snapshot it (--all: in graph order).

    The plan made right after the apply goes through the same gate: if it fails where the apply passed,
    the apply stays recorded and the command exits 1 (the next apply would be refused).
    """
    from tfkit import workflow
    from tfkit.errors import GateFailedError

    if (allow_unstable or skip_promotion_check) and not reason:
        raise click.UsageError("--allow-unstable and --skip-promotion-check need --reason '...'")
    only = affected_names(state, affected_only, base)
    if all_envs or only is not None:
        _selected(state, env_name, True)
        if not auto_approve:
            raise click.UsageError("--all and --affected apply without asking: pass --auto-approve")
        if allow_unstable or skip_promotion_check or rollback_on_failure:
            raise click.UsageError("overrides and --rollback-on-failure apply to one environment: use --env")
        run_every_environment(state, "apply", jobs, reporting, only=only, lock_timeout=lock_timeout)
        return
    env = _selected(state, env_name, False)[0]
    if wait_for is not None and not skip_promotion_check:
        wait_upstream(env, wait_for)
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
    details: dict[str, object] = {
        "applied": outcome.applied,
        "snapshot": outcome.snapshot,
        "converged": outcome.converged,
    }
    changed = workflow.verdict_changed(outcome)
    if outcome.follow_up_gate is not None:
        details["follow_up_gate"] = _follow_up(outcome.follow_up_gate)
    _emit_apply(state, env, reporting, outcome.plan, outcome.gate, details, outcome.warnings, changed)
    if changed is not None:
        raise changed


def _follow_up(result: GateResult) -> dict[str, object]:
    """The gate's verdict on the plan after the apply, for the reports' apply details."""
    from tfkit.report.text import verdict_line

    return {
        "passed": result.passed,
        "verdict": verdict_line(result),
        "failures": [f.one_line() for f in result.failures],
        "errors": list(result.errors),
    }


def wait_upstream(env: Environment, timeout: str) -> None:
    """``--wait``: hold this job until the store's ledger says ``env`` may apply (``tfkit.fanout``)."""
    from tfkit.fanout import wait_until_allowed
    from tfkit.locks import parse_timeout
    from tfkit.store import open_store

    try:
        seconds = parse_timeout(timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--wait") from None
    with open_store(env.project) as store:
        wait_until_allowed(
            env,
            store.ledger,
            timeout=seconds,
            on_wait=lambda m: err(f"tfkit: waiting: {m}"),
            journal=store.journal,
        )


def _emit_apply(
    state: State,
    env: Environment,
    reporting: Reporting,
    plan: Plan,
    gate: GateResult | None,
    details: Mapping[str, object],
    warnings: tuple[str, ...] = (),
    error: TfkitError | None = None,
) -> None:
    """The apply's report in the requested formats (text was already printed step by step); ``error``
    is what the command exits with after it (a verdict that did not hold)."""
    if reporting.format == "text" and not reporting.outputs:
        return
    report = Report.single(
        "apply",
        env.name,
        plan=plan,
        gate=gate,
        details=details,
        warnings=warnings,
        error=None if error is None else str(error),
        error_code=0 if error is None else error.exit_code,
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
    else:
        counts = outcome.result.counts if outcome.result else None
        done = f"{counts.add} added, {counts.change} changed, {counts.remove} destroyed" if counts else "done"
        out(f"{name}: {what} complete: {done}; snapshot {outcome.snapshot}")
        if outcome.follow_up_gate is not None and not outcome.verdict_held:
            out("the plan after the apply:\n" + render_gate(outcome.follow_up_gate))
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
@click.option(
    "--names-only", is_flag=True, help="List changed attribute paths without their values before and after."
)
def show(plan_json: Path, as_json: bool, markdown: bool, check_schema: bool, names_only: bool) -> None:
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
        out(render_plan_markdown(decoded, values=not names_only))
    else:
        out(render_plan(decoded, values=not names_only))
