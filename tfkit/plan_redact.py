"""The one redaction of a plan document: every value the plan marks sensitive becomes ``REDACTED``.

``Plan.redacted()`` decodes the plan's bytes and hands the document here. The rule is terraform-json's
``sanitize.SanitizePlan`` (changes by their masks, sensitive root variables, planned values and prior state
by the changes' masks, sensitive outputs), plus what it leaves in the clear:

* ``resource_drift`` and ``deferred_changes``, and each state resource's own ``sensitive_values``;
* the configuration: defaults of sensitive variables, constants written for attributes the plan marks
  sensitive (``password = "literal"``), constants of sensitive outputs, and constants passed to a module's
  sensitive variable;
* copies: a string the plan marks sensitive in one place and shows in the clear in another (a
  ``terraform_data`` output copies its sensitive input once applied, and Terraform loses the mark).

Only strings of ``MIN_SECRET_LENGTH`` characters or more are masked as copies (shorter ones are too common
to tell apart from ordinary text), as ``tfkit.redact.mask`` does.

The same pass collects what ``tfkit.redact.register_plan_secrets`` registers: the text of every leaf it
replaces (strings, and numbers as Python writes them), so a plan is decoded and walked once for both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from tfkit.redact import MIN_SECRET_LENGTH, REDACTED, json_leaves

__all__ = ["redact_plan_document", "sensitive_leaves"]


def redact_plan_document(doc: Any) -> tuple[frozenset[str], frozenset[str] | None]:
    """Redact a decoded plan document in place.

    Returns the sensitive strings it found (and masked), and the text of every sensitive leaf, strings and
    numbers: the leaves of each value it replaced. That second answer is ``None`` when a value it replaced
    already held the marker (a plan redacted before, or a value masked twice): only a comparison with the
    original document (``sensitive_leaves``) then tells the plan's own leaves from the marker.
    """
    redaction = _Redaction()
    if isinstance(doc, dict):
        redaction.plan(doc)
        redaction.copies(doc)
    found = frozenset(redaction.found)
    return found, (None if REDACTED in found else found | redaction.numbers)


def sensitive_leaves(original: Any, redacted: Any) -> Iterator[str]:
    """The text of every leaf of ``original`` that ``redacted`` (its redaction) replaced by the marker."""
    if redacted == REDACTED and original != REDACTED:
        yield from json_leaves(original)
    elif isinstance(original, dict) and isinstance(redacted, dict):
        for key, sub in original.items():
            if key in redacted:
                yield from sensitive_leaves(sub, redacted[key])
    elif isinstance(original, list) and isinstance(redacted, list):
        for sub, red in zip(original, redacted, strict=False):
            yield from sensitive_leaves(sub, red)


def _dicts(node: Any, key: str) -> list[dict[str, Any]]:
    """The objects in ``node[key]`` when it is a list (or the values when it is an object)."""
    items = node.get(key) if isinstance(node, dict) else None
    if isinstance(items, dict):
        items = list(items.values())
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _union(a: Any, b: Any) -> Any:
    """Two sensitivity masks as one: ``true`` wins, objects merge by key, lists by position."""
    if a is True or b is True:
        return True
    if a == b:  # instances of one resource mostly share a mask: the union is the mask itself
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _union(a.get(k), b.get(k)) for k in {*a, *b}}
    if isinstance(a, list) and isinstance(b, list):
        return [_union(x, y) for x, y in zip(a, b, strict=False)] + (a[len(b) :] or b[len(a) :])
    return a if isinstance(a, dict | list) else b


def _flat(mask: Any) -> Any:
    """A mask for every element of a list of blocks: the union of its elements' masks."""
    if not isinstance(mask, list):
        return mask
    out: Any = None
    for item in mask:
        out = _union(out, item)
    return out


def _marks(mask: Any) -> bool:
    """The mask marks something sensitive (``true``, or a non-empty structure that may hold it)."""
    return mask is True or (isinstance(mask, dict | list) and bool(mask))


_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]]*)\]')


