"""Both engines, run for real on copies of the example repository."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from testsupport import TEST_SECRET

from tfkit.errors import (
    EngineNotFoundError,
    MissingVariableError,
    StalePlanError,
    TerraformConfigError,
)
from tfkit.terraform import open_engine

pytestmark = pytest.mark.slow


def staging(repo: Path) -> tuple[Path, list[Path]]:
    env_dir = repo / "envs" / "staging"
    return env_dir, [env_dir / "staging.tfvars"]


def open_kind(kind: str, workdir: Path, secret: str | None = TEST_SECRET):
    env = {"TF_VAR_db_password": secret} if secret else {}
    binary = os.environ.get("TFKIT_BINARY", "terraform")
    return open_engine(kind, workdir, binary=binary, env=env)


def changes(plan_json: bytes) -> dict[str, list[str]]:
    doc = json.loads(plan_json)
    return {rc["address"]: rc["change"]["actions"] for rc in doc.get("resource_changes", [])}


def test_full_lifecycle(example_repo: Path, engine_kind: str) -> None:
    workdir, var_files = staging(example_repo)
    with open_kind(engine_kind, workdir) as eng:
        version = eng.version()
        assert version.terraform_version.startswith("1.")
        eng.init()
        assert eng.validate().valid
        first = eng.plan(out=eng.run_dir / "p1", var_files=var_files)
        assert first.has_changes
        assert first.counts is not None and first.counts.add == 10 and first.counts.remove == 0
        plan_json = eng.show_plan(first.plan_file)
        acts = changes(plan_json)
        assert len(acts) == 10 and all(a == ["create"] for a in acts.values())
        assert 'module.network.terraform_data.subnet["eu-west-1a"]' in acts
        applied = eng.apply(first.plan_file)
        assert applied.counts is not None and applied.counts.add == 10
        outputs = eng.output()
        assert outputs["rule_count"].value == 3
        assert outputs["service_endpoint"].value == "staging-app.service.internal"
        state = json.loads(eng.state_pull())
        assert state["lineage"] and state["serial"] >= 1
        again = eng.plan(out=eng.run_dir / "p2", var_files=var_files)
        assert not again.has_changes
        eng.destroy(var_files=var_files)
        assert json.loads(eng.state_pull())["resources"] == []
    assert not eng.run_dir.exists(), "the run directory (plan files hold secrets) is removed on close"


def test_both_engines_give_the_same_plan_shape(example_repo: Path, terraform_binary: str) -> None:
    workdir, var_files = staging(example_repo)
    docs = {}
    for kind in ("embedded", "binary"):
        with open_engine(
            kind, workdir, binary=terraform_binary, env={"TF_VAR_db_password": TEST_SECRET}
        ) as eng:
            eng.init()
            planned = eng.plan(out=eng.run_dir / "p", var_files=var_files)
            docs[kind] = json.loads(eng.show_plan(planned.plan_file))
    embedded, binary = docs["embedded"], docs["binary"]
    assert {k for k in embedded if k not in ("timestamp",)} >= {
        "format_version",
        "resource_changes",
        "variables",
    }
    assert set(embedded) == set(binary)
    assert changes(json.dumps(embedded).encode()) == changes(json.dumps(binary).encode())
    assert embedded["variables"].keys() == binary["variables"].keys()


def test_module_change_shows_as_update(example_repo: Path, engine_kind: str) -> None:
    workdir, var_files = staging(example_repo)
    with open_kind(engine_kind, workdir) as eng:
        eng.init()
        eng.apply(eng.plan(out=eng.run_dir / "p1", var_files=var_files).plan_file)
    network = example_repo / "modules" / "network" / "main.tf"
    network.write_text(
        network.read_text().replace("cidr = var.cidr", 'cidr = var.cidr\n    tier = "core"', 1)
    )
    with open_kind(engine_kind, workdir) as eng:
        eng.init()
        planned = eng.plan(out=eng.run_dir / "p2", var_files=var_files)
        assert planned.has_changes
        acts = changes(eng.show_plan(planned.plan_file))
    updated = {a for a, act in acts.items() if act == ["update"]}
    assert updated == {"module.network.terraform_data.vpc"}


def test_stale_plan_is_refused(example_repo: Path, engine_kind: str) -> None:
    workdir, var_files = staging(example_repo)
    with open_kind(engine_kind, workdir) as eng:
        eng.init()
        old = eng.plan(out=eng.run_dir / "old", var_files=var_files)
        newer = eng.plan(out=eng.run_dir / "new", var_files=var_files)
        eng.apply(newer.plan_file)
        with pytest.raises(StalePlanError) as info:
            eng.apply(old.plan_file)
    message = str(info.value)
    assert "Saved plan is stale" in message and "plan again" in message
    assert "\n" not in message and info.value.exit_code == 1


def test_hcl_syntax_error_in_module(example_repo: Path, engine_kind: str) -> None:
    broken = example_repo / "modules" / "access" / "main.tf"
    broken.write_text(broken.read_text() + '\nresource "terraform_data" "oops" {\n')
    with (
        open_kind(engine_kind, example_repo / "envs" / "dev") as eng,
        pytest.raises(TerraformConfigError) as info,
    ):
        eng.init()
    err = info.value
    located = [d for d in err.errors if d.filename]
    assert located and located[0].filename.endswith("modules/access/main.tf")
    assert located[0].line is not None
    assert "modules/access/main.tf:" in str(err) and "\n" not in str(err)
    assert err.exit_code == 2


def test_missing_required_variable(example_repo: Path, engine_kind: str) -> None:
    workdir, var_files = staging(example_repo)
    with open_kind(engine_kind, workdir, secret=None) as eng:
        eng.init()
        with pytest.raises(MissingVariableError) as info:
            eng.plan(out=eng.run_dir / "p", var_files=var_files)
    assert "no value for required variable db_password" in str(info.value)
    assert info.value.exit_code == 2


def test_binary_not_installed(tmp_path: Path) -> None:
    with pytest.raises(EngineNotFoundError, match="'no-such-terraform' not found on PATH"):
        open_engine("binary", tmp_path, binary="no-such-terraform")


def test_missing_cli_config_file_does_not_warn(example_repo: Path, engine_kind: str, monkeypatch) -> None:
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(example_repo / "does-not-exist.rc"))
    with open_kind(engine_kind, example_repo / "envs" / "dev") as eng:
        result = eng.init()
    assert not result.warnings
    assert "Unable to open CLI configuration file" not in result.stdout + result.stderr
