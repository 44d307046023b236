"""Remembering what worked: rollback, promote, status and snapshots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from tfkit.cli._app import State, ask, cli, env_option, err, lock_timeout_option, out, pass_state, show_review
from tfkit.cli.report_options import Reporting, report_options
from tfkit.cli.run import report_apply

if TYPE_CHECKING:
    from tfkit.workflow import EnvironmentStatus


@cli.command()
@env_option()
@click.option("--to", "to_id", default=None, help="Snapshot id to restore (default: the last passing one).")
@click.option("--auto-approve", is_flag=True, help="Roll back without asking for confirmation.")
@lock_timeout_option()
@pass_state
def rollback(
    state: State, env_name: str, to_id: str | None, auto_approve: bool, lock_timeout: str | None
) -> None:
    """Restore the last passing snapshot by re-applying it through the same gate.

    \b
    What it does not do:
    - revert git: the broken change is still committed, so the next push applies it again unless it is
      reverted or fixed;
    - restore data inside resources (database contents, bucket objects): only the resources and their
      arguments come back, a re-created resource comes back empty.
    """
    from tfkit import workflow

    env = state.project.environment(env_name)
    outcome = workflow.rollback(
        env,
        to=to_id,
        auto_approve=auto_approve,
        confirm=ask("roll back with"),
        options=state.options(env.name, show=show_review, lock_timeout=lock_timeout),
    )
    if outcome.snapshot is None:
        out(f"{env.name}: rollback cancelled")
        return
    how = "applied" if outcome.applied else "nothing to change"
    out(f"{env.name}: rolled back to snapshot {outcome.restored} ({how}); new snapshot {outcome.snapshot}")
    if outcome.converged is False:
        err(f"warning: {env.name}: a plan after the rollback still has changes")


@cli.command()
@click.option("--to", "target", required=True, help="The environment to promote to (e.g. production).")
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@lock_timeout_option()
@pass_state
def promote(state: State, target: str, auto_approve: bool, lock_timeout: str | None) -> None:
    """Apply an environment with its shared modules exactly as the previous one last applied them."""
    from tfkit import workflow

    env = state.project.environment(target)
    outcome = workflow.promote(
        env,
        auto_approve=auto_approve,
        confirm=ask("promote"),
        options=state.options(env.name, show=show_review, lock_timeout=lock_timeout),
    )
    report_apply(outcome, "promotion")
    changed = workflow.verdict_changed(outcome)
    if changed is not None:
        raise changed


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON (the same as --format json).")
@report_options()
@pass_state
def status(state: State, as_json: bool, reporting: Reporting) -> None:
    """Each environment: health, last apply, its snapshot, and what it is behind on.

    Exits 4 while an environment is unstable (releases are paused until a rollback or a fix), so a CI
    step can stop on it.
    """
    from dataclasses import asdict

    from tfkit import workflow
    from tfkit.results import EnvironmentReport, Report

    rows = workflow.status(state.project)
    if as_json or reporting.format != "text" or reporting.outputs:
        report = Report(
            "status",
            tuple(EnvironmentReport(r.environment, "status", details=asdict(r)) for r in rows),
            root=state.project.root,
        )
        fmt = "json" if as_json else reporting.format
        Reporting(fmt, reporting.outputs, reporting.names_only).emit(report, show=fmt != "text")
        if fmt != "text":
            _exit_if_unstable(rows)
            return
    for row in rows:
        last = (
            f"last {row.last_kind} {row.last_apply} (snapshot {row.snapshot})"
            if row.last_apply
            else "never applied"
        )
        health = (
            row.health
            if not row.health_reason or row.health == "stable"
            else f"{row.health}: {row.health_reason}"
        )
        behind = f"; behind the previous environment on {', '.join(row.behind)}" if row.behind else ""
        if row.unfinished:
            health = f"unstable: unfinished {row.unfinished}"
        out(f"{row.environment}: {health}; {last}{behind}")
    _exit_if_unstable(rows)


def _exit_if_unstable(rows: Sequence[EnvironmentStatus]) -> None:
    """Exit 4 (refused by environment health) when any environment is unstable."""
    if any(row.health == "unstable" for row in rows):
        raise SystemExit(4)


@cli.group()
def snapshots() -> None:
    """List and inspect snapshots."""


@snapshots.command("list")
@env_option(required=False)
@pass_state
def snapshots_list(state: State, env_name: str | None) -> None:
    """The snapshots of an environment (default: of every environment, in promotion order), oldest first."""
    from tfkit.store import open_store

    project = state.project
    envs = (project.environment(env_name),) if env_name is not None else project.environments
    with open_store(project) as store:
        listed = [(env.name, store.snapshots.list(env.name)) for env in envs]
    for name, found in listed:
        if not found:
            out(f"{name}: no snapshots yet")
            continue
        if env_name is None:
            out(f"{name}:")
        for snap in found:
            m = snap.manifest
            restored = f" restoring {m.restored_from}" if m.restored_from else ""
            indent = "  " if env_name is None else ""
            out(
                f"{indent}{m.id}  {m.kind:8} {m.created}  terraform {m.terraform_version}  "
                f"serial {m.serial}{restored}"
            )


@snapshots.command("show")
@click.argument("snapshot_id")
@click.option(
    "--state", "show_state", is_flag=True, help="Also list the resources of the stored (encrypted) state."
)
@pass_state
def snapshots_show(state: State, snapshot_id: str, show_state: bool) -> None:
    """A snapshot's manifest, after checking every file's digest."""
    from tfkit.store import open_store
    from tfkit.workflow import encryption_key

    with open_store(state.project) as store:
        snap = store.snapshots.get(snapshot_id)
        snap.verify()
        size = snap.size()
    m = snap.manifest
    out(f"snapshot {m.id} of {m.environment} ({m.kind}), {m.created}")
    out(f"  terraform {m.terraform_version} via {m.engine}; tfkit {m.tfkit_version}")
    out(f"  git commit {m.git_commit or '-'}; state lineage {m.lineage} serial {m.serial}")
    out(f"  full state stored: {'encrypted' if m.state_encrypted else 'no (no encryption key configured)'}")
    out(f"  sensitive variables (not stored): {', '.join(m.sensitive_variables) or '-'}")
    for module, digest in sorted(m.modules.items()):
        out(f"  module {module} {digest[:12]}")
    out(f"  {len(m.files)} files, {size} bytes, all digests verified")
    if show_state:
        document = json.loads(snap.state(encryption_key(state.project)))
        for resource in document.get("resources", ()):
            prefix = f"{resource['module']}." if resource.get("module") else ""
            count = len(resource.get("instances", ()))
            out(f"  state: {prefix}{resource['type']}.{resource['name']} ({count} instances)")
