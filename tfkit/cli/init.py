"""``tfkit init``: scaffold tfkit into the repository here (or ``--root``), never overwriting a file.

Exit codes: 0 done (also when every file was there already), 2 a Terraform file tfkit cannot read.
"""

from __future__ import annotations

from pathlib import Path

import click

from tfkit.cli._app import State, cli, out, pass_state


@cli.command()
@click.option(
    "--ci",
    type=click.Choice(["github", "gitlab", "none"]),
    default="github",
    show_default=True,
    help="Which CI pipeline to write.",
)
@click.option("--gitlab", is_flag=True, help="Same as --ci gitlab.")
@pass_state
def init(state: State, ci: str, gitlab: bool) -> None:
    """Add tfkit here: tfkit.toml, policies/, tests/, CI, pre-commit (never overwriting a file)."""
    from tfkit.scaffold import init_repository

    root = (state.root or Path.cwd()).resolve()
    result = init_repository(root, ci="gitlab" if gitlab else ci)  # type: ignore[arg-type]
    for env in result.layout.environments:
        details = [env.directory, *env.var_files]
        if env.protected:
            details.append("protected")
        if env.backend is not None:
            details.append(f'backend "{env.backend[0]}"')
        out(f"environment {env.name}: {', '.join(details)}")
    for secret in result.layout.secrets:
        out(f"secret {secret.name}: from {secret.kind} {secret.value}")
    for rel in result.created:
        out(f"created {rel}")
    for rel in result.kept:
        out(f"kept {rel} (it exists; not changed)")
    if result.ignored:
        out(f".gitignore: added {' '.join(result.ignored)}")
    out("next: tfkit scanners install; tfkit validate --all; tfkit plan --all; python -m pytest tests")
