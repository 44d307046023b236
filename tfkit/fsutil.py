"""Files on this host: atomic writes, and whether the process that left a file behind still runs.

An atomic write is a temporary file in the same directory, fsync, rename, fsync the directory: a
reader sees either the old file or the new one, never a half-written file, even if the process is
killed mid-write. ``process_alive`` tells a leftover of a killed run (removable) from a live one's.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir", "process_alive"]


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
