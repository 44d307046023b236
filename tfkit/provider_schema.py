"""Which resource attributes are sets, from the providers' schemas: plan JSON writes sets and lists alike.

``set_paths(schema_json)`` reads ``terraform providers schema -json`` into the set-typed attribute paths of
every resource type (``"*"`` for a position in an enclosing list or set): set attributes (``["set", T]``),
nested attributes and blocks with ``nesting_mode`` ``set``. The review (``tfkit.report.values``) shows the
elements such an attribute adds and removes instead of comparing positions.

``cached_set_paths`` asks an engine for the schemas once per set of provider versions (read from the
dependency lock file) and keeps the small result in a cache directory (``TFKIT_CACHE_DIR`` or
``.tfkit/cache``, as the Checkov cache): the full schema of one large provider is 13 MB and takes seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tfkit.content_cache import ContentCache, content_key

__all__ = ["LOCK_FILE", "SET_PATHS", "cached_set_paths", "provider_versions", "set_paths"]

LOCK_FILE = ".terraform.lock.hcl"
SET_PATHS = "provider_schema.set_paths"
"""The ``Plan.derived`` key under which a session keeps the set paths of the plan's providers."""
_LOCKED = re.compile(r'provider\s+"(?P<address>[^"]+)"\s*\{[^}]*?\bversion\s*=\s*"(?P<version>[^"]+)"', re.S)
_CACHE_FORMAT = 1

Path_ = tuple[str, ...]


def set_paths(schema_json: bytes | str) -> dict[str, frozenset[Path_]]:
    """The set-typed attribute paths of every resource and data source type in a providers schema."""
    doc = json.loads(schema_json)
    out: dict[str, set[Path_]] = {}
    providers = doc.get("provider_schemas") if isinstance(doc, dict) else None
    for provider in (providers or {}).values():
        for kind in ("resource_schemas", "data_source_schemas"):
            for type_, schema in (provider.get(kind) or {}).items():
                found = set(_block((), (schema or {}).get("block") or {}))
                if found:
                    out.setdefault(type_, set()).update(found)
    return {type_: frozenset(paths) for type_, paths in out.items()}


def _block(path: Path_, block: Mapping[str, Any]) -> Iterator[Path_]:
    """Set paths in a schema block: its attributes and its nested block types."""
    for name, attribute in (block.get("attributes") or {}).items():
        if "type" in attribute:
            yield from _type((*path, name), attribute["type"])
        elif "nested_type" in attribute:
            yield from _nested((*path, name), attribute["nested_type"])
    for name, nested in (block.get("block_types") or {}).items():
        mode = nested.get("nesting_mode")
        inner = (*path, name) if mode in ("single", "group") else (*path, name, "*")
        if mode == "set":
            yield (*path, name)
        if mode != "map":
            yield from _block(inner, nested.get("block") or {})


def _nested(path: Path_, nested: Mapping[str, Any]) -> Iterator[Path_]:
    """Set paths of a nested attribute type (protocol 6 providers)."""
    mode = nested.get("nesting_mode")
    if mode == "set":
        yield path
    if mode != "map":
        inner = path if mode == "single" else (*path, "*")
        yield from _block(inner, nested)


def _type(path: Path_, type_: Any) -> Iterator[Path_]:
    """Set paths inside a cty type: ``["set", T]``, and sets within lists, sets and objects."""
    if not isinstance(type_, list) or len(type_) != 2:
        return
    kind, inner = type_
    if kind == "set":
        yield path
    if kind in ("set", "list"):
        yield from _type((*path, "*"), inner)
    elif kind == "object" and isinstance(inner, dict):
        for name, sub in inner.items():
            yield from _type((*path, name), sub)


def provider_versions(directory: Path) -> dict[str, str]:
    """The provider versions the dependency lock file of ``directory`` selects (none without a lock file)."""
    try:
        text = (directory / LOCK_FILE).read_text(encoding="utf-8")
    except OSError:
        return {}
    return {m["address"]: m["version"] for m in _LOCKED.finditer(text)}


def cached_set_paths(
    directory: Path, cache_dir: Path, schemas: Callable[[], bytes], *, terraform_version: str = ""
) -> dict[str, frozenset[Path_]]:
    """``set_paths`` of ``directory``'s providers, from the cache or from ``schemas()`` (the engine's).

    The cache is keyed by the provider versions of the lock file (and Terraform's version, which
    decides the built-in provider's schema), so a provider upgrade asks the engine again.
    """
    cache = ContentCache(cache_dir / "provider-schemas")
    versions = {"providers": provider_versions(directory), "terraform": terraform_version}
    key = content_key(str(_CACHE_FORMAT), json.dumps(versions, sort_keys=True))
    cached = cache.get(key)
    try:
        return {t: frozenset(tuple(p) for p in paths) for t, paths in cached.items()}
    except (AttributeError, TypeError, ValueError):
        pass  # no entry yet, or an unreadable one: ask the engine and write it again
    found = set_paths(schemas())
    cache.put(key, {t: sorted(p) for t, p in found.items()})
    return found
