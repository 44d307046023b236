"""The managed Checkov: a pinned Checkov in an isolated environment under the user's cache directory.

Checkov pins its own ``hcl2`` fork, so it cannot share tfkit's environment. Like pre-commit keeps its
tools' environments, ``tfkit scanners install`` creates one virtual environment per Checkov version at
``<user cache>/tfkit/scanners/checkov-<version>`` and tfkit reuses it from then on, offline. The
environment counts as installed only once its marker file is written, which happens after pip
succeeded and the executable answered ``--version`` with the pinned version; a half-made environment
is built again, never used.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tfkit.errors import ScanError
from tfkit.fsutil import atomic_write

__all__ = [
    "CHECKOV_VERSION",
    "ManagedCheckov",
    "install_checkov",
    "managed_checkov",
    "scanners_dir",
    "user_cache_dir",
]

#: The Checkov version tfkit is tested with (the Makefile's CHECKOV_VERSION).
CHECKOV_VERSION = "3.3.30"
_MARKER = "tfkit-installed.json"
_PIP_TIMEOUT = 1800.0


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's cache directory: ``XDG_CACHE_HOME``, else the platform's usual place."""
    env = os.environ if environ is None else environ
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"])
    return Path.home() / ".cache"


def scanners_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where tfkit keeps its scanners' environments: ``<user cache>/tfkit/scanners``."""
    return user_cache_dir(environ) / "tfkit" / "scanners"


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / name


@dataclass(frozen=True, slots=True)
class ManagedCheckov:
    """One version's environment: where it is and whether it is installed."""

    version: str
    directory: Path

    @property
    def executable(self) -> Path:
        return _bin(self.directory, "checkov")

    @property
    def installed(self) -> bool:
        """True once an install completed: the marker names this version and the program is there."""
        try:
            marker = json.loads((self.directory / _MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return (
            isinstance(marker, dict)
            and marker.get("version") == self.version
            and os.access(self.executable, os.X_OK)
        )


def managed_checkov(
    version: str = CHECKOV_VERSION, environ: Mapping[str, str] | None = None
) -> ManagedCheckov:
    """The managed environment of Checkov ``version`` (installed or not)."""
    return ManagedCheckov(version, scanners_dir(environ) / f"checkov-{version}")


def _run(argv: Sequence[str], what: str) -> str:
    """Run one step of an install; a failure is a ``ScanError`` with the tail of its output."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=_PIP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScanError(f"installing Checkov: {what} failed: {exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        tail = " | ".join(lines[-3:])[-400:]
        raise ScanError(f"installing Checkov: {what} failed (exit {done.returncode}): {tail}")
    return done.stdout


def install_checkov(
    target: ManagedCheckov,
    *,
    find_links: Sequence[Path] = (),
    no_index: bool = False,
    python: str | None = None,
) -> bool:
    """Create ``target``'s environment with pip unless it is installed; True if it installed now.

    ``find_links`` (directories of wheels) and ``no_index`` are passed to pip, for machines without
    the package index. A venv's scripts name its interpreter by absolute path, so the environment is
    built in its final place, under an exclusive lock (two concurrent installs: one builds, the other
    finds it installed); the marker is written last, so a failed install is never used.
    """
    if target.installed:
        return False
    target.directory.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.directory.with_name(f".{target.directory.name}.lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if target.installed:
            return False
        shutil.rmtree(target.directory, ignore_errors=True)
        try:
            _build(target, find_links=find_links, no_index=no_index, python=python)
        except BaseException:
            shutil.rmtree(target.directory, ignore_errors=True)
            raise
    return True


def _build(target: ManagedCheckov, *, find_links: Sequence[Path], no_index: bool, python: str | None) -> None:
    """venv, pip install the pinned version, check its ``--version``, write the marker."""
    _run([python or sys.executable, "-m", "venv", str(target.directory)], "creating the environment")
    pip = [str(_bin(target.directory, "python")), "-m", "pip", "install", "--quiet"]
    pip.append("--disable-pip-version-check")
    for links in find_links:
        pip += ["--find-links", str(links)]
    if no_index:
        pip.append("--no-index")
    _run([*pip, f"checkov=={target.version}"], f"pip install checkov=={target.version}")
    answer = _run([str(target.executable), "--version"], "checkov --version").strip()
    if answer.splitlines()[-1:] != [target.version]:
        raise ScanError(f"installing Checkov: the installed checkov says {answer!r}, not {target.version}")
    atomic_write(
        target.directory / _MARKER,
        json.dumps({"version": target.version, "python": sys.version.split()[0]}) + "\n",
    )
