"""Hypothesis strategies: generated plans are valid and exercise policies; module inputs are valid."""

from __future__ import annotations

import ipaddress
import json
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testsupport import REPO

from tfkit.plan import Action, Plan, load_plan
from tfkit.policy import Status, evaluate
from tfkit.testing.strategies import (
    UnsupportedConditionWarning,
    module_inputs,
    module_path,
    plans,
    resource_changes,
    unsupported_conditions,
)

AWS_KEY = "AKIA" + "Q3EGXMPLE7TFKITZ"


@given(plans())
@settings(max_examples=60, deadline=None)
def test_generated_plans_are_valid_and_no_builtin_policy_errors(plan: Plan) -> None:
    assert len({rc.address for rc in plan.resource_changes}) == len(plan.resource_changes)
    assert load_plan(plan.raw).resource_changes == plan.resource_changes
    report = evaluate(plan, env="dev")
    assert all(r.status is not Status.ERROR for r in report.results), [r.detail for r in report.results]
    for rc in plan.resource_changes:
        assert (rc.change.after is None) == (rc.action in (Action.DELETE, Action.FORGET))


@given(resource_changes(actions=st.just(Action.DELETE_THEN_CREATE)))
@settings(max_examples=20, deadline=None)
def test_resource_changes_honour_the_requested_action(rc) -> None:
    assert rc.action.is_replace and rc.change.before is not None and rc.action_reason


@given(plans(min_size=1), st.sampled_from(["", "prefix-", "x "]))
@settings(max_examples=40, deadline=None)
def test_a_planted_token_in_a_clear_output_is_always_caught(plan: Plan, prefix: str) -> None:
    doc = json.loads(plan.raw)
    doc["output_changes"]["planted"] = {
        "actions": ["create"],
        "before": None,
        "after": {"debug": prefix + AWS_KEY},
        "after_unknown": False,
        "before_sensitive": False,
        "after_sensitive": False,
    }
    report = evaluate(load_plan(json.dumps(doc)), env="dev")
    violations = report.result("TFK003").violations  # type: ignore[union-attr]
    assert ("output.planted", "debug") in [(v.address, v.path) for v in violations]
    assert all(AWS_KEY not in f.one_line() for f in report.findings)


@given(plans(min_size=1))
@settings(max_examples=40, deadline=None)
def test_the_same_token_marked_sensitive_is_never_reported(plan: Plan) -> None:
    doc = json.loads(plan.raw)
    doc["output_changes"]["planted"] = {
        "actions": ["create"],
        "before": None,
        "after": AWS_KEY,
        "after_unknown": False,
        "before_sensitive": False,
        "after_sensitive": True,
    }
    report = evaluate(load_plan(json.dumps(doc)), env="dev")
    assert "output.planted" not in [v.address for v in report.result("TFK003").violations]  # type: ignore[union-attr]


@given(module_inputs(REPO / "modules" / "access"))
@settings(max_examples=200, deadline=None)
def test_access_rule_inputs_satisfy_every_validation(inputs: dict) -> None:
    rules = inputs["rules"]
    assert isinstance(inputs["network_id"], str) and inputs["network_id"]
    assert len({r["name"] for r in rules}) == len(rules)
    for rule in rules:
        assert 1 <= rule["port"] <= 65535 and isinstance(rule["port"], int)
        assert rule["protocol"] in ("tcp", "udp")
        ipaddress.ip_network(rule["cidr"])
        assert not (rule["port"] == 22 and rule["cidr"] == "0.0.0.0/0")


@given(module_inputs(REPO / "modules" / "service", optional=False))
@settings(max_examples=100, deadline=None)
def test_service_inputs_respect_bounds_and_lengths(inputs: dict) -> None:
    assert set(inputs) == {
        "name",
        "instance_type",
        "min_size",
        "max_size",
        "desired_size",
        "subnet_ids",
        "db_password",
    }
    assert inputs["min_size"] >= 1 and 1 <= inputs["max_size"] <= 100
    assert len(inputs["db_password"]) >= 12


def test_overrides_and_unsupported_conditions(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "name" {\n  type = string\n  validation {\n'
        '    condition     = startswith(var.name, "web")\n    error_message = "web..."\n  }\n}\n'
        'variable "size" {\n  type = number\n}\n'
    )
    with pytest.warns(
        UnsupportedConditionWarning, match=r"variable name: condition not understood: startswith"
    ):
        module_inputs(tmp_path)
    assert unsupported_conditions(tmp_path) == {"name": ['startswith(var.name, "web")']}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = module_inputs(tmp_path, overrides={"name": "web", "size": st.integers(3, 4)})

    @given(fixed)
    @settings(max_examples=10, deadline=None)
    def check(example: dict) -> None:
        assert example["name"] == "web" and example["size"] in (3, 4)

    check()
    with pytest.raises(ValueError, match="declares no variable nope"):
        module_inputs(tmp_path, overrides={"nope": 1})


REGEX_MODULE = r"""
variable "name" {
  type = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,10}$", var.name))
    error_message = "a DNS label"
  }
}
variable "code" {
  type = string
  validation {
    condition     = can(regex("x[0-9]{2}", var.code)) && length(var.code) <= 6
    error_message = "x and two digits somewhere"
  }
}
variable "ticket" {
  type = string
  validation {
    condition     = can(regex("^[A-Z]+-\\d+$", var.ticket))
    error_message = "JIRA-123"
  }
}
"""


def test_can_regex_conditions_are_satisfied_with_from_regex(tmp_path: Path) -> None:
    import re

    (tmp_path / "main.tf").write_text(REGEX_MODULE)
    assert unsupported_conditions(tmp_path) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        strategy = module_inputs(tmp_path)
    two = (
        'variable "v" {\n  type = string\n  validation {\n'
        '    condition = can(regex("^a", var.v)) && can(regex("b$", var.v))\n'
        '    error_message = "ab"\n  }\n}\n'
    )
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "main.tf").write_text(two)
    assert list(unsupported_conditions(tmp_path / "two")) == ["v"]  # one pattern per value is generated

    @given(strategy)
    @settings(max_examples=50, deadline=None)
    def check(inputs: dict) -> None:
        # Terraform's regex() matches anywhere; `$` must not match before a trailing newline (RE2's \z)
        assert re.search(r"^[a-z][a-z0-9-]{2,10}\Z", inputs["name"])
        assert re.search("x[0-9]{2}", inputs["code"]) and len(inputs["code"]) <= 6
        assert re.search(r"^[A-Z]+-\d+\Z", inputs["ticket"])

    check()


def test_module_paths_resolve_from_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tfkit.toml").write_text("[environments.dev]\n")
    (tmp_path / "modules" / "m").mkdir(parents=True)
    (tmp_path / "modules" / "m" / "main.tf").write_text(REGEX_MODULE)
    (tmp_path / "tests").mkdir()
    monkeypatch.chdir(tmp_path / "tests")
    assert module_path("modules/m") == tmp_path / "modules" / "m"
    assert module_path(tmp_path / "x") == tmp_path / "x"
    assert unsupported_conditions("modules/m") == {}
