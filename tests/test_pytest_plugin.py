"""The pytest plugin, run for real with pytester: fixtures, marker, options, failures, record/replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from testsupport import TEST_SECRET, copy_example

pytest_plugins = ["pytester"]


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TF_VAR_db_password", raising=False)
    monkeypatch.delenv("TFKIT_ENGINE", raising=False)
    return copy_example(pytester.path / "repo")


@pytest.mark.slow
def test_plan_fixture_and_assertions_pass_and_fail_readably(pytester: pytest.Pytester, repo: Path) -> None:
    pytester.makepyfile(
        test_infra="""
        from tfkit.testing import assert_no_deletes, assert_resource

        def test_staging_creates_only(tfkit_plan):
            plan = tfkit_plan("staging")
            assert_no_deletes(plan)
            assert plan is tfkit_plan("staging")  # cached for the session

        def test_wrong_cidr(tfkit_plan):
            vpc = assert_resource(tfkit_plan("staging"), "module.network.terraform_data.vpc")
            vpc.created_with({"input.cidr": "10.99.0.0/16"})

        def test_project(tfkit_project):
            assert tfkit_project.names == ("dev", "staging", "production")
        """
    )
    result = pytester.runpytest("--tfkit-root", str(repo), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*module.network.terraform_data.vpc (create) has unexpected values:",
            '*input.cidr: expected "10.99.0.0/16", got "10.20.0.0/16"',
        ]
    )
    text = result.stdout.str()
    assert TEST_SECRET not in text
    assert "_assertions.py" not in text  # the helper's own frames are hidden
    assert not list((repo / "envs").rglob("*.tfstate")) and not list((repo / "envs").rglob(".terraform"))


def test_tfkit_env_is_parametrized_by_marker_and_narrowed_by_option(
    pytester: pytest.Pytester, repo: Path
) -> None:
    pytester.makepyfile(
        test_envs="""
        import pytest

        @pytest.mark.tfkit(env=["dev", "staging"])
        def test_marked(tfkit_env):
            assert tfkit_env in ("dev", "staging")

        def test_every_env(tfkit_env):
            assert tfkit_env in ("dev", "staging", "production")

        @pytest.mark.tfkit(env="production")
        def test_production_only(tfkit_env):
            assert tfkit_env == "staging", "fails on purpose"
        """
    )
    everything = pytester.runpytest("--tfkit-root", str(repo), "-v", "-p", "no:cacheprovider")
    everything.assert_outcomes(passed=5, failed=1)
    everything.stdout.fnmatch_lines(
        ["*test_marked?dev? PASSED*", "*test_production_only?production? FAILED*"]
    )
    narrowed = pytester.runpytest(
        "--tfkit-root", str(repo), "--tfkit-env", "staging", "-v", "-p", "no:cacheprovider"
    )
    narrowed.assert_outcomes(passed=2, skipped=1)
    narrowed.stdout.fnmatch_lines(["*test_marked?staging? PASSED*", "*test_every_env?staging? PASSED*"])


@pytest.mark.slow
def test_record_then_replay_without_terraform(pytester: pytest.Pytester, repo: Path, monkeypatch) -> None:
    pytester.makepyfile(
        test_replay="""
        from tfkit.testing import assert_only

        def test_dev(tfkit_plan):
            assert_only(tfkit_plan("dev", vars={"max_size": 3}), actions="create")
        """
    )
    fixtures = pytester.path / "plans"
    args = ["--tfkit-root", str(repo), "--tfkit-fixtures", str(fixtures), "-p", "no:cacheprovider"]
    pytester.runpytest(*args, "--tfkit-replay", "record").assert_outcomes(passed=1)
    (recording,) = fixtures.iterdir()
    assert recording.name.startswith("dev-") and TEST_SECRET.encode() not in recording.read_bytes()
    monkeypatch.setenv("TFKIT_ENGINE", "binary")  # a replay that ran Terraform would fail on this binary
    monkeypatch.setenv("TFKIT_BINARY", str(pytester.path / "no-such-terraform"))
    pytester.runpytest(*args, "--tfkit-replay", "replay").assert_outcomes(passed=1)
    (repo / "envs" / "dev" / "dev.tfvars").write_text(
        (repo / "envs" / "dev" / "dev.tfvars").read_text() + "\n# edit\n"
    )
    stale = pytester.runpytest(*args, "--tfkit-replay", "replay")
    stale.assert_outcomes(errors=0, failed=1)
    stale.stdout.fnmatch_lines(
        ["*ReplayError: no recorded plan for dev with these inputs*--tfkit-replay record*"]
    )


#: A local state holding a resource the configuration does not have: planned from it, dev would delete it.
ORPHAN_STATE = {
    "version": 4,
    "terraform_version": "1.5.7",
    "serial": 3,
    "lineage": "left-by-make-demo",
    "outputs": {},
    "resources": [
        {
            "mode": "managed",
            "type": "terraform_data",
            "name": "orphan",
            "provider": 'provider["terraform.io/builtin/terraform"]',
            "instances": [{"schema_version": 0, "attributes": {"id": "x", "input": None, "output": None}}],
        }
    ],
}


@pytest.mark.slow
def test_the_private_copy_carries_no_local_state_or_working_files(repo: Path, tmp_path: Path) -> None:
    """After ``make demo`` the repository holds state, .terraform/ and .tfkit/; the plugin's copy has none."""
    import json

    from tfkit.project import Project
    from tfkit.testing import assert_no_deletes, assert_only
    from tfkit.testing.planner import Planner

    clean_key = Planner(Project.load(repo), tmp_path / "clean").key("dev", None)
    dev = repo / "envs" / "dev"
    (dev / "terraform.tfstate").write_text(json.dumps(ORPHAN_STATE))
    (dev / "terraform.tfstate.backup").write_text(json.dumps(ORPHAN_STATE))
    (dev / ".terraform" / "modules").mkdir(parents=True)
    (dev / ".terraform" / "modules" / "modules.json").write_text('{"Modules": [{"Key": "broken"}]}')
    (dev / ".terraform.tfstate.lock.info").write_text("{}")
    (dev / "old.tfplan").write_bytes(b"not a plan")
    (repo / "modules" / "network" / ".terraform").mkdir()
    for root in (repo, dev):
        (root / ".tfkit").mkdir()
        (root / ".tfkit" / "ledger.json").write_text("{}")

    planner = Planner(Project.load(repo), tmp_path / "work")
    assert planner.key("dev", None) == clean_key  # local files are not configuration: recordings still match
    plan = planner.plan("dev")
    assert_only(plan, actions="create")
    assert_no_deletes(plan)  # planned from the configuration alone, not from the planted state
    copied = {p.relative_to(planner.copy().root).as_posix() for p in planner.copy().root.rglob("*")}
    assert "envs/dev/main.tf" in copied and "modules/network/main.tf" in copied
    planted = ("tfstate", ".tfkit", "old.tfplan", "modules/network/.terraform", "lock.info")
    assert not [p for p in copied if any(part in p for part in planted)], sorted(copied)
    assert not [p for p in copied if p.startswith("envs/dev/.terraform/modules")]  # only the copy's own init
    assert (dev / "terraform.tfstate").read_text() == json.dumps(ORPHAN_STATE)  # the source is untouched
