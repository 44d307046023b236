"""Plan assertions whose failures explain themselves: the offending addresses and attribute diffs.

Each helper raises ``PlanAssertionError`` (an ``AssertionError``) with a message listing what went wrong;
sensitive values are shown as ``(sensitive)`` and the text passes through ``tfkit.redact.mask``. The helpers
hide their own frames from pytest tracebacks (``__tracebackhide__``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Self

from tfkit.addresses import matches_any
from tfkit.plan import SENSITIVE_TEXT, UNKNOWN_TEXT, Action, Plan, ResourceChange, parse_path
from tfkit.redact import mask

if TYPE_CHECKING:
    from tfkit.policy.api import Policy
    from tfkit.project import Project

__all__ = [
    "UNKNOWN",
    "PlanAssertionError",
    "ResourceAssertion",
    "assert_no_changes",
    "assert_no_deletes",
    "assert_only",
    "assert_policies_pass",
    "assert_resource",
    "describe_change",
]

#: Expect a value that is known only after apply: ``created_with({"id": UNKNOWN})``.
UNKNOWN: Any = type("_Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()

_MAX_LISTED = 25
_ACTION_WORDS: dict[str, tuple[Action, ...]] = {
    "no-op": (Action.NOOP,),
    "noop": (Action.NOOP,),
    "create": (Action.CREATE,),
    "read": (Action.READ,),
    "update": (Action.UPDATE,),
    "delete": (Action.DELETE,),
    "replace": (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE),
    "delete-then-create": (Action.DELETE_THEN_CREATE,),
    "create-then-delete": (Action.CREATE_THEN_DELETE,),
    "forget": (Action.FORGET, Action.CREATE_THEN_FORGET),
}


class PlanAssertionError(AssertionError):
    """A plan assertion failed; the message lists the addresses and attribute diffs involved."""


def _fail(text: str) -> PlanAssertionError:
    return PlanAssertionError(mask(text))


def _show(value: Any) -> str:
    if value in (SENSITIVE_TEXT, UNKNOWN_TEXT):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def describe_change(rc: ResourceChange, *, limit: int = 10) -> list[str]:
    """``~ address (update)`` and one indented line per changed attribute (sensitive values masked)."""
    lines = [f"  {rc.address} ({rc.change.action.value})"]
    if rc.change.action in (Action.UPDATE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE):
        changes = rc.change.attribute_changes()
        for ac in changes[:limit]:
            lines.append(f"      {ac.path_str}: {_show(ac.before)} -> {_show(ac.after)}")
        if len(changes) > limit:
            lines.append(f"      ... and {len(changes) - limit} more attribute(s)")
    return lines


def _listing(changes: Iterable[ResourceChange]) -> str:
    items = list(changes)
    lines: list[str] = []
    for rc in items[:_MAX_LISTED]:
        lines.extend(describe_change(rc))
    if len(items) > _MAX_LISTED:
        lines.append(f"  ... and {len(items) - _MAX_LISTED} more")
    return "\n".join(lines)


def _changed(plan: Plan) -> list[ResourceChange]:
    return [
        rc
        for rc in plan.resource_changes
        if rc.change.action is not Action.NOOP and not (rc.mode == "data" and rc.change.action is Action.READ)
    ]


def assert_no_changes(plan: Plan) -> None:
    """The plan changes nothing (idempotence: a second plan after apply is empty)."""
    __tracebackhide__ = True
    changed = _changed(plan)
    outputs = sorted(n for n, oc in plan.output_changes.items() if oc.action is not Action.NOOP)
    if not changed and not outputs and not plan.moves:
        return
    text = f"expected no changes, but the plan has {len(changed)} resource change(s)"
    if changed:
        text += ":\n" + _listing(changed)
    if outputs:
        text += f"\n  output changes: {', '.join(outputs)}"
    raise _fail(text)


def assert_no_deletes(plan: Plan, *, allow: Iterable[str] = ()) -> None:
    """No object is deleted or replaced, except addresses matching an ``allow`` pattern.

    Patterns are ``tfkit.addresses`` patterns: exact addresses with instance keys (``aws_db.x[0]``) and
    ``*``/``?`` wildcards, as in waivers and TFK001's ``allow``.
    """
    __tracebackhide__ = True
    patterns = tuple(allow)
    bad = [
        rc
        for rc in plan.resource_changes
        if rc.change.action.is_destructive and rc.mode == "managed" and not matches_any(patterns, rc.address)
    ]
    if bad:
        raise _fail(
            f"expected no deletes or replacements, but {len(bad)} object(s) would be destroyed:\n"
            + _listing(bad)
        )


def _actions(actions: Iterable[str | Action] | str | Action) -> set[Action]:
    if isinstance(actions, str | Action):
        actions = [actions]
    wanted: set[Action] = {Action.NOOP}
    for item in actions:
        if isinstance(item, Action):
            wanted.add(item)
            continue
        found = _ACTION_WORDS.get(str(item).lower())
        if found is None:
            raise ValueError(f"unknown action {item!r}; use one of {', '.join(_ACTION_WORDS)}")
        wanted.update(found)
    return wanted


def assert_only(plan: Plan, actions: Iterable[str | Action] | str | Action) -> None:
    """Every change is one of ``actions`` (``"create"``, ``"update"``, ``"replace"``, ``"delete"``, ...)."""
    __tracebackhide__ = True
    wanted = _actions(actions)
    bad = [rc for rc in _changed(plan) if rc.change.action not in wanted]
    if bad:
        names = ", ".join(sorted({a.value for a in wanted if a is not Action.NOOP}))
        raise _fail(f"expected only {names}, but {len(bad)} change(s) are something else:\n{_listing(bad)}")


def _subset(expected: Any, actual: Any) -> bool:
    """``expected`` matches ``actual``: equal, or for mappings every expected key matches (extra keys ok)."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


