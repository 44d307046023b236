"""Plan assertions for tests of an infrastructure repository (pytest or any test runner).

::

    from tfkit.testing import assert_no_deletes, assert_policies_pass, assert_resource

    def test_staging(tfkit_plan, tfkit_project):
        plan = tfkit_plan("staging")
        assert_no_deletes(plan)
        vpc = assert_resource(plan, "module.network.terraform_data.vpc")
        vpc.created_with({"input.cidr": "10.20.0.0/16"})
        assert_policies_pass(plan, env="staging", project=tfkit_project)

Failures list the offending addresses and attribute diffs, sensitive values masked. Hypothesis strategies
live in ``tfkit.testing.strategies``; plans for tests are made by ``tfkit.testing.planner`` (the pytest
plugin's ``tfkit_plan`` fixture).
"""

from __future__ import annotations

from tfkit.testing._assertions import (
    UNKNOWN,
    PlanAssertionError,
    ResourceAssertion,
    assert_no_changes,
    assert_no_deletes,
    assert_only,
    assert_policies_pass,
    assert_resource,
    describe_change,
)

__all__ = [
    "UNKNOWN",
    "PlanAssertionError",
    "ResourceAssertion",
    "assert_no_changes",
    "assert_no_deletes",
    "assert_only",
    "assert_policies_pass",
    "assert_resource",
    "describe_change",
]
