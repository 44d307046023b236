"""The typed plan model: real plans load and match their raw JSON; values, queries, redaction, errors."""

from __future__ import annotations

import codecs
import contextlib
import copy
import json
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testsupport import PLANS, REPO

from tfkit.errors import PlanError, PlanParseError, UnsupportedFormatError
from tfkit.plan import (
    REDACTED,
    SENSITIVE_TEXT,
    UNKNOWN_TEXT,
    Action,
    EmptyReason,
    Plan,
    PlanFormatWarning,
    ValueKind,
    load_plan,
    parse_path,
    validate_plan_schema,
)
from tfkit.report.json import summary_json
from tfkit.report.markdown import render_plan_markdown as render_markdown
from tfkit.report.text import render_plan_text as render_text


def fixtures_dir() -> Path:
    """The real-plan fixtures kept in the project (``tests/fixtures/plans``)."""
    return PLANS


FIXTURES = sorted(fixtures_dir().glob("*/*.json"))
SMALL_FIXTURES = [p for p in FIXTURES if p.stat().st_size < 40_000]


def fixture_id(path: Path) -> str:
    """``source/name.json``, the test id of a fixture."""
    return f"{path.parent.name}/{path.name}"


def raw_doc(path: Path) -> dict[str, Any]:
    """A fixture decoded independently of tfkit (``json.loads`` detects UTF-16 itself)."""
    return json.loads(path.read_bytes())


# ------------------------------------------------------------------ independent reading of the raw JSON

ACTION_NAMES = {
    ("no-op",): "noop",
    ("create",): "create",
    ("read",): "read",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("create", "forget"): "create_then_forget",
    ("forget",): "forget",
}


def raw_action_counts(doc: dict[str, Any]) -> Counter[str]:
    """How many resource changes of each kind the raw JSON has."""
    return Counter(ACTION_NAMES[tuple(rc["change"]["actions"])] for rc in doc.get("resource_changes", []))


def plan_action_counts(plan: Plan) -> Counter[str]:
    """The same counts through tfkit's queries."""
    counts = Counter(
        noop=len(plan.noops),
        create=len(plan.creates),
        read=len(plan.reads),
        update=len(plan.updates),
        delete=len(plan.deletes),
        replace=len(plan.replacements),
        create_then_forget=len(plan.by_action(Action.CREATE_THEN_FORGET)),
        forget=len(plan.by_action(Action.FORGET)),
    )
    return +counts


def terraform_summary(doc: dict[str, Any]) -> tuple[int, int, int, int]:
    """(import, add, change, destroy) by the rules of Terraform's plan renderer (jsonformat/plan.go)."""
    imports = add = change = destroy = 0
    for rc in doc.get("resource_changes", []):
        actions = rc["change"]["actions"]
        moved = rc.get("previous_address") not in (None, rc.get("address"))
        importing = "importing" in rc["change"]
        if actions == ["no-op"] and not moved and not importing:
            continue
        if actions == ["delete"] and rc["mode"] != "managed":
            continue
        imports += importing
        replace = actions in (["delete", "create"], ["create", "delete"])
        add += actions == ["create"] or replace or actions == ["create", "forget"]
        change += actions == ["update"]
        destroy += actions == ["delete"] or replace
    return imports, add, change, destroy


def walk_state_resources(module: Any) -> Iterator[dict[str, Any]]:
    """Every resource of a raw values-representation module tree."""
    if isinstance(module, dict):
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk_state_resources(child)


def plant(doc: dict[str, Any], make: Callable[[], Any]) -> dict[str, Any]:
    """A copy of a raw plan with every sensitive value (by the plan's own masks) replaced by ``make()``."""
    doc = copy.deepcopy(doc)

    def mask(value: Any, sensitive: Any) -> Any:
        if sensitive is True:
            return make()
        if isinstance(value, dict) and isinstance(sensitive, dict):
            return {k: mask(v, sensitive[k]) if k in sensitive else v for k, v in value.items()}
        if isinstance(value, list) and isinstance(sensitive, list):
            return [mask(v, sensitive[i]) if i < len(sensitive) else v for i, v in enumerate(value)]
        return value

    def change(ch: dict[str, Any]) -> None:
        for side in ("before", "after"):
            if side in ch:
                ch[side] = mask(ch[side], ch.get(f"{side}_sensitive"))

    changes = doc.get("resource_changes", [])
    for rc in changes + doc.get("resource_drift", []):
        change(rc["change"])
    for deferred in doc.get("deferred_changes", []):
        change(deferred["resource_change"]["change"])
    for ch in doc.get("output_changes", {}).values():
        change(ch)
    declared = doc.get("configuration", {}).get("root_module", {}).get("variables", {})
    for name, variable in declared.items():
        if variable.get("sensitive"):
            if "default" in variable:
                variable["default"] = make()
            if name in doc.get("variables", {}):
                doc["variables"][name]["value"] = make()
    after = {rc["address"]: rc["change"].get("after_sensitive") for rc in changes}
    before = {rc["address"]: rc["change"].get("before_sensitive") for rc in changes}
    for values, masks in (
        (doc.get("planned_values"), after),
        (doc.get("prior_state", {}).get("values"), before),
    ):
        if not values:
            continue
        for output in values.get("outputs", {}).values():
            if output.get("sensitive"):
                output["value"] = make()
        for resource in walk_state_resources(values.get("root_module")):
            if "values" in resource:
                masked = mask(resource["values"], masks.get(resource["address"]))
                resource["values"] = mask(masked, resource.get("sensitive_values"))
    _plant_configuration(doc, changes, make)
    return doc


def _plant_configuration(doc: dict[str, Any], changes: list[Any], make: Callable[[], Any]) -> None:
    """The root module's constants of sensitive outputs and of attributes the plan marks sensitive."""

    def constants(node: Any) -> None:
        for item in node.values() if isinstance(node, dict) else node if isinstance(node, list) else ():
            if isinstance(item, dict) and "constant_value" in item:
                item["constant_value"] = make()
            else:
                constants(item)

    root = doc.get("configuration", {}).get("root_module", {})
    for output in root.get("outputs", {}).values():
        if output.get("sensitive") and "constant_value" in output.get("expression", {}):
            output["expression"]["constant_value"] = make()
    for resource in root.get("resources", []):
        for rc in changes:
            if rc.get("module_address") or rc["address"].split("[")[0] != resource["address"]:
                continue
            for side in ("before_sensitive", "after_sensitive"):
                marks = rc["change"].get(side)
                for attribute, sub in marks.items() if isinstance(marks, dict) else ():
                    expression = resource.get("expressions", {}).get(attribute)
                    if sub is True and expression is not None:
                        constants([expression])


def planted_with_canaries(path: Path) -> tuple[bytes, list[str]]:
    """A fixture's JSON with a unique canary string in place of each sensitive value."""
    canaries: list[str] = []

    def make() -> str:
        canaries.append(f"CANARY-{len(canaries):04d}-qz")
        return canaries[-1]

    return json.dumps(plant(raw_doc(path), make)).encode(), canaries


