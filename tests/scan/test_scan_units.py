"""Cutting plans into Checkov's units: digests, reference components, reduced plans."""

from __future__ import annotations

import json

from scanutil import PLANS

from tfkit.scan.units import (
    PROVIDERS,
    build_reduced_plan,
    components,
    has_duplicate_keys,
    parse_units,
    plan_document,
    view_digest,
)

IAM = PLANS / "checkov" / "iam-data-source-read-v1.1.json"
NESTED = PLANS / "checkov" / "nested-modules-connections-v1.1.json"
DRIFT = PLANS / "terraform-compliance" / "aws-mixed-actions-drift-v0.1.json"


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


def test_reduced_plan_of_every_unit_holds_only_what_checkov_reads() -> None:
    raw = DRIFT.read_bytes()
    doc = plan_document(raw)
    assert {"prior_state", "variables", "output_changes"} <= set(doc)
    units = parse_units(doc)
    data = build_reduced_plan(doc, frozenset(units))
    reduced = json.loads(data)
    read = {"format_version", "terraform_version", "planned_values", "resource_changes", "configuration"}
    assert set(reduced) == read
    assert parse_units(reduced) == units  # every input of every unit, as Checkov reads it, is unchanged
    assert b"\n" not in data and len(data) < 0.6 * len(raw)  # compact, without the state


def test_repeated_keys_are_found_at_any_depth() -> None:
    assert has_duplicate_keys(b'{"a": [{"b": 1, "c": {"d": 1, "d": 2}}]}')
    assert not has_duplicate_keys(b'{"a": [{"b": 1, "c": {"d": 1, "e": 2}}], "d": 3}')
    assert not has_duplicate_keys(IAM.read_bytes())
    repeated = PLANS / "terraform-validator" / "google-applied-noop-drift-v0.2.json"
    assert has_duplicate_keys(repeated.read_bytes())


def test_configuration_pairing_keeps_checkovs_first_match() -> None:
    """In the root module Checkov pairs a resource with the first entry of its type and name, data or not."""
    conf = [
        {
            "address": "aws_s3_bucket.b",
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "b",
            "expressions": {"bucket": {"references": ["aws_kms_key.k"]}},
        },
        {
            "address": "data.aws_s3_bucket.b",
            "mode": "data",
            "type": "aws_s3_bucket",
            "name": "b",
            "expressions": {"bucket": {"references": ["aws_iam_role.r"]}},
        },
    ]
    planned = [{"address": "data.aws_s3_bucket.b", "mode": "data", "type": "aws_s3_bucket", "name": "b"}]
    doc = {
        "planned_values": {"root_module": {"resources": planned}},
        "configuration": {"root_module": {"resources": conf}},
    }
    assert parse_units(doc)["data.aws_s3_bucket.b"].references == frozenset({("aws_kms_key", "k")})


def test_view_digest_covers_what_checkov_reads_and_nothing_else() -> None:
    raw = IAM.read_bytes()
    doc = json.loads(raw)
    digest = view_digest(raw)
    assert digest is not None and digest == view_digest(raw)
    # What Checkov never reads (build_reduced_plan leaves it out) does not change the digest.
    for key, value in (("timestamp", "2026-12-07T11:00:00Z"), ("prior_state", {"x": 1}), ("variables", {})):
        assert view_digest(json.dumps({**doc, key: value}).encode()) == view_digest(json.dumps(doc).encode())
    # Every part it reads does.
    for key in ("format_version", "terraform_version", "planned_values", "resource_changes", "configuration"):
        changed = {**doc, key: {"changed": True}}
        assert view_digest(json.dumps(changed).encode()) != view_digest(json.dumps(doc).encode()), key
    assert view_digest(b"\xef\xbb\xbf" + raw) is None  # not strict JSON: looked up unit by unit


def test_providers_unit_names_the_configured_providers() -> None:
    units = parse_units(plan_document(IAM.read_bytes()))
    assert units[PROVIDERS].providers == {"aws"}
    odd = parse_units({"configuration": {"provider_config": {"x": {"alias": "a"}}}})
    assert odd[PROVIDERS].providers == {""}  # no name: every provider check may apply
