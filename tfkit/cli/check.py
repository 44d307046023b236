"""Policies from the command line: ``tfkit check PLAN_JSON`` runs the gate on a saved plan JSON file,
``tfkit policies`` lists the policies and their settings for an environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tfkit.cli._app import State, cli, env_option, out, pass_state, render_gate
from tfkit.cli.report_options import Reporting, report_options

if TYPE_CHECKING:
    from tfkit.policy.api import Policy
    from tfkit.policy.settings import PolicySettings


def _scanners_available() -> bool:
    """``tfkit.scan`` is installed; ``run_scanners`` itself runs only what ``[checkov]`` enables."""
    try:
        from tfkit.scan import run_scanners  # noqa: F401
    except ImportError:
        return False
    return True


@cli.command()
@click.argument("plan_json", type=click.Path(path_type=Path, dir_okay=False))
@env_option(required=False)
@click.option("--no-scanners", is_flag=True, help="Run the policies only, even if Checkov is configured.")
@report_options()
@pass_state
def check(
    state: State, plan_json: Path, env_name: str | None, no_scanners: bool, reporting: Reporting
) -> None:
    """Run the gate (policies, and scanners if configured) on a plan JSON file; exit 1 if it fails."""
    from tfkit import gate
    from tfkit.plan import load_plan, read_plan_bytes

    data = read_plan_bytes(plan_json)
    plan = load_plan(data)
    project = state.optional_project(needed=env_name is not None)
    if project is not None and env_name is not None:
        project.environment(env_name)  # an unknown name is a one-line error (exit 2)
    scanners = not no_scanners and project is not None and _scanners_available()
    result = gate.evaluate(plan, env_name, project=project, scanners=scanners)
    if reporting.format == "text":
        out(render_gate(result))
    if reporting.format != "text" or reporting.outputs:
        from tfkit.results import Report

        directory = project.environment(env_name).directory if project and env_name else None
        report = Report.single(
            "check",
            env_name,
            plan=plan,
            gate=result,
            root=project.root if project else None,
            directory=directory,
        )
        reporting.emit(report, show=reporting.format != "text")
    if not result.passed:
        raise SystemExit(1)


@cli.command("policies")
@env_option(required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the policies as JSON.")
@pass_state
def list_policies(state: State, env_name: str | None, as_json: bool) -> None:
    """List every policy (built-in, repository, packages) with its severity and settings.

    Without --env (in a repository), a policy whose state differs between environments says where it
    is on and off, e.g. a production-only policy: "(production: hard; dev, staging: disabled)".
    """
    from tfkit.policy import load_policies
    from tfkit.policy.settings import check_settings, resolve

    project = state.optional_project(needed=env_name is not None)
    if project is not None and env_name is not None:
        project.environment(env_name)
    per_env = project.names if project is not None and env_name is None else ()
    policies = load_policies(project)
    check_settings(project, policies)
    rows: list[dict[str, Any]] = []
    for p in policies:
        settings = resolve(p, project, env_name)
        enabled = settings.enabled and p.applies_to(env_name)
        row: dict[str, Any] = {
            "id": p.id,
            "severity": settings.severity.value,
            "enabled": enabled,
            "title": p.title,
            "source": p.source,
            "params": dict(settings.params),
        }
        if per_env:
            states = {name: _state_in(p, resolve(p, project, name), name) for name in per_env}
            row["environments"] = states
            row["enabled"] = any(word != "disabled" for word in states.values())
        rows.append(row)
    if as_json:
        out(json.dumps(rows, indent=2, sort_keys=True, default=str))
        return
    for row in rows:
        state_word = _state_words(row)
        params = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in sorted(row["params"].items()))
        out(f"{row['id']:8} {row['severity']:8} {row['title']}{state_word}")
        if params:
            out(f"{'':17} {params}")


def _state_in(policy: Policy, settings: PolicySettings, environment: str) -> str:
    """A policy's state in one environment: its severity there, or ``disabled``."""
    on = settings.enabled and policy.applies_to(environment)
    return settings.severity.value if on else "disabled"


def _state_words(row: Mapping[str, Any]) -> str:
    """`` (disabled)``, or the environments grouped by state when they differ from the row's own."""
    states: Mapping[str, str] | None = row.get("environments")
    if not states:
        return "" if row["enabled"] else " (disabled)"
    if set(states.values()) == {row["severity"]}:
        return ""
    if set(states.values()) == {"disabled"}:
        return " (disabled)"
    groups: dict[str, list[str]] = {}
    for name, word in states.items():
        groups.setdefault(word, []).append(name)
    return " (" + "; ".join(f"{', '.join(names)}: {word}" for word, names in groups.items()) + ")"
