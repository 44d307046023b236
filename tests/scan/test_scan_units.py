"""Cutting plans into Checkov's units: digests, reference components, reduced plans."""

from __future__ import annotations

import json

from scanutil import PLANS

from tfkit.scan.units import PROVIDERS, build_reduced_plan, components, parse_units, plan_document

IAM = PLANS / "checkov" / "iam-data-source-read-v1.1.json"
NESTED = PLANS / "checkov" / "nested-modules-connections-v1.1.json"


def test_units_are_planned_resources_and_providers() -> None:
    units = parse_units(plan_document(IAM.read_bytes()))
    assert set(units) == {
        "aws_s3_bucket.example",
        "aws_s3_bucket_policy.allow_access_from_another_account",
        "data.aws_iam_policy_document.allow_access_from_another_account",
        PROVIDERS,
    }
    assert units["data.aws_iam_policy_document.allow_access_from_another_account"].type == (
        "data.aws_iam_policy_document"
    )


def test_references_join_components() -> None:
    units = parse_units(plan_document(IAM.read_bytes()))
    groups = components(units)
    joined = next(g for g in groups if "aws_s3_bucket.example" in g)
    assert "aws_s3_bucket_policy.allow_access_from_another_account" in joined
    assert frozenset({PROVIDERS}) in groups


def test_module_resources_have_module_addresses() -> None:
    units = parse_units(plan_document(NESTED.read_bytes()))
    assert any(u.module and u.address.startswith(u.module + ".") for u in units.values())


def test_digest_follows_content() -> None:
    doc = plan_document(IAM.read_bytes())
    before = parse_units(doc)
    doc["planned_values"]["root_module"]["resources"][0]["values"]["bucket"] = "other"
    after = parse_units(doc)
    changed = [a for a in before if before[a].digest != after[a].digest]
    assert changed == [doc["planned_values"]["root_module"]["resources"][0]["address"]]


def test_reduced_plan_keeps_only_the_chosen_units() -> None:
    doc = plan_document(NESTED.read_bytes())
    units = parse_units(doc)
    keep = frozenset(a for a in units if a != PROVIDERS and "module." in a)
    one = sorted(keep)[0]
    reduced = json.loads(build_reduced_plan(doc, frozenset({one})))
    assert set(parse_units(reduced)) == {one}
    assert [rc["address"] for rc in reduced["resource_changes"]] == [one]
    assert "provider_config" not in reduced["configuration"]
    with_providers = json.loads(build_reduced_plan(doc, frozenset({one, PROVIDERS})))
    assert set(parse_units(with_providers)) == {one, PROVIDERS}
