"""Drift: an applied environment changed outside tfkit is reported, exactly that resource, with the fix.

The environment is applied for real (embedded engine) and its local state file is then changed the
way ``terraform state rm`` or ``terraform state push`` would change it: a resource removed, or a
``terraform_data`` input that differs, with the state's serial bumped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from testsupport import TEST_SECRET, copy_example, run_tfkit

from tfkit import Project, workflow
from tfkit.drift import drift
from tfkit.errors import SnapshotError
from tfkit.report.json import validate_report
from tfkit.workflow import RunOptions

VPC = "module.network.terraform_data.vpc"
DATABASE = "module.service.terraform_data.database"


def _edit_state(root: Path, edit) -> None:
    """Change dev's local state as a ``state rm``/``state push`` would (same lineage, serial + 1)."""
    path = root / "envs/dev/terraform.tfstate"
    document = json.loads(path.read_text())
    edit(document)
    document["serial"] += 1
    path.write_text(json.dumps(document))


def _remove(name: str):
    def edit(document: dict) -> None:
        document["resources"] = [r for r in document["resources"] if r["name"] != name]

    return edit


def _rename_vpc(document: dict) -> None:
    for resource in document["resources"]:
        if resource["name"] == "vpc":
            resource["instances"][0]["attributes"]["input"]["value"]["name"] = "renamed-by-hand"


@pytest.fixture(scope="module")
def applied_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example repository with dev applied (and so snapshotted) for real, once for this module."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TF_VAR_db_password", "TFKIT_ENGINE", "TFKIT_BINARY"):
            patch.delenv(name, raising=False)
        repo = copy_example(tmp_path_factory.mktemp("drift-template") / "repo")
        env = Project.load(repo).environment("dev")
        outcome = workflow.apply(env, auto_approve=True, options=RunOptions(gate=False))
        assert outcome.applied and outcome.snapshot
        yield repo


@pytest.fixture
def applied(applied_template: Path, example_repo: Path) -> Path:
    """A private copy of the applied template (its state, snapshot and ledger included)."""
    shutil.rmtree(example_repo)
    return Path(shutil.copytree(applied_template, example_repo, symlinks=True))


@pytest.mark.slow
def test_no_change_means_no_drift(applied: Path) -> None:
    result = drift(Project.load(applied).environment("dev"))
    assert not result.has_drift
    assert result.addresses == ()
    assert result.fix is None
    done = run_tfkit("drift", "--env", "dev", cwd=applied)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(f"dev: no drift; it matches snapshot {result.snapshot}")


@pytest.mark.slow
def test_a_resource_removed_from_the_state_is_exactly_the_drift(applied: Path) -> None:
    _edit_state(applied, _remove("database"))
    result = drift(Project.load(applied).environment("dev"))
    assert result.addresses == (DATABASE,)
    assert [(i.address, i.action) for i in result.to_return] == [(DATABASE, "create")]
    assert result.fix == "tfkit rollback --env dev"
    done = run_tfkit("drift", "--env", "dev", "--format", "json", cwd=applied)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert validate_report(document) == []
    (entry,) = document["environments"]
    assert entry["outcome"] == "drift"
    assert entry["drift"]["addresses"] == [DATABASE]
    assert entry["drift"]["fix"] == "tfkit rollback --env dev"
    assert TEST_SECRET not in done.stdout + done.stderr


@pytest.mark.slow
def test_a_changed_input_is_exactly_the_drift_and_rollback_fixes_it(applied: Path) -> None:
    _edit_state(applied, _rename_vpc)
    env = Project.load(applied).environment("dev")
    result = drift(env)
    assert result.addresses == (VPC,)
    (item,) = result.to_return
    assert item.action == "update"
    assert "input.name: renamed-by-hand -> dev-vpc" in item.changes
    done = run_tfkit("drift", "--env", "dev", cwd=applied)
    assert done.returncode == 1
    assert "run `tfkit rollback --env dev`" in done.stdout
    workflow.rollback(env, auto_approve=True, options=RunOptions(gate=False))
    assert not drift(env).has_drift


@pytest.mark.slow
def test_sensitive_values_are_masked_in_drift(applied: Path) -> None:
    def change_password(document: dict) -> None:
        for resource in document["resources"]:
            if resource["name"] == "database":
                attributes = resource["instances"][0]["attributes"]
                attributes["triggers_replace"]["value"]["password"] = "hand-set-Passw0rd-7c1e"

    _edit_state(applied, change_password)
    done = run_tfkit("drift", "--env", "dev", "--format", "markdown", "-o", "drift.json", cwd=applied)
    assert done.returncode == 1, done.stderr
    assert DATABASE in done.stdout
    written = (applied / "drift.json").read_text()
    for text in (done.stdout, done.stderr, written):
        assert TEST_SECRET not in text
        assert "hand-set-Passw0rd-7c1e" not in text


def test_no_snapshot_is_a_one_line_error(example_repo: Path) -> None:
    with pytest.raises(SnapshotError, match="no snapshot of 'dev'"):
        drift(Project.load(example_repo).environment("dev"))
    done = run_tfkit("drift", "--env", "dev", cwd=example_repo)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: no snapshot of 'dev' to compare with; drift is measured against the last successful "
        "apply: run `tfkit apply --env dev` first"
    ]
    done = run_tfkit("drift", cwd=example_repo)
    assert done.returncode == 2


@pytest.mark.slow
def test_drift_all_reports_each_environment(applied: Path) -> None:
    _edit_state(applied, _remove("primary"))
    done = run_tfkit("drift", "--all", "--format", "json", cwd=applied)
    document = json.loads(done.stdout)
    by_env = {e["environment"]: e for e in document["environments"]}
    assert by_env["dev"]["drift"]["addresses"] == ["module.service.terraform_data.primary"]
    assert by_env["staging"]["outcome"] == "error" and by_env["staging"]["exit_code"] == 2
    assert done.returncode == 2
