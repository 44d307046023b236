"""Gated apply, snapshots, rollback, promotion order and health, with real Terraform."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from testsupport import TEST_SECRET

from tfkit.errors import (
    ApplyRefusedError,
    PromotionError,
    SnapshotError,
    TerraformError,
    UnstableEnvironmentError,
)
from tfkit.ledger import Ledger
from tfkit.project import Project
from tfkit.workflow import (
    ApplyFailedError,
    LineageMismatchError,
    RunOptions,
    Session,
    apply,
    compare_planned_values,
    promote,
    rollback,
    snapshot_store,
    status,
)

pytestmark = pytest.mark.slow

NO_GATE = RunOptions(gate=False)
FAILING_RESOURCE = """
resource "terraform_data" "migration" {
  input = "v2"
  depends_on = [terraform_data.primary]
  provisioner "local-exec" {
    command = "echo migration failed >&2; exit 1"
  }
}
"""


def change_service_module(repo: Path, *, failing: bool) -> None:
    """v2 of the service module: a changed input, and optionally a resource whose creation fails."""
    main = repo / "modules" / "service" / "main.tf"
    text = main.read_text().replace('role          = "primary"', 'role          = "primary-v2"', 1)
    main.write_text(text + (FAILING_RESOURCE if failing else ""))


def state_inputs(project: Project, env: str) -> dict[str, object]:
    """``{address: input}`` of every terraform_data in the environment's state."""
    with Session(project.environment(env), NO_GATE) as s:
        state = s.state() or {}
    found = {}
    for resource in state.get("resources", []):
        prefix = f"{resource['module']}." if resource.get("module") else ""
        for instance in resource["instances"]:
            key = instance.get("index_key")
            suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
            found[f"{prefix}{resource['type']}.{resource['name']}{suffix}"] = instance["attributes"].get(
                "input"
            )
    return found


@pytest.fixture
def applied(example_repo: Path) -> Project:
    """The example repository with dev and staging applied (v1)."""
    project = Project.load(example_repo)
    for name in ("dev", "staging"):
        outcome = apply(project.environment(name), auto_approve=True, options=NO_GATE)
        assert outcome.applied and outcome.converged and outcome.snapshot
    return project


def test_apply_records_snapshot_ledger_and_health(applied: Project) -> None:
    store = snapshot_store(applied)
    (snap,) = store.list("staging")
    manifest = snap.manifest
    assert manifest.kind == "apply" and manifest.environment == "staging"
    assert manifest.lineage and manifest.serial and manifest.terraform_version.startswith("1.")
    assert set(manifest.modules) == {"modules/access", "modules/network", "modules/service"}
    assert manifest.sensitive_variables == ("db_password",)
    assert not manifest.state_encrypted
    bundle = snap.bundle()
    assert "envs/staging/main.tf" in bundle and "modules/service/main.tf" in bundle
    assert not any("tfstate" in name for name in bundle)
    variables = snap.json("variables.json")
    assert variables["environment"] == "staging" and "db_password" not in variables
    snap.verify()
    for path in snap.path.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path
    ledger = Ledger(applied.state_dir)
    assert ledger.last("staging").snapshot == snap.id
    assert ledger.health("staging").stable
    rows = {r.environment: r for r in status(applied)}
    assert rows["staging"].snapshot == snap.id and rows["production"].last_apply is None


def test_sensitive_value_never_under_tfkit_dir(applied: Project) -> None:
    rollback(applied.environment("staging"), auto_approve=True, options=NO_GATE)
    for path in applied.state_dir.rglob("*"):
        if path.is_file():
            assert TEST_SECRET.encode() not in path.read_bytes(), path