def sensitive_strings(path: Path) -> set[str]:
    """The fixture's real sensitive strings (8+ characters) that appear nowhere in it once it is redacted."""
    doc = raw_doc(path)
    redacted = plant(doc, lambda: REDACTED)
    secrets: set[str] = set()

    def strings(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 8:
            secrets.add(value)
        elif isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                strings(item)

    _diff_leaves(doc, redacted, strings)
    text = json.dumps(redacted, ensure_ascii=False)
    return {secret for secret in secrets if secret not in text}


def _diff_leaves(original: Any, redacted: Any, visit: Callable[[Any], None]) -> None:
    """Visit each original subtree that redaction replaced by the marker."""
    if redacted == REDACTED and original != REDACTED:
        visit(original)
    elif isinstance(original, dict) and isinstance(redacted, dict):
        for key in original:
            if key in redacted:
                _diff_leaves(original[key], redacted[key], visit)
    elif isinstance(original, list) and isinstance(redacted, list):
        for a, b in zip(original, redacted, strict=False):
            _diff_leaves(a, b, visit)


# --------------------------------------------------------------------------------------- the fixtures


def test_the_shared_fixtures_are_there() -> None:
    assert (fixtures_dir() / "README.md").is_file(), f"no plan fixtures at {fixtures_dir()}"
    assert len(FIXTURES) >= 35


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_loads_with_counts_equal_to_the_raw_json(path: Path) -> None:
    data = path.read_bytes()
    doc = raw_doc(path)
    plan = load_plan(data)
    assert plan.raw is data or plan.raw == data
    assert plan.format_version == doc["format_version"]
    assert plan.terraform_version == doc.get("terraform_version")
    assert len(plan.resource_changes) == len(doc.get("resource_changes", []))
    assert plan_action_counts(plan) == raw_action_counts(doc)
    assert [rc.address for rc in plan.resource_changes] == [
        rc["address"] for rc in doc.get("resource_changes", [])
    ]
    assert len(plan.resource_drift) == len(doc.get("resource_drift", []))
    assert set(plan.output_changes) == set(doc.get("output_changes", {}))
    assert set(plan.variables) == set(doc.get("variables", {}))
    assert len(plan.relevant_attributes) == len(doc.get("relevant_attributes", []))
    imports = [rc for rc in doc.get("resource_changes", []) if "importing" in rc["change"]]
    assert len(plan.imports) == len(imports)
    moved = [
        rc
        for rc in doc.get("resource_changes", [])
        if rc.get("previous_address", rc["address"]) != rc["address"]
    ]
    assert len(plan.moves) == len(moved)


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_summary_follows_terraforms_rules(path: Path) -> None:
    doc = raw_doc(path)
    summary = load_plan(path.read_bytes()).summary()
    imports, add, change, destroy = terraform_summary(doc)
    assert (summary.import_, summary.add, summary.change, summary.destroy) == (imports, add, change, destroy)
    counts = raw_action_counts(doc)
    assert summary.replace == counts["replace"]
    assert summary.read == counts["read"]
    assert summary.noop == counts["noop"]
    assert summary.forget == counts["forget"] + counts["create_then_forget"]


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_lazy_parts_decode_and_are_cached(path: Path) -> None:
    doc = raw_doc(path)
    plan = load_plan(path.read_bytes())
    assert isinstance(plan.configuration_raw, msgspec.Raw)
    planned = plan.planned_values
    assert planned is plan.planned_values, "decoded once, then cached"
    if "planned_values" in doc:
        raw_resources = list(walk_state_resources(doc["planned_values"].get("root_module")))
        assert planned is not None
        assert [r.address for r in planned.root_module.walk()] == [r["address"] for r in raw_resources]
    if "prior_state" in doc:
        assert plan.prior_state is not None
    configuration = plan.configuration
    assert configuration is not None
    declared = doc["configuration"].get("root_module", {}).get("variables", {})
    assert set(configuration.root_module.variables) == set(declared)
    assert len(plan.checks) == len(doc.get("checks", []))
    for rc in plan.resource_changes:
        assert rc.change.after is rc.change.after


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_validates_against_the_schema(path: Path) -> None:
    assert validate_plan_schema(path.read_bytes()) == []


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_redacted_follows_the_sanitize_rule(path: Path) -> None:
    plan = load_plan(path.read_bytes())
    assert json.loads(plan.redacted()) == plant(raw_doc(path), lambda: REDACTED)


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_fixture_sensitive_values_never_leak(path: Path) -> None:
    data, _ = planted_with_canaries(path)
    plan = load_plan(data)
    outputs = {
        "redacted": plan.redacted().decode(),
        "changes": repr([rc.change.attribute_changes() for rc in plan.resource_changes]),
        "reprs": repr((plan, plan.resource_changes, plan.variables, plan.output_changes)),
    }
    for where, text in outputs.items():
        assert "CANARY-" not in text, f"a sensitive value leaked into {where}"
    real = load_plan(path.read_bytes())
    secrets = sensitive_strings(path)
    texts = [
        real.redacted().decode(),
        render_text(real),
        render_markdown(real),
        json.dumps(summary_json(real)),
    ]
    for secret in secrets:
        assert not any(secret in text for text in texts)


def test_canaries_are_planted_where_fixtures_have_sensitive_values() -> None:
    planted = {fixture_id(p): len(planted_with_canaries(p)[1]) for p in FIXTURES}
    assert planted["terraform-json/relevant-attributes-v1.1.json"] >= 1  # a sensitive output
    assert planted["policy-engine/google-sensitive-empty-string-v1.1.json"] >= 2
    assert sum(planted.values()) >= 20


def test_example_fixture_summaries_match_terraforms_line() -> None:
    from tfkit.report.vocabulary import summary_line

    expected = {
        "tfplan2md/azuredevops-mixed-actions-v1.2.json": "Plan: 3 to add, 1 to change, 2 to destroy.",
        "cds-snc/import-blocks-v1.2.json": "Plan: 2 to import, 1 to add, 0 to change, 0 to destroy.",
        "snyk-cli/aws-destroy-v0.1.json": "Plan: 0 to add, 0 to change, 8 to destroy.",
        "checkov/create-before-destroy-v1.1.json": "Plan: 1 to add, 0 to change, 1 to destroy.",
        "infracost/aws-modules-tf0.14-v0.1.json": "Plan: 12 to add, 1 to change, 0 to destroy.",
    }
    by_id = {fixture_id(p): p for p in FIXTURES}
    for name, line in expected.items():
        assert summary_line(load_plan(by_id[name].read_bytes()).summary()) == line, name


# ------------------------------------------------------------------------------------ special fixtures


def fixture(name: str) -> Path:
    """One fixture by ``source/file.json``."""
    return fixtures_dir() / name


def test_drift_without_address_gets_one_built_from_its_parts() -> None:
    plan = load_plan(fixture("terraform-compliance/aws-mixed-actions-drift-v0.1.json").read_bytes())
    first = plan.resource_drift[0]
    assert first.address == "aws_cloudwatch_event_rule.metrics_schedule"
    assert all(rc.address for rc in plan.resource_drift)


def test_integer_timestamp_is_read_as_text() -> None:
    plan = load_plan(fixture("checkov/github-oidc-modules-data-v1.2.json").read_bytes())
    assert plan.timestamp == "123"


def test_forget_and_import_and_move_fixtures() -> None:
    forget = load_plan(fixture("terraform-plan-comment/forget-removed-block-v1.2.json").read_bytes())
    assert [rc.address for rc in forget.forgets] == ["local_file.test2"]
    assert forget.forgets[0].action is Action.FORGET and not forget.forgets[0].action.is_destructive
    imported = load_plan(fixture("terraform-json/import-identity-v1.2.json").read_bytes())
    (rc,) = imported.imports
    assert rc.importing is not None and rc.importing.id is None
    assert rc.importing.identity == {"email": "a@example.com"}
    moved = load_plan(fixture("terraform-json/moved-block-v1.2.json").read_bytes())
    assert [(rc.previous_address, rc.address) for rc in moved.moves] == [
        ("random_id.test", "random_id.test2")
    ]
    assert moved.has_changes, "a move alone is a change Terraform applies"


def test_replacements_carry_reason_and_paths() -> None:
    plan = load_plan(fixture("terraform-plan-comment/replace-local-file-v1.2.json").read_bytes())
    assert len(plan.replacements) == 2
    for rc in plan.replacements:
        assert rc.action is Action.DELETE_THEN_CREATE and rc.action.is_replace and rc.action.is_destructive
        assert rc.action_reason == "replace_because_cannot_update"
        assert rc.change.replace_paths


def test_checks_are_typed() -> None:
    plan = load_plan(fixture("terraform-json/checks-for-each-v1.2.json").read_bytes())
    (check,) = plan.checks
    assert check.status == "pass" and check.address.kind == "resource"
    assert [i.address.instance_key for i in check.instances] == ["file1.txt", "file2.txt"]


# ------------------------------------------------------------------------------------------ encodings


def test_utf16_with_bom_loads_like_its_utf8_text() -> None:
    data = fixture("checkov/utf16-windows-v1.1.json").read_bytes()
    assert data[:2] == codecs.BOM_UTF16_LE
    plan = load_plan(data)
    again = load_plan(data[2:].decode("utf-16-le").encode("utf-8"))
    assert plan.raw == data, "the original bytes are kept, not the re-encoding"
    assert [rc.address for rc in plan.resource_changes] == [rc.address for rc in again.resource_changes]
    assert plan.summary() == again.summary()
    assert json.loads(plan.redacted()) == json.loads(again.redacted())


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    ],
    ids=["utf-8-bom", "utf-16-be", "utf-16-le"],
)
def test_byte_order_marks(encode: Callable[[str], bytes]) -> None:
    text = json.dumps(minimal_plan(changes=[rc_doc("a.b", ["create"])]))
    assert load_plan(encode(text)).creates[0].address == "a.b"


