"""Configuration bundles: which files make up an environment's configuration, and their digests.

A bundle is the environment's directory plus every local module it uses, found from Terraform's
own record of the module tree (``modules.json`` in the data directory after ``init``), so nested
modules are followed exactly as Terraform resolves them. Paths are kept relative to the repository
root, so a bundle materialized elsewhere resolves ``../../modules/x`` the same way.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from tfkit.errors import SnapshotError

__all__ = [
    "LOCAL_DATA",
    "directory_digest",
    "environment_files",
    "files_digest",
    "ignore_local_data",
    "is_local_data",
    "local_modules",
    "materialize",
    "module_digests",
]

#: Names of local data, never configuration: state (with its backups, workspaces and lock), Terraform's
#: working data, plans, tfkit's own data (its backend override files too) and Python caches. What a local
#: run leaves behind must not change what a configuration is (its digest, a snapshot's bundle, the pytest
#: plugin's private copy).
LOCAL_DATA = (
    "*.tfstate",
    "*.tfstate.*",
    "terraform.tfstate.d",
    ".terraform.tfstate.lock.info",
    ".terraform",
    ".terraform.lock.hcl.bak",
    "*.tfplan",
    "tfkit_backend_*override.tf",
    ".tfkit",
    "__pycache__",
)
#: Also never in a bundle: the repository's git data and local secret files.
_NOT_BUNDLED = frozenset({".git", ".secrets"})


def is_local_data(name: str) -> bool:
    """Whether a file or directory named ``name`` is local data rather than configuration (``LOCAL_DATA``)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in LOCAL_DATA)


def ignore_local_data(directory: str, names: list[str]) -> set[str]:
    """``shutil.copytree``'s ``ignore``: the local data among ``names``."""
    return {name for name in names if is_local_data(name)}


def _files(directory: Path) -> list[Path]:
    """Regular files under ``directory`` that belong to a configuration, sorted."""
    found: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _NOT_BUNDLED and not is_local_data(d))
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and not is_local_data(name):
                found.append(path)
    return found


def files_digest(files: Mapping[str, bytes]) -> str:
    """tfkit's one digest of a set of files: sha256 over ``path NUL sha256(content) LF``, sorted by path.

    The separators keep ``("ab", "c")`` and ``("a", "bc")`` apart; hashing each content first keeps
    the input small. Equal digests mean equal paths and contents.
    """
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def directory_digest(directory: Path) -> str:
    """``files_digest`` of a directory's configuration files: equal digests mean equal modules."""
    return files_digest({p.relative_to(directory).as_posix(): p.read_bytes() for p in _files(directory)})


def local_modules(workdir: Path, data_dir: Path) -> list[Path]:
    """Absolute directories of every local module the root module in ``workdir`` uses (after init)."""
    manifest = data_dir / "modules" / "modules.json"
    try:
        records = json.loads(manifest.read_text(encoding="utf-8")).get("Modules", [])
    except FileNotFoundError:
        return []
    dirs: list[Path] = []
    for record in records:
        source = str(record.get("Source", ""))
        if not record.get("Key") or not source.startswith(("./", "../")):
            continue
        path = (workdir / str(record.get("Dir", source))).resolve()
        if path not in dirs:
            dirs.append(path)
    return sorted(dirs)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise SnapshotError(
            f"{path} is outside the repository {root}; tfkit can only bundle modules inside it"
        ) from None


def module_digests(modules: Iterable[Path], root: Path) -> dict[str, str]:
    """``{module path relative to root: digest}``."""
    return {_relative(m, root): directory_digest(m) for m in modules}


def environment_files(environment_dir: Path, modules: Iterable[Path], root: Path) -> dict[str, bytes]:
    """The bundle: ``{path relative to root: content}`` of the environment and its local modules."""
    files: dict[str, bytes] = {}
    for directory in (environment_dir, *modules):
        for path in _files(directory):
            files[_relative(path, root)] = path.read_bytes()
    return files


def materialize(files: Mapping[str, bytes], destination: Path) -> None:
    """Write a bundle under ``destination``, refusing paths that would escape it."""
    for rel, content in files.items():
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise SnapshotError(f"refusing to materialize {rel!r}: it leaves the bundle directory")
        target = destination.joinpath(*pure.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
