"""Files on this host: atomic writes, private temporary directories, and leftovers of killed runs.

An atomic write is a temporary file in the same directory, fsync, rename, fsync the directory: a
reader sees either the old file or the new one, never a half-written file, even if the process is
killed mid-write. ``process_alive`` tells a leftover of a killed run (removable) from a live one's.

tfkit's temporary directories (plan files, Terraform's data directory, materialized configurations:
they can hold secrets) are owner-only and named ``tfkit-<kind>-<pid>-*``, so the next run removes those
a killed run left (``sweep_tempdirs``: its pid is gone) instead of leaving secrets in ``$TMPDIR``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "atomic_write",
    "fsync_dir",
    "private_tempdir",
    "process_alive",
    "sweep_tempdirs",
    "sweep_tempdirs_once",
    "temporary_dir",
]

_TEMPDIR = re.compile(r"tfkit-[a-z]+-(\d+)-")


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    ``sync_dir=False`` leaves the directory's fsync to the caller: a writer of many files into one
    private directory (a snapshot being assembled) syncs that directory once, not once per file.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # noqa: PTH101 - chmod on the temporary name before it is published
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # noqa: PTH108
        raise
    if sync_dir:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable (best effort: some filesystems refuse)."""
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temporary_dir(kind: str) -> Path:
    """A new owner-only directory ``$TMPDIR/tfkit-<kind>-<pid>-*`` (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix=f"tfkit-{kind}-{os.getpid()}-"))


@contextlib.contextmanager
def private_tempdir(kind: str) -> Iterator[Path]:
    """``temporary_dir`` for a ``with`` block, removed at its end."""
    path = temporary_dir(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@functools.cache
def sweep_tempdirs_once() -> None:
    """``sweep_tempdirs`` once per process (opening a store or an engine calls it)."""
    sweep_tempdirs()


def sweep_tempdirs(root: Path | None = None) -> list[Path]:
    """Remove the temporary directories of tfkit runs that died (their pid is gone); return them.

    Only this user's directories named by ``temporary_dir`` are considered; a live run's are kept.
    """
    base = Path(root or tempfile.gettempdir())
    removed = []
    try:
        candidates = list(base.iterdir())
    except OSError:
        return []
    uid = os.getuid()
    for path in candidates:
        found = _TEMPDIR.match(path.name)
        if found is None or process_alive(int(found.group(1))):
            continue
        try:
            if path.is_symlink() or not path.is_dir() or path.stat().st_uid != uid:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
