"""The one gate: policies and Checkov on a real plan of the example repository, waivers, rendering."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from testsupport import core_config

from tfkit import gate
from tfkit.findings import Severity
from tfkit.project import Project
from tfkit.report.text import render_gate_text
from tfkit.workflow import Session

REPO = Path(__file__).resolve().parents[1]
DATABASE = "module.service.terraform_data.database"


@pytest.fixture
def gated_repo(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example repository with its Checkov checks and a ``[checkov]`` table."""
    checkov = __import__("os").environ.get("TFKIT_CHECKOV") or shutil.which("checkov")
    assert checkov, "Checkov is not installed: run `make setup` and export TFKIT_CHECKOV"
    monkeypatch.setenv("TFKIT_CHECKOV", checkov)
    shutil.copytree(REPO / "policies" / "checkov", example_repo / "policies" / "checkov", dirs_exist_ok=True)
    (example_repo / "tfkit.toml").write_text(
        core_config()
        + '\n[checkov]\nexternal_checks_dirs = ["policies/checkov"]\nchecks = ["CKV_TFK_*", "CKV2_TFK_*"]\n'
    )
    return example_repo


@pytest.mark.slow
def test_gate_combines_policies_and_checkov(gated_repo: Path) -> None:
    project = Project.load(gated_repo)
    with Session(project.environment("staging")) as session:
        plan = session.plan().plan
    result = gate.evaluate(plan, "staging", project=project)
    sources = {f.source for f in result.findings}
    assert "checkov" in sources
    assert result.tools["checkov"].count(".") == 2 and "checkov" in result.timings
    checkov = [f for f in result.findings if f.source == "checkov"]
    assert {(f.check_id, f.address) for f in checkov if f.passed} >= {
        ("CKV_TFK_1", DATABASE),
        ("CKV2_TFK_1", DATABASE),
        ("CKV_TFK_2", 'module.access.terraform_data.rule["ssh-vpn"]'),
    }
    only_scan = gate.evaluate(plan, "staging", project=project, policies=False, plan_checks=False)
    assert {f.source for f in only_scan.findings} == {"checkov"}
    assert only_scan.passed


@pytest.mark.slow
def test_deleting_the_database_is_a_gate_finding(gated_repo: Path) -> None:
    project = Project.load(gated_repo)
    env = project.environment("staging")
    with Session(env) as session:
        session.apply(session.plan())
        destroy_plan = session.plan(destroy=True).plan
    result = gate.evaluate(destroy_plan, "staging", project=project, policies=False)
    database = [f for f in result.findings if f.address == DATABASE]
    assert [(f.check_id, f.severity, f.blocking) for f in database] == [("TFKIT_DEL_1", Severity.SOFT, True)]
    assert not result.passed and result.failures == tuple(database)
    others = [f for f in result.findings if f.check_id == "TFKIT_DEL_2"]
    assert len(others) == len(destroy_plan.deletes) - 1 and not any(f.blocking for f in others)
    text = render_gate_text(result)
    assert f"SOFT     TFKIT_DEL_1 {DATABASE}: " in text
    assert "gate FAILED for staging" in text

    with (gated_repo / "tfkit.toml").open("a") as handle:
        handle.write(
            f'\n[[waivers]]\npolicy = "TFKIT_DEL_1"\naddress = "{DATABASE}"\n'
            'reason = "decommissioning staging, CHG-1"\nexpires = 2999-01-01\n'
        )
    waived = gate.evaluate(destroy_plan, "staging", project=Project.load(gated_repo), policies=False)
    assert waived.passed
    assert [f.waived for f in waived.findings if f.address == DATABASE] == [True]
