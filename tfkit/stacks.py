"""The ``[stacks]`` pattern form: environments generated from directories like ``envs/<stage>/<stack>/``.

One environment per stack and stage whose directory exists, named by ``name`` (default
``{stack}-{stage}``), listed stage by stage (stacks sorted), each after the same stack's nearest earlier
stage and needing, in its own stage, the stacks ``[stacks.needs]`` names. The expansion is a pure function
of the table and a list of directories, so ``tfkit affected`` expands the base commit's tfkit.toml against
that commit's tree the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tfkit.graph import GraphError

__all__ = ["expand_stacks", "pattern_directories"]

_SEGMENT = "[a-z][a-z0-9_-]*"


def _regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regex with named groups ``stage`` and ``stack`` (each one whole path segment)."""
    out = []
    for part in re.split(r"(\{stage\}|\{stack\})", pattern.strip("/")):
        if part in ("{stage}", "{stack}"):
            out.append(f"(?P<{part[1:-1]}>{_SEGMENT})")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


def _depth(pattern: str) -> int:
    return len(pattern.strip("/").split("/"))


def pattern_directories(root: Path, pattern: str) -> list[str]:
    """Directories under ``root`` (relative, posix) as deep as ``pattern``: the candidates for expansion."""
    depth = _depth(pattern)
    found: list[str] = []
    for current, dirs, _files in os.walk(root):
        rel = Path(current).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if len(rel.parts) == depth - 1:  # the candidates are listed here, without walking into each
            found += [(rel / d).as_posix() for d in dirs if _walkable(Path(current, d))]
            dirs[:] = []
    return found


def _walkable(directory: Path) -> bool:
    """Whether ``os.walk`` would enter ``directory``: not a symlink (links are not followed), and readable."""
    if directory.is_symlink():
        return False
    try:
        os.scandir(directory).close()
    except OSError:
        return False
    return True


def expand_stacks(table: Mapping[str, Any], directories: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{environment name: its [environments.<name>] table}`` generated from ``[stacks]``.

    Raises ``GraphError`` for a stage table that sets ``dir``, ``after`` or ``needs``, a pattern without
    ``{stack}``, or two directories giving one name.
    """
    pattern: str = table["pattern"]
    stages: list[str] = list(table["stages"])
    name_format: str = table.get("name", "{stack}-{stage}")
    needs: Mapping[str, list[str]] = table.get("needs", {})
    stage_tables: Mapping[str, Mapping[str, Any]] = table.get("stage", {})
    if "{stack}" not in pattern:
        raise GraphError("stacks.pattern: needs a {stack} placeholder beside {stage}", key="stacks.pattern")
    for stage, settings in stage_tables.items():
        key = f"stacks.stage.{stage}"
        if stage not in stages:
            raise GraphError(f"{key}: unknown stage '{stage}'; stages: {', '.join(stages)}", key=key)
        for forbidden in ("dir", "after", "needs"):
            if forbidden in settings:
                raise GraphError(
                    f"{key}.{forbidden}: set by the pattern, not per stage", key=f"{key}.{forbidden}"
                )
    regex = _regex(pattern)
    present: dict[str, set[str]] = {stage: set() for stage in stages}
    for directory in directories:
        match = regex.fullmatch(directory.strip("/"))
        if match and match["stage"] in present:
            present[match["stage"]].add(match["stack"])
    for stack, wanted in needs.items():
        for other in (stack, *wanted):
            if not any(other in stacks for stacks in present.values()):
                key = f"stacks.needs.{stack}"
                raise GraphError(f"{key}: no stack '{other}' matches {pattern}", key=key)
    generated: dict[str, dict[str, Any]] = {}
    names: dict[tuple[str, str], str] = {}
    for position, stage in enumerate(stages):
        for stack in sorted(present[stage]):
            name = name_format.format(stage=stage, stack=stack)
            if name in names.values():
                raise GraphError(f"stacks.name: two directories give the name '{name}'", key="stacks.name")
            names[stack, stage] = name
        for stack in sorted(present[stage]):
            earlier = next((s for s in reversed(stages[:position]) if stack in present[s]), None)
            generated[names[stack, stage]] = {
                **stage_tables.get(stage, {}),
                "dir": pattern.format(stage=stage, stack=stack),
                "after": [names[stack, earlier]] if earlier else [],
                "needs": [names[other, stage] for other in needs.get(stack, ()) if other in present[stage]],
            }
    return generated