class ResourceAssertion:
    """Assertions about one resource instance of a plan; each returns ``self`` so they chain."""

    def __init__(self, plan: Plan, rc: ResourceChange) -> None:
        self.plan = plan
        self.rc = rc

    @property
    def action(self) -> Action:
        """The planned action."""
        return self.rc.change.action

    def _expect_action(self, *actions: Action, word: str) -> Self:
        __tracebackhide__ = True
        if self.action not in actions:
            raise _fail(
                f"expected {self.rc.address} to be {word}, but it is {self.action.value}:\n"
                + _listing([self.rc])
            )
        return self

    def created(self) -> Self:
        """The resource is created (not replaced)."""
        __tracebackhide__ = True
        return self._expect_action(Action.CREATE, word="created")

    def updated(self) -> Self:
        """The resource is updated in place."""
        __tracebackhide__ = True
        return self._expect_action(Action.UPDATE, word="updated in place")

    def replaced(self) -> Self:
        """The resource is replaced (in either order)."""
        __tracebackhide__ = True
        return self._expect_action(Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE, word="replaced")

    def deleted(self) -> Self:
        """The resource is deleted."""
        __tracebackhide__ = True
        return self._expect_action(Action.DELETE, word="deleted")

    def unchanged(self) -> Self:
        """The resource is left as it is."""
        __tracebackhide__ = True
        return self._expect_action(Action.NOOP, word="unchanged")

    def with_attributes(self, expected: Mapping[str, Any] | None = None, /, **attributes: Any) -> Self:
        """The planned values match: ``{"input.name": "x"}`` by dotted path, or ``input={...}`` (a subset)."""
        __tracebackhide__ = True
        wanted = {**(expected or {}), **attributes}
        problems: list[str] = []
        for path, value in wanted.items():
            got = self.rc.change.after_value(parse_path(path))
            if value is UNKNOWN:
                if not got.is_unknown:
                    problems.append(f"      {path}: expected (known after apply), got a known value")
                continue
            if got.is_unknown:
                problems.append(f"      {path}: expected {_show(value)}, got {UNKNOWN_TEXT}")
                continue
            actual = _after_at(self.rc, path)
            if got.is_sensitive:
                if not _subset(value, actual):
                    problems.append(f"      {path}: {SENSITIVE_TEXT} does not match the expected value")
                continue
            if got.is_absent and value is not None:
                problems.append(f"      {path}: expected {_show(value)}, but it is absent")
            elif not _subset(value, actual):
                problems.append(f"      {path}: expected {_show(value)}, got {_show(_shown(got.value))}")
        if problems:
            raise _fail(
                f"{self.rc.address} ({self.action.value}) has unexpected values:\n" + "\n".join(problems)
            )
        return self

    def created_with(self, expected: Mapping[str, Any] | None = None, /, **attributes: Any) -> Self:
        """The resource is created with these values (see ``with_attributes``)."""
        __tracebackhide__ = True
        return self.created().with_attributes(expected, **attributes)

    def updated_with(self, expected: Mapping[str, Any] | None = None, /, **attributes: Any) -> Self:
        """The resource is updated in place to these values."""
        __tracebackhide__ = True
        return self.updated().with_attributes(expected, **attributes)


def _after_at(rc: ResourceChange, path: str) -> Any:
    node: Any = rc.change.after
    for step in parse_path(path):
        if isinstance(node, dict):
            node = node.get(str(step))
        elif isinstance(node, list) and str(step).isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
    return node


def _shown(value: Any) -> Any:
    """A known value for a message, its sensitive/unknown parts replaced by their marker text."""
    from tfkit.plan import Value

    if isinstance(value, Value):
        return SENSITIVE_TEXT if value.is_sensitive else UNKNOWN_TEXT
    if isinstance(value, dict):
        return {k: _shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def assert_resource(plan: Plan, address: str) -> ResourceAssertion:
    """The plan has a change for ``address``; chain ``.created_with(...)``, ``.updated()``, ..."""
    __tracebackhide__ = True
    rc = plan.resource(address)
    if rc is None:
        known = [r.address for r in plan.resource_changes]
        close = difflib.get_close_matches(address, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise _fail(f"the plan has no resource {address}{hint} ({len(known)} resource change(s) in the plan)")
    return ResourceAssertion(plan, rc)


def assert_policies_pass(
    plan: Plan,
    policies: Iterable[Policy] | None = None,
    *,
    env: str | None = None,
    project: Project | None = None,
    today: date | None = None,
) -> None:
    """The plan passes the policies (default: the project's), with the project's waivers applied."""
    __tracebackhide__ = True
    from tfkit.policy import evaluate
    from tfkit.policy.waivers import apply_waivers, load_waivers

    report = evaluate(plan, policies, env=env, project=project)
    findings = list(report.findings)
    errors: list[str] = []
    if project is not None:
        findings, errors = apply_waivers(
            findings, load_waivers(project), environment=env, today=today or date.today()
        )
    blocking = [f for f in findings if f.blocking]
    if blocking or errors:
        where = f" in {env}" if env else ""
        lines = [f"policies failed{where}: {len(blocking)} blocking finding(s)"]
        lines.extend(f"  {f.one_line()}" for f in blocking)
        lines.extend(f"  error: {e}" for e in errors)
        raise _fail("\n".join(lines))
