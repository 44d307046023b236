"""The review's values agree with Terraform's own ``terraform show`` text, on plans made with the real engine.

Each scenario applies a first configuration, changes it and plans again; Terraform's text of that saved plan
(``show`` through tfkit's engine) is parsed into resources, actions, attribute paths and values, and compared
with what ``tfkit.report.values`` lists for the same plan. Terraform diffs lists element by element, tfkit
by position: lists are compared as the elements they remove and add. A block Terraform shows whole before
``-> (known after apply)`` is compared by its path and after value. Terraform writes a sensitive value
``(sensitive value)``, tfkit ``(sensitive)``.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tfkit.plan import Action, Plan, load_plan
from tfkit.report.values import value_lines
from tfkit.terraform.engine import embedded_engine

SCENARIOS: dict[str, tuple[str, str]] = {
    "number in a map": (
        'resource "terraform_data" "x" {\n  input = { retention_hours = 24, name = "a" }\n}',
        'resource "terraform_data" "x" {\n  input = { retention_hours = 48, name = "a" }\n}',
    ),
    "keys added and removed": (
        'resource "terraform_data" "x" {\n  input = { a = "1", b = "2" }\n}',
        'resource "terraform_data" "x" {\n  input = { a = "1", c = true }\n}',
    ),
    "nested object": (
        'resource "terraform_data" "x" {\n  input = { db = { size = "small", port = 5432 } }\n}',
        'resource "terraform_data" "x" {\n  input = { db = { size = "large", port = 5433 } }\n}',
    ),
    "sensitive input": (
        'variable "pw" {\n  type = string\n  sensitive = true\n  default = "first-secret"\n}\n'
        'resource "terraform_data" "x" {\n  input = { pw = var.pw, user = "app" }\n}',
        'variable "pw" {\n  type = string\n  sensitive = true\n  default = "second-secret"\n}\n'
        'resource "terraform_data" "x" {\n  input = { pw = var.pw, user = "admin" }\n}',
    ),
    "known after apply": (
        'resource "terraform_data" "up" {\n  triggers_replace = "1"\n}\n'
        'resource "terraform_data" "x" {\n  input = { up = terraform_data.up.id, name = "a" }\n}',
        'resource "terraform_data" "up" {\n  triggers_replace = "2"\n}\n'
        'resource "terraform_data" "x" {\n  input = { up = terraform_data.up.id, name = "a" }\n}',
    ),
    "create": (
        'resource "terraform_data" "keep" {\n  input = "k"\n}',
        'resource "terraform_data" "keep" {\n  input = "k"\n}\n'
        'resource "terraform_data" "new" {\n'
        '  input = { n = 1, ok = false, nested = { k = "v" }, l = [1, 2] }\n}',
    ),
    "replace": (
        'resource "terraform_data" "r" {\n  triggers_replace = "v1"\n  input = "same"\n}',
        'resource "terraform_data" "r" {\n  triggers_replace = "v2"\n  input = "same"\n}',
    ),
    "destroy": (
        'resource "terraform_data" "a" {\n  input = "a"\n}\n'
        'resource "terraform_data" "gone" {\n  input = "bye"\n}',
        'resource "terraform_data" "a" {\n  input = "b"\n}',
    ),
    "long string": (
        f'resource "terraform_data" "x" {{\n  input = {{ text = "{"a" * 90}" }}\n}}',
        f'resource "terraform_data" "x" {{\n  input = {{ text = "{"b" * 90}" }}\n}}',
    ),
    "list elements": (
        'resource "terraform_data" "x" {\n  input = { list = ["a", "b"], n = 1 }\n}',
        'resource "terraform_data" "x" {\n  input = { list = ["a", "c", "d"], n = 1 }\n}',
    ),
    "scalar to object and count": (
        'resource "terraform_data" "x" {\n  count = 2\n  input = count.index\n}',
        'resource "terraform_data" "x" {\n  count = 3\n  input = { i = count.index }\n}',
    ),
}

_HEADER = re.compile(
    r"^  # (?P<address>\S+) "
    r"(?P<what>will be created|will be updated in-place|will be destroyed|must be replaced)"
)
_ACTIONS = {
    "will be created": {Action.CREATE},
    "will be updated in-place": {Action.UPDATE},
    "will be destroyed": {Action.DELETE},
    "must be replaced": {Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE},
}
_ATTRIBUTE = re.compile(r"^\s*(?P<sym>[-+~])?\s*(?P<key>[\w-]+)\s+= (?P<value>.*)$")
_CLOSE = re.compile(r"^\s*[}\]](?: -> (?P<after>.*))?$")
_ELEMENT = re.compile(r"^\s*(?P<sym>[-+~])?\s*(?P<value>[^#].*?),$")


@dataclass
class Shown:
    """One resource as either side shows it: action, leaf values by path, list elements by list path."""

    action: str
    leaves: dict[str, tuple[str, str]] = field(default_factory=dict)
    lists: dict[str, tuple[Counter[str], Counter[str]]] = field(default_factory=dict)


def _normal(value: str) -> str:
    value = value.removesuffix(" # forces replacement").strip()
    return "(sensitive)" if value == "(sensitive value)" else value


def _split(sym: str | None, value: str) -> tuple[str, str]:
    if " -> " in value:
        before, after = value.split(" -> ", 1)
        return _normal(before), _normal(after)
    if sym == "+":
        return "null", _normal(value)
    if sym == "-":
        return _normal(value), "null"
    return _normal(value), _normal(value)


def parse_terraform(text: str) -> dict[str, Shown]:
    """Terraform's plan text: per resource its action, changed leaves and list element changes."""
    out: dict[str, Shown] = {}
    lines = text.split("Terraform will perform the following actions:", 1)[-1].splitlines()
    current: Shown | None = None
    stack: list[tuple[str, str, str | None]] = []  # (path, kind, symbol)
    retyped: dict[str, str] = {}  # paths whose value changes type: their before value
    for line in lines:
        header = _HEADER.match(line)
        if header:
            current = out[header["address"]] = Shown(header["what"])
            stack = []
            continue
        if (
            current is None
            or re.match(r"^\S*\s*(?:[-+~]|-/\+|\+/-)?\s*resource ", line)
            or "#" in line.strip()[:1]
        ):
            continue
        if line.strip() == "}" and not stack:
            current = None
            continue
        close = _CLOSE.match(line)
        if close and stack:
            path, _kind, _sym = stack.pop()
            if path in retyped:  # `old -> {`: a value of another type, written whole (one level here)
                inner = {k: v for k, v in current.leaves.items() if k.startswith(path + ".")}
                for key in inner:
                    del current.leaves[key]
                fields = ", ".join(f'"{k.rsplit(".", 1)[1]}": {v[1]}' for k, v in inner.items())
                current.leaves[path] = (retyped.pop(path), "{" + fields + "}")
            elif close["after"]:
                for key in [k for k in current.leaves if k.startswith(path + ".")]:
                    del current.leaves[key]
                for key in [k for k in current.lists if k.startswith(path)]:
                    del current.lists[key]
                current.leaves[path] = ("(whole)", _normal(close["after"]))
            continue
        inside = stack[-1] if stack else None
        if inside is not None and inside[1] == "list":
            element = _ELEMENT.match(line)
            if element:
                removed, added = current.lists.setdefault(inside[0], (Counter(), Counter()))
                if element["sym"] in ("-", "~"):
                    removed[_normal(element["value"])] += 1
                if element["sym"] in ("+", "~") or (inside[2] == "+" and element["sym"] is None):
                    added[_normal(element["value"])] += 1
                continue
        attribute = _ATTRIBUTE.match(line)
        if attribute is None:
            continue
        path = ".".join([*(p for p, _k, _s in stack[-1:]), attribute["key"]])
        value = attribute["value"].removesuffix(" # forces replacement")
        if value.endswith(("{", "[")):
            stack.append((path, "object" if value.endswith("{") else "list", attribute["sym"]))
            if " -> " in value:
                retyped[path] = _normal(value.split(" -> ", 1)[0])
        elif attribute["sym"]:
            current.leaves[path] = _split(attribute["sym"], value)
    return out