def test_failed_apply_marks_unstable_and_rollback_restores_v1(applied: Project) -> None:
    repo = applied.root
    v1_modules = repo.parent / "v1-modules"
    shutil.copytree(repo / "modules", v1_modules)
    v1_inputs = state_inputs(applied, "staging")
    change_service_module(repo, failing=True)
    staging = applied.environment("staging")
    with pytest.raises(TerraformError, match=r"migration failed|local-exec"):
        apply(staging, auto_approve=True, skip_promotion_check="testing a failure", options=NO_GATE)
    ledger = Ledger(applied.state_dir)
    assert not ledger.health("staging").stable
    assert state_inputs(applied, "staging") != v1_inputs  # the apply got part-way
    with pytest.raises(UnstableEnvironmentError) as refused:
        apply(staging, auto_approve=True, skip_promotion_check="x", options=NO_GATE)
    assert refused.value.exit_code == 4 and "tfkit rollback --env staging" in str(refused.value)

    outcome = rollback(staging, auto_approve=True, options=NO_GATE)
    assert outcome.applied and outcome.converged
    assert ledger.health("staging").stable
    assert state_inputs(applied, "staging") == v1_inputs
    shutil.rmtree(repo / "modules")
    shutil.copytree(v1_modules, repo / "modules")
    with Session(staging, NO_GATE) as s:
        assert not s.plan().has_changes, "the v1 configuration plans no changes after the rollback"
    kinds = [s.manifest.kind for s in snapshot_store(applied).list("staging")]
    assert kinds == ["apply", "rollback"]
    assert snapshot_store(applied).latest("staging").manifest.restored_from == outcome.restored


def test_rollback_on_failure_in_one_call(applied: Project) -> None:
    v1_inputs = state_inputs(applied, "staging")
    change_service_module(applied.root, failing=True)
    with pytest.raises(ApplyFailedError) as failed:
        apply(
            applied.environment("staging"),
            auto_approve=True,
            rollback_on_failure=True,
            skip_promotion_check="testing",
            options=NO_GATE,
        )
    assert failed.value.rollback is not None and "rolled back to snapshot" in str(failed.value)
    assert failed.value.exit_code == 1
    assert Ledger(applied.state_dir).health("staging").stable
    assert state_inputs(applied, "staging") == v1_inputs


def test_promotion_order(applied: Project) -> None:
    production = applied.environment("production")
    assert apply(production, auto_approve=True, options=NO_GATE).applied  # staging has v1: allowed
    change_service_module(applied.root, failing=False)
    assert apply(applied.environment("dev"), auto_approve=True, options=NO_GATE).applied
    with pytest.raises(PromotionError) as refused:
        apply(production, auto_approve=True, options=NO_GATE)
    message = str(refused.value)
    assert "modules/service" in message and "apply 'staging' first" in message
    assert refused.value.exit_code == 4
    assert apply(applied.environment("staging"), auto_approve=True, options=NO_GATE).applied
    assert apply(production, auto_approve=True, options=NO_GATE).applied


def test_override_is_recorded(applied: Project) -> None:
    change_service_module(applied.root, failing=False)
    apply(
        applied.environment("staging"),
        auto_approve=True,
        skip_promotion_check="hotfix INC-42",
        options=NO_GATE,
    )
    entry = Ledger(applied.state_dir).last("staging")
    assert [(o.rule, o.reason) for o in entry.overrides] == [("skip-promotion-check", "hotfix INC-42")]


def test_promote_uses_modules_as_previous_environment_applied_them(applied: Project) -> None:
    apply(applied.environment("production"), auto_approve=True, options=NO_GATE)
    change_service_module(applied.root, failing=False)  # in the working tree only: staging is still v1
    outcome = promote(applied.environment("production"), auto_approve=True, options=NO_GATE)
    assert not outcome.applied and outcome.converged  # staging's modules are what production has
    apply(applied.environment("dev"), auto_approve=True, options=NO_GATE)
    apply(applied.environment("staging"), auto_approve=True, options=NO_GATE)
    outcome = promote(applied.environment("production"), auto_approve=True, options=NO_GATE)
    assert outcome.applied and outcome.converged
    assert any(rc.address == "module.service.terraform_data.primary" for rc in outcome.plan.updates)
    assert snapshot_store(applied).latest("production").manifest.kind == "promote"


def test_apply_needs_confirmation_without_terminal(applied: Project) -> None:
    change_service_module(applied.root, failing=False)
    with pytest.raises(ApplyRefusedError, match="--auto-approve"):
        apply(applied.environment("dev"), options=NO_GATE)


def test_rollback_without_snapshot(example_repo: Path) -> None:
    project = Project.load(example_repo)
    with pytest.raises(SnapshotError, match="no snapshot of 'dev' to roll back to"):
        rollback(project.environment("dev"), auto_approve=True, options=NO_GATE)


def test_unknown_snapshot_id(applied: Project) -> None:
    with pytest.raises(SnapshotError, match="no snapshot with id 'nope'"):
        rollback(applied.environment("staging"), to="nope", auto_approve=True, options=NO_GATE)
    dev_snapshot = snapshot_store(applied).latest("dev").id
    with pytest.raises(SnapshotError, match="belongs to 'dev'"):
        rollback(applied.environment("staging"), to=dev_snapshot, auto_approve=True, options=NO_GATE)