def test_str_and_path_inputs(tmp_path: Path) -> None:
    text = json.dumps(minimal_plan(changes=[rc_doc("terraform_data.é", ["create"])]), ensure_ascii=False)
    file = tmp_path / "plan.json"
    file.write_text(text, encoding="utf-8")
    assert load_plan(text).creates[0].address == "terraform_data.é"
    assert load_plan(file).raw == file.read_bytes()
    with pytest.raises(PlanError, match="cannot read"):
        load_plan(tmp_path / "missing.json")
    with pytest.raises(PlanParseError, match=r"pathlib\.Path"):
        load_plan(str(file))


def test_broken_utf16_is_a_parse_error() -> None:
    with pytest.raises(PlanParseError, match="UTF-16"):
        load_plan(codecs.BOM_UTF16_LE + b"{\x00\x00\xd8")


def test_invalid_utf8_is_a_parse_error() -> None:
    with pytest.raises(PlanParseError, match="UTF-8"):
        load_plan(b'{"format_version": "1.2", "terraform_version": "\xff\xfe1"}')


# ------------------------------------------------------------------------------------- format version


def minimal_plan(
    version: str | None = "1.2", changes: list[dict[str, Any]] | None = None, **extra: Any
) -> dict:
    """A small plan document."""
    doc: dict[str, Any] = {} if version is None else {"format_version": version}
    if changes is not None:
        doc["resource_changes"] = changes
    doc.update(extra)
    return doc


ADDRESS = re.compile(
    r"(?:(?P<module>module\..*?)\.)?(?P<data>data\.)?(?P<type>[^.\[]+)\.(?P<name>[^.\[]+)(?:\[.*\])?"
)


def rc_doc(address: str, actions: list[str], **extra: Any) -> dict[str, Any]:
    """A raw resource change with the parts of its address that Terraform writes beside it."""
    match = ADDRESS.fullmatch(address)
    assert match is not None, address
    doc = {
        "address": address,
        "mode": "data" if match["data"] else "managed",
        "type": match["type"],
        "name": match["name"],
        "change": {"actions": actions},
    }
    if match["module"]:
        doc["module_address"] = match["module"]
    doc.update(extra)
    return doc


