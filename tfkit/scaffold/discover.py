"""What ``tfkit init`` finds in a repository: environments, var files, backends, sensitive variables, modules.

Nothing is evaluated: the Terraform files are read statically (``tfkit.hcl``). Environments are the
directories with ``*.tf`` files under ``envs/`` (or ``environments/``, ``env/``, ``live/``), ordered by the
usual stage words (dev before test before staging before production), protected when they are production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tfkit.hcl import Module, load_module

__all__ = ["EnvLayout", "Layout", "ModuleLayout", "SecretLayout", "discover"]

ENV_PARENTS = ("envs", "environments", "env", "live")
_STAGES = (
    ("dev", "develop", "development", "sandbox"),
    ("test", "testing", "qa", "int", "integration"),
    ("staging", "stage", "stg", "uat", "preprod", "pre-prod"),
    ("prod", "production", "prd", "live"),
)
_PROTECTED = set(_STAGES[-1])
#: Var files Terraform loads by itself; listing them again would load them twice.
_AUTOMATIC = re.compile(r"(^terraform\.tfvars(\.json)?$)|(\.auto\.tfvars(\.json)?$)")


@dataclass(frozen=True, slots=True)
class EnvLayout:
    """One environment found: its name, root module directory (relative, POSIX) and what it declares."""

    name: str
    directory: str
    var_files: tuple[str, ...]
    protected: bool
    #: ``(type, file:line)`` of a backend block, or None.
    backend: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class SecretLayout:
    """A sensitive root-module variable without a default, and where its value is read from."""

    name: str
    kind: str  # "file" or "env"
    value: str


@dataclass(frozen=True, slots=True)
class ModuleLayout:
    """A reusable module under ``modules/``: its name and directory (relative, POSIX)."""

    name: str
    directory: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything found, and what ``tfkit init`` has to add (an example environment when there is none)."""

    environments: tuple[EnvLayout, ...]
    secrets: tuple[SecretLayout, ...]
    modules: tuple[ModuleLayout, ...]
    #: Variables without a type or description (policy TFK103 fails on each).
    undocumented: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.environments


def _has_tf(directory: Path) -> bool:
    return directory.is_dir() and any(directory.glob("*.tf"))


def _stage(name: str) -> float:
    for rank, words in enumerate(_STAGES):
        if name in words or any(name.startswith(f"{w}-") or name.startswith(f"{w}_") for w in words):
            return float(rank)
    return 1.5


def _env_name(directory: Path) -> str:
    name = re.sub(r"[^a-z0-9_-]", "-", directory.name.lower()).strip("-_") or "env"
    return name if name[0].isalpha() else f"env-{name}"[:63]


def _backend(module: Module, root: Path) -> tuple[str, str] | None:
    for block in module.backends:
        kind = block.labels[0] if block.labels else block.kind
        return kind, f"{block.file.relative_to(root).as_posix()}:{block.line}"
    return None


def _environment(root: Path, directory: Path, module: Module) -> EnvLayout:
    name = _env_name(directory)
    var_files = tuple(
        sorted(p.name for p in directory.iterdir() if p.suffix == ".tfvars" and not _AUTOMATIC.search(p.name))
    )
    return EnvLayout(
        name=name,
        directory=directory.relative_to(root).as_posix(),
        var_files=var_files,
        protected=name in _PROTECTED or _stage(name) == len(_STAGES) - 1,
        backend=_backend(module, root),
    )


def _secret(root: Path, name: str) -> SecretLayout:
    """A file in ``.secrets/`` named after the variable if there is one, else an environment variable."""
    if (root / ".secrets" / name).is_file():
        return SecretLayout(name, "file", f".secrets/{name}")
    return SecretLayout(name, "env", re.sub(r"[^A-Za-z0-9_]", "_", name).upper())


def discover(root: Path) -> Layout:
    """Read the repository at ``root``."""
    env_dirs = [
        d for parent in ENV_PARENTS if (root / parent).is_dir() for d in sorted((root / parent).iterdir())
    ]
    env_dirs = [d for d in env_dirs if _has_tf(d)]
    if not env_dirs and _has_tf(root):
        env_dirs = [root]
    loaded = [(d, load_module(d)) for d in env_dirs]
    environments = sorted(
        (_environment(root, d, m) for d, m in loaded), key=lambda e: (_stage(e.name), e.name)
    )
    sensitive = sorted(
        {v.name for _d, m in loaded for v in m.variables.values() if v.sensitive and v.required}
    )
    modules = tuple(
        ModuleLayout(d.name, d.relative_to(root).as_posix())
        for d in (sorted((root / "modules").iterdir()) if (root / "modules").is_dir() else ())
        if _has_tf(d)
    )
    every = [*loaded, *((root / m.directory, load_module(root / m.directory)) for m in modules)]
    undocumented = sorted(
        {
            f"{d.relative_to(root).as_posix()}: {v.name}"
            for d, module in every
            for v in module.variables.values()
            if not (v.type and v.description)
        }
    )
    return Layout(
        environments=tuple(environments),
        secrets=tuple(_secret(root, n) for n in sensitive),
        modules=modules,
        undocumented=tuple(undocumented),
    )