class _Redaction:
    """One pass over a plan document, collecting the strings it replaces."""

    def __init__(self) -> None:
        self.found: set[str] = set()
        self.numbers: set[str] = set()

    def replaced(self, value: Any) -> str:
        """``REDACTED``, remembering the strings (and numbers, as text) of the value it stands for."""
        if value != REDACTED:
            pending = [value]
            while pending:
                node = pending.pop()
                if isinstance(node, str):
                    self.found.add(node)
                elif isinstance(node, dict):
                    pending.extend(node.values())
                elif isinstance(node, list):
                    pending.extend(node)
                elif isinstance(node, int | float) and not isinstance(node, bool):
                    self.numbers.add(str(node))
        return REDACTED

    def sanitize(self, value: Any, mask: Any) -> Any:
        """terraform-json's sanitize rule: replace every part of ``value`` the mask marks ``true``."""
        if mask is True:
            return self.replaced(value)
        if isinstance(value, list) and isinstance(mask, list):
            for i, sub in enumerate(mask[: len(value)]):
                if _marks(sub):
                    value[i] = self.sanitize(value[i], sub)
        elif isinstance(value, dict) and isinstance(mask, dict):
            for key, sub in mask.items():
                if _marks(sub) and key in value:
                    value[key] = self.sanitize(value[key], sub)
        return value

    def invocations(self, doc: dict[str, Any]) -> None:
        """Action invocations' configuration values, by their ``config_sensitive`` masks."""
        deferred = [d.get("action_invocation") for d in _dicts(doc, "deferred_action_invocations")]
        for invocation in _dicts(doc, "action_invocations") + [d for d in deferred if isinstance(d, dict)]:
            if "config_values" in invocation:
                invocation["config_values"] = self.sanitize(
                    invocation["config_values"], invocation.get("config_sensitive")
                )

    def change(self, change: Any) -> None:
        """Redact a change representation's before and after by their sensitivity masks."""
        if isinstance(change, dict):
            for side, mask in (
                ("before", change.get("before_sensitive")),
                ("after", change.get("after_sensitive")),
            ):
                if side in change and _marks(mask):
                    change[side] = self.sanitize(change[side], mask)

    def plan(self, doc: dict[str, Any]) -> None:
        """Everything the plan marks sensitive, where it marks it (see the module's docstring)."""
        changes = _dicts(doc, "resource_changes")
        for rc in changes + _dicts(doc, "resource_drift"):
            self.change(rc.get("change"))
        for deferred in _dicts(doc, "deferred_changes"):
            inner = deferred.get("resource_change")
            self.change(inner.get("change") if isinstance(inner, dict) else None)
        for change in _dicts(doc, "output_changes"):
            self.change(change)
        self.invocations(doc)
        masks = {
            rc["address"]: rc["change"]
            for rc in changes
            if isinstance(rc.get("address"), str) and isinstance(rc.get("change"), dict)
        }
        self.values(doc.get("planned_values"), masks, "after_sensitive")
        prior = doc.get("prior_state")
        self.values(prior.get("values") if isinstance(prior, dict) else None, masks, "before_sensitive")
        configuration = doc.get("configuration")
        root = configuration.get("root_module") if isinstance(configuration, dict) else None
        self.variables(doc, root)
        self.configuration(root, _config_masks(changes))

    def variables(self, doc: dict[str, Any], root: Any) -> None:
        """Redact the values (and configured defaults) of variables declared sensitive."""
        sensitive: set[str] = set()
        modules = [root]
        while modules:
            module = modules.pop()
            declared = module.get("variables") if isinstance(module, dict) else None
            if isinstance(declared, dict):
                for name, variable in declared.items():
                    if isinstance(variable, dict) and variable.get("sensitive") is True:
                        if "default" in variable:
                            variable["default"] = self.replaced(variable["default"])
                        if module is root:
                            sensitive.add(name)
            modules.extend(call.get("module") for call in _dicts(module, "module_calls"))
        variables = doc.get("variables")
        if isinstance(variables, dict):
            for name in sensitive:
                variable = variables.get(name)
                if isinstance(variable, dict) and "value" in variable:
                    variable["value"] = self.replaced(variable["value"])

    def values(self, values: Any, masks: Mapping[Any, Any], side: str) -> None:
        """A values representation: resources by their change's mask and their own, sensitive outputs."""
        if not isinstance(values, dict):
            return
        for output in _dicts(values, "outputs"):
            if output.get("sensitive") is True and "value" in output:
                output["value"] = self.replaced(output["value"])
        modules = [values.get("root_module")]
        while modules:
            module = modules.pop()
            for resource in _dicts(module, "resources"):
                if "values" in resource:
                    address = resource.get("address")
                    change = masks.get(address) if isinstance(address, str) else None
                    for mask in (change.get(side) if change else None, resource.get("sensitive_values")):
                        if _marks(mask):
                            resource["values"] = self.sanitize(resource["values"], mask)
            modules.extend(_dicts(module, "child_modules"))

    def configuration(self, root: Any, masks: Mapping[tuple[str, str], Any]) -> None:
        """Constants in the configuration for what the plan marks sensitive (attributes, outputs, inputs)."""
        pending: list[tuple[str, Any]] = [("", root)]
        while pending:
            path, module = pending.pop()
            if not isinstance(module, dict):
                continue
            for resource in _dicts(module, "resources"):
                address = resource.get("address")
                mask = masks.get((path, address)) if isinstance(address, str) else None
                if mask is not None:
                    self.expressions(resource.get("expressions"), mask)
            for output in _dicts(module, "outputs"):
                if output.get("sensitive") is True:
                    self.expressions(output, {"expression": True})
            calls = module.get("module_calls")
            for name, call in calls.items() if isinstance(calls, dict) else ():
                if not isinstance(call, dict):
                    continue
                child = call.get("module")
                declared = child.get("variables") if isinstance(child, dict) else None
                if isinstance(declared, dict):
                    hidden = {
                        n: True for n, v in declared.items() if isinstance(v, dict) and v.get("sensitive")
                    }
                    self.expressions(call.get("expressions"), hidden)
                pending.append((f"{path}.module.{name}" if path else f"module.{name}", child))

    def expressions(self, expressions: Any, mask: Any) -> None:
        """Constants of a block's expressions (attribute -> expression, or -> nested blocks) by a mask."""
        if not isinstance(expressions, dict):
            return
        if mask is True:
            mask = dict.fromkeys(expressions, True)
        if not isinstance(mask, dict):
            return
        for name, sub in mask.items():
            expression = expressions.get(name)
            if isinstance(expression, list):  # nested blocks: each by the union of the elements' masks
                for block in expression:
                    self.expressions(block, True if sub is True else _flat(sub))
            elif isinstance(expression, dict) and "constant_value" in expression:
                expression["constant_value"] = self.sanitize(expression["constant_value"], sub)
            elif isinstance(expression, dict) and sub is True:
                for key in expression.keys() - {"references"}:  # a nested block written as one object
                    self.expressions(expression, {key: True})

    def copies(self, doc: Any) -> None:
        """Replace every clear string equal to one the plan marks sensitive (long enough to tell apart)."""
        secrets = {s for s in self.found if len(s) >= MIN_SECRET_LENGTH and s != REDACTED}
        if not secrets or not _any_string_of(doc, secrets):
            return
        pending = [doc]
        while pending:
            node = pending.pop()
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, value in items:
                if isinstance(value, str):
                    if value in secrets:
                        node[key] = REDACTED
                elif isinstance(value, dict | list):
                    pending.append(value)


