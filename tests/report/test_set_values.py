"""Set-typed attributes in the review: the provider schema says which attributes are sets, and the review
shows the elements a set adds and removes, as ``terraform show`` does, where the plan's JSON (which writes
sets as lists, in an order of Terraform's own) would suggest positions that changed.

The AWS fixtures were made on this machine with the real provider (tests/fixtures/sets/README.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from testsupport import REPO

from tfkit.plan import load_plan
from tfkit.provider_schema import SET_PATHS, cached_set_paths, provider_versions, set_paths
from tfkit.report.text import render_plan_text
from tfkit.report.values import value_lines
from tfkit.terraform.engine import embedded_engine

SETS = REPO / "tests" / "fixtures" / "sets"


def test_set_paths_of_a_real_provider_schema() -> None:
    found = set_paths((SETS / "aws-5.100.0-schema-excerpt.json").read_bytes())
    assert found["aws_security_group"] == {
        ("ingress",),
        ("egress",),
        ("ingress", "*", "security_groups"),
        ("egress", "*", "security_groups"),
    }
    instance = found["aws_instance"]
    assert {("vpc_security_group_ids",), ("ebs_block_device",), ("network_interface",)} <= instance
    assert ("root_block_device",) not in instance  # a list block, compared by position


def _terraform_elements(text: str, attribute: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The elements ``terraform show`` removes and adds in a set of objects (their scalar attributes)."""
    removed: list[dict[str, str]] = []
    added: list[dict[str, str]] = []
    body = text.split(f"~ {attribute}", 1)[1]
    for sign, block in re.findall(r"\n\s*([-+]) \{\n(.*?)\n\s*\},", body, re.S):
        fields = dict(re.findall(r"^\s*[-+] (\w+)\s+= (\"[^\"]*\"|\d+|true|false)$", block, re.M))
        (removed if sign == "-" else added).append(fields)
    return removed, added


def test_a_set_shows_the_elements_terraform_shows() -> None:
    plan = load_plan(SETS / "aws-security-group-update.plan.json")
    rc = plan["aws_security_group.web"]
    schema = set_paths((SETS / "aws-5.100.0-schema-excerpt.json").read_bytes())
    (line,) = value_lines(rc, set_paths=schema, max_value=10**4)
    assert line.startswith("ingress: (set) - {")
    removed, added = _terraform_elements((SETS / "aws-security-group-update.show.txt").read_text(), "ingress")
    assert [e["from_port"] for e in removed] == ["80"] and [e["from_port"] for e in added] == ["8443"]
    parts = line.split(": (set) ", 1)[1].split(", + ")
    ours_removed, ours_added = parts[0].removeprefix("- "), parts[1]
    for theirs, ours in ((removed[0], ours_removed), (added[0], ours_added)):
        element = json.loads(ours)
        for key, value in theirs.items():
            assert json.dumps(element[key]) == value, key
    # Without the schema, the plan's order suggests that the rule on port 80 became the one on 8443.
    positional = value_lines(rc, max_value=10**4)
    assert "ingress[0].from_port: 80 -> 8443" in positional


def test_the_review_uses_the_set_paths_a_session_kept_with_the_plan() -> None:
    plan = load_plan(SETS / "aws-security-group-update.plan.json")
    schema = set_paths((SETS / "aws-5.100.0-schema-excerpt.json").read_bytes())
    plan.derived(SET_PATHS, lambda _plan: schema)
    text = render_plan_text(plan)
    assert "ingress: (set) - {" in text and "ingress[0]" not in text
    assert "ingress[0].from_port" in render_plan_text(load_plan(SETS / "aws-security-group-update.plan.json"))


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("schema")
    (work / "main.tf").write_text('resource "terraform_data" "x" {\n  input = "a"\n}\n')
    return work


def test_provider_schemas_come_from_the_engine_once_per_provider_versions(
    initialised: Path, tmp_path: Path
) -> None:
    calls: list[str] = []
    with embedded_engine(initialised) as engine:
        engine.init()
        real = engine.providers_schema()
    assert "terraform.io/builtin/terraform" in json.loads(real)["provider_schemas"]

    def schemas() -> bytes:  # the engine's answer, counted (the engine is closed by now)
        calls.append("schema")
        return real

    first = cached_set_paths(initialised, tmp_path, schemas, terraform_version="1.15.5")
    again = cached_set_paths(initialised, tmp_path, schemas, terraform_version="1.15.5")
    assert first == again == set_paths(real)
    assert calls == ["schema"], "the second answer came from the cache"
    (initialised / ".terraform.lock.hcl").write_text(
        'provider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n  hashes = []\n}\n'
    )
    assert provider_versions(initialised) == {"registry.terraform.io/hashicorp/aws": "5.100.0"}
    cached_set_paths(initialised, tmp_path, schemas, terraform_version="1.15.5")
    assert calls == ["schema", "schema"], "other provider versions: the engine is asked again"
    cached_set_paths(initialised, tmp_path, schemas, terraform_version="1.16.0")
    assert len(calls) == 3, "another Terraform version (its built-in provider): asked again"
    entries = sorted((tmp_path / "provider-schemas").rglob("*.json"))
    assert len(entries) == 3, "one small entry per set of versions"
    for entry in entries:
        entry.write_text("{not json")
    assert cached_set_paths(initialised, tmp_path, schemas, terraform_version="1.16.0") == first
    assert len(calls) == 4, "an unreadable entry is asked for again"
