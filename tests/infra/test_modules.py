"""Property tests of the example repository's modules: for every valid input, the module plans and passes
the policies. Inputs come from ``module_inputs``, which reads each module's types and validations; each
example runs the real engine, so the example counts are small.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfkit.testing import assert_only, assert_policies_pass
from tfkit.testing.planner import plan_module
from tfkit.testing.strategies import module_inputs

pytestmark = pytest.mark.slow
SLOW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
# The tags tfkit.toml's [policies.TFK006] requires on every resource, plus an optional extra one.
TAGS = st.fixed_dictionaries(
    {
        "owner": st.sampled_from(["platform-team", "data-team"]),
        "cost_center": st.just("cc-1234"),
        "env": st.sampled_from(["dev", "staging", "production"]),
        "managed_by": st.just("tfkit"),
    },
    optional={"team": st.sampled_from(["core", "edge"])},
)


@pytest.fixture(scope="module")
def modules(tfkit_project):
    return tfkit_project.root / "modules"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("modules")


def _plan_and_check(module, inputs, workdir, project):
    plan = plan_module(module, inputs, workdir / f"run-{len(list(workdir.iterdir()))}")
    assert_only(plan, actions="create")
    assert_policies_pass(plan, project=project)
    return plan


def test_network_plans_one_subnet_per_zone_for_every_valid_input(modules, workdir, tfkit_project):
    networks = st.builds(
        lambda a, prefix: str(ipaddress.ip_network(f"{ipaddress.IPv4Address(a)}/{prefix}", strict=False)),
        st.integers(0, 2**32 - 1),
        st.integers(8, 20),
    )
    # cidrsubnet needs room for every zone: a relation between inputs that no validation states.
    inputs = module_inputs(
        modules / "network", overrides={"cidr": networks, "subnet_newbits": st.integers(3, 8), "tags": TAGS}
    )

    @SLOW
    @given(inputs)
    def check(values):
        plan = _plan_and_check(modules / "network", values, workdir, tfkit_project)
        assert len([rc for rc in plan.resource_changes if rc.name == "subnet"]) == len(set(values["zones"]))

    check()


def test_access_plans_one_rule_per_input_rule(modules, workdir, tfkit_project):
    @SLOW
    @given(module_inputs(modules / "access", overrides={"tags": TAGS}))
    def check(values):
        plan = _plan_and_check(modules / "access", values, workdir, tfkit_project)
        assert sorted(str(rc.index) for rc in plan.resource_changes) == sorted(
            r["name"] for r in values["rules"]
        )

    check()


def test_service_plans_for_every_valid_size(modules, workdir, tfkit_project):
    sizes = st.integers(1, 100).flatmap(
        lambda high: st.tuples(st.integers(1, high), st.just(high)).flatmap(
            lambda lh: st.tuples(st.just(lh[0]), st.integers(lh[0], lh[1]), st.just(lh[1]))
        )
    )

    @SLOW
    @given(module_inputs(modules / "service", overrides={"tags": TAGS}), sizes)
    def check(values, size):
        values = {**values, "min_size": size[0], "desired_size": size[1], "max_size": size[2]}
        plan = _plan_and_check(modules / "service", values, workdir, tfkit_project)
        backups = [rc for rc in plan.resource_changes if rc.name == "backup"]
        assert len(backups) == (1 if values.get("backup_enabled", True) else 0)
        assert (
            plan.resource("module.under_test.terraform_data.database")
            .change.after_value("triggers_replace.password")
            .is_sensitive
        )

    check()
