"""Gated apply, snapshots, rollback, promotion order and health.

The workflow's decisions are tested through the engine seam: ``RecordedTerraform`` serves plans
recorded from real runs of the example repository (``tests/recorded.py``), so each test takes
milliseconds and still decides on real Terraform plans. A few end-to-end journeys run real Terraform
on both engines, each on a copy of one template in which dev and staging were applied once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from recorded import RecordedTerraform, add_failing_migration, change_service_module
from testsupport import TEST_SECRET, copy_example, core_config, invoke_tfkit

from tfkit.bundle import files_digest
from tfkit.errors import (
    ApplyFailedError,
    ApplyRefusedError,
    ConfigError,
    GateFailedError,
    LineageMismatchError,
    PromotionError,
    SnapshotError,
    TerraformError,
    UnstableEnvironmentError,
)
from tfkit.journal import UnfinishedApplyWarning
from tfkit.ledger import LocalLedger
from tfkit.project import Project
from tfkit.snapshots import LocalSnapshotStore
from tfkit.workflow import RunOptions, Session, apply, promote, rollback, status

MODULES = {"modules/access", "modules/network", "modules/service"}


@pytest.fixture
def world() -> RecordedTerraform:
    """The recorded Terraform the test's sessions share (queued plans, fake states)."""
    return RecordedTerraform()


@pytest.fixture
def project(example_repo: Path) -> Project:
    """A private copy of the example repository (nothing applied)."""
    return Project.load(example_repo)


def seam(world: RecordedTerraform, *, gate: bool = False) -> RunOptions:
    """Run options whose sessions use ``world``'s recorded-plan engines."""
    return RunOptions(gate=gate, engine_factory=world.factory)


def apply_v1(project: Project, world: RecordedTerraform, *envs: str) -> None:
    """Apply the recorded v1 of ``envs`` (a create, then the follow-up plan that verifies it)."""
    for env in envs:
        world.serve(env, f"{env}-create", f"{env}-noop")
        outcome = apply(project.environment(env), auto_approve=True, options=seam(world))
        assert outcome.applied and outcome.converged and outcome.snapshot


# ---------------------------------------------------------------------- decisions, through the seam


def test_apply_records_snapshot_ledger_and_health(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev", "staging")
    (snap,) = LocalSnapshotStore(project.state_dir / "snapshots").list("staging")
    manifest = snap.manifest
    assert manifest.kind == "apply" and manifest.environment == "staging" and manifest.engine == "recorded"
    assert manifest.lineage == world.states["staging"]["lineage"] and manifest.serial == 1
    assert manifest.terraform_version.startswith("1.")
    assert set(manifest.modules) == MODULES
    assert manifest.sensitive_variables == ("db_password",)
    assert not manifest.state_encrypted
    bundle = snap.bundle()
    assert "envs/staging/main.tf" in bundle and "modules/service/main.tf" in bundle
    assert manifest.config_digest == files_digest(bundle)
    variables = snap.json("variables.json")
    assert variables["environment"] == "staging" and "db_password" not in variables
    snap.verify()
    for path in snap.path.rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), path
    ledger = LocalLedger(project.state_dir)
    assert ledger.last("staging").snapshot == snap.id and ledger.last("staging").modules == manifest.modules
    assert ledger.health("staging").stable
    rows = {r.environment: r for r in status(project)}
    assert rows["staging"].snapshot == snap.id and rows["production"].last_apply is None
    assert world.applied == [("dev", "dev-create"), ("staging", "staging-create")]


def test_a_plan_that_fails_the_gate_is_never_applied(project: Project, world: RecordedTerraform) -> None:
    toml = project.root / "tfkit.toml"  # Python policies only: Checkov has its own tests
    toml.write_text(toml.read_text().replace("[checkov]", "[checkov]\nenabled = false", 1))
    project = Project.load(project.root)
    world.serve("dev", "dev-public-http")
    with pytest.raises(GateFailedError, match="REPO002") as refused:
        apply(project.environment("dev"), auto_approve=True, options=seam(world, gate=True))
    assert refused.value.exit_code == 1 and not refused.value.result.passed
    assert world.applied == []
    assert (
        LocalSnapshotStore(project.state_dir / "snapshots").list("dev") == []
        and LocalLedger(project.state_dir).last("dev") is None
    )


