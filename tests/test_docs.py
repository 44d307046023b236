"""The docs build strictly, document every command, exit code and error, and their commands really run.

The quickstart's marked command blocks and the CI recipe's tfkit commands (``.github/workflows/infra.yml``)
are run, in order, on a private copy of the example repository with the real embedded engine, as a CI
runner would (``GITHUB_ACTIONS=true`` with a step-summary file).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from testsupport import REPO, TEST_SECRET, copy_example, run_tfkit

from tfkit.cli import EXIT_CODES, cli

DOCS = REPO / "docs"
WORKFLOW = REPO / ".github" / "workflows" / "infra.yml"
SARIF_SCHEMA = REPO / "tests" / "report" / "data" / "sarif-schema-2.1.0.json"


def _hooks():
    spec = importlib.util.spec_from_file_location("tfkit_docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command_paths(command: click.Command, prefix: str) -> list[str]:
    paths = [prefix]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            paths += _command_paths(sub, f"{prefix} {name}")
    return paths


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(REPO / "mkdocs.yml"),
            "-d",
            str(target),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def test_mkdocs_build_strict_passes_with_every_page(site: Path) -> None:
    pages = (
        "quickstart",
        "concepts",
        "cli",
        "api",
        "pytest-plugin",
        "ci",
        "reports",
        "exit-codes",
        "troubleshooting",
        "comparison",
    )
    for page in pages:
        assert (site / page / "index.html").is_file(), page
    concepts = (site / "concepts" / "index.html").read_text()
    for topic in (
        "environments-and-promotion",
        "the-gate",
        "snapshots-and-rollback",
        "health",
        "locks",
        "secrets",
    ):
        assert f'id="{topic}"' in concepts


def test_every_cli_command_is_in_the_generated_reference(site: Path) -> None:
    html = (site / "cli" / "index.html").read_text()
    paths = _command_paths(cli, "tfkit")
    assert len(paths) > 15
    for path in paths:
        assert f"{path} [OPTIONS]" in html, f"{path} is not documented"
    assert "--rollback-on-failure" in html and "[FORMAT=]FILE" in html


def test_every_exit_code_and_error_is_documented(site: Path) -> None:
    codes = (site / "exit-codes" / "index.html").read_text()
    for code, meaning in EXIT_CODES.items():
        assert f'<td style="text-align: right;">{code}</td>' in codes or f"<td>{code}</td>" in codes
        assert meaning.split("(")[0].strip() in codes
    troubleshooting = (DOCS / "troubleshooting.md").read_text()
    headings = set(re.findall(r"^## (\w+)$", troubleshooting, re.MULTILINE))
    errors = {cls.__name__ for cls in _hooks().error_classes()}
    assert errors - headings == set(), "every TfkitError subclass has a troubleshooting section"
    assert headings - errors == set(), "no section for an error that does not exist"
    for cls in _hooks().error_classes():
        section = troubleshooting.split(f"## {cls.__name__}\n", 1)[1]
        assert section.lstrip().startswith(f"Exit {cls.exit_code}."), cls.__name__


def test_the_api_reference_is_generated_from_docstrings(site: Path) -> None:
    html = (site / "api" / "index.html").read_text()
    for name in (
        "run_environments",
        "DriftResult",
        "write_reports",
        "load_plan",
        "GateResult",
        "snapshot_session",
    ):
        assert name in html


def _marked_commands(page: Path, marker: str) -> list[str]:
    """The tfkit commands of the code blocks that follow ``marker`` in a Markdown page."""
    text = page.read_text()
    commands = []
    for block in re.findall(re.escape(marker) + r"\n```\w*\n(.*?)```", text, re.DOTALL):
        commands += [line.strip() for line in block.splitlines() if line.strip().startswith("tfkit ")]
    return commands


def _workflow_commands() -> dict[str, list[str]]:
    document = yaml.safe_load(WORKFLOW.read_text())
    found = {}
    for job, body in document["jobs"].items():
        lines = [line for step in body["steps"] for line in str(step.get("run", "")).splitlines()]
        found[job] = [
            line.removeprefix(".venv/bin/") for line in lines if line.startswith(".venv/bin/tfkit ")
        ]
    return found


def _run(commands: list[str], root: Path, env: dict[str, str] | None = None) -> list[str]:
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "tfkit"
        done = run_tfkit(*argv[1:], cwd=root, env=env)
        assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
        outputs.append(done.stdout + done.stderr)
    return outputs


@pytest.mark.slow
def test_the_quickstart_commands_run(tmp_path: Path) -> None:
    commands = _marked_commands(DOCS / "quickstart.md", "<!-- test: run -->")
    assert commands[:2] == [
        "tfkit apply --env dev --auto-approve",
        "tfkit apply --env staging --auto-approve",
    ]
    makefile = (REPO / "Makefile").read_text()
    for command in commands[:2]:
        assert f"$(VENV)/bin/{command}" in makefile, "the quickstart says what `make demo` really runs"
    assert "tfkit drift --env staging" in commands
    root = copy_example(tmp_path / "repo")
    outputs = _run(commands, root)
    assert "staging: apply complete" in outputs[1]
    assert all(TEST_SECRET not in text for text in outputs)


@pytest.mark.slow
def test_the_ci_recipe_commands_run(tmp_path: Path) -> None:
    commands = _workflow_commands()
    assert commands["plan"][0] == "tfkit validate --all"
    assert commands["plan"][1].startswith("tfkit plan --all")
    assert commands["apply"][0] == "tfkit store status", "the apply job checks the shared store first"
    applies = [c for c in commands["apply"] if c.startswith("tfkit apply ")]
    assert [c.split()[3] for c in applies] == ["dev", "staging", "production"]
    assert all("--rollback-on-failure" in c for c in applies)
    assert commands["rollback"][0].startswith("tfkit rollback --env ")
    gitlab = _marked_commands(DOCS / "ci.md", "<!-- gitlab-ci -->")
    assert not gitlab, "GitLab commands are in a script list, checked below"
    gitlab_text = (DOCS / "ci.md").read_text().split("<!-- gitlab-ci -->", 1)[1]
    for command in ["tfkit store status", *applies]:
        assert f".venv/bin/{command}" in gitlab_text, "the GitLab recipe applies in the same order"
    assert "TFKIT_STORE_URL" in gitlab_text.split("```", 2)[1], "GitLab takes the store from a CI variable"
    root = copy_example(tmp_path / "repo")
    summary = tmp_path / "step-summary.md"
    summary.touch()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    _run(commands["plan"], root, env)
    steps = summary.read_text()
    assert "## tfkit plan: passed" in steps and "| ✅ production | passed |" in steps
    sarif = json.loads((root / "tfkit.sarif").read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(sarif)
    assert (root / "tfkit-junit.xml").read_text().startswith("<?xml")
    outputs = _run(commands["apply"], root, env)
    assert outputs[0].splitlines()[2] == "connection: ok"
    assert "production: apply complete" in outputs[commands["apply"].index(applies[2])]
    assert "## tfkit drift: passed" in summary.read_text()
    assert all(TEST_SECRET not in text for text in [*outputs, summary.read_text()])
