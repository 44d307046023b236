"""tfkit.testing's assertions on real plans of the example repository: passing, and failing readably."""

from __future__ import annotations

import pytest
from testsupport import TEST_SECRET, copy_example

from tfkit import workflow
from tfkit.plan import Plan
from tfkit.project import Project
from tfkit.testing import (
    UNKNOWN,
    PlanAssertionError,
    assert_no_changes,
    assert_no_deletes,
    assert_only,
    assert_policies_pass,
    assert_resource,
)
from tfkit.testing.planner import Planner

pytestmark = pytest.mark.slow
NEW_PASSWORD = "rotated-password-0042-xyz"


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Planner:
    """The example with staging applied for real (in the planner's private copy)."""
    root = copy_example(tmp_path_factory.mktemp("example") / "repo")
    planner = Planner(Project.load(root), tmp_path_factory.mktemp("work"))
    with workflow.Session(planner.copy().environment("staging")) as session:
        session.apply(session.plan())
    return planner


@pytest.fixture(scope="module")
def unchanged(planner: Planner) -> Plan:
    return planner.plan("staging")


@pytest.fixture(scope="module")
def changed(planner: Planner) -> Plan:
    """Scale up, drop the backup group, rotate the database password."""
    return planner.plan(
        "staging",
        vars={"min_size": 3, "desired_size": 3, "backup_enabled": False, "db_password": NEW_PASSWORD},
    )


@pytest.fixture(scope="module")
def dev_plan(planner: Planner) -> Plan:
    return planner.plan("dev")


def test_passing_assertions(unchanged: Plan, dev_plan: Plan, planner: Planner) -> None:
    assert_no_changes(unchanged)
    assert_no_deletes(dev_plan)
    assert_only(dev_plan, actions="create")
    assert_resource(dev_plan, "module.network.terraform_data.vpc").created_with(
        {"input.cidr": "10.10.0.0/16", "input.tags": {"env": "dev"}, "id": UNKNOWN}
    )
    assert_resource(unchanged, "module.service.terraform_data.primary").unchanged()
    assert_policies_pass(dev_plan, env="dev", project=planner.copy())


def test_no_changes_lists_addresses_and_attribute_diffs_with_secrets_masked(changed: Plan) -> None:
    with pytest.raises(PlanAssertionError) as info:
        assert_no_changes(changed)
    text = str(info.value)
    assert text.startswith("expected no changes, but the plan has 3 resource change(s):")
    assert "  module.service.terraform_data.primary (update)\n      input.desired_size: 2 -> 3\n" in text
    assert "      input.min_size: 2 -> 3\n" in text
    assert "  module.service.terraform_data.backup[0] (delete)" in text
    assert "  module.service.terraform_data.database (delete-then-create)" in text
    assert "triggers_replace.password: (sensitive) -> (sensitive)" in text
    assert TEST_SECRET not in text and NEW_PASSWORD not in text


def test_no_deletes_and_only_name_the_offenders(changed: Plan) -> None:
    with pytest.raises(PlanAssertionError) as info:
        assert_no_deletes(changed, allow=["module.service.terraform_data.backup*"])
    text = str(info.value)
    assert "1 object(s) would be destroyed" in text and "terraform_data.database (delete-then-create)" in text
    assert "backup[0]" not in text
    destroyed = [rc.address for rc in changed.resource_changes if rc.change.action.is_destructive]
    assert "module.service.terraform_data.backup[0]" in destroyed
    assert_no_deletes(changed, allow=destroyed)  # exact addresses, instance keys in brackets
    with pytest.raises(PlanAssertionError, match=r"backup\[0\]"):
        assert_no_deletes(changed, allow=[a.replace("backup[0]", "backup[1]") for a in destroyed])
    assert_only(changed, actions=["update", "delete", "replace"])
    with pytest.raises(PlanAssertionError, match=r"expected only update, but 2 change\(s\)"):
        assert_only(changed, actions="update")


def test_resource_assertions_fail_with_the_diff(changed: Plan, dev_plan: Plan) -> None:
    with pytest.raises(
        PlanAssertionError,
        match=r"expected module\.service\.terraform_data\.primary to be created, but it is update",
    ):
        assert_resource(changed, "module.service.terraform_data.primary").created()
    assert_resource(changed, "module.service.terraform_data.primary").updated_with({"input.min_size": 3})
    with pytest.raises(PlanAssertionError) as info:
        assert_resource(dev_plan, "module.network.terraform_data.vpc").created_with(
            {"input.cidr": "10.99.0.0/16", "input.name": "dev-vpc", "id": "fixed"}
        )
    assert str(info.value).splitlines() == [
        "module.network.terraform_data.vpc (create) has unexpected values:",
        '      input.cidr: expected "10.99.0.0/16", got "10.10.0.0/16"',
        '      id: expected "fixed", got (known after apply)',
    ]
    with pytest.raises(PlanAssertionError, match=r"did you mean module.network.terraform_data.vpc, "):
        assert_resource(dev_plan, "module.network.terraform_data.vpcc")


def test_sensitive_values_compare_but_never_print(changed: Plan) -> None:
    database = assert_resource(changed, "module.service.terraform_data.database").replaced()
    database.with_attributes({"triggers_replace.password": NEW_PASSWORD})
    with pytest.raises(PlanAssertionError) as info:
        database.with_attributes({"triggers_replace.password": "wrong-guess-123456"})
    assert "triggers_replace.password: (sensitive) does not match" in str(info.value)
    assert NEW_PASSWORD not in str(info.value) and "wrong-guess" not in str(info.value)


def test_policies_pass_fails_with_one_line_per_finding(changed: Plan, planner: Planner) -> None:
    with pytest.raises(PlanAssertionError) as info:
        assert_policies_pass(changed, env="production", project=planner.copy())
    lines = str(info.value).splitlines()
    assert lines[0] == "policies failed in production: 3 blocking finding(s)"
    assert lines[1].startswith(
        "  SOFT     TFK001 module.service.terraform_data.backup[0]: delete in protected"
    )


def test_helpers_hide_their_frames() -> None:
    from tfkit.testing import _assertions

    for name in (
        "assert_no_changes",
        "assert_no_deletes",
        "assert_only",
        "assert_resource",
        "assert_policies_pass",
    ):
        assert "__tracebackhide__" in getattr(_assertions, name).__code__.co_varnames