def test_lineage_mismatch_is_refused(applied: Project) -> None:
    staging = applied.environment("staging")
    (staging.directory / "terraform.tfstate").unlink()
    (staging.directory / "terraform.tfstate.backup").unlink(missing_ok=True)
    apply(staging, auto_approve=True, options=NO_GATE)  # a new state, with a new lineage
    first = snapshot_store(applied).list("staging")[0]
    with pytest.raises(LineageMismatchError, match="lineage") as refused:
        rollback(staging, to=first.id, auto_approve=True, options=NO_GATE)
    assert refused.value.exit_code == 4


def test_tampered_snapshot_is_detected(applied: Project) -> None:
    snap = snapshot_store(applied).latest("staging")
    target = snap.path / "bundle" / "modules" / "network" / "main.tf"
    target.write_text(target.read_text() + "\n# edited\n")
    with pytest.raises(SnapshotError, match=r"bundle/modules/network/main\.tf does not match its digest"):
        rollback(applied.environment("staging"), auto_approve=True, options=NO_GATE)


def test_compare_planned_values_ignores_unknowns() -> None:
    def doc(after: dict, unknown: dict, actions: list[str] | None = None) -> bytes:
        change = {"actions": actions or ["create"], "after": after, "after_unknown": unknown}
        return json.dumps(
            {"resource_changes": [{"address": "a.b", "mode": "managed", "change": change}]}
        ).encode()

    recorded = doc({"x": 1, "ids": [None]}, {"ids": [True], "id": True})
    assert compare_planned_values(recorded, doc({"x": 1, "ids": ["i-1"], "id": "z"}, {})) == ()
    (diff,) = compare_planned_values(recorded, doc({"x": 2, "ids": ["i-1"]}, {}))
    assert (diff.address, diff.kind, diff.paths) == ("a.b", "changed", ("x",))
    (gone,) = compare_planned_values(recorded, doc({}, {}, ["delete"]))
    assert gone.kind == "missing"


def test_encrypted_state_and_key_errors(
    example_repo: Path, monkeypatch: pytest.MonkeyPatch, tfkit_cli
) -> None:
    from cryptography.fernet import Fernet

    from tfkit.errors import ConfigError

    toml = example_repo / "tfkit.toml"
    toml.write_text(toml.read_text() + '\n[snapshots]\nencryption_key_env = "TFKIT_TEST_KEY"\n')
    project = Project.load(example_repo)
    monkeypatch.setenv("TFKIT_TEST_KEY", "not-a-key")
    with pytest.raises(ConfigError, match="TFKIT_TEST_KEY does not hold a valid Fernet key"):
        apply(project.environment("dev"), auto_approve=True, options=NO_GATE)
    assert not (project.environment("dev").directory / "terraform.tfstate").exists(), "nothing was applied"
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("TFKIT_TEST_KEY", key)
    snapshot_id = apply(project.environment("dev"), auto_approve=True, options=NO_GATE).snapshot
    snap = snapshot_store(project).get(snapshot_id)
    assert snap.manifest.state_encrypted
    assert TEST_SECRET.encode() not in (snap.path / "state.enc").read_bytes()
    assert TEST_SECRET in snap.state(key.encode()).decode()  # the full state, only with the key
    shown = tfkit_cli(
        "snapshots", "show", snapshot_id, "--state", cwd=example_repo, env={"TFKIT_TEST_KEY": key}
    )
    assert shown.returncode == 0 and "state: module.service.terraform_data.database" in shown.stdout
    missing = tfkit_cli(
        "snapshots", "show", snapshot_id, "--state", cwd=example_repo, env={"TFKIT_TEST_KEY": ""}
    )
    assert missing.returncode == 2 and "TFKIT_TEST_KEY, which is not set" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_var_files_must_live_in_the_environment(example_repo: Path) -> None:
    from tfkit.errors import ConfigError

    toml = example_repo / "tfkit.toml"
    toml.write_text(
        toml.read_text().replace('var_files = ["dev.tfvars"]', 'var_files = ["../staging/staging.tfvars"]')
    )
    with pytest.raises(ConfigError, match="outside the environment's directory"):
        Project.load(example_repo).environment("dev").check()
