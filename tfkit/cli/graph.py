"""The environment graph in CI: ``affected`` (what a change touches) and ``ci matrix`` (one job each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


@cli.group()
def ci() -> None:
    """Fan out over CI: one job per environment, in graph order."""


@ci.command("matrix")
@click.option(
    "--affected", "affected_only", is_flag=True, help="Only the environments a change since --base affects."
)
@click.option(
    "--base", default=None, metavar="REF", help="With --affected: the branch or commit to compare with."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["github", "gitlab", "json"]),
    default="github",
    show_default=True,
    help="github: a matrix for strategy.matrix (one line of JSON); gitlab: a child pipeline; json: the jobs.",
)
@click.option(
    "--wait",
    "wait_for",
    default="30m",
    show_default=True,
    metavar="TIMEOUT",
    help="The --wait each job's `tfkit apply` gets (gitlab: written into each job).",
)
@click.option(
    "--include",
    "include",
    default=".gitlab/tfkit-apply.yml",
    show_default=True,
    help="gitlab: the file defining the .tfkit-apply job template (image, store URL, secrets).",
)
@pass_state
def matrix(
    state: State, affected_only: bool, base: str | None, fmt: str, wait_for: str, include: str
) -> None:
    """Print the job list: one job per environment, in graph levels, each with the jobs it waits for.

    \b
    Each job runs `tfkit apply --env NAME --auto-approve --wait TIMEOUT`: a job that starts before
    what it waits for has applied waits for the shared store's ledger, and refuses (exit 4) when
    anything upstream is unstable, so even a matrix that starts every job at once applies in order.
    """
    from tfkit.cli.run import affected_names
    from tfkit.fanout import jobs

    only = affected_names(state, affected_only, base)
    listed = jobs(state.project.graph, only)
    if fmt == "gitlab":
        out(json.dumps(_gitlab(listed, wait_for, include), indent=2))
        return
    rows = [{"environment": j.environment, "level": j.level, "needs": list(j.needs)} for j in listed]
    if fmt == "github":
        out(json.dumps({"include": rows}, separators=(",", ":")))
    else:
        out(json.dumps({"jobs": rows, "levels": max((j.level for j in listed), default=-1) + 1}, indent=2))


def _gitlab(listed: list[Any], wait_for: str, include: str) -> dict[str, Any]:
    """A GitLab child pipeline (JSON is YAML): a job per environment with ``needs`` between them."""
    if not listed:
        return {"tfkit:nothing-to-apply": {"script": ["echo 'tfkit: no environment to apply'"]}}
    doc: dict[str, Any] = {"include": [{"local": include}]}
    doc["stages"] = [f"level-{n}" for n in range(max(j.level for j in listed) + 1)]
    for job in listed:
        doc[f"apply:{job.environment}"] = {
            "extends": ".tfkit-apply",
            "stage": f"level-{job.level}",
            "variables": {"TFKIT_ENV": job.environment, "TFKIT_WAIT": wait_for},
            "needs": [f"apply:{n}" for n in job.needs],
        }
    return doc


@cli.group("report")
def report_group() -> None:
    """Work with tfkit's JSON reports."""


@report_group.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown", "text"]),  # tfkit.report.merge.MERGED_FORMATS
    default="markdown",
    show_default=True,
    help="What stdout shows: the merged JSON report, a Markdown pull-request summary, or text.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="[FORMAT=]FILE",
    help="Also write FORMAT (json, markdown, text; default: from the extension) to FILE; repeatable.",
)
def merge(files: tuple[Path, ...], fmt: str, outputs: tuple[str, ...]) -> None:
    """Combine the runners' JSON reports (--output x.json of each job) into one; exit code the worst."""
    from tfkit.cli.report_options import parse_output
    from tfkit.fsutil import atomic_write
    from tfkit.report.merge import MERGED_FORMATS, MergeError, load_reports, merge_reports, render_merged

    try:
        document = merge_reports(load_reports(files))
    except MergeError as exc:
        raise click.BadParameter(str(exc), param_hint="FILES") from None
    targets = [parse_output(value, "text") for value in outputs]
    for written, _ in targets:
        if written not in MERGED_FORMATS:
            raise click.BadParameter(
                f"merge writes {', '.join(MERGED_FORMATS)}, not {written}", param_hint="--output"
            )
    out(render_merged(document, fmt).rstrip("\n"))
    for written, path in targets:
        atomic_write(path, render_merged(document, written))
        click.secho(f"tfkit: wrote the {written} report to {path}", err=True, dim=True)
    if document["exit_code"]:
        raise SystemExit(document["exit_code"])
