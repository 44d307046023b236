"""``tfkit store status`` and ``tfkit store migrate``: where tfkit's memory is, and moving it.

A store URL is shown only without its password (``display_url``). ``migrate --to-env VAR`` reads the
target URL from an environment variable, so its password is not in tfkit's own argv either.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from tfkit.cli._app import State, cli, err, lock_timeout_option, out, pass_state

if TYPE_CHECKING:
    from tfkit.project import Project
    from tfkit.store.settings import StoreSettings
    from tfkit.store.status import StoreStatus
    from tfkit.workflow import RunOptions


@cli.group()
def store() -> None:
    """Where tfkit keeps its memory (local .tfkit/ or PostgreSQL): check it, move it."""


@store.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output."
)
@pass_state
def store_status(state: State, fmt: str) -> None:
    """The store, its project id, connectivity, schema version and what it holds per environment."""
    from tfkit.store import open_store
    from tfkit.store.status import store_status as read_status

    with open_store(state.project) as opened:
        found = read_status(state.project, opened)
    if fmt == "json":
        out(json.dumps(dataclasses.asdict(found), indent=2))
        return
    for line in _status_lines(found):
        out(line)


def _status_lines(found: StoreStatus) -> list[str]:
    kind = "PostgreSQL" if found.kind == "postgresql" else "local directory"
    schema = "" if found.schema_version is None else f", schema version {found.schema_version}"
    lines = [f"store: {found.where} ({kind}{schema})", f"project: {found.project}", "connection: ok"]
    if not found.environments:
        lines.append("no environments")
    for row in found.environments:
        health = row.health if row.health_since else f"{row.health} (nothing recorded)"
        if row.health_reason and row.health != "stable":
            health += f": {row.health_reason}"
        extra = "" if row.configured else " (not in tfkit.toml)"
        lines.append(
            f"{row.environment}{extra}: {row.snapshots} snapshots, {row.ledger_entries} ledger entries, "
            f"{health}; Terraform state: {row.terraform_state}"
        )
    return lines


@store.command("migrate")
@click.option("--to", default=None, metavar="URL|local", help="The target: a postgresql:// URL or 'local'.")
@click.option(
    "--to-env",
    "to_env",
    default=None,
    metavar="VAR",
    help="Read the target URL from environment variable VAR (keeps its password out of the command line).",
)
@click.option(
    "--records-only",
    is_flag=True,
    help="Copy tfkit's records only and leave each environment's Terraform state where it is.",
)
@lock_timeout_option()
@pass_state
def store_migrate(
    state: State, to: str | None, to_env: str | None, records_only: bool, lock_timeout: str | None
) -> None:
    """Copy snapshots, ledger and health from the current store to another, verified; safe to re-run."""
    from tfkit.store import open_store
    from tfkit.store.migrate import migrate, stored_environments
    from tfkit.store.settings import store_settings

    project = state.project
    source_settings = store_settings(project.config, project.root)
    target_settings = _target(project, source_settings, to, to_env)
    options = dataclasses.replace(state.options(lock_timeout=lock_timeout), on_step=None)  # lines say it
    moves = [] if records_only else _state_moves(project, source_settings, target_settings)
    step = _state_step(project, moves, source_settings, target_settings, options) if moves else None
    with open_store(project) as source, open_store(project, target_settings) as target:
        names = set(stored_environments(source)) | set(project.names)
        report = migrate(source, target, names, lock_timeout=options.lock_timeout, state=step)
        for row in report.environments:
            out(row.one_line())
    out(
        f"migrated {report.snapshots_copied} snapshots and {report.entries_copied} ledger entries from "
        f"{report.source} to {report.target}; every snapshot's digests verified in the target"
    )
    if records_only:
        for env_name in _state_moves(project, source_settings, target_settings):
            err(f"tfkit: {env_name}: Terraform state not moved (--records-only)")
    where = "set TFKIT_STORE_URL to it" if target_settings.url else "unset TFKIT_STORE_URL and [store] url"
    out(f"to use the target store, {where}")


def _target(project: Project, source: StoreSettings, to: str | None, to_env: str | None) -> StoreSettings:
    """The target store's settings: ``local``, or a URL from ``--to`` or the variable ``--to-env`` names."""
    from tfkit.store.settings import SCHEMES, STORE_URL_ENV, store_settings

    if (to is None) == (to_env is None):
        raise click.UsageError("give exactly one of --to URL|local and --to-env VAR")
    if to_env is not None:
        url = os.environ.get(to_env, "").strip()
        if not url:
            raise click.BadParameter(f"environment variable {to_env} is not set", param_hint="--to-env")
        hint = "--to-env"
    else:
        assert to is not None
        if to == "local":
            return dataclasses.replace(source, url=None)
        url, hint = to, "--to"
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise click.BadParameter("must be a postgresql:// URL (or 'local' for --to)", param_hint=hint)
    target = store_settings(project.config, project.root, environ={STORE_URL_ENV: url})
    if hint == "--to" and parts.password:
        err("warning: --to carries a password, which other users can see in `ps`; prefer --to-env VAR")
    return target


def _state_moves(project: Project, source: StoreSettings, target: StoreSettings) -> list[str]:
    """The configured environments whose Terraform state lives in a different place in the target."""
    from tfkit.store.terraform_state import state_home

    return [
        env.name
        for env in project.environments
        if env.directory.is_dir() and state_home(env, source) != state_home(env, target)
    ]


def _state_step(
    project: Project, moves: list[str], source: StoreSettings, target: StoreSettings, options: RunOptions
) -> Callable[[str], str]:
    """The per-environment step that moves Terraform's state (``tfkit.state_move``) of ``moves``."""
    from tfkit.state_move import move_state

    def step(name: str) -> str:
        if name not in moves:
            return ""
        return move_state(project.environment(name), source, target, options)

    return step
