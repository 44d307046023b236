"""Required tags (``_tags.gaps``, TFK006's engine): the msgspec decode of all values gives the right answer.

It is checked against a reference that decodes each value with ``json`` and follows the attribute paths in
plain Python, on generated values in every JSON layout (escaped key names included) and on every real
fixture plan.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testsupport import PLANS

from tfkit.plan import load_plan
from tfkit.policy import _columns, _tags
from tfkit.policy._detect import Packed

ATTRIBUTES = (
    "tags",
    "labels",
    "input.tags",
    "metadata.labels",
    "metadata",
    "tags",
)  # one inside another, twice
KEYS = ("owner", "env")


def reference(values: list[Any], attributes: tuple[str, ...], keys: tuple[str, ...]) -> _tags.Gaps:
    """The gaps, by following each attribute path in the decoded values."""
    groups: _tags.Gaps = {}
    for index, value in enumerate(values):
        for number, attribute in enumerate(attributes):
            node = value
            for step in attribute.split("."):
                node = node.get(step) if isinstance(node, dict) else None
            if isinstance(node, dict):
                missing = tuple(key for key in keys if key not in node)
                if missing:
                    groups.setdefault((number, missing), []).append(index)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], item[1][0])))


def _escape_keys(text: str) -> str:
    """JSON with the first letter of every object key written as a \\u escape (same value)."""
    return re.sub(r'"([A-Za-z])([^"\\]*)":', lambda m: f'"\\u{ord(m[1]):04x}{m[2]}":', text)


LAYOUTS = {
    "compact (Terraform)": lambda v: json.dumps(v, separators=(",", ":")),
    "json.dumps default": json.dumps,
    "indented": lambda v: json.dumps(v, indent=2),
    "space before colons": lambda v: json.dumps(v, separators=(" , ", " : ")),
    "escaped key names": lambda v: _escape_keys(json.dumps(v, separators=(",", ":"))),
}

scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "owner", '"quoted"'])
tag_maps = st.dictionaries(st.sampled_from(["owner", "env", "Owner", "team", "own"]), scalars, max_size=4)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=2), max_leaves=3)
values = st.recursive(
    tag_maps | scalars,
    lambda inner: st.dictionaries(
        st.sampled_from(["tags", "labels", "input", "metadata", "name", "Tags"]), inner | anything, max_size=4
    ),
    max_leaves=10,
)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    documents=st.lists(values, min_size=1, max_size=8), keys=st.sampled_from([KEYS, ("owner",), ("team",)])
)
def test_gaps_match_the_reference(layout: str, documents: list[Any], keys: tuple[str, ...]) -> None:
    packed = Packed([LAYOUTS[layout](v).encode() for v in documents])
    assert _tags.gaps(packed, ATTRIBUTES, keys) == reference(documents, ATTRIBUTES, keys)


def test_only_objects_are_checked_at_each_path() -> None:
    documents = [
        {"input": "not an object", "tags": {"env": "x"}},
        {"input": {"tags": None}, "tags": ["owner"]},
        {"input": {"tags": {"owner": None}}},
        {"tags": {"owner": "a", "env": "b"}, "labels": {}},
        None,
    ]
    packed = Packed([json.dumps(d).encode() for d in documents])
    assert _tags.gaps(packed, ("tags", "labels", "input.tags"), KEYS) == {
        (0, ("owner",)): [0],
        (1, ("owner", "env")): [3],
        (2, ("env",)): [2],
    }


def test_the_last_of_duplicate_keys_counts() -> None:
    packed = Packed([b'{"tags":{"owner":1},"tags":{"env":2}}', b'{"tags":{"env":2},"tags":{"owner":1}}'])
    assert _tags.gaps(packed, ("tags",), ("owner",)) == {(0, ("owner",)): [0]}


def test_a_later_duplicate_of_a_key_on_the_path_replaces_the_earlier() -> None:
    packed = Packed([b'{"input":{"tags":{}},"input":null}', b'{"input":{"tags":{}},"input":{}}'])
    assert _tags.gaps(packed, ("input.tags",), ("owner",)) == {}
    packed = Packed([b'{"input":null,"input":{"tags":{}}}'])
    assert _tags.gaps(packed, ("input.tags",), ("owner",)) == {(0, ("owner",)): [0]}


def test_attribute_and_key_names_need_not_be_python_names() -> None:
    packed = Packed([b'{"my-tags":{"cost center":1}}', b'{"my-tags":{"x\\u0041":1}}', b'{"a b":{"c":{}}}'])
    assert _tags.gaps(packed, ("my-tags", "a b.c"), ("cost center",)) == {
        (0, ("cost center",)): [1],
        (1, ("cost center",)): [2],
    }


def test_escaped_key_names_are_decoded() -> None:
    packed = Packed([b'{"t\\u0061gs":{"env":1}}', b'{"tags":{"\\u006fwner":1}}', b'{"tags":{}}'])
    assert _tags.gaps(packed, ("tags",), ("owner",)) == {(0, ("owner",)): [0, 2]}


def _every_plan() -> list[Path]:
    return sorted(PLANS.rglob("*.json"))


@pytest.mark.parametrize("path", _every_plan(), ids=lambda p: str(p.relative_to(PLANS)))
def test_gaps_on_real_plans_match_the_reference(path: Path) -> None:
    plan = load_plan(path)
    attributes, keys = ("tags", "tags_all", "labels", "input.tags"), ("Name", "owner", "Environment")
    decoded = [rc.change.after for rc in plan.resource_changes]
    assert _tags.gaps(_columns.packed_afters(plan), attributes, keys) == reference(decoded, attributes, keys)
