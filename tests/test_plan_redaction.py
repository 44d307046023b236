"""One redaction, complete (issue 14, items 6 and 8): ``Plan.redacted()`` masks every value the plan marks
sensitive wherever it appears (configuration constants, copies that lost their mark), every writer goes
through it, and the secret policies give a plan after an apply the same verdict as the apply's plan.

Canaries are unique strings planted as secrets: a canary in any written text is a leak.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tfkit.plan import Plan, load_plan
from tfkit.policy import builtin
from tfkit.recording import recorded_plan
from tfkit.redact import REDACTED
from tfkit.terraform.engine import embedded_engine

CANARY = "CANARY-5e1f-apikey-0123456789"


def _tfk004(plan: Plan) -> list[tuple[str | None, str | None]]:
    return [(v.address, v.path) for v in builtin.no_secret_named_values(plan)]


@pytest.fixture(scope="module")
def applied_plans(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Plan]:
    """With the real engine: the plan a gated apply applies, and the very next plan (no changes)."""
    work = tmp_path_factory.mktemp("tfdata")
    (work / "main.tf").write_text(
        textwrap.dedent(
            """
            variable "key" {
              type      = string
              sensitive = true
            }
            resource "terraform_data" "x" {
              input = { api_key = var.key, name = "service" }
            }
            resource "terraform_data" "clear" {
              input = { api_key = "plaintext-key-0123456789" }
            }
            output "name" {
              value = terraform_data.x.output.name
            }
            """
        )
    )
    with embedded_engine(work, env={"TF_VAR_key": CANARY}) as engine:
        engine.init()
        first = engine.run_dir / "first.tfplan"
        engine.plan(out=first)
        applied = load_plan(engine.show_plan(first))
        engine.apply(first)
        second = engine.run_dir / "second.tfplan"
        engine.plan(out=second)
        after = load_plan(engine.show_plan(second))
    return applied, after


def test_the_plan_after_an_apply_gets_the_apply_verdict(applied_plans: tuple[Plan, Plan]) -> None:
    applied, after = applied_plans
    copy = after["terraform_data.x"].change
    # What Terraform does: the output is unknown at apply time, then a clear copy of the sensitive input.
    assert applied["terraform_data.x"].change.after_value("output").is_unknown
    assert copy.after["output"]["api_key"] == CANARY and copy.after_value("output.api_key").is_known
    assert not after.has_changes
    # The same verdict both times: the clear literal is reported (after the apply, its output copy too),
    # the copy of the sensitive input is not.
    assert _tfk004(applied) == [("terraform_data.clear", "input.api_key")]
    assert _tfk004(after) == [
        ("terraform_data.clear", "input.api_key"),
        ("terraform_data.clear", "output.api_key"),
    ]


def test_a_copy_that_lost_its_mark_is_masked_by_every_writer(applied_plans: tuple[Plan, Plan]) -> None:
    _applied, after = applied_plans
    assert CANARY in after.raw.decode()
    assert CANARY in after.sensitive_values
    for written in (after.redacted(), recorded_plan(after)):
        assert CANARY.encode() not in written
    copy = json.loads(after.redacted())["resource_changes"]
    by_address = {rc["address"]: rc["change"]["after"] for rc in copy}
    assert by_address["terraform_data.x"]["output"] == {"api_key": REDACTED, "name": "service"}
    assert by_address["terraform_data.clear"]["input"] == {"api_key": "plaintext-key-0123456789"}


def test_a_clear_credential_beside_a_masked_unknown_one_is_still_reported() -> None:
    """The issue's miss: the mask's mark is for ``input.api_key``, unknown; ``api_key`` is in the clear."""
    doc = _plan(
        resource_changes=[
            _rc(
                "terraform_data.x",
                after={"api_key": "plaintext-key-0123456789"},
                after_unknown={"input": True},
                after_sensitive={"input": {"api_key": True}},
            )
        ]
    )
    assert _tfk004(load_plan(json.dumps(doc))) == [("terraform_data.x", "api_key")]
    doc["resource_changes"][0]["change"]["after_sensitive"] = {"input": {"api_key": True}, "api_key": True}
    assert _tfk004(load_plan(json.dumps(doc))) == []


def _plan(**parts: Any) -> dict[str, Any]:
    return {"format_version": "1.2", "terraform_version": "1.11.4", **parts}


def _rc(address: str, *, module: str | None = None, **change: Any) -> dict[str, Any]:
    type_, name = address.split(".")[-2:]
    out = {
        "address": f"{module}.{address}" if module else address,
        "type": type_,
        "name": name.split("[")[0],
        "mode": "managed",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["create"], "before": None, **change},
    }
    if module:
        out["module_address"] = module
    return out


def test_configuration_constants_of_sensitive_values_are_masked() -> None:
    doc = _plan(
        resource_changes=[
            _rc(
                "aws_db_instance.db",
                after={"password": "c-attr-0001", "name": "plain-name", "tags": {"k": "c-tag-0002"}},
                after_sensitive={"password": True, "tags": {"k": True}},
            ),
            _rc(
                "aws_thing.t[0]",
                module='module.m["a"]',
                after={"block": [{"secret": "c-block-0003", "label": "plain-label"}]},
                after_sensitive={"block": [{"secret": True}]},
            ),
        ],
        configuration={
            "root_module": {
                "resources": [
                    {
                        "address": "aws_db_instance.db",
                        "type": "aws_db_instance",
                        "name": "db",
                        "expressions": {
                            "password": {"constant_value": "c-attr-0001"},
                            "name": {"constant_value": "plain-name"},
                            "tags": {"constant_value": {"k": "c-tag-0002", "other": "plain-tag"}},
                        },
                    }
                ],
                "outputs": {
                    "o": {"sensitive": True, "expression": {"constant_value": "c-output-0004"}},
                    "p": {"expression": {"constant_value": "plain-output"}},
                },
                "module_calls": {
                    "m": {
                        "source": "./m",
                        "expressions": {
                            "token": {"constant_value": "c-input-0005"},
                            "region": {"constant_value": "plain-region"},
                        },
                        "module": {
                            "variables": {"token": {"sensitive": True}, "region": {}},
                            "resources": [
                                {
                                    "address": "aws_thing.t",
                                    "type": "aws_thing",
                                    "name": "t",
                                    "expressions": {
                                        "block": [
                                            {
                                                "secret": {"constant_value": "c-block-0003"},
                                                "label": {"constant_value": "plain-label"},
                                            }
                                        ]
                                    },
                                }
                            ],
                        },
                    }
                },
            }
        },
        planned_values={"root_module": {"resources": [], "child_modules": []}},
    )
    plan = load_plan(json.dumps(doc))
    text = plan.redacted().decode()
    for secret in ("c-attr-0001", "c-tag-0002", "c-block-0003", "c-output-0004", "c-input-0005"):
        assert secret not in text, secret
        assert secret in plan.sensitive_values
    for plain in ("plain-name", "plain-tag", "plain-output", "plain-region", "plain-label"):
        assert plain in text, plain
    assert "c-input-0005" not in recorded_plan(plan).decode()


def test_a_copy_anywhere_is_masked_but_short_values_are_not_hunted() -> None:
    doc = _plan(
        variables={"key": {"value": "c-var-0006"}, "short": {"value": "abc"}, "env": {"value": "abc"}},
        configuration={
            "root_module": {"variables": {"key": {"sensitive": True}, "short": {"sensitive": True}}}
        },
        resource_changes=[_rc("aws_x.y", after={"copy": "c-var-0006", "label": "abc"}, after_sensitive={})],
    )
    redacted = json.loads(load_plan(json.dumps(doc)).redacted())
    assert redacted["variables"] == {
        "key": {"value": REDACTED},
        "short": {"value": REDACTED},
        "env": {"value": "abc"},  # three characters: too common to mask as a copy
    }
    assert redacted["resource_changes"][0]["change"]["after"] == {"copy": REDACTED, "label": "abc"}


def test_the_pytest_plugin_records_what_a_snapshot_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner's recordings are redacted and every registered secret (a secret source's) is masked."""
    from testsupport import copy_example

    from tfkit.project import Project
    from tfkit.redact import register_secret
    from tfkit.testing.planner import Planner

    secret = "CANARY-7d2a-registered-only"
    register_secret(secret)
    doc = _plan(
        variables={"key": {"value": CANARY}},
        configuration={"root_module": {"variables": {"key": {"sensitive": True}}}},
        resource_changes=[_rc("aws_x.y", after={"note": secret, "copy": CANARY}, after_sensitive={})],
    )
    project = Project.load(copy_example(tmp_path / "repo"))
    planner = Planner(project, tmp_path / "work", mode="record", fixtures_dir=tmp_path / "recorded")
    monkeypatch.setattr(Planner, "_plan_for_real", lambda self, env, vars: load_plan(json.dumps(doc)))
    planner.plan("dev")
    (recording,) = (tmp_path / "recorded").iterdir()
    written = recording.read_text()
    assert secret not in written and CANARY not in written
    assert json.loads(written)["resource_changes"][0]["change"]["after"]["copy"] == REDACTED


