"""The repository's rules on the command line: check-secrets, check-changes, describe.

Exit codes: 0 clean; 1 a secret was found or a change broke a rule; 2 bad input (not a git
repository, a base ref that does not exist, a missing path or description file).
"""

from __future__ import annotations

from pathlib import Path

import click

from tfkit.cli._app import State, cli, err, out, pass_state


def _repository(state: State) -> Path:
    """The repository to check: ``--root``, else the git work tree holding the current directory."""
    from tfkit.guard import git

    start = (state.root or Path.cwd()).resolve()
    return git.toplevel(start) or start


@cli.command("check-secrets")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--history", is_flag=True, help="Also scan every commit since --base (all commits without it).")
@click.option("--base", help="With --history: scan only the commits after this ref.")
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Baseline of reviewed false positives (default: [guard] baseline, .tfkit-secrets-baseline.json).",
)
@click.option("--update-baseline", is_flag=True, help="Record every current finding as reviewed, and exit 0.")
@pass_state
def check_secrets(
    state: State,
    paths: tuple[Path, ...],
    history: bool,
    base: str | None,
    baseline_file: Path | None,
    update_baseline: bool,
) -> None:
    """Scan the repository's files (or PATHS) for secrets; print file, line and kind, never the value."""
    from tfkit.guard import ADVICE, files_to_scan, guard_settings, load_baseline, scan_files, scan_history
    from tfkit.guard.baseline import write_baseline
    from tfkit.guard.patterns import literal

    if base and not history:
        raise click.UsageError("--base needs --history")
    root = _repository(state)
    settings = guard_settings(root)
    baseline_path = (
        (baseline_file or Path(settings.baseline)).resolve() if baseline_file else root / settings.baseline
    )
    own = baseline_path.relative_to(root).as_posix() if baseline_path.is_relative_to(root) else None
    exclude = (*settings.exclude, *((literal(own),) if own else ()))
    baseline = load_baseline(baseline_path)
    files = files_to_scan(root, paths, exclude=exclude)
    scans = [scan_files(root, files, baseline=baseline)]
    if history:
        # Named PATHS limit the history scan too (to those files and directories; the root: no limit).
        named = [p.resolve().relative_to(root).as_posix() for p in paths]
        only = () if "." in named else tuple(literal(rel) for rel in named)
        scans.append(scan_history(root, base, baseline=baseline, exclude=exclude, only=only))
    findings = [f for s in scans for f in s.findings]
    reviewed = sum(len(s.reviewed) for s in scans)
    if update_baseline:
        count = write_baseline(baseline_path, [f for s in scans for f in (*s.findings, *s.reviewed)])
        out(f"tfkit: wrote {count} reviewed finding(s) to {baseline_path}")
        return
    for finding in findings:
        out(finding.one_line())
    scanned = f"{scans[0].files} file(s)" + (f" and {scans[1].commits} commit(s)" if history else "")
    note = f" ({reviewed} reviewed in the baseline)" if reviewed else ""
    if findings:
        err(f"tfkit: {len(findings)} possible secret(s) in {scanned}{note}; {ADVICE}")
        raise SystemExit(1)
    err(f"tfkit: no secrets found in {scanned}{note}")


@cli.command("check-changes")
@click.option("--base", default="HEAD", show_default=True, help="Check the files changed since this ref.")
@click.option(
    "--description",
    "description_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also check that this change description says what changed and why.",
)
@click.option("--committed-only", is_flag=True, help="Ignore uncommitted and untracked files.")
@click.option("--verbose", "-v", is_flag=True, help="Also list the allowed files and their rules.")
@pass_state
def check_changes(
    state: State, base: str, description_file: Path | None, committed_only: bool, verbose: bool
) -> None:
    """Check that every file changed since --base is allowed by the repository's rules.

    Committed changes since the merge base count, and (unless --committed-only) staged, unstaged and
    untracked files too. Each refused file is listed with the rule it broke. A description passes when its
    first line summarises what changes (three words or more) and it says why: a Why/Motivation section, a
    "Why: ..." line or a sentence with "because" or "so that".
    """
    from tfkit.errors import GuardError
    from tfkit.guard import check_changes as run_check
    from tfkit.guard import check_description

    root = _repository(state)
    result = run_check(root, base, uncommitted=not committed_only)
    failed = False
    for verdict in result.verdicts:
        if not verdict.allowed or verbose:
            out(verdict.one_line())
    if result.refused:
        failed = True
        err(f"tfkit: {len(result.refused)} of {len(result.verdicts)} changed file(s) refused since {base}")
    else:
        err(f"tfkit: {len(result.verdicts)} changed file(s) since {base}, all allowed")
    if description_file is not None:
        try:
            text = description_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise GuardError(f"{description_file}: cannot read the description: {reason}") from None
        check = check_description(text)
        for problem in check.problems:
            out(f"{description_file}: {problem}")
        failed = failed or not check.ok
    if failed:
        raise SystemExit(1)


@cli.command()
@click.option(
    "--env", "-e", "env_names", multiple=True, required=True, help="Environment to plan (repeatable)."
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the description to this file instead of printing it.",
)
@pass_state
def describe(state: State, env_names: tuple[str, ...], out_file: Path | None) -> None:
    """Plan each environment and write a Markdown change description: what changes where; why is yours."""
    from tfkit import workflow
    from tfkit.redact import mask, register_plan_secrets
    from tfkit.report.markdown import describe_plans

    plans = {}
    for name in dict.fromkeys(env_names):
        env = state.project.environment(name)
        plans[name] = workflow.plan(env, options=state.options(env.name))
        register_plan_secrets(plans[name])
    text = describe_plans(plans)
    if out_file is None:
        out(text)
        return
    from tfkit.fsutil import write_output

    write_output(out_file, mask(text))
    err(f"tfkit: wrote the change description to {out_file}; fill in why before you open the change")
