"""Required tags (TFK006): which tag maps in many ``after`` values lack required keys.

``gaps(values, attributes, keys)`` decodes all values in one msgspec call into structs that hold only the
tag attributes and whether each required key is there, so no Python loop runs per value.
"""

from __future__ import annotations

import functools
import itertools
import operator
import types
from typing import Any, cast

import msgspec

from tfkit.policy._detect import Packed

__all__ = ["gaps"]

#: Tag maps lacking keys, grouped: (attribute index, the keys lacking in ``keys`` order) -> value indices.
Gaps = dict[tuple[int, tuple[str, ...]], list[int]]

#: What else a JSON value may be where an object is looked for (decoded as itself, not checked).
_SCALARS = list[Any] | str | float | bool | None
_UNSETS = itertools.repeat(msgspec.UNSET)


def gaps(values: Packed, attributes: tuple[str, ...], keys: tuple[str, ...]) -> Gaps:
    """The values whose JSON object at one of ``attributes`` (dotted paths) lacks some of ``keys``.

    A value whose attribute is absent, null, unknown or not an object is not checked; a key that is there
    counts whatever its value. Groups come by attribute, then by their first value; indices ascending.
    """
    if not attributes or not keys or not len(values):
        return {}
    # Decode only for the attributes some value has: a plain search, unless a key may be spelled with escapes.
    escapes = b"\\" in values
    present_in = [
        (number, attribute)
        for number, attribute in enumerate(attributes)
        if escapes or f'"{attribute.rsplit(".", 1)[-1]}"'.encode() in values
    ]
    groups: Gaps = {}
    for layer in _layers(present_in):
        _gaps_of_layer(values, layer, keys, groups)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], item[1][0])))


def _layers(attributes: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Numbered attributes in groups where none is inside another (``input``, ``input.tags``: apart)."""
    layers: list[list[tuple[int, str]]] = []
    for number, attribute in attributes:
        for layer in layers:
            if not any(a.startswith(attribute + ".") or attribute.startswith(a + ".") for _, a in layer):
                layer.append((number, attribute))
                break
        else:
            layers.append([(number, attribute)])
    return layers


def _gaps_of_layer(values: Packed, layer: list[tuple[int, str]], keys: tuple[str, ...], groups: Gaps) -> None:
    """Add the gaps at the (numbered) attributes of one layer (one decode of all values) to ``groups``."""
    decoder, fields = _decoder(tuple(attribute for _, attribute in layer), keys)
    shapes = _decode_all(decoder, values)
    for number, attribute in layer:
        leaves = shapes
        for field in fields[attribute]:
            leaves = list(map(getattr, leaves, itertools.repeat(field), itertools.repeat(None)))
        # For each key, whether each leaf is a tag map that lacks it (any other leaf reads as None): no loop
        # in Python per value, only map() and operator calls.
        lacks = [
            list(
                map(
                    operator.is_,
                    map(getattr, leaves, itertools.repeat(f"k{k}"), itertools.repeat(None)),
                    _UNSETS,
                )
            )
            for k in range(len(keys))
        ]
        if len(keys) == 1:
            found = list(itertools.compress(range(len(leaves)), lacks[0]))
            if found:
                groups[number, keys] = found
            continue
        for i in itertools.compress(range(len(leaves)), map(any, zip(*lacks, strict=True))):
            missing = tuple(key for key, lack in zip(keys, lacks, strict=True) if lack[i])
            groups.setdefault((number, missing), []).append(i)


def _decode_all(decoder: msgspec.json.Decoder[Any], values: Packed) -> list[Any]:
    """Every packed value decoded in one call (one by one, ``None`` for a misfit, if one does not fit)."""
    try:
        return cast("list[Any]", decoder.decode(values.buffer))
    except msgspec.ValidationError:
        single = msgspec.json.Decoder(decoder.type.__args__[0])
        shapes: list[Any] = []
        for index in range(len(values)):
            try:
                shapes.append(single.decode(values.buffer[values.starts[index] : values.end(index)]))
            except msgspec.ValidationError:
                shapes.append(None)
        return shapes


@functools.lru_cache(maxsize=16)
def _decoder(
    attributes: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[msgspec.json.Decoder[Any], dict[str, tuple[str, ...]]]:
    """A decoder of many values that reads only the tag attributes, and only whether each key is there.

    Returns the decoder and, for each attribute, the struct fields that lead to it (named ``f0``, ``f1``...
    and renamed to the JSON keys, which need not be Python names). A tag map decodes to a struct whose
    fields ``k0``, ``k1``... (the keys, in order) are ``UNSET`` where the map lacks the key. Any other JSON
    where an object is looked for decodes as itself and is not checked. No attribute may be inside
    another (see ``_layers``).
    """
    present = msgspec.defstruct(
        "TagKeys",
        [(f"k{i}", msgspec.Raw | msgspec.UnsetType, msgspec.UNSET) for i in range(len(keys))],
        rename={f"k{i}": key for i, key in enumerate(keys)},
        forbid_unknown_fields=False,
        gc=False,  # decoded JSON holds no cycles; 50k tracked structs would cost more in collections
    )
    tree: dict[str, Any] = {}
    for attribute in attributes:
        node = tree
        for step in attribute.split("."):
            node = node.setdefault(step, {})
    fields: dict[tuple[str, ...], str] = {}  # JSON path -> field name in its struct

    def struct(path: tuple[str, ...], node: dict[str, Any]) -> Any:
        names = {f"f{i}": key for i, key in enumerate(node)}
        for name, key in names.items():
            fields[(*path, key)] = name
        members = [
            (name, (struct((*path, key), node[key]) if node[key] else present) | _SCALARS, None)
            for name, key in names.items()
        ]
        return msgspec.defstruct("Tags", members, rename=names, forbid_unknown_fields=False, gc=False)

    decoder = msgspec.json.Decoder(types.GenericAlias(list, (struct((), tree) | _SCALARS,)))
    steps = {a: tuple(a.split(".")) for a in attributes}
    return decoder, {a: tuple(fields[path[: i + 1]] for i in range(len(path))) for a, path in steps.items()}
