"""``tfkit scanners install|status``: the managed Checkov (``tfkit.scan.managed``).

Exit codes: 0 done (``status``: a Checkov would run), 1 the install failed (pip's last lines are
shown), 2 ``status`` finds no Checkov to run, or a bad ``[checkov] command``/``TFKIT_CHECKOV``.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from tfkit.cli._app import State, cli, out, pass_state


@cli.group()
def scanners() -> None:
    """The scanners' own environments (a pinned Checkov under the user's cache directory)."""


@scanners.command()
@click.option(
    "--find-links",
    "find_links",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A directory of wheels for pip to look in (repeatable), e.g. on a machine without the index.",
)
@click.option("--no-index", is_flag=True, help="Do not use the package index (only --find-links).")
def install(find_links: tuple[Path, ...], no_index: bool) -> None:
    """Install the pinned Checkov in its own environment, unless it is there already (then: offline)."""
    from tfkit.scan.managed import install_checkov, managed_checkov

    target = managed_checkov()
    start = time.perf_counter()
    if install_checkov(target, find_links=find_links, no_index=no_index):
        took = time.perf_counter() - start
        out(f"Checkov {target.version} installed in {target.directory} ({took:.0f}s)")
    else:
        out(f"Checkov {target.version} is already installed in {target.directory}")


@scanners.command()
@pass_state
def status(state: State) -> None:
    """Which Checkov the gate runs, and why; and whether the managed one is installed."""
    import os

    from tfkit.scan import CheckovSettings
    from tfkit.scan.managed import managed_checkov
    from tfkit.scan.settings import find_checkov, load_settings

    project = state.optional_project()
    managed = managed_checkov()
    settings = load_settings(project, None) if project is not None else CheckovSettings(managed=managed)
    where = "installed" if managed.installed else "not installed (`tfkit scanners install`)"
    out(f"managed Checkov {managed.version}: {where} in {managed.directory}")
    if project is not None and project.config.checkov is None:
        out(f"the gate: no [checkov] table in {project.config.path}, so the gate runs no Checkov")
    found = find_checkov(settings)
    if settings.command:
        why = "[checkov] command"
    elif os.environ.get("TFKIT_CHECKOV"):
        why = "TFKIT_CHECKOV"
    elif managed.installed and found == str(managed.executable):
        why = "the managed environment"
    else:
        why = "PATH or the repository's .venv-checkov"
    out(f"checkov: {found} (from {why})")