def parse_tfkit(plan: Plan) -> dict[str, Shown]:
    """tfkit's value lines for the same plan, in the same shape (lists as elements removed and added)."""
    out: dict[str, Shown] = {}
    for rc in plan.resource_changes:
        if rc.action is Action.NOOP:
            continue
        shown = out[rc.address] = Shown(rc.action.value)
        for line in value_lines(rc, max_value=10**6, max_paths=10**6):
            if " = " in line.split(": ", 1)[0] or ": " not in line:
                path, after = line.split(" = ", 1)
                before = "null"
            else:
                path, rest = line.split(": ", 1)
                before, after = rest.split(" -> ", 1)
            list_path = re.match(r"^(?P<path>[^\[]+)\[\d+\]$", path)
            if list_path:
                removed, added = shown.lists.setdefault(list_path["path"], (Counter(), Counter()))
                removed.update([before] if before != "null" else [])
                added.update([after] if after != "null" else [])
            else:
                shown.leaves[path] = (before, after)
    for shown in out.values():
        for path, (removed, added) in list(shown.lists.items()):
            shown.lists[path] = (removed - added, added - removed)
    return out


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Plan]]:
    """Each scenario's second plan: Terraform's text of it, and the plan tfkit decodes."""
    out: dict[str, tuple[str, Plan]] = {}
    for name, (first, second) in SCENARIOS.items():
        work = tmp_path_factory.mktemp("scenario")
        (work / "main.tf").write_text(textwrap.dedent(first) + "\n")
        with embedded_engine(work) as engine:
            engine.init()
            plan_file = engine.run_dir / "first.tfplan"
            engine.plan(out=plan_file)
            engine.apply(plan_file)
            (work / "main.tf").write_text(textwrap.dedent(second) + "\n")
            plan_file = engine.run_dir / "second.tfplan"
            engine.plan(out=plan_file)
            out[name] = (engine.show_plan_text(plan_file), load_plan(engine.show_plan(plan_file)))
    return out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_review_shows_what_terraform_shows(compared: dict[str, tuple[str, Plan]], scenario: str) -> None:
    text, plan = compared[scenario]
    theirs, ours = parse_terraform(text), parse_tfkit(plan)
    assert set(theirs) == set(ours), "the same resources"
    for address, shown in theirs.items():
        mine = ours[address]
        assert Action(mine.action) in _ACTIONS[shown.action], address
        if Action(mine.action) is Action.DELETE:
            continue  # Terraform lists every attribute it destroys; the review lists none
        for path, (before, after) in shown.leaves.items():
            assert path in mine.leaves, f"{address}: {path} is missing"
            if before == "(whole)":
                assert mine.leaves[path][1] == after, f"{address}: {path}"
            else:
                assert mine.leaves[path] == (before, after), f"{address}: {path}"
        assert set(mine.leaves) == set(shown.leaves), f"{address}: the same attribute paths"
        assert mine.lists == {p: v for p, v in shown.lists.items() if v[0] or v[1]}, f"{address}: lists"


def test_every_scenario_changes_something(compared: dict[str, tuple[str, Plan]]) -> None:
    assert len(compared) >= 10
    for name, (_text, plan) in compared.items():
        assert plan.has_changes, name
