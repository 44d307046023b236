"""The review's value lines: masked, shortened after masking, unknowns named, a budget of paths per change;
and the names-only view from the command line and from tfkit.toml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_plan import minimal_plan, rc_doc

from tfkit.plan import load_plan
from tfkit.redact import register_secret
from tfkit.report.values import MAX_PATHS, format_value, value_lines


def _one(change: dict[str, Any], actions: list[str] | None = None) -> list[str]:
    actions = actions or ["update"]
    plan = load_plan(
        json.dumps(minimal_plan(changes=[rc_doc("a.b", actions, change={"actions": actions, **change})]))
    )
    return value_lines(plan["a.b"], hidden=plan.sensitive_values)


def test_before_and_after_per_changed_path() -> None:
    lines = _one(
        {
            "before": {"input": {"retention_hours": 24, "name": "x", "gone": "old"}, "flag": False},
            "after": {"input": {"retention_hours": 48, "name": "x", "added": [1, 2]}, "flag": None},
            "after_unknown": {"id": True},
        }
    )
    assert lines == [
        "input.retention_hours: 24 -> 48",
        'input.gone: "old" -> null',
        "input.added[0]: null -> 1",
        "input.added[1]: null -> 2",
        "flag: false -> null",
        "id: null -> (known after apply)",
    ]


def test_sensitive_values_and_their_clear_copies_are_masked() -> None:
    lines = _one(
        {
            "before": {"input": {"pw": "old-secret-1"}, "output": {"pw": "old-secret-1"}, "n": 1},
            "after": {"input": {"pw": "new-secret-2"}, "n": 2},
            "after_unknown": {"output": True},
            "before_sensitive": {"input": {"pw": True}},
            "after_sensitive": {"input": {"pw": True}},
        }
    )
    text = "\n".join(lines)
    assert "secret" not in text
    assert "input.pw: (sensitive) -> (sensitive)" in lines
    assert 'output: {"pw": (sensitive)} -> (known after apply)' in lines  # the copy Terraform leaves clear


def test_long_values_are_cut_after_masking() -> None:
    secret = "registered-secret-" + "z" * 60
    register_secret(secret)
    shown = format_value("prefix " + secret, max_value=30)
    assert "registered-secret" not in shown and "zzz" not in shown
    assert shown.startswith('"prefix (sensitive)') or len(shown) < 60
    long = format_value("a" * 100)
    assert long == '"' + "a" * 58 + "… (102 characters)" and len(long.split("…")[0]) == 59


def test_a_change_lists_at_most_max_paths_paths() -> None:
    before = {f"k{i:02d}": i for i in range(MAX_PATHS + 5)}
    after = {k: v + 1 for k, v in before.items()}
    lines = _one({"before": before, "after": after})
    assert len(lines) == MAX_PATHS + 1
    assert lines[-1] == "… and 5 more attribute paths"


def test_creates_list_their_values_and_deletes_list_none() -> None:
    assert _one({"before": None, "after": {"name": "n", "tags": {}}}, ["create"]) == [
        'name = "n"',
        "tags = {}",
    ]
    assert _one({"before": {"name": "n"}, "after": None}, ["delete"]) == []


def test_names_only_from_the_command_line_and_from_tfkit_toml(example_repo: Path, tfkit_cli) -> None:
    change = {"actions": ["update"], "before": {"size": "small-size"}, "after": {"size": "large-size"}}
    plan_json = example_repo / "plan.json"
    plan_json.write_text(json.dumps(minimal_plan(changes=[rc_doc("a.b", ["update"], change=change)])))
    full = tfkit_cli("show", str(plan_json), cwd=example_repo)
    assert full.returncode == 0, full.stderr
    assert 'size: "small-size" -> "large-size"' in full.stdout
    for args in (
        ["show", str(plan_json), "--names-only"],
        ["show", str(plan_json), "--markdown", "--names-only"],
    ):
        names = tfkit_cli(*args, cwd=example_repo)
        assert names.returncode == 0, names.stderr
        assert "small-size" not in names.stdout and "size" in names.stdout


def test_the_review_setting_in_tfkit_toml_and_the_flag(example_repo: Path, tfkit_cli) -> None:
    planned = tfkit_cli("plan", "--env", "dev", "--no-gate", cwd=example_repo)
    assert planned.returncode == 0, planned.stderr
    value_lines = [line for line in planned.stdout.splitlines() if line.startswith("          ")]
    assert value_lines and all(
        " = " in line or " -> " in line or line.strip().startswith("… and ") for line in value_lines
    )
    flag = tfkit_cli("plan", "--env", "dev", "--no-gate", "--names-only", cwd=example_repo)
    assert flag.returncode == 0 and not [x for x in flag.stdout.splitlines() if x.startswith("          ")]
    with (example_repo / "tfkit.toml").open("a") as config:
        config.write("\n[review]\nvalues = false\n")
    configured = tfkit_cli("plan", "--env", "dev", "--no-gate", cwd=example_repo)
    assert configured.returncode == 0, configured.stderr
    assert not [line for line in configured.stdout.splitlines() if line.startswith("          ")]
