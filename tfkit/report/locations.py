"""Where a resource address is declared: the ``.tf`` file and line, found statically with python-hcl2.

``module.a["x"].module.b.terraform_data.c[0]`` is followed from the environment's directory through
the local module calls ``a`` and ``b`` (``tfkit.hcl``) to the ``resource "terraform_data" "c"`` block.
Code-scanning UIs (SARIF) and CI annotations use it to show a finding in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Location", "locate", "split_address"]


@dataclass(frozen=True, slots=True)
class Location:
    """A file (relative to the repository root, with ``/``) and a 1-based line."""

    file: str
    line: int


def split_address(address: str) -> tuple[tuple[str, ...], str, str, str] | None:
    """``(module names, mode, type, name)`` of a resource instance address, or None if it is not one.

    Instance keys (``[0]``, ``["a.b"]``) are dropped; dots inside quoted keys are not separators.
    """
    parts: list[str] = []
    current, depth, quoted, escaped = "", 0, False, False
    for char in address:
        if quoted:
            quoted = not (char == '"' and not escaped)
            escaped = char == "\\" and not escaped
            continue
        if char == '"':
            quoted = True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "." and depth == 0:
            parts.append(current)
            current = ""
        elif depth == 0:
            current += char
    parts.append(current)
    modules: list[str] = []
    while len(parts) >= 2 and parts[0] == "module":
        modules.append(parts[1])
        parts = parts[2:]
    if len(parts) == 3 and parts[0] == "data":
        return tuple(modules), "data", parts[1], parts[2]
    if len(parts) == 2 and all(parts):
        return tuple(modules), "managed", parts[0], parts[1]
    return None


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _entry_file(directory: Path) -> Path | None:
    """The file a finding without an address points at: ``main.tf``, else the first ``.tf`` file."""
    main = directory / "main.tf"
    if main.is_file():
        return main
    files = sorted(directory.glob("*.tf"))
    return files[0] if files else None


def locate(address: str | None, directory: Path, root: Path) -> Location | None:
    """Where ``address`` is declared, starting from the environment's ``directory``.

    Without an address (a plan-wide finding) it is the environment's ``main.tf`` line 1. None when the
    configuration cannot be read or the address leads outside local modules.
    """
    from tfkit.errors import TfkitError
    from tfkit.hcl import load_module

    if address is None:
        entry = _entry_file(directory)
        return Location(_relative(entry, root), 1) if entry else None
    split = split_address(address)
    if split is None:
        return None
    modules, mode, type_, name = split
    here = directory
    try:
        for module_name in modules:
            calls = {c.name: c for c in load_module(here).module_calls}
            call = calls.get(module_name)
            if call is None or call.directory is None:
                return None
            here = call.directory
        kind = "data" if mode == "data" else "resource"
        for block in load_module(here).resources:
            if block.kind == kind and block.labels == (type_, name):
                return Location(_relative(block.file, root), block.line)
    except (TfkitError, OSError):
        return None
    return None
