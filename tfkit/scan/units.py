"""A plan JSON cut into the units Checkov scans, their content digests, and reduced plans of a few.

Checkov's ``terraform_plan`` runner builds each resource's scanned configuration from its
``planned_values`` entry, its ``configuration`` entry (references, provisioners) and its
``resource_changes`` entry (actions, changed keys, after_unknown); a graph check can also look at the
resources a resource references. So a unit's digest covers exactly those inputs, and units joined by a
reference (in either direction) form a *component*, which is always scanned whole and whose members'
digests all go into each member's cache key. References are matched on ``type.name`` across modules,
which joins more than Checkov does, never fewer. Providers (``configuration.provider_config``) are one
more unit.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from tfkit.content_cache import content_key

__all__ = [
    "PROVIDERS",
    "Unit",
    "build_reduced_plan",
    "components",
    "has_duplicate_keys",
    "parse_units",
    "plan_document",
    "read_plan",
    "view_digest",
]

#: The address of the providers unit (Checkov reports provider checks as ``<name>.<alias>``).
PROVIDERS = "(providers)"
_MODULE_PART = re.compile(r'module\.([^.\[]+)(?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])?')
_NOT_RESOURCES = frozenset({"var", "local", "each", "count", "path", "self", "module", "terraform"})


@dataclass(frozen=True, slots=True)
class Unit:
    """One resource (or the providers) as Checkov sees it."""

    address: str
    type: str
    name: str
    mode: str
    module: str | None
    digest: str
    references: frozenset[tuple[str, str]]
    #: The providers unit: the provider names configured ("" for an entry without one).
    providers: frozenset[str] = frozenset()


def read_plan(raw: bytes) -> tuple[dict[str, Any], bool]:
    """The plan JSON as a dict, and whether some object in it repeats a key.

    UTF-8 or UTF-16 with a byte-order mark, as ``json.loads`` detects. ``json.loads`` keeps the last
    value of a repeated key silently, Checkov rejects the file as a parsing error; so a document
    re-serialised from the dict would be scanned where Checkov's CLI refuses it.
    """
    repeated = False

    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        made = dict(pairs)
        repeated = repeated or len(made) != len(pairs)
        return made

    doc = json.loads(raw, object_pairs_hook=pairs_to_dict)
    if not isinstance(doc, dict):
        raise ValueError("a plan JSON document is an object")
    return doc, repeated


def plan_document(raw: bytes) -> dict[str, Any]:
    """The plan JSON as a dict (see ``read_plan``)."""
    return read_plan(raw)[0]


def has_duplicate_keys(raw: bytes) -> bool:
    """Whether some object of the plan JSON ``raw`` repeats a key (see ``read_plan``)."""
    return read_plan(raw)[1]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _walk_planned(module: Mapping[str, Any]) -> Iterator[tuple[str | None, Mapping[str, Any]]]:
    address = module.get("address")
    for resource in module.get("resources", None) or ():
        yield address, resource
    for child in module.get("child_modules", None) or ():
        yield from _walk_planned(child)


class _ConfigIndex:
    """The ``configuration`` entry Checkov pairs with each planned resource (its own lookup, quirks kept).

    Checkov takes the first entry that matches (in the root module: the same type and name; in a
    module: the same address without the instance key); the entries are indexed once per module, so
    pairing every resource costs one look-up each rather than a pass over the module's entries.
    """

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.root: Mapping[str, Any] = (doc.get("configuration") or {}).get("root_module") or {}
        self.by_module: dict[str | None, dict[Any, Any]] = {}

    def _index(self, module: str | None) -> dict[Any, Any]:
        index = self.by_module.get(module)
        if index is not None:
            return index
        index = {}
        if not module:
            for c in self.root.get("resources", None) or ():
                key = (c.get("type"), c.get("name"))
                if _hashable(key):
                    index.setdefault(key, c)
        else:
            conf = self.root
            for match in _MODULE_PART.finditer(module):
                conf = ((conf.get("module_calls") or {}).get(match.group(1)) or {}).get("module") or {}
            for c in conf.get("resources", None) or ():
                index.setdefault(f"{module}.{c.get('address')}", c)
        self.by_module[module] = index
        return index

    def entry(self, module: str | None, resource: Mapping[str, Any]) -> Any:
        """The entry paired with ``resource`` of ``module`` (``None`` when there is none)."""
        if not module:
            key = (resource.get("type"), resource.get("name"))
            if not _hashable(key):  # a malformed plan: Checkov's own comparison, entry by entry
                return next(
                    (
                        c
                        for c in self.root.get("resources", None) or ()
                        if c.get("type") == key[0] and c.get("name") == key[1]
                    ),
                    None,
                )
            return self._index(None).get(key)
        address = str(resource.get("address", ""))
        plain = address.rsplit("[", 1)[0] if address.endswith("]") else address
        return self._index(module).get(plain)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _change_keys(change: Mapping[str, Any]) -> list[str]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return []
    return [k for k, v in before.items() if v != after.get(k)]


def _references(conf: Any) -> set[tuple[str, str]]:
    """Every ``(type, name)`` a configuration entry refers to (data sources as ``data.<type>``)."""
    found: set[tuple[str, str]] = set()

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "references" and isinstance(value, list):
                    for ref in value:
                        if isinstance(ref, str):
                            found.update(_ref_target(ref))
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(conf)
    return found


def _ref_target(ref: str) -> set[tuple[str, str]]:
    parts = ref.split(".")
    if parts[0] == "data" and len(parts) >= 3:
        return {(f"data.{parts[1]}", parts[2].split("[")[0])}
    if len(parts) >= 2 and parts[0] not in _NOT_RESOURCES:
        return {(parts[0], parts[1].split("[")[0])}
    return set()


def parse_units(doc: Mapping[str, Any]) -> dict[str, Unit]:
    """Every unit of the plan by address (providers under ``PROVIDERS`` when configured)."""
    changes = {
        rc.get("address"): rc for rc in doc.get("resource_changes", None) or () if isinstance(rc, Mapping)
    }
    root = (doc.get("planned_values") or {}).get("root_module") or {}
    units: dict[str, Unit] = {}
    config = _ConfigIndex(doc)
    for module, resource in _walk_planned(root):
        address = str(resource.get("address", ""))
        conf = config.entry(module, resource)
        rc = changes.get(address) or {}
        change = rc.get("change") or {}
        content = {
            "address": address,
            "type": resource.get("type"),
            "name": resource.get("name"),
            "mode": resource.get("mode"),
            "values": resource.get("values"),
            "conf": {
                "expressions": (conf or {}).get("expressions"),
                "provisioners": (conf or {}).get("provisioners"),
            },
            "actions": change.get("actions"),
            "change_keys": _change_keys(change),
            "after_unknown": change.get("after_unknown"),
        }
        mode = str(resource.get("mode", "managed"))
        kind = f"data.{resource.get('type')}" if mode == "data" else str(resource.get("type"))
        units[address] = Unit(
            address=address,
            type=kind,
            name=str(resource.get("name", "")),
            mode=mode,
            module=module,
            digest=_digest(content),
            references=frozenset(_references(conf)),
        )
    providers = (doc.get("configuration") or {}).get("provider_config")
    if providers:
        names = (
            frozenset(
                str(entry.get("name") or "") if isinstance(entry, Mapping) else ""
                for entry in providers.values()
            )
            if isinstance(providers, Mapping)
            else frozenset({""})
        )
        units[PROVIDERS] = Unit(
            PROVIDERS, "provider", "", "provider", None, _digest(providers), frozenset(), names
        )
    return units


_NULL = msgspec.Raw(b"null")


class _CheckovView(msgspec.Struct):
    """The top-level parts of a plan JSON that ``build_reduced_plan`` keeps, as the bytes they were."""

    format_version: msgspec.Raw = _NULL
    terraform_version: msgspec.Raw = _NULL
    planned_values: msgspec.Raw = _NULL
    resource_changes: msgspec.Raw = _NULL
    configuration: msgspec.Raw = _NULL


def view_digest(raw: bytes) -> str | None:
    """A digest of every part of the plan JSON ``raw`` that Checkov reads, taken from its bytes undecoded.

    The parts ``build_reduced_plan`` keeps, byte for byte, so an unchanged plan has the same digest
    whatever its timestamp, ``prior_state`` or variables; ``None`` when msgspec cannot read the document
    (not strict JSON: a byte order mark, ``NaN``), which then has no digest and is looked up unit by unit.
    """
    try:
        view = msgspec.json.decode(raw, type=_CheckovView)
    except msgspec.DecodeError:
        return None
    return content_key(
        "checkov-view-1",
        bytes(view.format_version),
        bytes(view.terraform_version),
        bytes(view.planned_values),
        bytes(view.resource_changes),
        bytes(view.configuration),
    )


def components(units: Mapping[str, Unit]) -> list[frozenset[str]]:
    """The units joined by references (in either direction), as sets of addresses."""
    by_name: dict[tuple[str, str], list[str]] = {}
    for unit in units.values():
        by_name.setdefault((unit.type, unit.name), []).append(unit.address)
    parent = {a: a for a in units}

    def find(a: str) -> str:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for unit in units.values():
        for target in unit.references:
            for other in by_name.get(target, ()):
                parent[find(unit.address)] = find(other)
    groups: dict[str, set[str]] = {}
    for address in units:
        groups.setdefault(find(address), set()).add(address)
    return [frozenset(g) for g in groups.values()]


def _prune(module: Mapping[str, Any], keep: frozenset[str]) -> dict[str, Any] | None:
    resources = [r for r in module.get("resources", None) or () if r.get("address") in keep]
    children = [c for c in (_prune(m, keep) for m in module.get("child_modules", None) or ()) if c]
    if not resources and not children and module.get("address"):
        return None
    out = {k: v for k, v in module.items() if k not in ("resources", "child_modules")}
    out["resources"] = resources
    if children:
        out["child_modules"] = children
    return out


def build_reduced_plan(doc: Mapping[str, Any], keep: frozenset[str]) -> bytes:
    """A plan JSON with only the units in ``keep`` (and the providers if ``PROVIDERS`` is in it).

    Everything Checkov reads for those units is kept as it was: their ``planned_values`` entries in
    their module tree, their ``resource_changes`` entries, and the whole ``configuration`` root module.
    What Checkov never reads (``prior_state``, ``variables``, ``output_changes``, ``resource_drift``,
    ...) is left out, and the JSON is compact: Checkov parses the file with a pure-Python YAML
    loader (for line numbers tfkit does not use), whose time grows with every byte.
    """
    root = (doc.get("planned_values") or {}).get("root_module") or {}
    configuration = dict(doc.get("configuration") or {})
    if PROVIDERS not in keep:
        configuration.pop("provider_config", None)
    reduced = {
        "format_version": doc.get("format_version"),
        "terraform_version": doc.get("terraform_version"),
        "planned_values": {"root_module": _prune(root, keep) or {"resources": []}},
        "resource_changes": [
            rc
            for rc in doc.get("resource_changes", None) or ()
            if isinstance(rc, Mapping) and rc.get("address") in keep
        ],
        "configuration": configuration,
    }
    return json.dumps(reduced, separators=(",", ":")).encode("utf-8")
