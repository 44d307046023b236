"""The example repository's environments, tested the way a platform team tests its own.

Copy this file to start: the fixtures come from tfkit's pytest plugin (``tfkit_plan`` plans each environment
in a private copy, so nothing here touches real state), the assertions from ``tfkit.testing``. Run with
``pytest tests/infra`` (add ``--tfkit-env staging`` to test one environment).
"""

from __future__ import annotations

import pytest

from tfkit.testing import assert_no_deletes, assert_only, assert_policies_pass, assert_resource

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def db_password():
    """CI injects the database password as TF_VAR_db_password (tfkit.toml's secret source allows it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TF_VAR_db_password", "ci-only-test-password-0123")
        yield


def test_every_environment_passes_the_gate(tfkit_env, tfkit_plan, tfkit_project):
    assert_policies_pass(tfkit_plan(tfkit_env), env=tfkit_env, project=tfkit_project)


def test_a_new_environment_is_only_created(tfkit_env, tfkit_plan):
    plan = tfkit_plan(tfkit_env)
    assert_only(plan, actions="create")
    assert_no_deletes(plan)


@pytest.mark.tfkit(env=["staging", "production"])
def test_services_have_a_backup_group(tfkit_env, tfkit_plan):
    plan = tfkit_plan(tfkit_env)
    assert_resource(plan, "module.service.terraform_data.backup[0]").created_with(
        {"input.role": "backup", "input.name": f"{tfkit_env}-app-backup", "input.tags": {"env": tfkit_env}}
    )


@pytest.mark.tfkit(env="production")
def test_production_runs_three_zones(tfkit_env, tfkit_plan):
    plan = tfkit_plan(tfkit_env)
    zones = sorted(str(rc.index) for rc in plan.by_type("terraform_data") if rc.name == "subnet")
    assert zones == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


@pytest.mark.tfkit(env="staging")
def test_turning_off_the_backup_in_staging_is_refused(tfkit_env, tfkit_plan, tfkit_project):
    plan = tfkit_plan(tfkit_env, vars={"backup_enabled": False})
    with pytest.raises(
        AssertionError, match=r"REPO001 module\.service\.terraform_data\.primary: service has no backup"
    ):
        assert_policies_pass(plan, env=tfkit_env, project=tfkit_project)
