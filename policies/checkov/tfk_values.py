"""Helpers of the example checks: Checkov wraps every plan value in a one-item list (imported by name:
Checkov puts this directory on sys.path and loads each file as a top-level module)."""

from __future__ import annotations

from typing import Any


def one(value: Any) -> Any:
    """The value inside Checkov's one-item list wrapping (nested wrappings too)."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def field(conf: dict[str, Any], *path: str) -> Any:
    """``conf[path[0]][path[1]]...`` through the wrappings; None when any step is missing."""
    node: Any = conf
    for step in path:
        node = one(node)
        if not isinstance(node, dict) or step not in node:
            return None
        node = node[step]
    return one(node)
