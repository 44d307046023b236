"""The environment graph in CI: ``affected`` (what a change touches) and ``ci matrix`` (one job each)."""

from __future__ import annotations

import json

import click

from tfkit.cli._app import State, cli, out, pass_state


@cli.command()
@click.option(
    "--base", "base", required=True, help="The branch, tag or commit to compare with (e.g. origin/main)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the environments and why, as JSON.")
@pass_state
def affected(state: State, base: str, as_json: bool) -> None:
    """List the environments a change since BASE affects, in graph order, with the reason.

    \b
    Affected: its own files or var files changed, a local module it reaches changed (nested modules
    followed), its tfkit.toml settings changed, or it reads an affected environment's outputs (needs).
    """
    from tfkit.affected import affected as compute

    found = compute(state.project, base)
    if as_json:
        doc = {
            "base": found.base,
            "environments": [{"name": e.name, "reasons": list(e.reasons)} for e in found.environments],
        }
        out(json.dumps(doc, indent=2))
        return
    for entry in found.environments:
        out(f"{entry.name}  ({'; '.join(entry.reasons)})")
    click.secho(
        f"tfkit: {len(found.environments)} of {len(state.project.names)} environments affected",
        err=True,
        dim=True,
    )