def test_failed_apply_marks_unstable_and_rollback_restores_v1(
    project: Project, world: RecordedTerraform
) -> None:
    apply_v1(project, world, "dev")
    change_service_module(project.root)
    dev = project.environment("dev")
    world.fail("dev")
    world.serve("dev", "dev-v2")
    with pytest.raises(TerraformError, match="migration failed"):
        apply(dev, auto_approve=True, options=seam(world))
    ledger = LocalLedger(project.state_dir)
    health = ledger.health("dev")
    assert not health.stable and "apply failed: local-exec provisioner error" in health.reason
    with pytest.raises(UnstableEnvironmentError) as refused:
        apply(dev, auto_approve=True, options=seam(world))
    assert refused.value.exit_code == 4 and "tfkit rollback --env dev" in str(refused.value)
    # The journal keeps the failed apply, with who ran it and why it did not finish.
    assert "'dev' has an unfinished apply by " in str(refused.value)
    (row,) = [r for r in status(project) if r.environment == "dev"]
    assert row.health == "unstable" and row.unfinished is not None
    assert row.unfinished.endswith("; apply failed: local-exec provisioner error")

    world.serve("dev", "dev-back-to-v1", "dev-noop")
    with pytest.warns(UnfinishedApplyWarning, match="this rollback replaces it"):
        outcome = rollback(dev, auto_approve=True, options=seam(world))
    assert outcome.applied and outcome.converged
    assert [r.unfinished for r in status(project) if r.environment == "dev"] == [None]
    assert outcome.differences == (), "the rollback plans exactly the recorded good values"
    assert ledger.health("dev").stable
    assert world.applied[-1] == ("dev", "dev-back-to-v1")
    store = LocalSnapshotStore(project.state_dir / "snapshots")
    assert [s.manifest.kind for s in store.list("dev")] == ["apply", "rollback"]
    assert store.latest("dev").manifest.restored_from == outcome.restored
    assert "primary-v2" not in store.latest("dev").bundle()["modules/service/main.tf"].decode()


