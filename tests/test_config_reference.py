"""docs/config.md is generated from the schema, and the defaults the schema states are the ones tfkit uses.

Each default is written once in the typed config (``tfkit.config``'s structs, the Checkov settings) and stated
in the schema for users; these tests fail when the two disagree or the page is stale.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from typing import Any

import msgspec
import pytest
from testsupport import REPO

from tfkit.config import EngineConfig, GuardConfig, PoliciesConfig, ReviewConfig, SnapshotsConfig, schema
from tfkit.scan.settings import CheckovSettings

DOCS = REPO / "docs"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("tfkit_config_reference", DOCS / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _keys(node: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, child in node.get("properties", {}).items():
        keys.add(f"{prefix}{key}")
        keys |= _keys(child, f"{prefix}{key}.")
    return keys


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(value)
    return getattr(value, "value", value)


def test_the_reference_page_is_generated_from_the_current_schema() -> None:
    assert (DOCS / "config.md").read_text(encoding="utf-8") == _generator().render(), (
        "docs/config.md is stale: run `python docs/config_reference.py`"
    )


def test_every_schema_key_is_on_the_reference_page() -> None:
    page = (DOCS / "config.md").read_text(encoding="utf-8")
    root = schema()
    nodes = [root, root["$defs"]["environment"], root["$defs"]["secret_source"]]
    names = {key.rsplit(".", 1)[-1] for node in nodes for key in _keys(node)}
    missing = sorted(name for name in names if not re.search(rf"[`.]{re.escape(name)}[`.]", page))
    assert names and not missing


@pytest.mark.parametrize(
    ("typed", "node_path"),
    [
        (EngineConfig(), ("properties", "engine")),
        (SnapshotsConfig(), ("properties", "snapshots")),
        (PoliciesConfig(), ("properties", "policies")),
        (GuardConfig(), ("properties", "guard")),
        (CheckovSettings(), ("properties", "checkov")),
        (ReviewConfig(), ("properties", "review")),
    ],
    ids=["engine", "snapshots", "policies", "guard", "checkov", "review"],
)
def test_the_schema_states_the_defaults_tfkit_uses(typed: Any, node_path: tuple[str, ...]) -> None:
    node = schema()
    for step in node_path:
        node = node[step]
    if isinstance(typed, msgspec.Struct):
        values = msgspec.structs.asdict(typed)
    else:
        values = {f.name: getattr(typed, f.name) for f in dataclasses.fields(typed)}
    stated = {key: prop["default"] for key, prop in node["properties"].items() if "default" in prop}
    assert stated, "the schema states no default here"
    for key, default in stated.items():
        assert _plain(values[key]) == default, f"{'.'.join(node_path[1:])}.{key}"