@pytest.mark.parametrize("version", ["0.1", "0.2", "1.0", "1.1", "1.2"])
def test_known_format_versions_load_silently(version: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_plan(json.dumps(minimal_plan(version))).format_version == version


@pytest.mark.parametrize("version", ["1.3", "1.99"])
def test_newer_minor_version_warns(version: str) -> None:
    with pytest.warns(PlanFormatWarning, match=version):
        plan = load_plan(json.dumps(minimal_plan(version, changes=[rc_doc("a.b", ["create"])])))
    assert len(plan.creates) == 1


@pytest.mark.parametrize("version", ["2.0", "2.1", "10.0", "0.0", "1", "one.two", "", "1.2.3"])
def test_unsupported_format_versions(version: str) -> None:
    with pytest.raises(UnsupportedFormatError) as info:
        load_plan(json.dumps(minimal_plan(version)))
    assert info.value.format_version == version
    assert "\n" not in str(info.value)


def test_missing_format_version() -> None:
    with pytest.raises(UnsupportedFormatError, match="no format_version") as info:
        load_plan(json.dumps(minimal_plan(None, changes=[])))
    assert info.value.format_version is None


def test_new_major_version_is_reported_even_when_the_shape_changed() -> None:
    with pytest.raises(UnsupportedFormatError):
        load_plan(json.dumps(minimal_plan("2.0", resource_changes={"renamed": True})))


def test_format_version_of_the_wrong_type_is_a_parse_error() -> None:
    with pytest.raises(PlanParseError) as info:
        load_plan(b'{"format_version": 1.2}')
    assert info.value.path == "$.format_version"


# ----------------------------------------------------------------------------------- parse error paths


def mutated_fixture(name: str, mutate: Callable[[dict[str, Any]], None]) -> bytes:
    """A fixture's JSON after ``mutate`` changed it."""
    doc = raw_doc(fixture(name))
    mutate(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("mutate", "path", "expected"),
    [
        (
            lambda d: d["resource_changes"][3]["change"].update(actions=["explode"]),
            "$.resource_changes[3].change.actions[0]",
            "expected one of",
        ),
        (
            lambda d: d["resource_changes"][3]["change"].update(actions="create"),
            "$.resource_changes[3].change.actions",
            "expected `array`, got `str`",
        ),
        (
            lambda d: d["resource_changes"][2]["change"].update(actions=["create", "create"]),
            "$.resource_changes[2].change",
            "unsupported `actions` combination",
        ),
        (
            lambda d: d["resource_changes"][1].pop("change"),
            "$.resource_changes[1]",
            "missing required field `change`",
        ),
        (
            lambda d: d["resource_changes"][0].update(address=7),
            "$.resource_changes[0].address",
            "expected `str`, got `int`",
        ),
        (lambda d: d.update(resource_changes={}), "$.resource_changes", "expected `array`, got `object`"),
        (
            lambda d: d["output_changes"]["pipeline_id"].update(actions=None),
            "$.output_changes[...].actions",
            "expected `array`, got `null`",
        ),
        (lambda d: d.update(applyable="yes"), "$.applyable", "expected `bool | null`, got `str`"),
    ],
    ids=[
        "bad-action",
        "actions-not-list",
        "bad-combination",
        "no-change",
        "address-int",
        "rc-object",
        "output",
        "bool",
    ],
)
def test_parse_errors_name_the_json_path(mutate: Callable[[dict], None], path: str, expected: str) -> None:
    data = mutated_fixture("tfplan2md/azuredevops-mixed-actions-v1.2.json", mutate)
    with pytest.raises(PlanParseError) as info:
        load_plan(data)
    assert info.value.path == path
    assert path in str(info.value) and expected in str(info.value)
    assert "\n" not in str(info.value)


def test_lazy_part_errors_name_the_full_path() -> None:
    def break_variables(doc: dict[str, Any]) -> None:
        doc["configuration"]["root_module"]["variables"]["project_name"]["sensitive"] = "yes"

    plan = load_plan(mutated_fixture("tfplan2md/azuredevops-mixed-actions-v1.2.json", break_variables))
    with pytest.raises(PlanParseError) as info:
        _ = plan.configuration
    assert info.value.path == "$.configuration.root_module.variables[...].sensitive"


def test_syntax_errors_give_line_and_column() -> None:
    with pytest.raises(PlanParseError, match="line 3, column 5") as info:
        load_plan(b'{\n  "format_version": "1.2",\n    ]\n}')
    assert info.value.path == "$"
    with pytest.raises(PlanParseError, match="truncated"):
        load_plan(b'{"format_version": "1.2"')
    with pytest.raises(PlanParseError):
        load_plan(b"")


def test_deep_nesting_is_a_parse_error() -> None:
    with pytest.raises(PlanParseError):
        load_plan(b"[" * 100_000 + b"]" * 100_000)
    deep = b'{"format_version": "1.2", "configuration": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(PlanParseError, match="nested too deeply"):
        load_plan(deep)


def test_numbers_out_of_range_in_lazy_values_are_parse_errors() -> None:
    change = {"actions": ["create"], "after": {"n": 1e400}}
    doc = json.dumps(minimal_plan(changes=[rc_doc("a.b", ["create"], change=change)])).replace(
        "Infinity", "1e400"
    )
    plan = load_plan(doc)
    with pytest.raises(PlanParseError) as info:
        _ = plan["a.b"].change.after
    assert info.value.path == "$..change.after[...]"
    with pytest.raises(PlanParseError, match="out of range"):
        plan.redacted()


def test_sensitive_values_never_appear_in_error_messages() -> None:
    secret = "CANARY-secret-in-error"
    bad_docs: list[Any] = [
        minimal_plan(changes=[rc_doc("a.b", [secret])]),
        minimal_plan(changes=[rc_doc("a.b", ["create", secret])]),
        minimal_plan(changes=[{**rc_doc("a.b", ["create"]), "mode": [secret]}]),
        minimal_plan(changes=[{**rc_doc("a.b", ["create"]), "index": {secret: secret}}]),
        minimal_plan(secret),
        minimal_plan("2.0", secret=secret),
        minimal_plan(variables={secret: secret}),
        minimal_plan(timestamp=[secret]),
        {"format_version": {"v": secret}},
        [secret],
        secret,
    ]
    for doc in bad_docs:
        with pytest.raises(PlanError) as info:
            load_plan(json.dumps(doc))
        assert secret not in str(info.value) and "secret" not in str(info.value), doc
    plan = load_plan(
        json.dumps(
            minimal_plan(configuration={"root_module": {"variables": {secret: {"sensitive": secret}}}})
        )
    )
    with pytest.raises(PlanError) as info:
        _ = plan.configuration
    assert secret not in str(info.value)
    with pytest.raises(PlanError) as info:
        load_plan(json.dumps(minimal_plan()) + secret)
    assert secret not in str(info.value)


# ----------------------------------------------------------------------------- values and attribute paths

CHANGE = {
    "actions": ["update"],
    "before": {
        "name": "web",
        "tags": {"env": "dev", "team": "a"},
        "rules": [{"port": 80}, {"port": 443}],
        "password": "hunter2-old",
        "size": 1,
    },
    "after": {
        "name": "web",
        "tags": {"env": "prod", "team": "a"},
        "rules": [{"port": 8080}, {"port": 443}],
        "password": "hunter2-new",
        "size": None,
        "config": {"key": "v", "token": "tok-1"},
    },
    "after_unknown": {"size": True, "id": True, "rules": [{}, {}], "config": {}},
    "before_sensitive": {"password": True},
    "after_sensitive": {"password": True, "config": {"token": True}},
}


def update_plan() -> Plan:
    """A plan with one update of known, unknown and sensitive attributes."""
    return load_plan(json.dumps(minimal_plan(changes=[rc_doc("x.y", ["update"], change=CHANGE)])))


def test_after_value_tells_known_unknown_sensitive_and_absent_apart() -> None:
    change = update_plan()["x.y"].change
    assert change.after_value("tags.env").kind is ValueKind.KNOWN
    assert change.after_value("tags.env").value == "prod"
    assert change.after_value("rules.0.port").value == 8080
    assert change.after_value(("rules", 1, "port")).value == 443
    assert change.after_value("size").is_unknown
    assert change.after_value("id").is_unknown
    assert change.after_value("password").is_sensitive
    assert change.after_value("password").value is None, "a sensitive Value never carries its content"
    assert change.after_value("config.token").is_sensitive
    assert change.after_value("nope").is_absent
    assert change.after_value("rules.7.port").is_absent
    assert change.after_value("tags.env.deeper").is_absent
    assert change.before_value("tags.env").value == "dev"
    assert change.before_value("password").is_sensitive
    assert change.before_value("size").value == 1


def test_known_containers_mark_their_unknown_and_sensitive_parts() -> None:
    change = update_plan()["x.y"].change
    config = change.after_value("config")
    assert config.is_known
    assert config.value["key"] == "v"
    assert config.value["token"].is_sensitive
    whole = change.after_value()
    assert whole.value["id"].is_unknown and whole.value["size"].is_unknown
    assert "hunter2" not in repr(whole) and "tok-1" not in repr(whole)


def test_a_value_under_an_unknown_parent_is_unknown() -> None:
    doc = {"actions": ["create"], "before": None, "after": {"a": None}, "after_unknown": {"a": True}}
    change = load_plan(json.dumps(minimal_plan(changes=[rc_doc("x.y", ["create"], change=doc)])))[
        "x.y"
    ].change
    assert change.after_value("a.b.c").is_unknown
    assert change.before_value("a").is_absent


def test_attribute_changes_list_changed_paths_with_redaction() -> None:
    changes = {c.path_str: (c.before, c.after) for c in update_plan()["x.y"].change.attribute_changes()}
    assert changes == {
        "tags.env": ("dev", "prod"),
        "rules[0].port": (80, 8080),
        "password": (SENSITIVE_TEXT, SENSITIVE_TEXT),
        "size": (1, UNKNOWN_TEXT),
        "id": (None, UNKNOWN_TEXT),
        "config.key": (None, "v"),
        "config.token": (None, SENSITIVE_TEXT),
    }


def test_attribute_changes_of_a_create_and_a_delete() -> None:
    created = {
        "actions": ["create"],
        "before": None,
        "after": {"a": 1, "l": [], "m": {"k": "v"}},
        "after_unknown": {"id": True},
    }
    deleted = {
        "actions": ["delete"],
        "before": {"a": 1, "s": "x"},
        "after": None,
        "before_sensitive": {"s": True},
    }
    plan = load_plan(
        json.dumps(
            minimal_plan(
                changes=[rc_doc("c.r", ["create"], change=created), rc_doc("d.r", ["delete"], change=deleted)]
            )
        )
    )
    create = {c.path_str: (c.before, c.after) for c in plan["c.r"].change.attribute_changes()}
    assert create == {"a": (None, 1), "l": (None, []), "m.k": (None, "v"), "id": (None, UNKNOWN_TEXT)}
    delete = {c.path_str: (c.before, c.after) for c in plan["d.r"].change.attribute_changes()}
    assert delete == {"a": (1, None), "s": (SENSITIVE_TEXT, None)}


def test_value_changes_are_the_values_read_at_each_changed_path() -> None:
    # a null before marked sensitive as a whole, an after object: each path's before reads as sensitive
    hidden = {"actions": ["update"], "before": None, "before_sensitive": True, "after": {"k": {"n": 1}}}
    plan = load_plan(json.dumps(minimal_plan(changes=[rc_doc("h.r", ["update"], change=hidden)])))
    change = plan["h.r"].change
    assert [(p, b.kind, a.value) for p, b, a in change.value_changes()] == [
        (("k", "n"), ValueKind.SENSITIVE, 1)
    ]
    assert change.attribute_changes()[0].before is None  # attribute_changes shows the leaf's own mask
    for rc in [*update_plan().resource_changes, *plan.resource_changes]:
        assert rc.change.value_changes() == [
            (c.path, rc.change.before_value(c.path), rc.change.after_value(c.path))
            for c in rc.change.attribute_changes()
        ]


@pytest.mark.parametrize("path", SMALL_FIXTURES, ids=fixture_id)
def test_value_changes_read_as_before_value_and_after_value_on_real_plans(path: Path) -> None:
    plan = load_plan(path.read_bytes())
    for rc in [*plan.resource_changes, *plan.resource_drift]:
        assert rc.change.value_changes() == [
            (c.path, rc.change.before_value(c.path), rc.change.after_value(c.path))
            for c in rc.change.attribute_changes()
        ]


def test_no_op_has_no_attribute_changes_and_paths_parse() -> None:
    same = {"actions": ["no-op"], "before": {"a": [1, {"b": 2}]}, "after": {"a": [1, {"b": 2}]}}
    plan = load_plan(json.dumps(minimal_plan(changes=[rc_doc("n.r", ["no-op"], change=same)])))
    assert plan["n.r"].change.attribute_changes() == []
    assert parse_path("a.0.b") == ("a", "0", "b")
    assert parse_path(("a", 0)) == ("a", 0)
    assert parse_path("") == ()


# -------------------------------------------------------------------------------------------- queries


def query_plan() -> Plan:
    """A plan with modules, count and for_each instances, every action, a deposed object and outputs."""
    changes = [
        rc_doc("terraform_data.root", ["create"]),
        rc_doc('module.x.terraform_data.subnet["eu-a"]', ["update"], index="eu-a"),
        rc_doc('module.x["k"].terraform_data.one', ["delete", "create"], action_reason="replace_by_request"),
        rc_doc("module.x[0].terraform_data.one", ["create", "delete"]),
        rc_doc("module.x.module.y.terraform_data.deep[0]", ["delete"], index=0),
        rc_doc("module.xy.terraform_data.other", ["no-op"]),
        rc_doc("module.x.terraform_data.gone", ["forget"]),
        rc_doc("terraform_data.moved", ["no-op"], previous_address="terraform_data.old"),
        rc_doc("terraform_data.imported", ["no-op"]),
        rc_doc("data.null_data_source.d", ["read"]),
        rc_doc("data.null_data_source.old", ["delete"]),
        rc_doc("terraform_data.root", ["delete"], deposed="abcd1234"),
        rc_doc("terraform_data.keep", ["create", "forget"]),
    ]
    changes[8]["change"]["importing"] = {"id": "i-123"}
    outputs = {
        "url": {"actions": ["create"], "before": None, "after": "u"},
        "same": {"actions": ["no-op"], "before": 1, "after": 1},
    }
    drift = [rc_doc("terraform_data.root", ["update"]), rc_doc("terraform_data.other", ["no-op"])]
    return load_plan(json.dumps(minimal_plan(changes=changes, output_changes=outputs, resource_drift=drift)))


def addresses(changes: Any) -> list[str]:
    return [rc.address for rc in changes]


def test_queries_by_action() -> None:
    plan = query_plan()
    assert addresses(plan.creates) == ["terraform_data.root"]
    assert addresses(plan.updates) == ['module.x.terraform_data.subnet["eu-a"]']
    assert addresses(plan.replacements) == [
        'module.x["k"].terraform_data.one',
        "module.x[0].terraform_data.one",
    ]
    assert addresses(plan.deletes) == [
        "module.x.module.y.terraform_data.deep[0]",
        "data.null_data_source.old",
        "terraform_data.root",
    ]
    assert addresses(plan.reads) == ["data.null_data_source.d"]
    assert addresses(plan.forgets) == ["module.x.terraform_data.gone", "terraform_data.keep"]
    assert addresses(plan.imports) == ["terraform_data.imported"]
    assert addresses(plan.moves) == ["terraform_data.moved"]
    assert addresses(plan.noops) == [
        "module.xy.terraform_data.other",
        "terraform_data.moved",
        "terraform_data.imported",
    ]
    assert addresses(plan.drift) == ["terraform_data.root"]
    assert plan.creates is plan.creates, "action sets are computed once"


def test_queries_by_type_module_and_address() -> None:
    plan = query_plan()
    assert addresses(plan.by_type("null_data_source")) == [
        "data.null_data_source.d",
        "data.null_data_source.old",
    ]
    assert plan.by_type("aws_instance") == ()
    assert addresses(plan.by_module("module.x")) == [
        'module.x.terraform_data.subnet["eu-a"]',
        'module.x["k"].terraform_data.one',
        "module.x[0].terraform_data.one",
        "module.x.module.y.terraform_data.deep[0]",
        "module.x.terraform_data.gone",
    ]
    assert addresses(plan.by_module("module.x", nested=False)) == [
        'module.x.terraform_data.subnet["eu-a"]',
        "module.x.terraform_data.gone",
    ]
    assert addresses(plan.by_module("module.x.module.y")) == ["module.x.module.y.terraform_data.deep[0]"]
    assert len(plan.by_module("")) == len(plan.resource_changes)
    assert all(rc.module_address is None for rc in plan.by_module("", nested=False))
    assert plan.by_module("module.nope") == ()
    subnet = plan['module.x.terraform_data.subnet["eu-a"]']
    assert subnet.index == "eu-a" and subnet.action is Action.UPDATE
    assert plan["terraform_data.root"].action is Action.CREATE, "the current object, not the deposed one"
    deposed = plan.resource("terraform_data.root", deposed="abcd1234")
    assert deposed is not None and deposed.action is Action.DELETE
    assert plan.resource("module.x.terraform_data.subnet") is None
    assert "terraform_data.keep" in plan and "terraform_data.nope" not in plan
    with pytest.raises(KeyError):
        _ = plan["terraform_data.nope"]
    url = plan.output("url")
    assert url is not None and url.action is Action.CREATE and url.after == "u"
    assert plan.output("nope") is None


def test_summary_of_every_action() -> None:
    summary = query_plan().summary()
    assert (summary.add, summary.change, summary.destroy) == (1 + 2 + 1, 1, 2 + 2)
    assert (summary.replace, summary.import_, summary.forget, summary.move, summary.read) == (2, 1, 2, 1, 1)
    assert msgspec.to_builtins(summary)["import"] == 1


def test_has_changes() -> None:
    assert query_plan().has_changes
    noop = minimal_plan(changes=[rc_doc("a.b", ["no-op"])], output_changes={"o": {"actions": ["no-op"]}})
    assert not load_plan(json.dumps(noop)).has_changes
    output_only = minimal_plan(
        changes=[rc_doc("a.b", ["no-op"])], output_changes={"o": {"actions": ["create"]}}
    )
    assert load_plan(json.dumps(output_only)).has_changes
    data_delete = minimal_plan(changes=[rc_doc("data.a.b", ["delete"])])
    assert not load_plan(json.dumps(data_delete)).has_changes


def test_actions() -> None:
    assert Action.DELETE_THEN_CREATE.actions == ("delete", "create")
    assert {a for a in Action if a.is_replace} == {Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE}
    assert {a for a in Action if a.is_destructive} == {
        Action.DELETE,
        Action.DELETE_THEN_CREATE,
        Action.CREATE_THEN_DELETE,
    }
    assert not Action.FORGET.is_destructive and not Action.NOOP.is_change


# ------------------------------------------------------------------------------ plans without changes


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (minimal_plan(errored=True, applyable=False), EmptyReason.ERRORED),
        (minimal_plan(configuration={"root_module": {}}), EmptyReason.NO_RESOURCES),
        (minimal_plan(), EmptyReason.NO_RESOURCES),
        (
            minimal_plan(configuration={"root_module": {"resources": [{"address": "a.b"}]}}),
            EmptyReason.NO_CHANGES,
        ),
        (minimal_plan(resource_drift=[rc_doc("a.b", ["update"])]), EmptyReason.DRIFT_ONLY),
    ],
    ids=["errored", "empty-configuration", "no-configuration", "nothing-to-do", "refresh-only"],
)
def test_plans_without_resource_changes_say_why(doc: dict[str, Any], reason: EmptyReason) -> None:
    plan = load_plan(json.dumps(doc))
    assert plan.resource_changes == ()
    assert plan.empty_reason is reason
    assert not plan.has_changes
    assert plan.summary().add == plan.summary().destroy == 0


def test_plans_with_changes_have_no_empty_reason() -> None:
    assert query_plan().empty_reason is None


# ------------------------------------------------------------------------------------------- redaction


def test_redacted_replaces_every_kind_of_sensitive_value() -> None:
    doc = minimal_plan(
        variables={"token": {"value": "tok-secret"}, "region": {"value": "eu"}},
        configuration={
            "root_module": {
                "variables": {"token": {"sensitive": True, "default": "def-secret"}, "region": {}},
                "module_calls": {
                    "m": {"module": {"variables": {"pw": {"sensitive": True, "default": "mod-secret"}}}}
                },
            }
        },
        changes=[
            rc_doc(
                "a.b",
                ["update"],
                change={
                    "actions": ["update"],
                    "before": {"pw": "old-secret", "list": ["l0", "l1-secret"], "plain": "p"},
                    "after": {"pw": "new-secret", "list": ["l0", "l1-secret2"], "plain": "p"},
                    "before_sensitive": {"pw": True, "list": [False, True]},
                    "after_sensitive": {"pw": True, "list": [False, True]},
                },
            )
        ],
        resource_drift=[
            rc_doc(
                "a.b",
                ["update"],
                change={
                    "actions": ["update"],
                    "after": {"pw": "drift-secret"},
                    "after_sensitive": {"pw": True},
                },
            )
        ],
        deferred_changes=[
            {
                "reason": "provider_config_unknown",
                "resource_change": rc_doc(
                    "a.c",
                    ["create"],
                    change={"actions": ["create"], "after": "deferred-secret", "after_sensitive": True},
                ),
            }
        ],
        output_changes={"o": {"actions": ["create"], "after": "out-secret", "after_sensitive": True}},
        planned_values={
            "outputs": {"o": {"value": "pv-out-secret", "sensitive": True}, "p": {"value": "public"}},
            "root_module": {
                "resources": [
                    {"address": "a.b", "values": {"pw": "new-secret", "plain": "p"}, "sensitive_values": {}}
                ],
                "child_modules": [
                    {
                        "resources": [
                            {
                                "address": "module.m.x.y",
                                "values": {"k": "own-secret"},
                                "sensitive_values": {"k": True},
                            }
                        ]
                    }
                ],
            },
        },
        prior_state={
            "values": {
                "root_module": {
                    "resources": [{"address": "a.b", "values": {"pw": "old-secret", "plain": "p"}}]
                }
            }
        },
    )
    plan = load_plan(json.dumps(doc))
    text = plan.redacted().decode()
    assert "secret" not in text
    redacted = json.loads(text)
    assert redacted["variables"] == {"token": {"value": REDACTED}, "region": {"value": "eu"}}
    change = redacted["resource_changes"][0]["change"]
    assert change["after"] == {"pw": REDACTED, "list": ["l0", REDACTED], "plain": "p"}
    assert redacted["planned_values"]["outputs"]["p"]["value"] == "public"
    assert redacted["prior_state"]["values"]["root_module"]["resources"][0]["values"]["plain"] == "p"
    assert plan.raw == json.dumps(doc).encode(), "redaction works on a copy"


