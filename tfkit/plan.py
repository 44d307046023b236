"""The typed, immutable model of Terraform's plan JSON (``terraform show -json PLANFILE``).

``load_plan`` decodes the bytes straight into frozen msgspec Structs whose field names are Terraform's JSON
keys, so HashiCorp's format documentation (developer.hashicorp.com/terraform/internals/json-format) documents
them. Unknown keys are ignored: Terraform adds keys in minor format versions. The original bytes are kept as
``plan.raw`` (snapshots and Checkov get them, never a re-encoding).

Speed and memory: values that most callers never read are kept as ``msgspec.Raw`` (a view of the
original bytes) and decoded on first access, then cached: each change's ``before``/``after`` and its masks,
and the plan's ``planned_values``, ``prior_state``, ``configuration`` and ``checks``. A lazily decoded part
whose shape is wrong raises ``PlanParseError`` on that first access, with the JSON path of the bad value.

Values know what they do not know: ``change.after_value("tags.env")`` returns a ``Value`` that tells a known
value, one known only after apply (``after_unknown``) and a sensitive one (``after_sensitive``) apart. Nothing
here prints itself; renderers live in ``tfkit.report``.
"""

from __future__ import annotations

import codecs
import enum
import functools
import json
import re
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol, TypeVar, cast, get_args

import msgspec
from msgspec.structs import force_setattr

from tfkit.errors import PlanError, PlanParseError, UnsupportedFormatError
from tfkit.plan_redact import redact_plan_document, sensitive_leaves
from tfkit.redact import MASK, REDACTED

__all__ = [
    "MAX_PLAN_BYTES",
    "REDACTED",
    "SENSITIVE_TEXT",
    "UNKNOWN_TEXT",
    "Action",
    "ActionInvocation",
    "AttributeChange",
    "AttributePath",
    "Change",
    "CheckAddress",
    "CheckInstance",
    "CheckInstanceAddress",
    "CheckOutcome",
    "CheckProblem",
    "CheckResult",
    "ConfigModule",
    "ConfigOutput",
    "ConfigResource",
    "ConfigVariable",
    "Configuration",
    "DeferredActionInvocation",
    "DeferredChange",
    "DriftChange",
    "EmptyReason",
    "Importing",
    "InvokeActionTrigger",
    "LifecycleActionTrigger",
    "ModuleCall",
    "OutputChange",
    "Plan",
    "PlanDifference",
    "PlanEngine",
    "PlanFormatWarning",
    "PlanSummary",
    "ProviderConfig",
    "RelevantAttribute",
    "ResourceChange",
    "State",
    "StateModule",
    "StateOutput",
    "StateResource",
    "StateValues",
    "Value",
    "ValueKind",
    "Variable",
    "format_path",
    "load_plan",
    "parse_path",
    "read_plan_bytes",
    "validate_plan_schema",
]

SENSITIVE_TEXT = MASK
"""How ``Change.attribute_changes()`` shows a sensitive value: the one mask text, ``tfkit.redact.MASK``."""
UNKNOWN_TEXT = "(known after apply)"
"""How ``Change.attribute_changes()`` shows a value that is known only after apply."""

_NEWEST_KNOWN_FORMAT = (1, 2)
_OLDEST_FORMAT = (0, 1)
_NULL = msgspec.Raw(b"null")
_T = TypeVar("_T")
_MISSING: Any = object()

AttributePath = tuple[str | int, ...]
"""A path into an object value: attribute names and list indexes, as in Terraform's ``replace_paths``."""


class PlanFormatWarning(UserWarning):
    """The plan's format_version is a newer minor version than tfkit knows; it is read, new keys ignored."""


class PlanEngine(Protocol):
    """What ``Plan.from_file`` needs of an engine: the bytes of ``terraform show -json PLANFILE``."""

    def show_plan(self, plan_file: Path) -> bytes: ...


# --------------------------------------------------------------------------------------------- actions