def _secrets_plan(after: dict[str, Any], after_sensitive: Any, planned_sensitive: Any) -> Plan:
    """One created resource whose after value and planned values are masked as given."""
    change = {"actions": ["create"], "before": None, "after": after, "after_sensitive": after_sensitive}
    resource = {"address": "t.x", "mode": "managed", "type": "t", "name": "x", "values": after}
    resource["sensitive_values"] = planned_sensitive
    doc = {
        "format_version": "1.2",
        "resource_changes": [
            {"address": "t.x", "mode": "managed", "type": "t", "name": "x", "change": change}
        ],
        "planned_values": {"root_module": {"resources": [resource]}},
    }
    return load_plan(json.dumps(doc))


def test_sensitive_texts_are_the_leaves_the_redaction_replaces_numbers_included() -> None:
    plan = _secrets_plan(
        {"a": {"key": "secret-one-0123", "port": 123456, "on": True}, "b": "clear-text"},
        {"a": True},
        {"a": True},
    )
    assert plan.sensitive_texts == {"secret-one-0123", "123456"}
    assert plan.sensitive_values == {"secret-one-0123"}
    redacted = plan.redacted().decode()
    assert "secret-one-0123" not in redacted and "123456" not in redacted and "clear-text" in redacted


def test_a_value_masked_twice_gives_its_own_leaves_not_the_marker() -> None:
    # the change masks one key, the planned values' own mask the whole object: the second replacement
    # sees the marker the first left, which is no leaf of the plan
    plan = _secrets_plan(
        {"a": {"key": "secret-two-0123", "name": "other-0123"}}, {"a": {"key": True}}, {"a": True}
    )
    assert plan.sensitive_texts == {"secret-two-0123", "other-0123"}
    assert REDACTED not in plan.sensitive_texts


def test_a_plan_redacted_before_gives_the_leaves_it_held() -> None:
    plan = _secrets_plan({"a": {"key": REDACTED, "name": "held-0123"}}, {"a": True}, {"a": True})
    assert plan.sensitive_texts == {REDACTED, "held-0123"}