def test_rollback_on_failure_in_one_call(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev")
    change_service_module(project.root)
    world.fail("dev")
    world.serve("dev", "dev-v2", "dev-back-to-v1", "dev-noop")
    with pytest.raises(ApplyFailedError) as failed:
        apply(project.environment("dev"), auto_approve=True, rollback_on_failure=True, options=seam(world))
    assert failed.value.rollback is not None and "rolled back to snapshot" in str(failed.value)
    assert failed.value.exit_code == 1 and isinstance(failed.value.cause, TerraformError)
    assert LocalLedger(project.state_dir).health("dev").stable
    assert [name for _, name in world.applied] == ["dev-create", "dev-v2", "dev-back-to-v1"]


def test_promotion_order(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev", "staging", "production")  # each previous one has v1: allowed
    change_service_module(project.root)
    world.serve("dev", "dev-v2", "dev-v2-noop")
    assert apply(project.environment("dev"), auto_approve=True, options=seam(world)).applied
    world.serve("production", "production-v2")
    with pytest.raises(PromotionError) as refused:
        apply(project.environment("production"), auto_approve=True, options=seam(world))
    message = str(refused.value)
    assert "modules/service" in message and "apply 'staging' first" in message
    assert refused.value.exit_code == 4
    assert ("production", "production-v2") not in world.applied
    world.serve("staging", "staging-v2", "staging-v2-noop")
    assert apply(project.environment("staging"), auto_approve=True, options=seam(world)).applied
    world.serve("production", "production-v2", "production-v2-noop")
    assert apply(project.environment("production"), auto_approve=True, options=seam(world)).applied


def test_a_newer_module_is_refused_before_the_previous_environment_applied_anything(
    project: Project, world: RecordedTerraform
) -> None:
    world.serve("staging", "staging-create")
    with pytest.raises(PromotionError, match="'dev' has no successful apply yet"):
        apply(project.environment("staging"), auto_approve=True, options=seam(world))


def test_override_is_recorded(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev", "staging")
    change_service_module(project.root)
    world.serve("staging", "staging-v2", "staging-v2-noop")
    apply(
        project.environment("staging"),
        auto_approve=True,
        skip_promotion_check="hotfix INC-42",
        options=seam(world),
    )
    ledger = LocalLedger(project.state_dir)
    entry = ledger.last("staging")
    assert [(o.rule, o.reason) for o in entry.overrides] == [("skip-promotion-check", "hotfix INC-42")]
    assert entry.modules["modules/service"] != ledger.last("dev").modules["modules/service"]


def test_promote_uses_modules_as_previous_environment_applied_them(
    project: Project, world: RecordedTerraform
) -> None:
    apply_v1(project, world, "dev", "staging", "production")
    change_service_module(project.root)  # in the working tree only: staging is still v1
    world.serve("production", "production-noop")
    outcome = promote(project.environment("production"), auto_approve=True, options=seam(world))
    assert not outcome.applied and outcome.converged
    world.serve("dev", "dev-v2", "dev-v2-noop")
    world.serve("staging", "staging-v2", "staging-v2-noop")
    apply(project.environment("dev"), auto_approve=True, options=seam(world))
    apply(project.environment("staging"), auto_approve=True, options=seam(world))
    world.serve("production", "production-v2", "production-v2-noop")
    outcome = promote(project.environment("production"), auto_approve=True, options=seam(world))
    assert outcome.applied and outcome.converged
    ledger = LocalLedger(project.state_dir)
    assert ledger.last("production").modules == ledger.last("staging").modules
    assert LocalSnapshotStore(project.state_dir / "snapshots").latest("production").manifest.kind == "promote"


def test_apply_needs_confirmation_without_terminal(project: Project, world: RecordedTerraform) -> None:
    world.serve("dev", "dev-create")
    with pytest.raises(ApplyRefusedError, match="--auto-approve"):
        apply(project.environment("dev"), options=seam(world))
    assert world.applied == []


def test_rollback_without_snapshot(project: Project, world: RecordedTerraform) -> None:
    with pytest.raises(SnapshotError, match="no snapshot of 'dev' to roll back to"):
        rollback(project.environment("dev"), auto_approve=True, options=seam(world))


def test_unknown_snapshot_id(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev", "staging")
    with pytest.raises(SnapshotError, match="no snapshot with id 'nope'"):
        rollback(project.environment("staging"), to="nope", auto_approve=True, options=seam(world))
    dev_snapshot = LocalSnapshotStore(project.state_dir / "snapshots").latest("dev").id
    with pytest.raises(SnapshotError, match="belongs to 'dev'"):
        rollback(project.environment("staging"), to=dev_snapshot, auto_approve=True, options=seam(world))


def test_lineage_mismatch_is_refused(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev")
    world.new_lineage("dev")  # the state file was replaced by another one
    with pytest.raises(LineageMismatchError, match="lineage") as refused:
        rollback(project.environment("dev"), auto_approve=True, options=seam(world))
    assert refused.value.exit_code == 4
    assert world.applied == [("dev", "dev-create")]


def test_tampered_snapshot_is_detected(project: Project, world: RecordedTerraform) -> None:
    apply_v1(project, world, "dev")
    snap = LocalSnapshotStore(project.state_dir / "snapshots").latest("dev")
    target = snap.path / "bundle" / "modules" / "network" / "main.tf"
    target.write_text(target.read_text() + "\n# edited\n")
    with pytest.raises(SnapshotError, match=r"bundle/modules/network/main\.tf does not match its digest"):
        rollback(project.environment("dev"), auto_approve=True, options=seam(world))


def test_encrypted_state_and_key_errors(
    project: Project, world: RecordedTerraform, monkeypatch: pytest.MonkeyPatch, tfkit_cli
) -> None:
    from cryptography.fernet import Fernet

    toml = project.root / "tfkit.toml"
    toml.write_text(toml.read_text() + '\n[snapshots]\nencryption_key_env = "TFKIT_TEST_KEY"\n')
    project = Project.load(project.root)
    monkeypatch.setenv("TFKIT_TEST_KEY", "not-a-key")
    with pytest.raises(ConfigError, match="TFKIT_TEST_KEY does not hold a valid Fernet key"):
        apply(project.environment("dev"), auto_approve=True, options=seam(world))
    assert world.applied == [], "a bad key is found before anything is applied"
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("TFKIT_TEST_KEY", key)
    world.serve("dev", "dev-create", "dev-noop")
    snapshot_id = apply(project.environment("dev"), auto_approve=True, options=seam(world)).snapshot
    snap = LocalSnapshotStore(project.state_dir / "snapshots").get(snapshot_id)
    assert snap.manifest.state_encrypted
    lineage = world.states["dev"]["lineage"]
    assert lineage.encode() not in (snap.path / "state.enc").read_bytes()
    assert json.loads(snap.state(key.encode())) == world.states["dev"]  # the full state, only with the key
    missing = tfkit_cli(
        "snapshots", "show", snapshot_id, "--state", cwd=project.root, env={"TFKIT_TEST_KEY": ""}
    )
    assert missing.returncode == 2 and "TFKIT_TEST_KEY, which is not set" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_var_files_must_live_in_the_environment(example_repo: Path) -> None:
    toml = example_repo / "tfkit.toml"
    toml.write_text(
        toml.read_text().replace('var_files = ["dev.tfvars"]', 'var_files = ["../staging/staging.tfvars"]')
    )
    with pytest.raises(ConfigError, match="outside the environment's directory"):
        Project.load(example_repo).environment("dev").check()


# ------------------------------------------------------------------ journeys with real Terraform


def state_inputs(project: Project, env: str, options: RunOptions) -> dict[str, object]:
    """``{address: input}`` of every terraform_data in the environment's real state."""
    with Session(project.environment(env), options) as s:
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


@pytest.fixture(scope="session")
def applied_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example repository with dev and staging applied for real, through the gate, once per session."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TF_VAR_db_password", "TFKIT_ENGINE", "TFKIT_BINARY"):
            patch.delenv(name, raising=False)
        repo = copy_example(tmp_path_factory.mktemp("template") / "repo")
        project = Project.load(repo)
        for name in ("dev", "staging"):
            options = RunOptions(engine="embedded")
            outcome = apply(project.environment(name), auto_approve=True, options=options)
            assert outcome.applied and outcome.converged and outcome.snapshot
            assert outcome.gate is not None and outcome.gate.passed
        yield repo


@pytest.fixture
def applied(applied_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A private copy of the applied template (its local states, snapshots and ledger included)."""
    for name in ("TF_VAR_db_password", "TFKIT_ENGINE", "TFKIT_BINARY"):
        monkeypatch.delenv(name, raising=False)
    return Project.load(shutil.copytree(applied_template, tmp_path / "repo", symlinks=True))


@pytest.mark.slow
def test_journey_failed_apply_then_rollback_on_the_embedded_engine(applied: Project) -> None:
    options = RunOptions(gate=False, engine="embedded")
    repo = applied.root
    v1_modules = repo.parent / "v1-modules"
    shutil.copytree(repo / "modules", v1_modules)
    v1_inputs = state_inputs(applied, "staging", options)
    add_failing_migration(repo)
    staging = applied.environment("staging")
    with pytest.raises(TerraformError, match=r"migration failed|local-exec"):
        apply(staging, auto_approve=True, skip_promotion_check="testing a failure", options=options)
    assert not LocalLedger(applied.state_dir).health("staging").stable
    assert state_inputs(applied, "staging", options) != v1_inputs  # the apply got part-way

    with pytest.warns(UnfinishedApplyWarning, match="'staging' has an unfinished apply by .*apply failed"):
        outcome = rollback(staging, auto_approve=True, options=options)
    assert outcome.applied and outcome.converged
    assert LocalLedger(applied.state_dir).health("staging").stable
    assert state_inputs(applied, "staging", options) == v1_inputs
    shutil.rmtree(repo / "modules")
    shutil.copytree(v1_modules, repo / "modules")
    with Session(staging, options) as s:
        assert not s.plan().has_changes, "the v1 configuration plans no changes after the rollback"
    kinds = [s.manifest.kind for s in LocalSnapshotStore(applied.state_dir / "snapshots").list("staging")]
    assert kinds == ["apply", "rollback"]
    for path in applied.state_dir.rglob("*"):
        if path.is_file():
            assert TEST_SECRET.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_journey_rollback_on_failure_on_the_binary_engine(applied: Project, terraform_binary: str) -> None:
    options = RunOptions(gate=False, engine="binary", binary=terraform_binary)
    v1_inputs = state_inputs(applied, "staging", options)
    add_failing_migration(applied.root)
    with pytest.raises(ApplyFailedError) as failed:
        apply(
            applied.environment("staging"),
            auto_approve=True,
            rollback_on_failure=True,
            skip_promotion_check="testing",
            options=options,
        )
    assert failed.value.rollback is not None and "rolled back to snapshot" in str(failed.value)
    assert LocalLedger(applied.state_dir).health("staging").stable
    assert state_inputs(applied, "staging", options) == v1_inputs
    assert (
        LocalSnapshotStore(applied.state_dir / "snapshots")
        .latest("staging")
        .manifest.engine.startswith("binary:")
    )


@pytest.mark.slow
def test_journey_rollback_on_failure_through_the_cli(applied: Project) -> None:
    repo = applied.root
    (repo / "tfkit.toml").write_text(core_config())  # policies only: no Checkov run in this journey
    add_failing_migration(repo)
    failed = invoke_tfkit(
        "apply", "--env", "staging", "--auto-approve", "--rollback-on-failure",
        "--skip-promotion-check", "--reason", "testing", cwd=repo,
    )  # fmt: skip
    assert failed.returncode == 1, failed.stderr
    shown = failed.stdout
    good = LocalSnapshotStore(applied.state_dir / "snapshots").list("staging")[0].id
    heading = f"Rollback plan for 'staging' (restoring snapshot {good}):"
    assert shown.count("Terraform ") == 2 and heading in shown  # two plan blocks, the second one headed
    assert shown.index(heading) > shown.index("Terraform ")
    rollback_block = shown[shown.index(heading) :]
    # the rollback plan is not the recorded good plan (that one created staging), yet it restores it
    assert "Plan: 0 to add, 1 to change, 1 to destroy." in rollback_block
    assert "reproduces" not in shown
    assert (
        f"After this plan, the resources match the recorded good plan of snapshot {good}; "
        "the changes above get them there." in rollback_block
    )

    listed = invoke_tfkit("snapshots", "list", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines.index("dev:") < lines.index("staging:") < lines.index("production: no snapshots yet")
    staging = lines[lines.index("staging:") + 1 : lines.index("production: no snapshots yet")]
    assert [line.split()[1] for line in staging] == ["apply", "rollback"]
    assert staging[0].split()[0] == good
    only = invoke_tfkit("snapshots", "list", "--env", "staging", cwd=repo)
    assert only.stdout.splitlines() == [line.strip() for line in staging]


@pytest.mark.slow
def test_journey_rollback_through_the_cli_says_what_the_plan_restores(applied: Project) -> None:
    repo = applied.root
    (repo / "tfkit.toml").write_text(core_config())
    add_failing_migration(repo)
    failed = invoke_tfkit(
        "apply",
        "--env",
        "staging",
        "--auto-approve",
        "--skip-promotion-check",
        "--reason",
        "testing",
        cwd=repo,
    )
    assert failed.returncode == 1 and "Rollback plan" not in failed.stdout
    good = LocalSnapshotStore(applied.state_dir / "snapshots").latest("staging").id

    rolled = invoke_tfkit("rollback", "--env", "staging", "--auto-approve", cwd=repo)
    assert rolled.returncode == 0, rolled.stderr
    assert rolled.stdout.startswith(f"Rollback plan for 'staging' (restoring snapshot {good}):\n")
    assert "Plan: 0 to add, 1 to change, 1 to destroy." in rolled.stdout and "reproduces" not in rolled.stdout
    assert (
        f"the resources match the recorded good plan of snapshot {good}; the changes above" in rolled.stdout
    )

    again = invoke_tfkit("rollback", "--env", "staging", "--auto-approve", cwd=repo)
    assert again.returncode == 0, again.stderr
    latest = LocalSnapshotStore(applied.state_dir / "snapshots").list("staging")[-2].id
    assert (
        f"No changes: the resources already match the recorded good plan of snapshot {latest}."
        in again.stdout
    )


@pytest.mark.slow
def test_journey_a_backend_added_beside_local_state_is_refused_and_explained(
    applied: Project, terraform_binary: str
) -> None:
    repo = applied.root
    directory = repo / "envs" / "staging"
    (directory / "backend.tf").write_text(
        'terraform {\n  backend "local" {\n    path = "other.tfstate"\n  }\n}\n'
    )
    before = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}
    assert json.loads(before["terraform.tfstate"])["resources"]

    refused = invoke_tfkit("plan", "--env", "staging", cwd=repo)
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.splitlines() == [
        "error: 'staging' now declares a backend of its own, but its state is still local in "
        "envs/staging/terraform.tfstate: move it on purpose with `terraform -chdir=envs/staging init "
        "-migrate-state` (or restore the previous backend); tfkit changed nothing"
    ]
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()} == before  # nothing moved

    # The command the message names moves the state; then tfkit plans against it, with nothing to change.
    migrated = subprocess.run(
        [terraform_binary, "-chdir=envs/staging", "init", "-migrate-state", "-force-copy", "-input=false"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads((directory / "other.tfstate").read_bytes())["resources"]
    planned = invoke_tfkit("plan", "--env", "staging", cwd=repo)
    assert planned.returncode == 0, planned.stderr
    assert "No changes" in planned.stdout


def _forge(snapshot_dir: Path, name: str, data: bytes) -> None:
    """Rewrite a snapshot file and its digest in the manifest (issue 19's attack on the local store)."""
    import hashlib

    (snapshot_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (snapshot_dir / name).write_bytes(data)
    manifest = json.loads((snapshot_dir / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    (snapshot_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _one_line_refusal(repo: Path, *args: str) -> str:
    result = invoke_tfkit("rollback", "--env", "staging", "--auto-approve", *args, cwd=repo)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "Rollback plan" not in result.stdout, "refused before Terraform planned anything"
    return result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("variables.json", b'{"db_password": "planted-password"}'),
        (
            "bundle/envs/staging/zz_exec.tf",
            b'resource "terraform_data" "x" {\n  provisioner "local-exec" {\n'
            b'    command = "touch /tmp/tfkit-planted"\n  }\n}\n',
        ),
        (
            "bundle/envs/staging/zz_override.tf",
            b'terraform {\n  backend "local" {\n    path = "/tmp/other"\n  }\n}\n',
        ),
    ],
    ids=["planted-variables", "planted-local-exec", "planted-backend-override"],
)
def test_journey_a_snapshot_rewritten_with_its_digest_is_refused(
    applied: Project, name: str, data: bytes
) -> None:
    repo = applied.root
    before = (repo / "envs/staging/terraform.tfstate").read_bytes()
    snap = LocalSnapshotStore(applied.state_dir / "snapshots").latest("staging")
    _forge(snap.path, name, data)
    message = _one_line_refusal(repo)
    assert f"refusing snapshot {snap.id} of 'staging'" in message
    assert "is not the one the ledger recorded when it was applied" in message
    assert (repo / "envs/staging/terraform.tfstate").read_bytes() == before


@pytest.mark.slow
def test_journey_a_damaged_newest_snapshot_stops_rollback_and_to_picks_another(applied: Project) -> None:
    repo = applied.root
    snaps = LocalSnapshotStore(applied.state_dir / "snapshots")
    first = snaps.latest("staging").id
    again = invoke_tfkit("rollback", "--env", "staging", "--auto-approve", cwd=repo)
    assert again.returncode == 0, again.stderr
    newest = snaps.latest("staging")
    assert newest.id != first
    manifest = newest.path / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:40])  # truncated

    message = _one_line_refusal(repo)
    assert f"the newest snapshot of 'staging', {newest.id}, cannot be used" in message
    assert "pick another with --to ID" in message
    picked = invoke_tfkit("rollback", "--env", "staging", "--auto-approve", "--to", first, cwd=repo)
    assert picked.returncode == 0, picked.stderr
    assert f"restoring snapshot {first}" in picked.stdout


@pytest.mark.slow
def test_journey_a_manifest_of_dev_in_stagings_folder_is_refused(applied: Project) -> None:
    repo = applied.root
    snaps = LocalSnapshotStore(applied.state_dir / "snapshots")
    dev, staging = snaps.latest("dev"), snaps.latest("staging")
    shutil.rmtree(staging.path)
    shutil.copytree(dev.path, staging.path)  # dev's snapshot under staging's newest id
    message = _one_line_refusal(repo)
    assert f"the newest snapshot of 'staging', {staging.id}, cannot be used" in message
    assert f"describes snapshot {dev.id} of 'dev' but is stored as {staging.id} of 'staging'" in message


@pytest.mark.slow
def test_journey_a_copied_configuration_always_runs_on_the_real_state(
    applied: Project, tmp_path: Path
) -> None:
    staging = applied.environment("staging")
    copy = tmp_path / "copy" / "envs" / "staging"
    shutil.copytree(
        applied.root / "envs", tmp_path / "copy" / "envs", ignore=shutil.ignore_patterns("*.tfstate*")
    )
    shutil.copytree(applied.root / "modules", tmp_path / "copy" / "modules")
    (copy / "zz_override.tf").write_text(
        'terraform {\n  backend "local" {\n    path = "' + str(tmp_path / "other.tfstate") + '"\n  }\n}\n'
    )
    session = Session(staging, RunOptions(engine="embedded"), workdir=copy, state_of_environment=True)
    with session, pytest.raises(SnapshotError, match="its files point Terraform at another state than"):
        session.init()
    assert not (tmp_path / "other.tfstate").exists()
