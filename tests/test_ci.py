"""``tfkit ci matrix`` (GitHub, GitLab, JSON; all or affected) and ``tfkit report merge``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphrepo import GraphRepo, git, make_graph_repo
from testsupport import invoke_tfkit

from tfkit.report.json import render_json, validate_report
from tfkit.results import EnvironmentReport, Report


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GraphRepo:
    return make_graph_repo(tmp_path_factory.mktemp("ci") / "repo", stacks=3, stages=("dev", "staging"))


def test_github_matrix_lists_every_job_by_level_with_what_it_waits_for(repo: GraphRepo) -> None:
    done = invoke_tfkit("ci", "matrix", cwd=repo.root)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1, "one line, for $GITHUB_OUTPUT"
    rows = json.loads(done.stdout)["include"]
    assert rows == [
        {"environment": "st00-dev", "level": 0, "needs": []},
        {"environment": "st01-dev", "level": 1, "needs": ["st00-dev"]},
        {"environment": "st00-staging", "level": 1, "needs": ["st00-dev"]},
        {"environment": "st02-dev", "level": 2, "needs": ["st01-dev"]},
        {"environment": "st01-staging", "level": 2, "needs": ["st01-dev", "st00-staging"]},
        {"environment": "st02-staging", "level": 3, "needs": ["st02-dev", "st01-staging"]},
    ]


def test_gitlab_child_pipeline_and_affected_only(repo: GraphRepo, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo.root), str(clone))
    git(clone, "checkout", "-qb", "change")
    main = clone / "envs/staging/st01/main.tf"
    main.write_text(main.read_text() + "\n# changed\n")
    done = invoke_tfkit("ci", "matrix", "--affected", "--base", "main", "--format", "gitlab", cwd=clone)
    assert done.returncode == 0, done.stderr
    pipeline = json.loads(done.stdout)  # JSON is YAML: GitLab reads it as a child pipeline
    assert pipeline["include"] == [{"local": ".gitlab/tfkit-apply.yml"}]
    assert pipeline["stages"] == ["level-0", "level-1"]
    jobs = {k: v for k, v in pipeline.items() if k.startswith("apply:")}
    assert jobs == {
        "apply:st01-staging": {
            "extends": ".tfkit-apply",
            "stage": "level-0",
            "variables": {"TFKIT_ENV": "st01-staging", "TFKIT_WAIT": "30m"},
            "needs": [],
        },
        "apply:st02-staging": {
            "extends": ".tfkit-apply",
            "stage": "level-1",
            "variables": {"TFKIT_ENV": "st02-staging", "TFKIT_WAIT": "30m"},
            "needs": ["apply:st01-staging"],
        },
    }
    main.write_text(main.read_text().replace("\n# changed\n", ""))
    empty = invoke_tfkit("ci", "matrix", "--affected", "--base", "main", "--format", "gitlab", cwd=clone)
    assert list(json.loads(empty.stdout)) == ["tfkit:nothing-to-apply"]
    github = invoke_tfkit("ci", "matrix", "--affected", "--base", "main", cwd=clone)
    assert json.loads(github.stdout) == {"include": []}


def _write(path: Path, report: Report) -> Path:
    path.write_text(render_json(report))
    return path


def test_report_merge_combines_the_runners_reports(tmp_path: Path) -> None:
    first = Report(
        "apply",
        (EnvironmentReport("dev", "apply", details={"applied": True}),),
        created="2026-01-01T00:00:00",
    )
    second = Report(
        "apply",
        (
            EnvironmentReport("staging", "apply", error="apply failed: boom", error_code=1),
            EnvironmentReport(
                "production", "apply", details={"skipped": "'staging' error upstream; not run"}
            ),
        ),
        created="2026-01-01T00:00:05",
    )
    files = [_write(tmp_path / "a.json", first), _write(tmp_path / "b.json", second)]
    done = invoke_tfkit(
        "report",
        "merge",
        *map(str, files),
        "--format",
        "json",
        "--output",
        str(tmp_path / "summary.md"),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    merged = json.loads(done.stdout)
    assert validate_report(merged) == []
    assert [(e["environment"], e["outcome"]) for e in merged["environments"]] == [
        ("dev", "ok"),
        ("staging", "error"),
        ("production", "skipped"),
    ]
    assert merged["exit_code"] == 1 and merged["passed"] is False
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## tfkit apply: FAILED (exit 1)")
    assert "| ❌ staging" not in summary and "💥 staging" in summary and "⏭️ production" in summary
    assert "- **production**: skipped: 'staging' error upstream; not run" in summary
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    refused = invoke_tfkit("report", "merge", str(bad), cwd=tmp_path)
    assert refused.returncode == 2 and "bad.json: not a tfkit JSON report" in refused.stderr


def test_the_fan_out_recipes_use_commands_and_options_that_exist() -> None:
    import re
    import shlex

    import click

    from tfkit.cli import cli

    text = (Path(__file__).resolve().parents[1] / "docs" / "ci.md").read_text()
    commands = []
    for marker in ("<!-- tfkit:fanout-github -->", "<!-- tfkit:fanout-gitlab -->"):
        block = text.split(marker, 1)[1].split("```", 2)[1]
        commands += [m.split("|")[0].split(">")[0] for m in re.findall(r"\.venv/bin/(tfkit [^\n]*)", block)]
    assert len(commands) == 5
    for command in commands:
        plain = re.sub(r"\$\{\{[^}]*\}\}|\$\w+", "x", command)
        argv = shlex.split(plain)[1:]
        group: click.Command = cli
        while isinstance(group, click.Group):
            group = group.commands[argv.pop(0)]
        with group.make_context(group.name, argv, resilient_parsing=False) as ctx:  # unknown options raise
            assert ctx.params is not None
