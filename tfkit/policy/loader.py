"""Where policies come from: the built-in pack, the repository's ``policies/`` directory, installed packages.

A repository policy is any ``Policy`` (made with ``@policy``) defined at module level in a ``*.py`` file
directly under one of the ``[policies] paths`` (default ``["policies"]``). Files starting with ``_`` and
files that import Checkov (Checkov custom checks run in Checkov's own environment) are skipped. Installed
packages register policies under the entry-point group ``tfkit.policies``; an entry point may name a
``Policy``, an iterable of them, or a module.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.errors import PolicyDefinitionError
from tfkit.policy.api import Policy

if TYPE_CHECKING:
    from tfkit.project import Project

__all__ = ["ENTRY_POINT_GROUP", "load_policies", "load_policy_file"]

ENTRY_POINT_GROUP = "tfkit.policies"
_CHECKOV_IMPORT = re.compile(r"^\s*(?:from|import)\s+checkov\b", re.MULTILINE)


def _collect(namespace: Any, source: str) -> Iterator[Policy]:
    """The ``Policy`` objects in a module, a single policy, or an iterable of policies."""
    if isinstance(namespace, Policy):
        items: Iterable[Any] = (namespace,)
    elif isinstance(namespace, types.ModuleType):
        items = vars(namespace).values()
    elif isinstance(namespace, Iterable):
        items = namespace
    else:
        raise PolicyDefinitionError(f"{source}: not a policy, a list of policies or a module")
    for item in items:
        if isinstance(item, Policy):
            yield item


def load_policy_file(path: Path) -> list[Policy]:
    """Import one policy file and return its policies (one-line error on any failure, with the line)."""
    name = "tfkit_policies_" + re.sub(r"\W", "_", str(path.resolve()))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PolicyDefinitionError(f"{path}: cannot load as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise PolicyDefinitionError(f"{path}:{exc.lineno}: syntax error in policy file: {exc.msg}") from None
    except PolicyDefinitionError as exc:
        sys.modules.pop(name, None)
        raise PolicyDefinitionError(f"{path}: {exc}") from None
    except Exception as exc:
        sys.modules.pop(name, None)
        line = _line_in(exc, path)
        where = f"{path}:{line}" if line else str(path)
        raise PolicyDefinitionError(
            f"{where}: policy file failed to import: {type(exc).__name__}: {exc}"
        ) from None
    return [replace(p, source=f"repository:{path.name}") for p in _collect(module, str(path))]


def _line_in(exc: BaseException, path: Path) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _repository_files(project: Project) -> Iterator[Path]:
    for entry in project.config.policies.paths:
        directory = (project.root / entry).resolve()
        if not directory.is_dir():
            continue
        for file in sorted(directory.glob("*.py")):
            if file.name.startswith("_"):
                continue
            if _CHECKOV_IMPORT.search(file.read_text(encoding="utf-8", errors="replace")):
                continue
            yield file


def _entry_point_policies() -> Iterator[Policy]:
    from importlib.metadata import entry_points  # ~20 ms to import: only when packages are asked

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:
            raise PolicyDefinitionError(
                f"entry point {ep.name} ({ep.value}) of group {ENTRY_POINT_GROUP} failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        for p in _collect(loaded, f"entry point {ep.name}"):
            yield replace(p, source=f"package:{ep.name}")


def load_policies(
    project: Project | None = None,
    *,
    builtin: bool = True,
    repository: bool = True,
    packages: bool | None = None,
    extra: Iterable[Policy] = (),
) -> list[Policy]:
    """Every available policy: built-in, the repository's ``policies/``, entry points, then ``extra``.

    ``packages`` defaults to ``[policies] entry_points`` in tfkit.toml (true when unset). Two policies with
    one id are an error: ids are what waivers and settings refer to.
    """
    found: list[Policy] = []
    if builtin:
        from tfkit.policy.builtin import BUILTIN

        found.extend(replace(p, source="builtin") for p in BUILTIN)
    if repository and project is not None:
        for file in _repository_files(project):
            found.extend(load_policy_file(file))
    if packages is None:
        packages = project.config.policies.entry_points if project else True
    if packages:
        found.extend(_entry_point_policies())
    found.extend(extra)
    seen: dict[str, Policy] = {}
    for p in found:
        if p.id in seen:
            raise PolicyDefinitionError(
                f"policy id {p.id} is defined twice ({seen[p.id].source} and {p.source}); ids must be unique"
            )
        seen[p.id] = p
    return found