# ------------------------------------------------------------------------------------------- the rest


def test_from_file_runs_show_through_the_engine(tmp_path: Path) -> None:
    class FakeEngine:
        def __init__(self) -> None:
            self.shown: list[Path] = []

        def show_plan(self, plan_file: Path) -> bytes:
            self.shown.append(plan_file)
            return json.dumps(minimal_plan(changes=[rc_doc("a.b", ["create"])])).encode()

    engine = FakeEngine()
    plan = Plan.from_file(tmp_path / "tfplan", engine)
    assert engine.shown == [tmp_path / "tfplan"]
    assert addresses(plan.creates) == ["a.b"]


def test_plans_are_immutable() -> None:
    plan = query_plan()
    with pytest.raises(AttributeError):
        plan.format_version = "9.9"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        plan.resource_changes[0].address = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.output_changes["new"] = plan.output_changes["url"]  # type: ignore[index]
    assert isinstance(plan.resource_changes, tuple)


def test_schema_errors_have_paths_and_no_values() -> None:
    doc = minimal_plan(changes=[{**rc_doc("a.b", ["create"]), "mode": "CANARY-mode"}])
    doc["resource_changes"][0]["change"]["actions"] = ["CANARY-action"]
    doc["checks"] = [{"address": {"kind": "resource", "to_display": "a"}, "status": "CANARY-status"}]
    problems = validate_plan_schema(json.dumps(doc).encode())
    joined = "\n".join(problems)
    assert "$.resource_changes[0].mode: expected one of" in joined
    assert "$.resource_changes[0].change.actions:" in joined
    assert "$.checks[0].status:" in joined
    assert "CANARY" not in joined
    assert validate_plan_schema(b"{") and validate_plan_schema(codecs.BOM_UTF16_LE + b"{\x00\x00\xd8")
    assert validate_plan_schema(b'{"resource_changes": []}') == ["$: 'format_version' is a required property"]