class Action(enum.StrEnum):
    """What Terraform will do to one object: the JSON ``actions`` list folded into one value.

    A ``StrEnum`` (``Action.CREATE == "create"``) so that grouping by action hashes fast.
    """

    NOOP = "no-op"
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    DELETE_THEN_CREATE = "delete-then-create"
    CREATE_THEN_DELETE = "create-then-delete"
    CREATE_THEN_FORGET = "create-then-forget"
    FORGET = "forget"

    @property
    def actions(self) -> tuple[str, ...]:
        """The JSON ``actions`` list this action is written as."""
        return _TUPLE_BY_ACTION[self]

    @property
    def is_replace(self) -> bool:
        """Replaced: destroyed and created again, in either order (Terraform's ``IsReplace``)."""
        return self in (Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    @property
    def is_destructive(self) -> bool:
        """The existing object is destroyed (a delete or a replace); forget leaves it in place."""
        return self in (Action.DELETE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    @property
    def is_change(self) -> bool:
        """Anything but a no-op."""
        return self is not Action.NOOP


ActionName = Literal["no-op", "create", "read", "update", "delete", "forget"]

_ACTION_BY_TUPLE: dict[tuple[str, ...], Action] = {
    ("no-op",): Action.NOOP,
    ("create",): Action.CREATE,
    ("read",): Action.READ,
    ("update",): Action.UPDATE,
    ("delete",): Action.DELETE,
    ("delete", "create"): Action.DELETE_THEN_CREATE,
    ("create", "delete"): Action.CREATE_THEN_DELETE,
    ("create", "forget"): Action.CREATE_THEN_FORGET,
    ("forget",): Action.FORGET,
}
_TUPLE_BY_ACTION = {action: key for key, action in _ACTION_BY_TUPLE.items()}
_VALID_ACTIONS = ", ".join(json.dumps(list(key)) for key in _ACTION_BY_TUPLE)


# ---------------------------------------------------------------------------------------------- values


class ValueKind(enum.Enum):
    """What is known about a value at a path."""

    KNOWN = "known"
    UNKNOWN = "unknown"
    SENSITIVE = "sensitive"
    ABSENT = "absent"


class Value(msgspec.Struct, frozen=True):
    """A value read by path: known (with ``value``), unknown until apply, sensitive, or absent.

    A sensitive value never carries its content. A known container may hold nested ``Value`` objects where
    parts of it are unknown or sensitive.
    """

    kind: ValueKind
    value: Any = None

    @property
    def is_known(self) -> bool:
        """The value is known now (``value`` holds it)."""
        return self.kind is ValueKind.KNOWN

    @property
    def is_unknown(self) -> bool:
        """The value will be known only after apply."""
        return self.kind is ValueKind.UNKNOWN

    @property
    def is_sensitive(self) -> bool:
        """The value is sensitive; its content is withheld."""
        return self.kind is ValueKind.SENSITIVE

    @property
    def is_absent(self) -> bool:
        """There is no value at that path (or it is null)."""
        return self.kind is ValueKind.ABSENT


_UNKNOWN_VALUE = Value(ValueKind.UNKNOWN)
_SENSITIVE_VALUE = Value(ValueKind.SENSITIVE)
_ABSENT_VALUE = Value(ValueKind.ABSENT)


class AttributeChange(msgspec.Struct, frozen=True):
    """One changed attribute: its path, and the before and after values as shown to a reader.

    Sensitive values are the string ``(sensitive)``, values unknown until apply ``(known after apply)``,
    absent or null values ``None``.
    """

    path: AttributePath
    before: Any
    after: Any

    @property
    def path_str(self) -> str:
        """The path as Terraform writes it: ``tags.env``, ``rules[0].port``, ``tags["a.b"]``."""
        return format_path(self.path)


def parse_path(path: str | Sequence[str | int]) -> AttributePath:
    """Turn ``"rules.0.port"`` or ``("rules", 0, "port")`` into a path; digits index lists when walked."""
    if isinstance(path, str):
        return tuple(path.split(".")) if path else ()
    return tuple(path)


def format_path(path: AttributePath) -> str:
    """Write a path the way Terraform shows attribute paths."""
    return _format_path(tuple(path))


@functools.lru_cache(maxsize=8192)
def _format_path(path: AttributePath) -> str:
    """``format_path``, kept for the paths seen last: a review writes the same few paths for every
    instance of a resource, and each step's identifier check is a regular expression match."""
    out: list[str] = []
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        elif _IDENTIFIER.fullmatch(step):
            out.append(f".{step}" if out else step)
        else:
            out.append(f"[{json.dumps(step)}]")
    return "".join(out)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _child(node: Any, step: str | int) -> Any:
    """The child of a JSON node at one path step, or ``_MISSING``; ``"0"`` indexes a list."""
    if isinstance(node, dict):
        return node.get(step if isinstance(step, str) else str(step), _MISSING)
    if isinstance(node, list):
        if isinstance(step, str):
            if not step.isdigit():
                return _MISSING
            step = int(step)
        return node[step] if 0 <= step < len(node) else _MISSING
    return _MISSING


def _lookup(value: Any, unknown: Any, sensitive: Any, path: AttributePath) -> Value:
    """Walk a value and its unknown and sensitive masks together; sensitivity wins over unknown."""
    for step in path:
        if sensitive is True:
            return _SENSITIVE_VALUE
        if unknown is True:
            return _UNKNOWN_VALUE
        value, unknown, sensitive = _child(value, step), _child(unknown, step), _child(sensitive, step)
    return _describe(value, unknown, sensitive)


def _describe(value: Any, unknown: Any, sensitive: Any) -> Value:
    """A ``Value`` for one node, with nested ``Value`` objects where its parts are unknown or sensitive."""
    if sensitive is True:
        return _SENSITIVE_VALUE
    if unknown is True:
        return _UNKNOWN_VALUE
    if value is _MISSING or value is None:
        return _ABSENT_VALUE
    return Value(ValueKind.KNOWN, _merge_masks(value, unknown, sensitive))


def _merge_masks(value: Any, unknown: Any, sensitive: Any) -> Any:
    """Copy a known value, replacing its unknown or sensitive parts by ``Value`` markers."""
    if not isinstance(unknown, dict | list) and not isinstance(sensitive, dict | list):
        return value
    if isinstance(value, dict):
        keys = list(value) + [k for k in _keys(unknown) if k not in value]
        return {k: _nested(value.get(k), _child(unknown, k), _child(sensitive, k)) for k in keys}
    if isinstance(value, list):
        size = max(len(value), len(unknown) if isinstance(unknown, list) else 0)
        return [
            _nested(value[i] if i < len(value) else None, _child(unknown, i), _child(sensitive, i))
            for i in range(size)
        ]
    return value


def _nested(value: Any, unknown: Any, sensitive: Any) -> Any:
    """One part of a known container: a marker ``Value`` if unknown or sensitive, else the plain value."""
    if sensitive is True:
        return _SENSITIVE_VALUE
    if unknown is True:
        return _UNKNOWN_VALUE
    return _merge_masks(value, unknown, sensitive)


def _keys(node: Any) -> list[str]:
    """The keys of a mask that is an object, else none."""
    return list(node) if isinstance(node, dict) else []


def _display(value: Any, unknown: Any, sensitive: Any) -> Any:
    """A leaf as shown in attribute changes."""
    if sensitive is True:
        return SENSITIVE_TEXT
    if unknown is True:
        return UNKNOWN_TEXT
    return None if value is _MISSING else value


def _is_container(value: Any, unknown: Any, sensitive: Any) -> bool:
    """The node is an object or list to descend into (not a masked leaf)."""
    return sensitive is not True and unknown is not True and isinstance(value, dict | list)


_Leaf = tuple[AttributePath, Any, Any, Any, Any, Any, bool]
"""A changed leaf as ``_diff`` finds it: path, before and its mask, after and its masks, and whether a
parent of the before value is sensitive (a null parent marked sensitive, which ``_lookup`` reports)."""


def _diff(
    path: AttributePath,
    before: Any,
    before_sensitive: Any,
    after: Any,
    after_unknown: Any,
    after_sensitive: Any,
    out: list[_Leaf],
    before_hidden: bool = False,
) -> None:
    """Append the leaf-level differences between a before and an after value, masks applied."""
    b_container = _is_container(before, False, before_sensitive)
    a_container = _is_container(after, after_unknown, after_sensitive)
    b_empty = before is _MISSING or before is None
    a_empty = (
        (after is _MISSING or after is None) and after_unknown is not True and after_sensitive is not True
    )
    same_shape = (
        (b_container or b_empty)
        and (a_container or a_empty)
        and not (b_empty and a_empty)
        and (b_empty or a_empty or type(before) is type(after))
    )
    if same_shape:
        shape = before if b_container else after
        steps: list[str | int]
        if isinstance(shape, dict):
            steps = list(dict.fromkeys([*_keys(before), *_keys(after), *_keys(after_unknown)]))
        else:
            size = max(
                len(before) if isinstance(before, list) else 0,
                len(after) if isinstance(after, list) else 0,
                len(after_unknown) if isinstance(after_unknown, list) else 0,
            )
            steps = list(range(size))
        start = len(out)
        below = before_hidden or before_sensitive is True
        for step in steps:
            _diff(
                (*path, step),
                _child(before, step),
                _child(before_sensitive, step),
                _child(after, step),
                _child(after_unknown, step),
                _child(after_sensitive, step),
                out,
                below,
            )
        if len(out) > start or not path or (before is _MISSING and after is None) or before == after:
            return
    b_value = None if before is _MISSING else before
    a_value = None if after is _MISSING else after
    b_sensitive, a_sensitive = before_sensitive is True, after_sensitive is True
    changed = (
        after_unknown is True or b_value != a_value or (b_sensitive != a_sensitive and a_value is not None)
    )
    if changed:  # unknown after apply always counts as a change
        out.append((path, before, before_sensitive, after, after_unknown, after_sensitive, before_hidden))


# --------------------------------------------------------------------------------------------- changes


def _decode_value(raw: msgspec.Raw, field: str) -> Any:
    """Decode one lazily kept change value (its syntax was checked at load, not its numbers' range)."""
    return _decode_part(raw, Any, f"$..change.{field}")


class _Values(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    """The change representation shared by resources and outputs; values are decoded on first access.

    Every field is one of Terraform's JSON keys. What tfkit computes (``action``) and what it decodes
    lazily (``before``, ``after`` and the masks) lives in the instance's ``__dict__`` as cached
    properties, outside the field namespace, so ``msgspec.json.encode`` writes only the plan's own keys.
    """

    actions: tuple[ActionName, ...]
    before_raw: msgspec.Raw = msgspec.field(default=_NULL, name="before")
    after_raw: msgspec.Raw = msgspec.field(default=_NULL, name="after")
    after_unknown_raw: msgspec.Raw = msgspec.field(default=_NULL, name="after_unknown")
    before_sensitive_raw: msgspec.Raw = msgspec.field(default=_NULL, name="before_sensitive")
    after_sensitive_raw: msgspec.Raw = msgspec.field(default=_NULL, name="after_sensitive")

    def __post_init__(self) -> None:
        action = _ACTION_BY_TUPLE.get(self.actions)
        if action is None:
            shown = json.dumps(list(self.actions))
            raise ValueError(f"Unsupported `actions` combination {shown} (expected one of {_VALID_ACTIONS})")
        self.__dict__["action"] = action  # the cached_property's slot: computed once, while decoding

    def __repr__(self) -> str:
        return f"{type(self).__name__}(action={self.action.value})"

    @cached_property
    def action(self) -> Action:
        """The actions folded into one ``Action`` (computed while decoding, not read from JSON)."""
        return _ACTION_BY_TUPLE[self.actions]

    @cached_property
    def before(self) -> Any:
        """The value before the change (``None`` for a create)."""
        return _decode_value(self.before_raw, "before")

    @cached_property
    def after(self) -> Any:
        """The value after the change, with unknown parts omitted or null (``None`` for a delete)."""
        return _decode_value(self.after_raw, "after")

    @cached_property
    def after_unknown(self) -> Any:
        """``true`` where the after value is known only after apply: a bool or a structure like ``after``."""
        return _decode_value(self.after_unknown_raw, "after_unknown")

    @cached_property
    def before_sensitive(self) -> Any:
        """``true`` where the before value is sensitive: a bool or a structure like ``before``."""
        return _decode_value(self.before_sensitive_raw, "before_sensitive")

    @cached_property
    def after_sensitive(self) -> Any:
        """``true`` where the after value is sensitive: a bool or a structure like ``after``."""
        return _decode_value(self.after_sensitive_raw, "after_sensitive")

    def before_value(self, path: str | Sequence[str | int] = ()) -> Value:
        """The before value at a path (``"tags.env"``, ``"rules.0.port"`` or a tuple), sensitivity applied."""
        return _lookup(self.before, False, self.before_sensitive, parse_path(path))

    def after_value(self, path: str | Sequence[str | int] = ()) -> Value:
        """The after value at a path: known, unknown until apply, sensitive, or absent."""
        return _lookup(self.after, self.after_unknown, self.after_sensitive, parse_path(path))

    def attribute_changes(self) -> list[AttributeChange]:
        """Each changed attribute path with before and after; sensitive and unknown values shown as text."""
        return [
            AttributeChange(path, _display(b, False, b_sensitive), _display(a, a_unknown, a_sensitive))
            for path, b, b_sensitive, a, a_unknown, a_sensitive, _hidden in self._changed_leaves
        ]

    def value_changes(self) -> list[tuple[AttributePath, Value, Value]]:
        """Each changed attribute path (as ``attribute_changes``) with its before and after ``Value``.

        The values ``before_value(path)`` and ``after_value(path)`` return, found by the same walk that
        finds the paths, so a review reads every change's values in one pass over them.
        """
        return [
            (
                path,
                _SENSITIVE_VALUE if b_hidden else _describe(b, False, b_sensitive),
                _describe(a, a_unknown, a_s),
            )
            for path, b, b_sensitive, a, a_unknown, a_s, b_hidden in self._changed_leaves
        ]

    @cached_property
    def _changed_leaves(self) -> list[_Leaf]:
        """The changed leaves of before and after (``_diff``), found once per change."""
        out: list[_Leaf] = []
        before, after = self.before, self.after
        try:
            _diff((), before, self.before_sensitive, after, self.after_unknown, self.after_sensitive, out)
        except RecursionError:
            raise PlanParseError("a change value is nested too deeply", path="$..change") from None
        return out

    @property
    def is_sensitive(self) -> bool:
        """The whole value is sensitive before or after (as for a sensitive output)."""
        return self.before_sensitive is True or self.after_sensitive is True


class Importing(msgspec.Struct, frozen=True):
    """The change imports an existing object (``change.importing``): by id or by resource identity."""

    id: str | None = None
    unknown: bool = False
    identity: Any = None


class Change(_Values, frozen=True, kw_only=True):
    """The change to one resource instance object (Terraform's change representation)."""

    replace_paths: tuple[AttributePath, ...] = ()
    importing: Importing | None = None
    generated_config: str | None = None


class OutputChange(_Values, frozen=True, kw_only=True):
    """The change to one root module output value; ``is_sensitive`` tells a sensitive output."""


def _instance_address(
    module_address: str | None, mode: str, type_: str, name: str, index: int | str | None
) -> str:
    """Build a resource instance address the way Terraform writes it."""
    address = f"data.{type_}.{name}" if mode == "data" else f"{type_}.{name}"
    if index is not None:
        address += f"[{index}]" if isinstance(index, int) else f"[{json.dumps(index, ensure_ascii=False)}]"
    return f"{module_address}.{address}" if module_address else address


class ResourceChange(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The planned (or drifted) change to one resource instance object.

    Not tracked by the garbage collector (``gc=False``): it holds no cycles, and 50k of them would slow
    every collection.
    """

    address: str
    type: str
    name: str
    change: Change
    previous_address: str | None = None
    module_address: str | None = None
    mode: str = "managed"
    index: int | str | None = None
    provider_name: str = ""
    deposed: str | None = None
    action_reason: str | None = None

    def __repr__(self) -> str:
        deposed = f", deposed={self.deposed!r}" if self.deposed else ""
        return f"ResourceChange({self.address!r}, action={self.action.value}{deposed})"

    @property
    def action(self) -> Action:
        """What will happen to this object."""
        return self.change.action

    @property
    def importing(self) -> Importing | None:
        """The import this change performs, if any (``change.importing``)."""
        return self.change.importing

    @property
    def is_moved(self) -> bool:
        """The object moved from ``previous_address`` (a ``moved`` block)."""
        return self.previous_address is not None and self.previous_address != self.address

    @property
    def is_data(self) -> bool:
        """A data source rather than a managed resource."""
        return self.mode == "data"


class DriftChange(ResourceChange, frozen=True, kw_only=True, gc=False):
    """A ``resource_drift`` entry: a change made outside of Terraform.

    ``address`` is built from the other fields when the plan omits it (Terraform 1.0.0 did).
    """

    address: str = ""

    def __post_init__(self) -> None:
        if not self.address:
            address = _instance_address(self.module_address, self.mode, self.type, self.name, self.index)
            force_setattr(self, "address", address)


class DeferredChange(msgspec.Struct, frozen=True):
    """A change Terraform could not plan yet and deferred to a later plan (``deferred_changes``)."""

    reason: str
    resource_change: ResourceChange


class LifecycleActionTrigger(msgspec.Struct, frozen=True, kw_only=True):
    """An action run by a resource's ``lifecycle { action_trigger }`` on one of its events."""

    triggering_resource_address: str = ""
    action_trigger_event: str = ""
    action_trigger_block_index: int = 0
    actions_list_index: int = 0
    on_failure: str | None = None


class InvokeActionTrigger(msgspec.Struct, frozen=True, kw_only=True):
    """An action invoked on its own (``terraform plan -invoke=action.TYPE.NAME``)."""

    calling_resource_address: str | None = None


class ActionInvocation(msgspec.Struct, frozen=True, kw_only=True, dict=True):
    """A provider action the plan will invoke (``action_invocations``, Terraform 1.14+).

    Actions change no state, yet applying the plan runs them: they count as changes. The configuration
    values are kept raw and decoded on first access; ``config_value`` reads them with their sensitive and
    unknown masks applied, like ``Change.after_value``.
    """

    address: str = ""
    type: str = ""
    name: str = ""
    provider_name: str = ""
    config_values_raw: msgspec.Raw = msgspec.field(default=_NULL, name="config_values")
    config_sensitive_raw: msgspec.Raw = msgspec.field(default=_NULL, name="config_sensitive")
    config_unknown_raw: msgspec.Raw = msgspec.field(default=_NULL, name="config_unknown")
    lifecycle_action_trigger: LifecycleActionTrigger | None = None
    invoke_action_trigger: InvokeActionTrigger | None = None

    def __repr__(self) -> str:
        return f"ActionInvocation({self.address!r})"

    @property
    def trigger(self) -> str:
        """What runs the action, in words: ``after_create of aws_instance.web`` or ``-invoke``."""
        lifecycle = self.lifecycle_action_trigger
        if lifecycle is not None:
            event = lifecycle.action_trigger_event or "an event"
            return f"{event} of {lifecycle.triggering_resource_address or '(unknown resource)'}"
        return "-invoke"

    @cached_property
    def config_values(self) -> Any:
        """The action's configuration, unknown parts omitted (decoded on first access)."""
        return _decode_part(self.config_values_raw, Any, "$.action_invocations[].config_values")

    def config_value(self, path: str | Sequence[str | int] = ()) -> Value:
        """The configuration value at a path: known, unknown until apply, sensitive, or absent."""
        unknown = _decode_part(self.config_unknown_raw, Any, "$.action_invocations[].config_unknown")
        sensitive = _decode_part(self.config_sensitive_raw, Any, "$.action_invocations[].config_sensitive")
        return _lookup(self.config_values, unknown, sensitive, parse_path(path))


class DeferredActionInvocation(msgspec.Struct, frozen=True):
    """An action invocation Terraform deferred to a later plan (``deferred_action_invocations``)."""

    reason: str
    action_invocation: ActionInvocation


class Variable(msgspec.Struct, frozen=True):
    """One root module input variable's value as planned."""

    value: Any = None

    def __repr__(self) -> str:
        return "Variable(...)"


class RelevantAttribute(msgspec.Struct, frozen=True):
    """A resource attribute that contributed to the plan (``relevant_attributes``)."""

    resource: str
    attribute: AttributePath = ()


# ------------------------------------------------------------------------------- checks (lazily decoded)


class CheckAddress(msgspec.Struct, frozen=True, kw_only=True):
    """The checkable object: a resource, an output value or a check block."""

    kind: str = ""
    to_display: str = ""
    module: str | None = None
    mode: str | None = None
    type: str | None = None
    name: str | None = None


class CheckInstanceAddress(msgspec.Struct, frozen=True, kw_only=True):
    """One instance of a checkable object."""

    to_display: str = ""
    module: str | None = None
    instance_key: int | str | None = None


class CheckProblem(msgspec.Struct, frozen=True):
    """A failed condition's error message."""

    message: str = ""


class CheckInstance(msgspec.Struct, frozen=True, kw_only=True):
    """The status of one instance's checks."""

    address: CheckInstanceAddress = CheckInstanceAddress()
    status: str = "unknown"
    problems: tuple[CheckProblem, ...] = ()


class CheckResult(msgspec.Struct, frozen=True, kw_only=True):
    """The aggregate status of a checkable object (``pass``, ``fail``, ``error`` or ``unknown``)."""

    address: CheckAddress = CheckAddress()
    status: str = "unknown"
    instances: tuple[CheckInstance, ...] = ()


class CheckOutcome(msgspec.Struct, frozen=True):
    """One check instance that did not pass: ``fail``, ``error`` or ``unknown``, with one problem message.

    ``kind`` is the checkable object's: ``check`` (a check block), ``resource`` or ``output_value`` (its
    pre/postconditions); ``address`` is the instance as Terraform displays it (``check.x``, ``output.o``).
    """

    status: str
    address: str
    message: str
    kind: str = ""


def _outcomes(result: CheckResult) -> Iterator[CheckOutcome]:
    """The outcomes of a checkable object that did not pass; one without instances stands for itself."""
    if result.status == "pass":
        return
    kind, display = result.address.kind, result.address.to_display
    instances = [i for i in result.instances if i.status != "pass"]
    if not instances:
        yield CheckOutcome(result.status, display, "", kind)
    for instance in instances:
        where = instance.address.to_display or display
        for message in [p.message for p in instance.problems] or [""]:
            yield CheckOutcome(instance.status, where, message, kind)


# ------------------------------------------------------------------ state values (lazily decoded)


class StateResource(msgspec.Struct, frozen=True, kw_only=True):
    """A resource instance in a values representation (prior state or planned values)."""

    address: str
    type: str = ""
    name: str = ""
    mode: str = "managed"
    index: int | str | None = None
    provider_name: str = ""
    schema_version: int = 0
    values: Any = None
    sensitive_values: Any = None
    depends_on: tuple[str, ...] = ()
    tainted: bool = False
    deposed_key: str | None = None

    def __repr__(self) -> str:
        return f"StateResource({self.address!r})"


class StateModule(msgspec.Struct, frozen=True, kw_only=True):
    """A module in a values representation, with its child modules."""

    address: str | None = None
    resources: tuple[StateResource, ...] = ()
    child_modules: tuple[StateModule, ...] = ()

    def walk(self) -> Iterator[StateResource]:
        """Every resource of this module and its descendants."""
        yield from self.resources
        for child in self.child_modules:
            yield from child.walk()


class StateOutput(msgspec.Struct, frozen=True, kw_only=True):
    """An output value in a values representation."""

    value: Any = None
    type: Any = None
    sensitive: bool = False

    def __repr__(self) -> str:
        return f"StateOutput(sensitive={self.sensitive})"


class StateValues(msgspec.Struct, frozen=True, kw_only=True):
    """A values representation: root module outputs and the module tree of resources."""

    outputs: Mapping[str, StateOutput] = {}
    root_module: StateModule = StateModule()


class State(msgspec.Struct, frozen=True, kw_only=True):
    """A state representation (the plan's ``prior_state``)."""

    format_version: str | None = None
    terraform_version: str | None = None
    values: StateValues | None = None


# ---------------------------------------------------------------- configuration (lazily decoded)


class ConfigVariable(msgspec.Struct, frozen=True, kw_only=True):
    """A variable declared in a module."""

    default: Any = None
    description: str | None = None
    sensitive: bool = False
    nullable: bool | None = None

    def __repr__(self) -> str:
        return f"ConfigVariable(sensitive={self.sensitive})"


class ConfigOutput(msgspec.Struct, frozen=True, kw_only=True):
    """An output declared in a module."""

    expression: Any = None
    sensitive: bool = False
    description: str | None = None
    depends_on: tuple[str, ...] = ()


class ConfigResource(msgspec.Struct, frozen=True, kw_only=True):
    """A resource or data block in a module's configuration (expressions unevaluated)."""

    address: str
    type: str = ""
    name: str = ""
    mode: str = "managed"
    provider_config_key: str = ""
    expressions: Any = None
    schema_version: int | None = None
    count_expression: Any = None
    for_each_expression: Any = None
    depends_on: tuple[str, ...] = ()


class ModuleCall(msgspec.Struct, frozen=True, kw_only=True):
    """A ``module`` block and the configuration of the module it calls."""

    source: str = ""
    expressions: Any = None
    module: ConfigModule | None = None
    count_expression: Any = None
    for_each_expression: Any = None
    version_constraint: str | None = None
    depends_on: tuple[str, ...] = ()


class ConfigModule(msgspec.Struct, frozen=True, kw_only=True):
    """A module's configuration: outputs, resources, module calls and variables."""

    outputs: Mapping[str, ConfigOutput] = {}
    resources: tuple[ConfigResource, ...] = ()
    module_calls: Mapping[str, ModuleCall] = {}
    variables: Mapping[str, ConfigVariable] = {}


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True):
    """A provider configuration block, keyed in ``provider_config`` by an opaque key."""

    name: str = ""
    full_name: str | None = None
    alias: str | None = None
    module_address: str | None = None
    version_constraint: str | None = None
    expressions: Any = None


class Configuration(msgspec.Struct, frozen=True, kw_only=True):
    """The configuration representation of the plan."""

    provider_config: Mapping[str, ProviderConfig] = {}
    root_module: ConfigModule = ConfigModule()


# ------------------------------------------------------------------------------------------ summary


class EmptyReason(enum.Enum):
    """Why a plan has no resource changes."""

    ERRORED = "errored"
    NO_RESOURCES = "no-resources"
    DRIFT_ONLY = "drift-only"
    REFRESH_ONLY = "refresh-only"
    NO_CHANGES = "no-changes"


class PlanSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Counts by Terraform's own rules: the ``Plan: X to add, Y to change, Z to destroy.`` line and more.

    A replace counts in ``add`` and ``destroy`` (and in ``replace``); a create-then-forget in ``add`` and
    ``forget``; reads and no-ops are not in add/change/destroy; a deleted data source is counted nowhere.
    ``import_`` (JSON key ``import``) counts imports, ``move`` objects moved from a ``previous_address``.
    ``invoke`` counts action invocations (Terraform's ``Actions: N to invoke.``), ``deferred`` the resource
    changes and action invocations deferred to a later plan.
    """

    add: int = 0
    change: int = 0
    destroy: int = 0
    replace: int = 0
    import_: int = msgspec.field(default=0, name="import")
    forget: int = 0
    move: int = 0
    read: int = 0
    noop: int = 0
    invoke: int = 0
    deferred: int = 0


class PlanDifference(msgspec.Struct, frozen=True):
    """How a resource's planned values differ from those of a recorded plan (``Plan.compare_planned_values``).

    ``kind`` is ``missing`` (kept by the recorded plan only), ``extra`` (by this plan only) or ``changed``;
    ``paths`` are the changed attribute paths in Terraform's notation (as ``AttributeChange.path_str``).
    """

    address: str
    kind: Literal["missing", "extra", "changed"]
    paths: tuple[str, ...] = ()

    def one_line(self) -> str:
        """``~ address (changed): a, b`` style summary."""
        sign = {"missing": "-", "extra": "+", "changed": "~"}[self.kind]
        detail = f": {', '.join(self.paths)}" if self.paths else ""
        return f"{sign} {self.address} ({self.kind}){detail}"


def _uncomparable(change: _Values, path: AttributePath) -> bool:
    """The planned value at ``path`` is known only after apply, or sensitive: its value cannot be compared."""
    value = _lookup(change.after, change.after_unknown, change.after_sensitive, path)
    return value.kind is ValueKind.UNKNOWN or value.kind is ValueKind.SENSITIVE


def _planned_value_paths(recorded: _Values, current: _Values) -> tuple[str, ...]:
    """Paths whose known, non-sensitive planned values differ between two changes of one resource."""
    out: list[_Leaf] = []
    try:
        _diff(
            (),
            recorded.after,
            recorded.after_sensitive,
            current.after,
            current.after_unknown,
            current.after_sensitive,
            out,
        )
    except RecursionError:
        raise PlanParseError("a change value is nested too deeply", path="$..change") from None
    return tuple(
        format_path(leaf[0]) or "(value)"
        for leaf in out
        if not _uncomparable(recorded, leaf[0]) and not _uncomparable(current, leaf[0])
    )


class _Header(msgspec.Struct):
    """Just the format version: read when the full decode fails, to report the version first."""

    format_version: Any = None


# --------------------------------------------------------------------------------------------- plan


class Plan(msgspec.Struct, frozen=True, dict=True, kw_only=True):
    """A Terraform plan; field names are the plan JSON's keys. Build it with ``load_plan``.

    ``resource_changes`` is ``()`` when the plan JSON has none; ``empty_reason`` says why.
    """

    format_version: str | None = None
    terraform_version: str | None = None
    variables: Mapping[str, Variable] = {}
    resource_changes: tuple[ResourceChange, ...] = ()
    resource_drift: tuple[DriftChange, ...] = ()
    output_changes: Mapping[str, OutputChange] = {}
    deferred_changes: tuple[DeferredChange, ...] = ()
    action_invocations: tuple[ActionInvocation, ...] = ()
    deferred_action_invocations: tuple[DeferredActionInvocation, ...] = ()
    relevant_attributes: tuple[RelevantAttribute, ...] = ()
    applyable: bool | None = None
    complete: bool | None = None
    errored: bool | None = None
    timestamp: str | int | None = None
    planned_values_raw: msgspec.Raw = msgspec.field(default=_NULL, name="planned_values")
    prior_state_raw: msgspec.Raw = msgspec.field(default=_NULL, name="prior_state")
    configuration_raw: msgspec.Raw = msgspec.field(default=_NULL, name="configuration")
    checks_raw: msgspec.Raw = msgspec.field(default=_NULL, name="checks")

    def __post_init__(self) -> None:
        if isinstance(self.timestamp, int):
            force_setattr(self, "timestamp", str(self.timestamp))
        force_setattr(self, "variables", MappingProxyType(dict(self.variables)))
        force_setattr(self, "output_changes", MappingProxyType(dict(self.output_changes)))

    def __repr__(self) -> str:
        return (
            f"Plan(format_version={self.format_version!r}, terraform_version={self.terraform_version!r}, "
            f"resource_changes={len(self.resource_changes)})"
        )

    @property
    def raw(self) -> bytes:
        """The original bytes the plan was decoded from (kept outside the JSON fields; ``b""`` if built)."""
        raw: bytes = self.__dict__.get("_raw", b"")
        return raw

    @classmethod
    def from_file(cls, plan_file: Path, engine: PlanEngine) -> Plan:
        """Load a saved plan file through an engine's ``show -json``."""
        return load_plan(engine.show_plan(plan_file))

    # ---- lazily decoded parts

    @cached_property
    def planned_values(self) -> StateValues | None:
        """What is known of the planned outcome (decoded on first access)."""
        return cast(
            "StateValues | None",
            _decode_part(self.planned_values_raw, StateValues | None, "$.planned_values"),
        )

    @cached_property
    def prior_state(self) -> State | None:
        """The state the plan was made against (decoded on first access)."""
        return cast("State | None", _decode_part(self.prior_state_raw, State | None, "$.prior_state"))

    @cached_property
    def configuration(self) -> Configuration | None:
        """The configuration the plan applies (decoded on first access)."""
        return cast(
            "Configuration | None",
            _decode_part(self.configuration_raw, Configuration | None, "$.configuration"),
        )

    @cached_property
    def checks(self) -> tuple[CheckResult, ...]:
        """Check results (preconditions, postconditions, check blocks); decoded on first access."""
        return _decode_part(self.checks_raw, tuple[CheckResult, ...] | None, "$.checks") or ()

    @cached_property
    def check_outcomes(self) -> tuple[CheckOutcome, ...]:
        """Every check instance that did not pass, one per problem message: ``fail``/``error`` first."""
        outcomes = [outcome for result in self.checks for outcome in _outcomes(result)]
        return tuple(sorted(outcomes, key=lambda o: o.status == "unknown"))

    # ---- queries by action

    @cached_property
    def _by_action(self) -> Mapping[Action, tuple[ResourceChange, ...]]:
        """Resource changes grouped by action, in plan order; built once, in one pass."""
        groups: dict[Action, list[ResourceChange]] = {action: [] for action in Action}
        appenders = {action: items.append for action, items in groups.items()}
        for rc in self.resource_changes:
            appenders[rc.change.action](rc)
        return MappingProxyType({action: tuple(items) for action, items in groups.items()})

    def by_action(self, *actions: Action) -> tuple[ResourceChange, ...]:
        """Resource changes with any of the given actions, in plan order."""
        groups = [group for group in map(self._by_action.__getitem__, actions) if group]
        if len(groups) <= 1:
            return groups[0] if groups else ()
        wanted = set(actions)
        return tuple([rc for rc in self.resource_changes if rc.change.action in wanted])

    @property
    def creates(self) -> tuple[ResourceChange, ...]:
        """Objects created (not replacements)."""
        return self._by_action[Action.CREATE]

    @property
    def updates(self) -> tuple[ResourceChange, ...]:
        """Objects updated in place."""
        return self._by_action[Action.UPDATE]

    @property
    def deletes(self) -> tuple[ResourceChange, ...]:
        """Objects destroyed (not replacements), data sources included."""
        return self._by_action[Action.DELETE]

    @cached_property
    def replacements(self) -> tuple[ResourceChange, ...]:
        """Objects replaced, in either order."""
        return self.by_action(Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE)

    @property
    def reads(self) -> tuple[ResourceChange, ...]:
        """Data sources read during apply."""
        return self._by_action[Action.READ]

    @property
    def noops(self) -> tuple[ResourceChange, ...]:
        """Objects left as they are."""
        return self._by_action[Action.NOOP]

    @cached_property
    def forgets(self) -> tuple[ResourceChange, ...]:
        """Objects removed from state without being destroyed (``forget`` and ``create-then-forget``)."""
        return self.by_action(Action.FORGET, Action.CREATE_THEN_FORGET)

    @cached_property
    def imports(self) -> tuple[ResourceChange, ...]:
        """Objects imported by this plan."""
        return tuple([rc for rc in self.resource_changes if rc.change.importing is not None])

    @cached_property
    def moves(self) -> tuple[ResourceChange, ...]:
        """Objects moved from a ``previous_address``."""
        return tuple(
            [rc for rc in self.resource_changes if rc.previous_address and rc.previous_address != rc.address]
        )

    @cached_property
    def drift(self) -> tuple[ResourceChange, ...]:
        """Objects changed outside of Terraform: ``resource_drift`` entries that change or move an object.

        A no-op entry that moved (``previous_address``) is drift: refresh-only plans report moves there.
        """
        return tuple([rc for rc in self.resource_drift if rc.change.action is not Action.NOOP or rc.is_moved])

    # ---- other queries

    def by_type(self, resource_type: str) -> tuple[ResourceChange, ...]:
        """Resource changes of one resource type, in plan order (each answer is cached)."""
        return self.derived(
            ("type", resource_type),
            lambda plan: tuple([rc for rc in plan.resource_changes if rc.type == resource_type]),
        )

    def by_module(self, module_address: str, *, nested: bool = True) -> tuple[ResourceChange, ...]:
        """Resource changes in a module (``""`` is the root); with ``nested``, its descendants and instances.

        ``by_module("module.net")`` includes ``module.net["a"]`` and ``module.net.module.subnets``, not
        ``module.network``. In plan order; each answer is cached.
        """
        return self.derived(
            ("module", module_address, nested), lambda plan: plan._module_changes(module_address, nested)
        )

    def derived(self, key: Hashable, compute: Callable[[Plan], _T]) -> _T:
        """``compute(self)``, computed once per ``key`` and kept with this plan (plans are immutable).

        For answers that take a pass over every change (``by_type``, the built-in policies' columns), so
        that each pass is made once however many callers ask.
        """
        cache = self._derived
        if key not in cache:
            cache[key] = compute(self)
        return cast("_T", cache[key])

    def _module_changes(self, module_address: str, nested: bool) -> tuple[ResourceChange, ...]:
        """The changes ``by_module`` answers, computed."""
        changes = self.resource_changes
        if not nested:
            wanted = module_address or None
            return tuple([rc for rc in changes if rc.module_address == wanted])
        if not module_address:
            return changes
        prefixes = (module_address + ".", module_address + "[")
        inside = {m for m in self._module_addresses if m and (m == module_address or m.startswith(prefixes))}
        return tuple([rc for rc in changes if rc.module_address in inside]) if inside else ()

    @cached_property
    def _module_addresses(self) -> frozenset[str | None]:
        """The distinct module addresses of the changes (few, however many changes)."""
        return frozenset([rc.module_address for rc in self.resource_changes])

    @cached_property
    def _derived(self) -> dict[Hashable, Any]:
        """The answers of ``derived`` so far."""
        return {}

    @cached_property
    def _by_address(self) -> Mapping[str, ResourceChange]:
        """The current (not deposed) object's change by address."""
        return MappingProxyType({rc.address: rc for rc in self.resource_changes if rc.deposed is None})

    def resource(self, address: str, *, deposed: str | None = None) -> ResourceChange | None:
        """The change of one instance by exact address (``module.x.type.name["key"]``), or ``None``."""
        if deposed is None:
            return self._by_address.get(address)
        return next(
            (rc for rc in self.resource_changes if rc.address == address and rc.deposed == deposed), None
        )

    def __getitem__(self, address: str) -> ResourceChange:
        rc = self.resource(address)
        if rc is None:
            raise KeyError(address)
        return rc

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and self.resource(address) is not None

    def output(self, name: str) -> OutputChange | None:
        """The change of one root module output, or ``None``."""
        return self.output_changes.get(name)

    def desired(self) -> Mapping[str, Change]:
        """The planned change of every managed object this plan keeps or creates, by address."""
        return self.derived(
            "desired",
            lambda plan: MappingProxyType(
                {
                    rc.address: rc.change
                    for rc in plan.resource_changes
                    if rc.mode == "managed"
                    and rc.deposed is None
                    and rc.change.action not in (Action.DELETE, Action.FORGET)
                }
            ),
        )

    def compare_planned_values(self, recorded: Plan) -> tuple[PlanDifference, ...]:
        """How this plan's planned values differ from ``recorded``'s, resource by resource.

        Built on the same walk as ``Change.attribute_changes``: each resource's ``after`` in ``recorded``
        is compared with its ``after`` here. A value known only after apply, or sensitive, in either plan
        is not a difference (it cannot be compared), and objects a plan deletes are not desired.
        """
        old, now = recorded.desired(), self.desired()
        diffs = [PlanDifference(a, "missing") for a in sorted(set(old) - set(now))]
        diffs += [PlanDifference(a, "extra") for a in sorted(set(now) - set(old))]
        for address in sorted(set(old) & set(now)):
            paths = _planned_value_paths(old[address], now[address])
            if paths:
                diffs.append(PlanDifference(address, "changed", paths))
        return tuple(diffs)

    # ---- summary

    def summary(self) -> PlanSummary:
        """Counts by Terraform's own rules (see ``PlanSummary``)."""
        return self._summary

    @cached_property
    def _summary(self) -> PlanSummary:
        """The summary, computed once from the action groups."""
        groups = self._by_action
        n = {action: len(items) for action, items in groups.items()}
        data_deletes = sum(1 for rc in groups[Action.DELETE] if rc.mode != "managed")
        data_imports = sum(
            1 for rc in self.imports if rc.change.action is Action.DELETE and rc.mode != "managed"
        )
        replace = n[Action.DELETE_THEN_CREATE] + n[Action.CREATE_THEN_DELETE]
        return PlanSummary(
            add=n[Action.CREATE] + replace + n[Action.CREATE_THEN_FORGET],
            change=n[Action.UPDATE],
            destroy=n[Action.DELETE] - data_deletes + replace,
            replace=replace,
            import_=len(self.imports) - data_imports,
            forget=n[Action.FORGET] + n[Action.CREATE_THEN_FORGET],
            move=len(self.moves),
            read=n[Action.READ],
            noop=n[Action.NOOP],
            invoke=len(self.action_invocations),
            deferred=len(self.deferred_changes) + len(self.deferred_action_invocations),
        )

    @cached_property
    def has_changes(self) -> bool:
        """Applying would do something: a resource action, move or import, an action, an output change, or
        (refresh-only, when Terraform calls it applyable) recording drift in the state."""
        for rc in self.resource_changes:
            action = rc.change.action
            if action is Action.NOOP:
                if rc.is_moved or rc.change.importing is not None:
                    return True
            elif not (action is Action.DELETE and rc.mode != "managed"):
                return True
        if self.action_invocations:
            return True
        if self.drift and self.applyable is not False and self.is_refresh_only:
            return True  # applying a refresh-only plan records the drift in the state
        return any(oc.action is not Action.NOOP for oc in self.output_changes.values())

    @cached_property
    def is_refresh_only(self) -> bool:
        """Made by ``terraform plan -refresh-only`` (the JSON has no mode key; this is how to tell).

        Only refresh-only plans list move-only (no-op) entries in ``resource_drift``; and only they leave
        ``resource_changes`` empty while the prior state holds managed resources (any other plan lists
        each of them, if only as a no-op). An errored plan is never taken for one.
        """
        if self.errored or self.resource_changes:
            return False
        if any(rc.change.action is Action.NOOP for rc in self.resource_drift):
            return True
        state = self.prior_state
        values = state.values if state is not None else None
        return values is not None and any(r.mode == "managed" for r in values.root_module.walk())

    @cached_property
    def empty_reason(self) -> EmptyReason | None:
        """Why there are no resource changes (``None`` when there are some)."""
        if self.resource_changes:
            return None
        if self.errored:
            return EmptyReason.ERRORED
        if self.is_refresh_only:
            return EmptyReason.REFRESH_ONLY
        if self.resource_drift:
            return EmptyReason.DRIFT_ONLY
        if not _declares_resources(self.configuration):
            return EmptyReason.NO_RESOURCES
        return EmptyReason.NO_CHANGES

    # ---- redaction

    def redacted(self) -> bytes:
        """Plan JSON with every sensitive value replaced by ``REDACTED_SENSITIVE``.

        The one redaction (``tfkit.plan_redact``): changes, drift, variables, planned values, prior state,
        outputs and configuration constants by what the plan marks sensitive, and clear copies of those.
        """
        doc, _found = self._redaction()
        return msgspec.json.encode(doc)

    @cached_property
    def sensitive_values(self) -> frozenset[str]:
        """Every string the plan marks sensitive somewhere (what ``redacted()`` masks, copies included).

        A clear value equal to one of these is a copy of a secret that lost its mark on the way (a
        ``terraform_data`` output of a sensitive input, once applied), masked wherever it appears.
        """
        return self._redaction()[1] if self.raw else frozenset()

    @cached_property
    def sensitive_texts(self) -> frozenset[str]:
        """The text of every leaf the plan marks sensitive: strings, and numbers as Python writes them.

        What ``tfkit.redact.register_plan_secrets`` registers (those long enough): exactly the leaves
        ``redacted()`` replaces, found by the same pass that redacts.
        """
        if not self.raw:
            return frozenset()
        self._redaction()
        return cast("frozenset[str]", self.__dict__["sensitive_texts"])

    def _redaction(self) -> tuple[Any, frozenset[str]]:
        """The redacted document and the sensitive strings found, from one decode of the bytes.

        Keeps ``sensitive_values`` and ``sensitive_texts`` with the plan, so that a plan is decoded and
        walked once for its redaction, its secrets and its review's masks.
        """
        body = _utf8_body(self.raw)
        doc = _decode_part(body, Any, "$")
        try:
            found, texts = redact_plan_document(doc)
            if texts is None:  # the marker was already there: compare with the original to tell
                texts = frozenset(sensitive_leaves(_decode_part(body, Any, "$"), doc))
        except RecursionError:
            raise PlanParseError("a sensitive value is nested too deeply to redact", path="$") from None
        self.__dict__.setdefault("sensitive_values", found)
        self.__dict__.setdefault("sensitive_texts", texts)
        return doc, found


def _declares_resources(configuration: Configuration | None) -> bool:
    """The configuration declares a resource or calls a module (which may declare some)."""
    if configuration is None:
        return False
    module = configuration.root_module
    return bool(module.resources or module.module_calls)


# ------------------------------------------------------------------------------------------- decoding

_PLAN_DECODER = msgspec.json.Decoder(Plan)
_HEADER_DECODER = msgspec.json.Decoder(_Header)
_AT_PATH = re.compile(r"^(?P<what>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)


def load_plan(data: bytes | str | Path) -> Plan:
    """Decode plan JSON: bytes, a JSON text (``str``) or a file (``Path``); UTF-8 or UTF-16 with a BOM.

    Raises ``PlanParseError`` (with the JSON path) for malformed input and ``UnsupportedFormatError`` for a
    missing or unsupported ``format_version``; warns ``PlanFormatWarning`` for a newer minor version.
    """
    raw = _read(data)
    body = _utf8_body(raw)
    _check_utf8(body)
    try:
        plan = _PLAN_DECODER.decode(body)
    except msgspec.ValidationError as exc:
        _check_header(body)
        raise _validation_error(str(exc), "$") from None
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        raise _syntax_error(exc, body, hint=isinstance(data, str)) from None
    _check_format(plan.format_version)
    plan.__dict__["_raw"] = raw
    return plan


#: The largest plan JSON file read (1 GiB): far above real plans, and it stops a device or a runaway
#: file (``/dev/zero``) from exhausting memory before decoding starts.
MAX_PLAN_BYTES = 1 << 30


def read_plan_bytes(path: Path) -> bytes:
    """The bytes of plan JSON file ``path``, at most ``MAX_PLAN_BYTES``; one-line ``PlanError`` otherwise."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_PLAN_BYTES + 1)
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(f"{path}: larger than {MAX_PLAN_BYTES >> 20} MiB, the limit for a plan JSON file")
    return data


def _read(data: bytes | str | Path) -> bytes:
    """The bytes to decode: the file's content for a ``Path``, UTF-8 for a ``str``."""
    if isinstance(data, Path):
        return read_plan_bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise TypeError(f"load_plan() takes bytes, str or Path, not {type(data).__name__}")


def _utf8_body(raw: bytes) -> bytes:
    """The JSON as UTF-8 without a byte-order mark; UTF-16 and UTF-32 (as Windows shells write) re-encoded."""
    encoding = json.detect_encoding(raw)
    if encoding == "utf-8":
        return raw
    if encoding == "utf-8-sig":
        return raw[3:]
    try:
        return raw.decode(encoding).encode("utf-8")
    except UnicodeError:
        raise PlanParseError(f"plan JSON is not valid {encoding.upper()} text", path="$") from None


def _check_utf8(body: bytes, chunk: int = 1 << 20) -> None:
    """Reject invalid UTF-8 anywhere, also in the parts msgspec skips or keeps raw; chunked, to stay lean."""
    if body.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    for start in range(0, len(body), chunk):
        try:
            decoder.decode(view[start : start + chunk], final=start + chunk >= len(body))
        except UnicodeDecodeError as exc:
            position = start + exc.start
            raise PlanParseError(
                f"plan JSON is not valid UTF-8 text (at byte {position})", path="$"
            ) from None


def _check_header(body: bytes) -> None:
    """When the full decode failed, report a missing or unsupported format_version first."""
    try:
        header = _HEADER_DECODER.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return
    if header.format_version is None or isinstance(header.format_version, str):
        _check_format(header.format_version)


def _check_format(version: str | None) -> None:
    """Accept format versions 0.1 up to any 1.x; warn for a minor version newer than tfkit knows."""
    if version is None:
        raise UnsupportedFormatError(
            "plan JSON has no format_version: it is not the output of `terraform show -json PLANFILE`",
            format_version=None,
        )
    match = re.fullmatch(r"(\d{1,6})\.(\d{1,6})", version)
    if match is None:
        raise UnsupportedFormatError(
            "plan JSON has a format_version that is not of the form MAJOR.MINOR", format_version=version
        )
    parsed = (int(match[1]), int(match[2]))
    if not _OLDEST_FORMAT <= parsed < (2, 0):
        raise UnsupportedFormatError(
            f"plan JSON format_version {version} is not supported: tfkit reads 0.1 up to 1.x; "
            "use a Terraform version that writes format 1.x",
            format_version=version,
        )
    if parsed > _NEWEST_KNOWN_FORMAT:
        newest = "{}.{}".format(*_NEWEST_KNOWN_FORMAT)
        warnings.warn(
            PlanFormatWarning(
                f"plan JSON format_version {version} is newer than {newest}, the newest tfkit knows; "
                "keys added since are ignored"
            ),
            stacklevel=3,
        )


def _validation_error(message: str, prefix: str) -> PlanParseError:
    """A msgspec validation message as a one-line ``PlanParseError`` with the JSON path; no values quoted."""
    match = _AT_PATH.match(message.strip())
    what = match["what"] if match else message
    path = match["path"] if match and match["path"] else "$"
    if what.startswith("Invalid enum value"):
        what = f"Invalid value (expected one of {', '.join(json.dumps(a) for a in get_args(ActionName))})"
    full_path = prefix + path[1:]
    what = what.replace("\n", " ")
    return PlanParseError(f"malformed plan JSON at {full_path}: {what[:1].lower()}{what[1:]}", path=full_path)


def _syntax_error(exc: BaseException, body: bytes, *, hint: bool) -> PlanParseError:
    """A JSON syntax or encoding error as a one-line ``PlanParseError`` with the line and column."""
    if isinstance(exc, RecursionError):
        return PlanParseError("plan JSON is nested too deeply to be a Terraform plan", path="$")
    if isinstance(exc, UnicodeError):
        return PlanParseError("plan JSON is not valid UTF-8 text", path="$")
    detail = str(exc).removeprefix("JSON is malformed: ")
    where = ""
    offset = re.search(r"\(byte (\d+)\)", detail)
    if offset:
        position = int(offset[1])
        line = body.count(b"\n", 0, position) + 1
        column = position - (body.rfind(b"\n", 0, position) + 1) + 1
        detail = detail[: offset.start()].rstrip()
        where = f" at line {line}, column {column}"
    tip = " (to load a file, pass a pathlib.Path)" if hint and not body.lstrip().startswith(b"{") else ""
    return PlanParseError(f"plan is not valid JSON{where}: {detail[:1].lower()}{detail[1:]}{tip}", path="$")


def _decode_part(raw: msgspec.Raw | bytes, kind: Any, prefix: str) -> Any:
    """Decode a lazily kept part of the plan; a wrong shape is a ``PlanParseError`` with its full path."""
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc), prefix) from None
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        raise PlanParseError(f"{prefix} is nested too deeply or malformed", path=prefix) from None


# ------------------------------------------------------------------------------------------- schema


def validate_plan_schema(data: bytes) -> list[str]:
    """Check plan JSON against tfkit's JSON Schema of Terraform's plan format; one message per problem.

    Messages name the JSON path and what was expected, never the offending value. An empty list means valid.
    """
    try:
        doc = msgspec.json.decode(_utf8_body(bytes(data)))
    except PlanParseError as exc:
        return [str(exc)]
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        return [str(_syntax_error(exc, bytes(data), hint=False))]
    errors = sorted(_schema_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_json_path(error.absolute_path)}: {_schema_message(error)}" for error in errors]


@functools.cache
def _schema_validator() -> Any:
    """The validator of the shipped plan schema, built once (jsonschema is imported only here)."""
    import jsonschema  # lazily: only `tfkit show --validate` and tests need it

    schema = json.loads((Path(__file__).parent / "schemas" / "plan.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _json_path(steps: Sequence[str | int]) -> str:
    """A JSON path like ``$.resource_changes[3].change.actions``."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def _schema_message(error: Any) -> str:
    """What the schema expected, worded without quoting the instance (it may be sensitive)."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        return f"expected {' or '.join(expected) if isinstance(expected, list) else expected}"
    if keyword in ("enum", "const"):
        return f"expected one of {json.dumps(expected if keyword == 'enum' else [expected])}"
    if keyword == "required":
        return str(error.message)
    if keyword in ("oneOf", "anyOf"):
        return "matches none of the allowed forms"
    return f"fails `{keyword}` (expected {json.dumps(expected)})"
