"""Which environments a change affects: ``tfkit affected --base REF`` and ``plan/apply --affected``.

An environment is affected when, since the merge base of ``REF`` and HEAD (working-tree changes and
untracked files included, as the guard counts them): a file of its own directory changed (its var files
live there), a file of a local module it reaches changed (a module's digest covers every file under it,
nested modules are followed), its settings in tfkit.toml changed (its table, or what it comes after or
needs), or a top-level setting every environment shares changed (policies, Checkov, engine, secrets,
snapshots, store, waivers; the policy and Checkov check directories too). Then every environment that
reads an affected one's outputs (``needs``, transitively) is affected as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tfkit.bundle import is_local_data
from tfkit.config import CONFIG_FILE, Config, parse_config, validated_marks
from tfkit.errors import ConfigError
from tfkit.hcl import local_sources

if TYPE_CHECKING:
    from tfkit.project import Project

__all__ = ["Affected", "AffectedEnvironment", "affected", "affected_by"]

#: Top-level tables whose change reaches no environment's plan or gate.
_NOT_SHARED = frozenset({"environments", "stacks", "guard"})


@dataclass(frozen=True, slots=True)
class AffectedEnvironment:
    """One affected environment and why (the first few reasons)."""

    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Affected:
    """The affected environments in graph order, and the base commit they were computed against."""

    base: str
    environments: tuple[AffectedEnvironment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The affected environments' names, in graph order."""
        return tuple(e.name for e in self.environments)


def affected(project: Project, base: str) -> Affected:
    """The environments of ``project`` that changed since ``base`` (a branch, tag or commit)."""
    from tfkit.guard.git import changed_files, resolve, toplevel

    root = project.root
    commit = resolve(root, base)
    top = toplevel(root) or root
    prefix = PurePosixPath(os.path.relpath(root, top).replace(os.sep, "/"))

    def ours(path: str) -> str | None:
        rel = PurePosixPath(path)
        if str(prefix) in ("", "."):
            return rel.as_posix()
        return rel.relative_to(prefix).as_posix() if rel.is_relative_to(prefix) else None

    changed: set[str] = set()
    for change in changed_files(root, commit):
        for path in (change.path, change.old_path):
            mine = ours(path) if path else None
            if mine is not None:
                changed.add(mine)
    return Affected(commit, tuple(affected_by(project, changed, _base_config(project, commit, top, prefix))))


def _base_config(project: Project, commit: str, top: Path, prefix: PurePosixPath) -> Config | None:
    """tfkit.toml at ``commit`` (``[stacks]`` expanded against that commit's tree); None if unreadable."""
    from tfkit.git import run_git

    here = "" if str(prefix) in ("", ".") else f"{prefix}/"
    shown = run_git(top, "show", f"{commit}:{here}{CONFIG_FILE}")
    if shown.returncode != 0:
        return None
    listed = run_git(top, "ls-tree", "-r", "-d", "-z", "--name-only", commit)
    directories = [
        d[len(here) :]
        for d in listed.stdout.decode("utf-8", "surrogateescape").split("\0")
        if d.startswith(here)
    ]
    try:
        text = shown.stdout.decode("utf-8", "replace")
        marks = validated_marks(project.config.path)  # usually the document HEAD has: checked already
        return parse_config(text, project.config.path, directories, marks=marks)
    except ConfigError:
        return None


def _shared(config: Config) -> dict[str, Any]:
    return {k: v for k, v in config.raw.items() if k not in _NOT_SHARED}


def _own(config: Config) -> dict[str, tuple[Any, ...]]:
    """Each environment's own settings: its table, what it comes after and needs."""
    return {e.name: (dict(e.raw), e.after, e.needs) for e in config.environments}


def _under(path: str, directories: Iterable[str]) -> str | None:
    """The first of ``directories`` that ``path`` is inside (``""`` is the root: everything is inside)."""
    for directory in directories:
        if not directory or path.startswith(directory + "/"):
            return directory
    return None


def affected_by(project: Project, changed: Iterable[str], base: Config | None) -> list[AffectedEnvironment]:
    """The environments affected by ``changed`` files (relative to the root) and by ``base``'s settings.

    ``base`` is tfkit.toml at the base commit; ``None`` (missing or invalid there) affects every
    environment. Listed in graph order.
    """
    config = project.config
    graph = config.graph
    files = sorted(p for p in changed if not any(is_local_data(part) for part in PurePosixPath(p).parts))
    reasons: dict[str, list[str]] = {name: [] for name in graph.names}
    everyone: str | None = None
    if base is None:
        everyone = f"{CONFIG_FILE} is new or unreadable at the base"
    elif _shared(base) != _shared(config):
        everyone = f"shared settings in {CONFIG_FILE}"
    else:
        checks = [
            *config.policies.paths,
            *((config.checkov.external_checks_dirs or ()) if config.checkov else ()),
        ]
        hit = next((f for f in files if _under(f, [c.strip("/") for c in checks]) is not None), None)
        if hit is not None:
            everyone = f"policy or check file {hit}"
    root = project.root.resolve()
    before, now = (_own(base), _own(config)) if base is not None else ({}, {})
    module_hits: dict[Path, str | None] = {}
    known: dict[Path, tuple[Path, ...]] = {}  # each directory's own local sources, read once
    for env in project.environments:
        why = reasons[env.name]
        if everyone:
            why.append(everyone)
        elif base is not None and before.get(env.name) != now.get(env.name):
            why.append(f"its settings in {CONFIG_FILE}")
        own = _relative(env.directory, root, resolved=True)
        hit = next((f for f in files if _under(f, [own]) is not None), None) if own is not None else None
        if hit is not None:
            why.append(f"file {hit}")
        for module in sorted(local_sources(env.directory, known)):
            if module not in module_hits:
                rel = _relative(module, root)
                hit = None if rel is None else next((f for f in files if _under(f, [rel])), None)
                module_hits[module] = None if hit is None else f"module {rel}"
            reason = module_hits[module]
            if reason is not None:
                why.append(reason)
    direct = {name for name, why in reasons.items() if why}
    everything = direct | graph.dependents(direct)
    for name in everything - direct:
        reasons[name].append("needs " + ", ".join(n for n in graph.needs.get(name, ()) if n in everything))
    return [AffectedEnvironment(n, tuple(reasons[n][:3])) for n in graph.order() if reasons[n]]


def _relative(path: Path, root: Path, *, resolved: bool = False) -> str | None:
    """``path`` relative to the resolved ``root`` (``""`` for the root itself), None when outside it;
    ``resolved``: ``path`` is resolved already (an environment's directory), so no file system call."""
    try:
        rel = (path if resolved else path.resolve()).relative_to(root).as_posix()
    except ValueError:
        return None
    return "" if rel == "." else rel
