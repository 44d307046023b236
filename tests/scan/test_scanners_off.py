"""The gate says in one line when a scanner is off, and why (no silent gate without Checkov)."""

from __future__ import annotations

import json
from pathlib import Path

from testsupport import PLANS, core_config

from tfkit.gate import evaluate
from tfkit.plan import load_plan
from tfkit.project import Project
from tfkit.report.text import render_gate_text
from tfkit.scan import scanners_off

PLAN = PLANS / "snyk-cli" / "aws-destroy-v0.1.json"


def _with(repo: Path, toml: str) -> Project:
    (repo / "tfkit.toml").write_text(core_config() + toml)
    return Project.load(repo)


def test_why_checkov_is_off(example_repo: Path) -> None:
    assert scanners_off(None, None) == {"checkov": "no tfkit.toml"}
    assert scanners_off(_with(example_repo, ""), "dev") == {"checkov": "no [checkov] table in tfkit.toml"}
    off = _with(example_repo, "\n[checkov]\nenabled = false\n")
    assert scanners_off(off, "dev") == {"checkov": "[checkov] enabled = false"}
    per_env = _with(example_repo, "\n[checkov]\n\n[environments.dev.checkov]\nenabled = false\n")
    assert scanners_off(per_env, "dev") == {"checkov": "[environments.dev.checkov] enabled = false"}
    assert scanners_off(per_env, "staging") == {}


def test_the_gate_text_states_it_in_one_line(example_repo: Path) -> None:
    plan = load_plan(PLAN)
    result = evaluate(plan, "dev", project=_with(example_repo, ""))
    lines = render_gate_text(result).splitlines()
    assert "scanner: checkov off (no [checkov] table in tfkit.toml)" in lines
    assert json.dumps(dict(result.off)) == '{"checkov": "no [checkov] table in tfkit.toml"}'
    quiet = evaluate(plan, "dev", project=_with(example_repo, ""), scanners=False)
    assert not quiet.off and "off (" not in render_gate_text(quiet)
