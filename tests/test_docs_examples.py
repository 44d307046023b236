"""The docs' examples run exactly as printed, and every tfkit.toml key the docs name exists.

The Python blocks are copied out of the Markdown as they are and run as plain scripts (no ``__main__``
guard) or as pytest files in a copy of the example repository; TOML blocks and inline ``[table] key``
mentions are resolved against tfkit.toml's JSON Schema.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from testsupport import REPO, TEST_SECRET, copy_example, run_tfkit

from tfkit.config import load_config, schema

DOCS = REPO / "docs"
PAGES = [*sorted(DOCS.glob("*.md")), REPO / "README.md"]


def _block_after(text: str, marker: str, lang: str) -> str:
    """The first fenced ``lang`` block after ``marker`` in ``text``."""
    rest = text.split(marker, 1)[1]
    match = re.search(rf"```{lang}\n(.*?)```", rest, re.S)
    assert match, f"no {lang} block after {marker}"
    return match.group(1)


def _run_script(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = cwd / "docs_example.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, script.name], cwd=cwd, capture_output=True, text=True, timeout=1200, check=False
    )


# ---- every key the docs name exists


def _resolve(node: dict[str, Any], key: str, root: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of ``key`` under ``node``; ``{}`` where anything goes, None for an unknown key."""
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    if node.get("type") == "array":
        return _resolve(node.get("items", {}), key, root)
    if key in node.get("properties", {}):
        return dict(node["properties"][key])
    extra = node.get("additionalProperties", True)
    if isinstance(extra, dict):
        return dict(extra)
    return {} if extra else None


def _paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(data, list):
        return [p for item in data for p in _paths(item, prefix)]
    if not isinstance(data, dict):
        return []
    return [p for key, value in data.items() for p in [(*prefix, key), *_paths(value, (*prefix, key))]]


def _unknown(path: tuple[str, ...]) -> bool:
    root = schema()
    node: dict[str, Any] | None = root
    for key in path:
        assert node is not None
        node = _resolve(node, key, root)
        if node is None:
            return True
    return False


_INLINE = re.compile(r"`\[\[?([a-z_][A-Za-z0-9_.<>-]*)\]\]?(?: ([a-z_]+))?`")


def test_every_tfkit_toml_key_the_docs_name_exists() -> None:
    named: list[tuple[str, tuple[str, ...]]] = []
    for page in PAGES:
        text = page.read_text()
        for block in re.findall(r"```toml\n(.*?)```", text, re.S):
            named.extend((page.name, path) for path in _paths(tomllib.loads(block)))
        for table, key in _INLINE.findall(text):
            parts = tuple(p if not p.startswith("<") else "placeholder" for p in table.split("."))
            named.append((page.name, (*parts, key) if key else parts))
    assert len(named) > 50, "the docs name many keys; the extraction found too few"
    unknown = sorted({f"{page}: {'.'.join(path)}" for page, path in named if _unknown(path)})
    assert unknown == []


def test_the_key_check_catches_a_key_that_does_not_exist() -> None:
    assert _unknown(("checkov", "executable"))  # troubleshooting once named it
    assert not _unknown(("checkov", "command"))
    assert not _unknown(("environments", "placeholder", "policies", "TFK002", "max_destructive"))
    assert _unknown(("environments", "placeholder", "var_file"))
    assert not _unknown(("waivers", "expires"))


# ---- the examples run as printed


@pytest.mark.slow
def test_the_ci_script_plans_every_environment_from_a_plain_script(tmp_path: Path) -> None:
    code = _block_after((DOCS / "ci.md").read_text(), "## From a Python script", "python")
    assert "__main__" not in code and "run_environments(" in code
    repo = copy_example(tmp_path / "repo")
    done = _run_script(code, repo)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RuntimeError" not in done.stderr and "BrokenProcessPool" not in done.stderr
    plan = (repo / "plan.md").read_text()
    assert "production" in plan and TEST_SECRET not in plan
    assert json.loads((repo / "tfkit.sarif").read_text())["runs"]


@pytest.mark.slow
def test_the_api_example_gates_the_plan_and_prints_its_report(tmp_path: Path) -> None:
    code = _block_after((DOCS / "api.md").read_text(), "# Python API", "python")
    repo = copy_example(tmp_path / "repo")
    done = _run_script(code, repo)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "## tfkit plan: passed" in done.stdout  # the Markdown report, printed
    sarif = json.loads((repo / "tfkit.sarif").read_text())
    assert sarif["runs"][0]["tool"]["driver"]["rules"], "the gate ran: its checks are in the SARIF"


def test_the_infrastructure_workflow_uploads_its_junit_report() -> None:
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "infra.yml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    written = next(s["run"] for s in steps if "tfkit plan --all" in s.get("run", ""))
    assert "--output junit=tfkit-junit.xml" in written
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload and "tfkit-junit.xml" in upload[0]["with"]["path"] and upload[0].get("if") == "always()"


@pytest.mark.slow
def test_the_policy_guide_runs_as_printed(tmp_path: Path) -> None:
    guide = (DOCS / "policies.md").read_text()
    repo = copy_example(tmp_path / "repo")
    (repo / "policies" / "org_buckets.py").write_text(_block_after(guide, "<!-- test: policy -->", "python"))
    with (repo / "tfkit.toml").open("a") as config:
        config.write("\n" + _block_after(guide, "<!-- test: policy-settings -->", "toml"))
        config.write("\n" + _block_after(guide, "## Waivers", "toml"))
    loaded = load_config(repo / "tfkit.toml")
    assert loaded.policies.tables["ORG001"]["required"] == ["owner", "cost_center"]
    listed = run_tfkit("policies", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert "ORG001" in listed.stdout and "Every bucket names its owner" in listed.stdout
    (repo / "tests").mkdir()
    (repo / "tests" / "test_org001.py").write_text(
        _block_after(guide, "<!-- test: policy-test -->", "python")
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout
