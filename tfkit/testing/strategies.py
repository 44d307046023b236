"""Hypothesis strategies: generated plans for testing policies, and valid inputs for a module.

* ``resource_changes()`` and ``plans()`` build plan JSON (format 1.2) and decode it with ``load_plan``, so a
  generated ``Plan`` is exactly what tfkit reads from Terraform: actions, module addresses, ``for_each``
  keys, tags, unknown and sensitive masks.
* ``module_inputs(path)`` reads the module's variables with ``tfkit.hcl`` (types, ``optional()`` defaults,
  ``validation`` blocks) and generates values that satisfy them, so a test can say "for every valid input,
  the module plans and passes the policies". Validation conditions of the common shapes are understood
  (bounds, ``length()``, ``contains([...])``, ``can(regex("..."))`` through Hypothesis' ``from_regex``,
  ``can(cidrhost())``, ``floor(x) == x``, ``alltrue([for ...])``, ``distinct()``, ``!(a == x && b == y)``);
  ``unsupported_conditions(path)`` lists the others, and ``module_inputs`` reports each with an
  ``UnsupportedConditionWarning`` and left to Terraform to enforce: narrow those inputs with ``overrides``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from tfkit.hcl import MISSING, TypeSpec, Validation, load_module
from tfkit.plan import Action, Plan, ResourceChange, load_plan

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "UnsupportedConditionWarning",
    "module_inputs",
    "module_path",
    "plans",
    "resource_change_docs",
    "resource_changes",
    "unsupported_conditions",
    "value_for",
]

_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8).filter(
    lambda s: s[0].isalpha()
)
_TAG_KEYS = st.sampled_from(["env", "owner", "cost_center", "managed_by", "team", "app"])
_TAG_VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)


class UnsupportedConditionWarning(UserWarning):
    """A validation condition ``module_inputs`` cannot translate; Terraform still enforces it."""


# ------------------------------------------------------------------------------------------ plans


@st.composite
def resource_change_docs(
    draw: st.DrawFn,
    *,
    actions: SearchStrategy[Action] | None = None,
    types: SearchStrategy[str] | None = None,
    modules: SearchStrategy[str | None] | None = None,
) -> dict[str, Any]:
    """One ``resource_changes`` entry as plan JSON (a dict), consistent with its action."""
    action = draw(
        actions if actions is not None else st.sampled_from([a for a in Action if a is not Action.READ])
    )
    rtype = draw(
        types
        if types is not None
        else st.sampled_from(["terraform_data", "aws_s3_bucket", "google_storage_bucket"])
    )
    module = draw(
        modules if modules is not None else st.one_of(st.none(), _NAMES.map(lambda n: f"module.{n}"))
    )
    name = draw(_NAMES)
    index = draw(st.one_of(st.none(), st.integers(0, 5), _NAMES))
    tags = draw(st.dictionaries(_TAG_KEYS, _TAG_VALUES, max_size=4))
    body: dict[str, Any] = {"name": name, "tags": tags}
    if rtype == "terraform_data":
        body = {"input": {"name": name, "tags": tags}}
    elif rtype.startswith("google_"):
        body = {"name": name, "labels": tags}
    secret_key = draw(st.sampled_from([None, "password"]))
    sensitive: Any = False
    if secret_key is not None:
        target = body.get("input", body)
        target[secret_key] = draw(st.text(min_size=12, max_size=20))
        sensitive = {"input": {secret_key: True}} if "input" in body else {secret_key: True}
    before = None if action in (Action.CREATE,) else body
    after = None if action in (Action.DELETE, Action.FORGET) else body
    address = f"{rtype}.{name}"
    if index is not None:
        address += f"[{index}]" if isinstance(index, int) else f'["{index}"]'
    if module:
        address = f"{module}.{address}"
    doc: dict[str, Any] = {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": "terraform.io/builtin/terraform"
        if rtype == "terraform_data"
        else f"registry.terraform.io/hashicorp/{rtype.split('_')[0]}",
        "change": {
            "actions": list(action.actions),
            "before": before,
            "after": after,
            "after_unknown": {"id": True} if after is not None else False,
            "before_sensitive": sensitive if before is not None else False,
            "after_sensitive": sensitive if after is not None else False,
        },
    }
    if module:
        doc["module_address"] = module
    if index is not None:
        doc["index"] = index
    if action.is_replace:
        doc["action_reason"] = "replace_because_cannot_update"
    return doc


def resource_changes(**kwargs: Any) -> SearchStrategy[ResourceChange]:
    """Decoded ``ResourceChange`` objects (see ``resource_change_docs`` for the options)."""
    import msgspec

    return resource_change_docs(**kwargs).map(
        lambda doc: msgspec.json.decode(json.dumps(doc).encode(), type=ResourceChange)
    )


def _plan_doc(changes: list[dict[str, Any]], outputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "variables": {},
        "resource_changes": changes,
        "output_changes": outputs,
        "applyable": True,
        "complete": True,
        "errored": False,
        "configuration": {"root_module": {}},
    }


@st.composite
def plans(
    draw: st.DrawFn,
    *,
    changes: SearchStrategy[dict[str, Any]] | None = None,
    min_size: int = 0,
    max_size: int = 20,
    outputs: bool = True,
) -> Plan:
    """A valid ``Plan`` with unique addresses, made of ``changes`` (``resource_change_docs()`` by default)."""
    docs = draw(
        st.lists(
            changes if changes is not None else resource_change_docs(),
            min_size=min_size,
            max_size=max_size,
            unique_by=lambda d: d["address"],
        )
    )
    out: dict[str, Any] = {}
    if outputs:
        for name in draw(st.lists(_NAMES, max_size=3, unique=True)):
            sensitive = draw(st.booleans())
            out[name] = {
                "actions": ["create"],
                "before": None,
                "after": draw(_TAG_VALUES),
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": sensitive,
            }
    return load_plan(json.dumps(_plan_doc(docs, out)).encode())


# ------------------------------------------------------------------------------- module inputs


@dataclass
class _Constraints:
    """What the validations say about one value (a variable, or an attribute of its elements)."""

    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    min_length: int | None = None
    max_length: int | None = None
    choices: list[Any] | None = None
    cidr: bool = False
    #: Patterns of ``can(regex(...))`` conditions (Terraform's RE2; the common subset is Python's too).
    patterns: list[str] = field(default_factory=list)
    unique_by: list[str] = field(default_factory=list)
    fields: dict[str, _Constraints] = field(default_factory=dict)
    excluded: list[dict[str, Any]] = field(default_factory=list)

    def of(self, name: str | None) -> _Constraints:
        if name is None:
            return self
        return self.fields.setdefault(name, _Constraints())


_NUM = r"-?\d+(?:\.\d+)?"


def _literal(text: str) -> Any:
    return json.loads(text)


def _split_and(text: str) -> list[str]:
    """Split a condition on top-level ``&&``."""
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(text):
        c = text[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif text.startswith("&&", i) and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _exact_length(target: _Constraints, n: int) -> None:
    target.min_length = n
    target.max_length = n


def _apply_term(term: str, ref: str, target: _Constraints) -> bool:
    """Apply one condition term about ``ref`` (``var.x`` or ``r``) to ``target``; False if not understood."""
    r = re.escape(ref)
    member = rf"{r}(?:\.(?P<field>\w+))?"
    ops: list[tuple[str, Callable[[_Constraints, float], None]]] = [
        (">=", lambda c, n: setattr(c, "minimum", n)),
        (">", lambda c, n: setattr(c, "minimum", n + 1)),
        ("<=", lambda c, n: setattr(c, "maximum", n)),
        ("<", lambda c, n: setattr(c, "maximum", n - 1)),
    ]
    length_ops: list[tuple[str, Callable[[_Constraints, int], None]]] = [
        (">=", lambda c, n: setattr(c, "min_length", n)),
        (">", lambda c, n: setattr(c, "min_length", n + 1)),
        ("<=", lambda c, n: setattr(c, "max_length", n)),
        ("<", lambda c, n: setattr(c, "max_length", n - 1)),
        ("==", _exact_length),
    ]
    for op, setter in ops:
        m = re.fullmatch(rf"{member}\s*{re.escape(op)}\s*(?P<n>{_NUM})", term)
        if m:
            setter(target.of(m["field"]), float(m["n"]))
            return True
    for op, length_setter in length_ops:
        m = re.fullmatch(rf"length\({member}\)\s*{re.escape(op)}\s*(?P<n>\d+)", term)
        if m:
            length_setter(target.of(m["field"]), int(m["n"]))
            return True
    m = re.fullmatch(rf"contains\((?P<list>\[.*\]),\s*{member}\)", term)
    if m:
        target.of(m["field"]).choices = _literal(m["list"])
        return True
    m = re.fullmatch(rf'can\(regex\((?P<re>"(?:[^"\\]|\\.)*"),\s*{member}\)\)', term)
    if m:
        # One pattern per value generates; a second would only filter, mostly in vain: reported instead.
        if target.of(m["field"]).patterns:
            return False
        target.of(m["field"]).patterns.append(_literal(m["re"]))
        return True
    m = re.fullmatch(rf"can\(cidrhost\({member},\s*0\)\)", term)
    if m:
        target.of(m["field"]).cidr = True
        return True
    m = re.fullmatch(rf"floor\({member}\)\s*==\s*{r}(?:\.\w+)?", term)
    if m:
        target.of(m["field"]).integer = True
        return True
    m = re.fullmatch(r"!\((?P<body>.*)\)", term)
    if m:
        excluded: dict[str, Any] = {}
        for part in _split_and(m["body"]):
            em = re.fullmatch(rf"{member}\s*==\s*(?P<v>\"[^\"]*\"|{_NUM}|true|false)", part)
            if em is None:
                return False
            excluded[em["field"] or ""] = _literal(em["v"])
        target.excluded.append(excluded)
        return True
    return False


def _constraints(name: str, validations: tuple[Validation, ...]) -> tuple[_Constraints, list[str]]:
    """The constraints the validations of variable ``name`` express, and the conditions not understood."""
    top = _Constraints()
    unsupported: list[str] = []
    ref = f"var.{name}"
    for validation in validations:
        condition = " ".join(validation.condition.split())
        loop = re.fullmatch(rf"alltrue\(\[for (\w+) in {re.escape(ref)} : (.*)\]\)", condition)
        escaped = re.escape(ref)
        distinct = re.fullmatch(
            rf"length\(distinct\(\[for (\w+) in {escaped} : \1\.(\w+)\]\)\) == length\({escaped}\)",
            condition,
        )
        if distinct:
            top.unique_by.append(distinct[2])
            continue
        if loop:
            element = top.of("*")
            terms, var = _split_and(loop[2]), loop[1]
            if not all(_apply_term(t, var, element) for t in terms):
                unsupported.append(validation.condition)
            continue
        if not all(_apply_term(t, ref, top) for t in _split_and(condition)):
            unsupported.append(validation.condition)
    return top, unsupported


def _cidrs() -> SearchStrategy[str]:
    return st.builds(
        lambda address, prefix: str(
            ipaddress.ip_network(f"{ipaddress.IPv4Address(address)}/{prefix}", strict=False)
        ),
        st.integers(0, 2**32 - 1),
        st.integers(8, 28),
    )


def _matching(c: _Constraints) -> SearchStrategy[str]:
    """Strings matching the ``can(regex())`` pattern of ``c`` (printable ASCII) within its length bounds.

    ``from_regex`` with whole-string matches: they also match anywhere (Terraform's ``regex``), and an
    anchored pattern gets no stray trailing newline (Python's ``$`` allows one, RE2's does not).
    """
    (pattern,) = c.patterns
    low, high = c.min_length or 0, c.max_length
    alphabet = st.characters(min_codepoint=32, max_codepoint=126)
    return st.from_regex(pattern, fullmatch=True, alphabet=alphabet).filter(
        lambda v: low <= len(v) and (high is None or len(v) <= high)
    )


def value_for(spec: TypeSpec, constraints: _Constraints | None = None) -> SearchStrategy[Any]:
    """Values of type ``spec`` satisfying ``constraints`` (from ``module_inputs``' reading of validations)."""
    c = constraints or _Constraints()
    if c.choices is not None:
        return st.sampled_from(c.choices)
    if spec.kind == "string" or spec.kind == "any":
        if c.cidr:
            return _cidrs()
        if c.patterns:
            return _matching(c)
        low = max(c.min_length or 1, 1)
        high = c.max_length if c.max_length is not None else max(low, 16)
        first = st.sampled_from("abcdefghijklmnopqrstuvwxyz")
        rest = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=low - 1, max_size=high - 1)
        return st.tuples(first, rest).map("".join)
    if spec.kind == "number":
        low = int(c.minimum) if c.minimum is not None else 0
        high = int(c.maximum) if c.maximum is not None else max(low, 0) + 100
        return st.integers(low, high)
    if spec.kind == "bool":
        return st.booleans()
    element = c.fields.get("*")
    if spec.kind in ("list", "set") and spec.element is not None:
        low = c.min_length if c.min_length is not None else 0
        high = c.max_length if c.max_length is not None else max(low, 3)
        unique_by = None
        if c.unique_by:
            keys = tuple(c.unique_by)

            def unique_by(v: Any) -> Any:
                return tuple(v.get(k) for k in keys)

        return st.lists(
            value_for(spec.element, element),
            min_size=low,
            max_size=high,
            unique=spec.kind == "set" or (spec.element.kind != "object" and bool(c.unique_by)),
            unique_by=unique_by if spec.element.kind == "object" else None,
        ).filter(lambda items: all(not _excluded(i, element) for i in items))
    if spec.kind == "map" and spec.element is not None:
        return st.dictionaries(_NAMES, value_for(spec.element, element), max_size=c.max_length or 3)
    if spec.kind == "object":
        required = {
            k: value_for(t, c.fields.get(k)) for k, t in spec.attributes.items() if k not in spec.optional
        }
        optional = {
            k: value_for(t, c.fields.get(k)) for k, t in spec.attributes.items() if k in spec.optional
        }
        return st.fixed_dictionaries(required, optional=optional)
    if spec.kind == "tuple":
        return st.tuples(*(value_for(t) for t in spec.elements)).map(list)
    return st.none()


def _excluded(item: Any, c: _Constraints | None) -> bool:
    if c is None or not c.excluded or not isinstance(item, dict):
        return False
    return any(all(item.get(k) == v for k, v in combo.items()) for combo in c.excluded)


def module_path(path: Path | str) -> Path:
    """A module path as tests write it: relative to the repository root (the nearest tfkit.toml at or
    above the current directory), so ``pytest`` run from ``tests/`` finds ``modules/x`` too."""
    from tfkit.errors import ConfigError
    from tfkit.project import find_root

    given = Path(path)
    if given.is_absolute():
        return given
    try:
        return find_root() / given
    except ConfigError:
        return given


def unsupported_conditions(path: Path | str) -> dict[str, list[str]]:
    """The validation conditions of the module at ``path`` that ``module_inputs`` cannot satisfy, by
    variable: Terraform still enforces them, so narrow those inputs with ``overrides``."""
    module = load_module(module_path(path))
    found = {name: _constraints(name, decl.validations)[1] for name, decl in module.variables.items()}
    return {name: conditions for name, conditions in found.items() if conditions}


def module_inputs(
    path: Path | str,
    *,
    overrides: Mapping[str, Any] | None = None,
    optional: bool = True,
) -> SearchStrategy[dict[str, Any]]:
    """Input values for the module at ``path`` (``module_path``) that satisfy its types and validations.

    Required variables are always set; variables with a default are set sometimes (``optional=False``:
    never). ``overrides`` fixes some inputs: a value, or a strategy (for relations between variables
    that validations do not state, such as ``min_size <= desired_size``).
    """
    module = load_module(module_path(path))
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(module.variables))
    if unknown:
        raise ValueError(f"{path} declares no variable {unknown[0]}")
    required: dict[str, SearchStrategy[Any]] = {}
    optional_inputs: dict[str, SearchStrategy[Any]] = {}
    for name, decl in module.variables.items():
        if name in overrides:
            given = overrides[name]
            strategy = given if isinstance(given, st.SearchStrategy) else st.just(given)
            required[name] = strategy
            continue
        constraints, unsupported = _constraints(name, decl.validations)
        for condition in unsupported:
            warnings.warn(
                UnsupportedConditionWarning(
                    f"{path}: variable {name}: condition not understood: {condition}"
                ),
                stacklevel=2,
            )
        strategy = value_for(decl.type_spec(), constraints)
        if decl.default is MISSING:
            required[name] = strategy
        elif optional:
            optional_inputs[name] = strategy
    return st.fixed_dictionaries(required, optional=optional_inputs)