def _any_string_of(doc: Any, strings: set[str]) -> bool:
    """Whether ``doc`` may hold one of ``strings`` as a whole string (never wrong when it does).

    Encoded by msgspec, a string is always the same token wherever it stands, so a string absent from the
    encoded document is absent from it: most plans hold no clear copy, and this spares them a walk.
    """
    try:
        encoded = msgspec.json.encode(doc)
        return any(msgspec.json.encode(s) in encoded for s in strings)
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError):
        return True


def _config_masks(changes: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    """Each configured resource's sensitivity mask: the union over its instances, before and after.

    Keyed by (module path without instance keys, address in the module), as the configuration names it.
    """
    out: dict[tuple[str, str], Any] = {}
    paths: dict[str, str] = {}  # module address -> its path without instance keys (few modules, many changes)
    for rc in changes:
        change = rc.get("change")
        type_, name = rc.get("type"), rc.get("name")
        if not isinstance(change, dict) or not isinstance(type_, str) or not isinstance(name, str):
            continue
        module = rc.get("module_address")
        path = ""
        if isinstance(module, str):
            path = paths.get(module) or paths.setdefault(module, _INSTANCE_KEY.sub("", module))
        address = f"data.{type_}.{name}" if rc.get("mode") == "data" else f"{type_}.{name}"
        mask = _union(change.get("before_sensitive"), change.get("after_sensitive"))
        if isinstance(mask, dict) or mask is True:
            key = (path, address)
            out[key] = _union(out.get(key), mask) if key in out else mask
    return out