# ------------------------------------------------------------------------------------------ hypothesis

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
PLAN_KEYS = [
    "format_version",
    "terraform_version",
    "variables",
    "resource_changes",
    "resource_drift",
    "output_changes",
    "deferred_changes",
    "relevant_attributes",
    "checks",
    "planned_values",
    "prior_state",
    "configuration",
    "applyable",
    "errored",
    "timestamp",
]
ACTION_LISTS = st.lists(
    st.sampled_from(["create", "delete", "update", "no-op", "read", "forget", "x"]), max_size=3
)
RESOURCE_CHANGES = st.fixed_dictionaries(
    {
        "change": st.fixed_dictionaries(
            {"actions": ACTION_LISTS}, optional={"before": JSON_VALUES, "after": JSON_VALUES}
        )
    },
    optional={
        k: JSON_VALUES | st.text(max_size=10) for k in ("address", "mode", "type", "name", "index", "deposed")
    },
)
PLAN_LIKE = st.fixed_dictionaries(
    {"format_version": st.sampled_from(["1.2", "0.1", "1.9", "2.0", "x"]) | JSON_VALUES},
    optional={
        "resource_changes": st.lists(RESOURCE_CHANGES, max_size=4) | JSON_VALUES,
        "resource_drift": st.lists(RESOURCE_CHANGES, max_size=2),
        **{key: JSON_VALUES for key in PLAN_KEYS[6:]},
    },
)


