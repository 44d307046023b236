"""Rendering plans: compact text, Markdown under a size budget, the JSON summary; values in review lines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_plan import FIXTURES, fixture_id, fixtures_dir, minimal_plan, planted_with_canaries, rc_doc

from tfkit.plan import Plan, load_plan
from tfkit.report.json import summary_json
from tfkit.report.markdown import DEFAULT_MARKDOWN_BUDGET, render_plan_markdown
from tfkit.report.text import render_plan_text
from tfkit.report.vocabulary import summary_line


def fixture_plan(name: str) -> Plan:
    return load_plan((fixtures_dir() / name).read_bytes())


def many_creates(count: int, modules: int = 3) -> Plan:
    """A plan creating ``count`` for_each instances spread over ``modules`` modules."""
    changes = [
        rc_doc(f'module.m{i % modules}.terraform_data.item["key-{i:05d}"]', ["create"], index=f"key-{i:05d}")
        for i in range(count)
    ]
    return load_plan(json.dumps(minimal_plan(changes=changes)))


# ----------------------------------------------------------------------------------------------- text


def test_text_groups_by_module_and_action_with_reasons() -> None:
    plan = fixture_plan("tfplan2md/azuredevops-mixed-actions-v1.2.json")
    assert 'name = "example-pipeline"' in render_plan_text(plan), "values are shown by default"
    text = render_plan_text(plan, values=False)
    lines = text.splitlines()
    assert lines[0] == "Terraform 1.14.2, plan format 1.2"
    assert "Root module" in lines
    headings = [line.strip() for line in lines if re.match(r"^  \S", line)]
    assert headings[:5] == [
        "+ create (2)",
        "~ update in-place (1)",
        "-/+ replace (destroy, then create) (1)",
        "- destroy (1)",
        "<= read (data sources) (1)",
    ]
    assert (
        "azuredevops_variable_group.example  (cannot be updated in place; forces replacement: project_id)"
        in text
    )
    assert "azuredevops_build_definition.example  (not in configuration)" in text
    assert "azuredevops_project.example  (changes features.boards)" in text
    assert "Plan: 3 to add, 1 to change, 2 to destroy." in lines
    assert "  ~ pipeline_id" in lines
    assert "example-pipeline" not in text, "the names-only view renders no attribute value"


def test_text_puts_the_root_first_then_modules_in_plan_order() -> None:
    text = render_plan_text(fixture_plan("tf-summarize/github-provider-drift-v1.0.json"))
    order = [
        line for line in text.splitlines() if line and not line.startswith(" ") and "module" in line.lower()
    ]
    assert order == [
        "Root module",
        'module.github["demo-repository"]',
        'module.github["terraform-plan-summary"]',
    ]
    assert "Objects changed outside of Terraform (3):" in text
    assert "github_branch.demo has been deleted" in text


def test_text_of_a_plan_without_changes_says_so() -> None:
    text = render_plan_text(fixture_plan("regula/cloudtrail-noop-drift-v1.0.json"))
    assert "Objects changed outside of Terraform (4):" in text
    # Terraform's words, and the drift it has just listed is not denied (a normal plan, not refresh-only).
    assert text.rstrip().endswith(
        "No changes. Your infrastructure matches the configuration, which already matches the "
        "4 change(s) made outside of Terraform listed above."
    )
    assert "Plan:" not in text
    errored = render_plan_text(load_plan(json.dumps(minimal_plan(errored=True))))
    assert "Planning failed" in errored and "do not apply it" in errored
    empty = render_plan_text(load_plan(json.dumps(minimal_plan())))
    assert "(no-resources)" in empty


def test_text_notes_moves_imports_forgets_and_deposed_objects() -> None:
    changes = [
        rc_doc("a.moved", ["no-op"], previous_address="a.old"),
        rc_doc("a.imported", ["no-op"], change={"actions": ["no-op"], "importing": {"id": "i-1"}}),
        rc_doc("a.gone", ["forget"]),
        rc_doc("a.dep", ["delete"], deposed="00ab"),
    ]
    text = render_plan_text(load_plan(json.dumps(minimal_plan(changes=changes))))
    assert "a.moved  (moved from a.old)" in text
    assert "a.imported  (imported from i-1)" in text
    assert ". forget (removed from state, not destroyed) (1)" in text
    assert "a.dep  (deposed object 00ab, left over from a partially-failed replacement)" in text
    assert "Plan: 1 to import, 0 to add, 0 to change, 1 to destroy." in text
    assert "(1 to forget, 1 moved.)" in text


def test_text_never_shows_sensitive_values_and_shows_others_only_in_the_full_view() -> None:
    change = {
        "actions": ["update"],
        "before": {"password": "old-pass-value", "size": "small-size"},
        "after": {"password": "new-pass-value", "size": "large-size"},
        "before_sensitive": {"password": True},
        "after_sensitive": {"password": True},
    }
    outputs = {
        "token": {"actions": ["update"], "before": "tok-old", "after": "tok-new", "after_sensitive": True}
    }
    plan = load_plan(
        json.dumps(minimal_plan(changes=[rc_doc("a.b", ["update"], change=change)], output_changes=outputs))
    )
    names_only = (
        render_plan_text(plan, values=False),
        render_plan_markdown(plan, values=False),
        json.dumps(summary_json(plan)),
    )
    for text in names_only:
        for value in ("pass-value", "small-size", "large-size", "tok-old", "tok-new"):
            assert value not in text
    for text in (render_plan_text(plan), render_plan_markdown(plan)):
        for value in ("pass-value", "tok-old", "tok-new"):
            assert value not in text
        assert 'size: "small-size" -> "large-size"' in text
        assert "password: (sensitive) -> (sensitive)" in text
    assert "a.b  (changes password, size)" in render_plan_text(plan, values=False)
    assert "  ~ token (sensitive)" in render_plan_text(plan)


# ------------------------------------------------------------------------------------------- markdown


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
@pytest.mark.parametrize("budget", [DEFAULT_MARKDOWN_BUDGET, 4000, 600])
def test_markdown_stays_under_the_budget(path: Path, budget: int) -> None:
    text = render_plan_markdown(load_plan(path.read_bytes()), budget=budget)
    assert len(text) <= budget
    assert text.count("<details") == text.count("</details>")


def listed_items(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- `")]


def left_out(text: str) -> int:
    return sum(int(n) for n in re.findall(r"… (?:and )?(\d+) more (?:entries )?not listed", text))


def test_markdown_truncation_says_what_it_left_out() -> None:
    plan = many_creates(3000)
    text = render_plan_markdown(plan, budget=20_000)
    assert len(text) <= 20_000
    assert left_out(text) > 0
    assert len(listed_items(text)) + left_out(text) == 3000
    assert text.startswith("### Plan: 3000 to add, 0 to change, 0 to destroy.")
    full = render_plan_markdown(plan, budget=10_000_000)
    assert len(listed_items(full)) == 3000 and left_out(full) == 0


def test_markdown_folds_long_sections_and_opens_short_ones() -> None:
    text = render_plan_markdown(fixture_plan("terraform-plan-comment/create-300-for-each-v1.2.json"))
    assert "<details><summary><code>+</code> Create (300)</summary>" in text
    short = render_plan_markdown(fixture_plan("tfplan2md/azuredevops-mixed-actions-v1.2.json"))
    assert "<details open><summary><code>-</code> Destroy (1)</summary>" in short
    assert "> 2 object(s) will be destroyed (1 replaced)." in short
    assert "| 3 | 1 | 2 | 1 | 0 | 0 | 0 | 1 |" in short


def test_markdown_keeps_odd_addresses_inside_code() -> None:
    address = 'terraform_data.t["a`b</details>\nx"]'
    plan = load_plan(
        json.dumps(minimal_plan(changes=[{**rc_doc("terraform_data.t[0]", ["create"]), "address": address}]))
    )
    assert '- ``terraform_data.t["a`b</details>\\nx"]``' in render_plan_markdown(plan).splitlines()
    assert 'terraform_data.t["a`b</details>\\nx"]' in render_plan_text(plan).splitlines()[-3]


def test_markdown_of_drift_outputs_and_an_empty_plan() -> None:
    drift = render_plan_markdown(fixture_plan("regula/cloudtrail-noop-drift-v1.0.json"))
    assert drift.startswith(
        "### No changes. Your infrastructure matches the configuration, which already matches"
    )
    assert "Changed outside of Terraform (4)" in drift
    outputs = render_plan_markdown(fixture_plan("tfplan2md/azuredevops-mixed-actions-v1.2.json"))
    assert "- `pipeline_id` update" in outputs


# ----------------------------------------------------------------------------------------------- json


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_summary_json_matches_the_plan(path: Path) -> None:
    plan = load_plan(path.read_bytes())
    data = json.loads(json.dumps(summary_json(plan)))
    summary = plan.summary()
    assert data["summary"]["add"] == summary.add and data["summary"]["destroy"] == summary.destroy
    assert data["summary"]["import"] == summary.import_
    assert data["line"] == summary_line(summary)
    assert data["format_version"] == plan.format_version
    assert data["has_changes"] is plan.has_changes
    assert {c["address"] for c in data["resource_changes"]} <= {rc.address for rc in plan.resource_changes}
    assert all("before" not in c and "after" not in c for c in data["resource_changes"])
    assert len(data["drift"]) == len(plan.drift)


def test_summary_json_lists_what_terraform_would_show() -> None:
    data = summary_json(fixture_plan("tfplan2md/azuredevops-mixed-actions-v1.2.json"))
    actions = sorted((c["address"], c["action"]) for c in data["resource_changes"])
    assert actions == [
        ("azuredevops_build_definition.example", "delete"),
        ("azuredevops_build_definition.example2", "create"),
        ("azuredevops_project.example", "update"),
        ("azuredevops_project.example2", "create"),
        ("azuredevops_variable_group.example", "delete-then-create"),
        ("data.azuredevops_project.example", "read"),
    ]
    replaced = next(c for c in data["resource_changes"] if c["action"] == "delete-then-create")
    assert replaced["replace_paths"] == [["project_id"]]
    assert replaced["action_reason"] == "replace_because_cannot_update"
    assert data["outputs"] == [
        {"name": "pipeline_id", "action": "update", "sensitive": False},
        {"name": "variable_group_id", "action": "update", "sensitive": False},
    ]
    empty: dict[str, Any] = summary_json(load_plan(json.dumps(minimal_plan(errored=True))))
    assert empty["empty_reason"] == "errored" and empty["resource_changes"] == []


# --------------------------------------------------------------------------------------- no leaks


@pytest.mark.parametrize("path", FIXTURES, ids=fixture_id)
def test_renderers_never_show_a_sensitive_value(path: Path) -> None:
    data, canaries = planted_with_canaries(path)
    plan = load_plan(data)
    for text in (render_plan_text(plan), render_plan_markdown(plan), json.dumps(summary_json(plan))):
        assert not any(canary in text for canary in canaries)
        assert "CANARY-" not in text


def test_a_plan_that_changes_only_outputs_says_so() -> None:
    outputs = {"url": {"actions": ["create"], "before": None, "after": "u"}}
    plan = load_plan(json.dumps(minimal_plan(changes=[rc_doc("a.b", ["no-op"])], output_changes=outputs)))
    assert plan.has_changes
    for text in (render_plan_text(plan), render_plan_markdown(plan)):
        assert "Only outputs change" in text and "No changes" not in text
