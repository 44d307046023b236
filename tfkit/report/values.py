"""What each change does to its values, as review text: ``path: before -> after`` per changed attribute path.

Values are written as Terraform writes them in ``terraform show`` (strings quoted, ``null``, lists and
objects as compact JSON); a sensitive value is ``(sensitive)``, one known only after apply ``(known after
apply)``. A value longer than ``max_value`` characters is shortened, after every registered secret is
masked in it (so a shortened secret cannot escape the mask), and a change lists at most ``max_paths``
paths, then says how many more. A set-typed attribute (the provider schema says which, ``SetPaths``) is
written as the elements it adds and removes, since a set has no positions to compare.

Used by the text and Markdown renderers unless the names-only view is asked for (``[review] values =
false``, ``--names-only``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from tfkit.plan import (
    Action,
    AttributePath,
    Plan,
    ResourceChange,
    Value,
    ValueKind,
    format_path,
)
from tfkit.provider_schema import SET_PATHS
from tfkit.redact import MASK, mask

__all__ = ["MAX_PATHS", "MAX_VALUE", "SetPaths", "format_value", "plan_set_paths", "value_lines"]

MAX_VALUE = 60
"""The longest value written whole; longer ones are cut (``…``) and say how long they were."""
MAX_PATHS = 12
"""The most attribute paths written for one change."""

SetPaths = Mapping[str, Collection[tuple[str, ...]]]
"""Set-typed attribute paths by resource type; ``"*"`` stands for any list or set position."""

_SHOWN = (
    Action.UPDATE,
    Action.DELETE_THEN_CREATE,
    Action.CREATE_THEN_DELETE,
    Action.CREATE_THEN_FORGET,
    Action.CREATE,
)


def plan_set_paths(plan: Plan) -> SetPaths:
    """The set paths a session learnt for this plan from its providers' schemas (none if it did not)."""
    found: SetPaths = plan.derived(SET_PATHS, lambda _plan: {})
    return found


def format_value(value: Any, *, max_value: int = MAX_VALUE, hidden: Collection[str] = ()) -> str:
    """One value as Terraform writes it, masked, and shortened to ``max_value`` characters.

    A string in ``hidden`` (``Plan.sensitive_values``: a clear copy of a value the plan marks sensitive
    elsewhere) is masked like a sensitive one, and so is every registered secret.
    """
    text = mask(_render(value, hidden))
    if len(text) <= max_value:
        return text
    return f"{text[: max(max_value - 1, 1)]}… ({len(text)} characters)"


def _render(value: Any, hidden: Collection[str]) -> str:
    if isinstance(value, str):
        if value in hidden:
            return MASK
        if value.isprintable() and '"' not in value and "\\" not in value:
            return f'"{value}"'  # what json.dumps writes for it, without its cost
        return json.dumps(value, ensure_ascii=False)
    if type(value) is int:
        return repr(value)
    if isinstance(value, Value):
        if value.kind is ValueKind.SENSITIVE:
            return MASK
        if value.kind is ValueKind.UNKNOWN:
            return "(known after apply)"
        if value.kind is ValueKind.ABSENT:
            return "null"
        return _render(value.value, hidden)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_render(v, hidden)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v, hidden) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _set_prefix(path: AttributePath, patterns: Collection[tuple[str, ...]]) -> AttributePath | None:
    """The shortest prefix of ``path`` that is a set-typed attribute (``"*"`` matches an index)."""
    for size in range(1, len(path)):
        prefix = path[:size]
        shape = tuple("*" if isinstance(step, int) else step for step in prefix)
        if shape in patterns:
            return prefix
    return None


def _elements(value: Value) -> list[Any]:
    """The elements of a (known) set value, each as a plain or marked value."""
    return list(value.value) if value.is_known and isinstance(value.value, list) else []


def value_lines(
    rc: ResourceChange,
    *,
    set_paths: SetPaths | None = None,
    hidden: Collection[str] = (),
    max_value: int = MAX_VALUE,
    max_paths: int = MAX_PATHS,
) -> list[str]:
    """One line per changed attribute path: ``path: before -> after`` (``path = after`` for a create).

    A set-typed attribute is one line: ``path: (set) - element, + element``. Deletes and reads list no
    values. ``hidden`` are strings masked wherever they appear (``format_value``).
    """
    change = rc.change
    if change.action not in _SHOWN:
        return []
    create = change.action is Action.CREATE
    patterns = (set_paths or {}).get(rc.type, ())
    lines: list[str] = []
    seen_sets: set[AttributePath] = set()
    value: Callable[[Any], str] = lambda v: format_value(v, max_value=max_value, hidden=hidden)  # noqa: E731
    for path, before, after in change.value_changes():
        prefix = _set_prefix(path, patterns) if patterns else None
        if prefix is not None and not create:
            if prefix not in seen_sets:
                seen_sets.add(prefix)
                lines.append(_set_line(rc, prefix, value) if len(lines) < max_paths else "")
            continue
        if len(lines) >= max_paths:
            lines.append("")  # cut below: counted, not written
            continue
        shown = format_path(path)
        lines.append(f"{shown} = {value(after)}" if create else f"{shown}: {value(before)} -> {value(after)}")
    if len(lines) > max_paths:
        lines = [*lines[:max_paths], f"… and {len(lines) - max_paths} more attribute paths"]
    return lines


def _set_line(rc: ResourceChange, path: AttributePath, value: Callable[[Any], str]) -> str:
    before = _elements(rc.change.before_value(path))
    after_value = rc.change.after_value(path)
    if after_value.is_unknown or after_value.is_sensitive:
        return f"{format_path(path)}: (set) {value(rc.change.before_value(path))} -> {value(after_value)}"
    after = _elements(after_value)
    removed = [e for e in before if e not in after]
    added = [e for e in after if e not in before]
    parts = [f"- {value(e)}" for e in removed] + [f"+ {value(e)}" for e in added]
    return f"{format_path(path)}: (set) {', '.join(parts) if parts else 'no element changes'}"