def exercise(data: bytes) -> Plan | None:
    """Load and use every part of a plan; only ``PlanError`` may escape (the test fails on anything else)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlanFormatWarning)
        try:
            plan = load_plan(data)
        except PlanError as exc:
            assert "\n" not in str(exc)
            return None
    plan.summary()
    _ = (
        plan.creates,
        plan.replacements,
        plan.forgets,
        plan.imports,
        plan.moves,
        plan.drift,
        plan.has_changes,
    )
    for rc in plan.resource_changes:
        assert plan.resource(rc.address) is not None
        rc.change.attribute_changes()
        rc.change.after_value("a.0.b")
    for change in plan.output_changes.values():
        change.attribute_changes()
    plan.redacted()
    validate_plan_schema(data)
    for part in ("configuration", "prior_state", "planned_values", "checks", "empty_reason"):
        with contextlib.suppress(PlanError):
            getattr(plan, part)
    try:
        render_text(plan)
        render_markdown(plan, budget=2000)
        json.dumps(summary_json(plan))
    except PlanError:
        pass
    return plan


def node_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every node in a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from node_paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from node_paths(value, (*prefix, i))


@st.composite
def mutated_plans(draw: st.DrawFn) -> bytes:
    """A real plan (canaries in place of its sensitive values) with up to three nodes replaced or removed."""
    path = draw(st.sampled_from(SMALL_FIXTURES))
    data, _ = planted_with_canaries(path)
    doc = json.loads(data)
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(list(node_paths(doc))[1:] or [()]))
        if not target:
            break
        parent = doc
        for step in target[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[target[-1]] = draw(JSON_VALUES)
        elif isinstance(parent, dict):
            del parent[target[-1]]
        else:
            parent.pop(target[-1])
    return json.dumps(doc).encode()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(JSON_VALUES)
def test_arbitrary_json_loads_or_raises_plan_error(value: Any) -> None:
    exercise(json.dumps(value).encode())


@SETTINGS
@given(PLAN_LIKE)
def test_plan_shaped_json_loads_or_raises_plan_error(doc: dict[str, Any]) -> None:
    exercise(json.dumps(doc).encode())


@SETTINGS
@given(st.binary(max_size=64))
def test_arbitrary_bytes_load_or_raise_plan_error(data: bytes) -> None:
    exercise(data)


@SETTINGS
@given(mutated_plans())
def test_mutated_real_plans_load_or_raise_plan_error_without_leaking(data: bytes) -> None:
    try:
        plan = exercise(data)
    except PlanError as exc:
        assert "CANARY" not in str(exc)
        return
    if plan is None:
        with pytest.raises(PlanError) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore", PlanFormatWarning)
            load_plan(data)
        assert "CANARY" not in str(info.value)


@SETTINGS
@given(st.sampled_from(SMALL_FIXTURES), st.data())
def test_byte_level_damage_to_real_plans_raises_plan_error(path: Path, data: st.DataObject) -> None:
    raw = bytearray(path.read_bytes())
    position = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        raw[position] = data.draw(st.integers(0, 255))
    else:
        del raw[position:]
    exercise(bytes(raw))


# -------------------------------------------------------------------- both engines on the example repo


EXAMPLE_SECRET = "tfkit-plan-test-Pa55w0rd-8d3e1c"


@pytest.mark.slow
def test_plans_of_both_engines_on_the_example_repository_load(example_repo: Path, engine_kind: str) -> None:
    from tfkit.terraform import open_engine

    workdir = example_repo / "envs" / "staging"
    binary = os.environ.get("TFKIT_BINARY", "terraform")
    with open_engine(engine_kind, workdir, binary=binary, env={"TF_VAR_db_password": EXAMPLE_SECRET}) as eng:
        eng.init()
        planned = eng.plan(out=eng.run_dir / "tfplan", var_files=[workdir / "staging.tfvars"])
        plan = Plan.from_file(planned.plan_file, eng)
    assert EXAMPLE_SECRET.encode() in plan.raw, (
        "the raw plan holds the secret, so the checks below mean something"
    )
    assert len(plan.creates) == len(plan.resource_changes) == 10
    assert plan.summary().add == 10 and plan.has_changes
    assert 'module.network.terraform_data.subnet["eu-west-1a"]' in plan
    assert plan.by_module("module.network")
    assert validate_plan_schema(plan.raw) == []
    for text in (
        plan.redacted().decode(),
        render_text(plan),
        render_markdown(plan),
        json.dumps(summary_json(plan)),
    ):
        assert EXAMPLE_SECRET not in text


def test_invalid_utf8_in_parts_that_are_skipped_or_kept_raw() -> None:
    for where in ('"unknown_key": "\x80"', '"configuration": {"a": "\xc3("}'):
        with pytest.raises(PlanParseError, match="UTF-8"):
            load_plan(b'{"format_version": "1.2", ' + where.encode("latin-1") + b"}")
    assert load_plan('{"format_version": "1.2", "terraform_version": "ü"}'.encode()).terraform_version == "ü"


def test_plain_loading_does_not_import_the_schema_validator() -> None:
    import subprocess
    import sys

    code = (
        'import sys, tfkit.plan as p; p.load_plan(b\'{"format_version": "1.2"}\'); '
        "print('jsonschema' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------ comparing planned values


def _one_resource_plan(
    after: Any, unknown: Any, actions: list[str] | None = None, sensitive: Any = None
) -> Plan:
    change = {"actions": actions or ["create"], "after": after, "after_unknown": unknown}
    if sensitive is not None:
        change["after_sensitive"] = sensitive
    rc = {"address": "a.b", "mode": "managed", "type": "a", "name": "b", "change": change}
    return load_plan(json.dumps({"format_version": "1.2", "resource_changes": [rc]}))


def test_compare_planned_values_ignores_unknowns_and_sensitive_values() -> None:
    recorded = _one_resource_plan(
        {"x": 1, "ids": [None], "pw": "REDACTED"}, {"ids": [True], "id": True}, sensitive={"pw": True}
    )
    same = _one_resource_plan({"x": 1, "ids": ["i-1"], "id": "z", "pw": "other"}, {}, sensitive={"pw": True})
    assert same.compare_planned_values(recorded) == ()
    (diff,) = _one_resource_plan({"x": 2, "ids": ["i-1"]}, {"x": False}).compare_planned_values(recorded)
    assert (diff.address, diff.kind, diff.paths) == ("a.b", "changed", ("x",))
    assert diff.one_line() == "~ a.b (changed): x"
    (gone,) = _one_resource_plan({}, {}, ["delete"]).compare_planned_values(recorded)
    assert (gone.kind, gone.one_line()) == ("missing", "- a.b (missing)")
    (new,) = recorded.compare_planned_values(_one_resource_plan(None, {}, ["delete"]))
    assert new.kind == "extra"


def test_compare_planned_values_names_paths_as_attribute_changes_do() -> None:
    recorded = _one_resource_plan({"rules": [{"port": 22}], "tags": {"a.b": "x"}}, {})
    now = _one_resource_plan({"rules": [{"port": 443}], "tags": {"a.b": "y"}}, {})
    (diff,) = now.compare_planned_values(recorded)
    assert diff.paths == ("rules[0].port", 'tags["a.b"]')


def test_compare_planned_values_on_recorded_real_plans() -> None:
    recorded = REPO / "tests" / "fixtures" / "recorded"
    create = load_plan(recorded / "staging-create.json")
    v2 = load_plan(recorded / "staging-v2.json")
    (diff,) = v2.compare_planned_values(create)
    assert (diff.address, diff.kind, diff.paths) == (
        "module.service.terraform_data.primary",
        "changed",
        ("input.role",),
    )
    assert load_plan(recorded / "staging-noop.json").compare_planned_values(create) == ()


# ------------------------------------------------------------------ caches stay out of the JSON


def test_encoding_a_plan_writes_only_terraforms_keys() -> None:
    data = (REPO / "tests" / "fixtures" / "recorded" / "staging-v2.json").read_bytes()
    plan = load_plan(data)
    for rc in plan.resource_changes:  # fill every cache: actions, decoded values, derived answers
        assert rc.change.action in Action
        rc.change.attribute_changes()
    plan.by_type("terraform_data")
    plan.derived("mine", lambda p: len(p.resource_changes))
    assert plan.summary() is not None and plan.raw == data
    encoded = msgspec.json.encode(plan, enc_hook=dict)  # the read-only mappings encode as objects
    assert b"(tfkit" not in encoded and b'"action"' not in encoded and b'"raw"' not in encoded
    document = json.loads(encoded)
    change = document["resource_changes"][0]["change"]
    assert set(change) <= {
        "actions",
        "before",
        "after",
        "after_unknown",
        "before_sensitive",
        "after_sensitive",
        "replace_paths",
        "importing",
        "generated_config",
    }
    again = load_plan(encoded)
    assert [rc.change.after for rc in again.resource_changes] == [
        rc.change.after for rc in plan.resource_changes
    ]
    assert again.summary() == plan.summary()
