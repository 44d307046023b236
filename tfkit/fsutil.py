"""Files on this host: atomic writes, outputs, the run's private directory, and leftovers of dead runs.

An atomic write is a temporary file in the same directory, fsync, rename, fsync the directory: a
reader sees either the old file or the new one, never a half-written file, even if the process is
killed mid-write. An output the user names (``write_output``) is written that way when it is a regular
file, and in place when it is a device, pipe or socket (``/dev/stdout``), never replaced by a file.

Every temporary file that can hold a secret (plan files, Terraform's data, a copied configuration, the
plan Checkov reads) lives under one private run directory per process (``run_directory``):
``$TMPDIR/tfkit-<uid>/run-<pid>-<random>``, owner-only, removed when the process exits. A run killed
with SIGKILL cannot remove its own, so each new run sweeps the run directories whose process is dead
(a live run's, whatever its age, is never touched). ``process_alive`` tells the two apart.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tfkit.errors import FileError

__all__ = [
    "atomic_write",
    "fsync_dir",
    "private_temp",
    "process_alive",
    "run_directory",
    "sweep_dead_runs",
    "sweep_once",
    "write_output",
]


def atomic_write(
    path: Path, data: bytes | str, *, mode: int = 0o644, sync_dir: bool = True, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    ``sync_dir=False`` leaves the directory's fsync to the caller: a writer of many files into one
    private directory (a snapshot being assembled) syncs that directory once, not once per file.
    ``durable=False`` syncs nothing: still all or nothing for a process killed while writing, but a
    power loss may leave the file empty; for caches, where an unreadable entry is a miss (an fsync
    costs milliseconds, more than most entries are worth).
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # noqa: PTH101 - chmod on the temporary name before it is published
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # noqa: PTH108
        raise
    if sync_dir and durable:
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


def write_output(path: Path, data: bytes | str) -> None:
    """Write an output the user named: a regular file (or a new one) atomically, through a symlink to
    one; a device, pipe or socket in place (never replaced); a directory or unwritable path is a
    one-line ``FileError`` that leaves nothing behind."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        try:
            mode: int | None = path.stat().st_mode  # follows symlinks: /dev/stdout -> /proc/self/fd/1
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise FileError(f"cannot write {path}: it is a directory; name a file", path=str(path))
        if mode is not None and not stat.S_ISREG(mode):
            with path.open("wb") as handle:
                handle.write(payload)
            return
        atomic_write(path.resolve() if path.is_symlink() else path, payload)
    except OSError as exc:
        raise FileError(f"cannot write {path}: {exc.strerror or exc}", path=str(path)) from None


_RUN_PREFIX = "run-"
_run: tuple[int, Path] | None = None


def _private_base() -> Path:
    """``$TMPDIR/tfkit-<uid>``: created owner-only; anything else in its place is refused."""
    base = Path(tempfile.gettempdir()) / f"tfkit-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    info = base.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise FileError(
            f"{base} is not a directory of this user; remove it (tfkit keeps its private files there)",
            path=str(base),
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        base.chmod(0o700)
    return base


def sweep_dead_runs(base: Path) -> list[Path]:
    """Remove the run directories under ``base`` whose process is gone (killed runs); returns them."""
    removed = []
    for entry in base.glob(f"{_RUN_PREFIX}*"):
        pid = entry.name.removeprefix(_RUN_PREFIX).split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@functools.cache
def sweep_once() -> None:
    """Sweep the dead runs' directories once per process, even in a run that makes none of its own
    (opening a store calls it, so ``tfkit status`` after a kill clears what the killed run left)."""
    with contextlib.suppress(OSError, FileError):
        sweep_dead_runs(_private_base())


def run_directory() -> Path:
    """This process's private directory (0700) for temporary files that may hold a secret.

    Created on first use, after sweeping the directories of dead runs; removed when the process exits.
    """
    global _run
    if _run is None or _run[0] != os.getpid() or not _run[1].is_dir():
        try:
            base = _private_base()
            sweep_dead_runs(base)
            directory = Path(tempfile.mkdtemp(prefix=f"{_RUN_PREFIX}{os.getpid()}-", dir=base))
        except OSError as exc:
            where = exc.filename or tempfile.gettempdir()
            raise FileError(
                f"cannot create tfkit's private directory in {where}: {exc.strerror}", path=str(where)
            ) from None
        atexit.register(shutil.rmtree, directory, True)
        _run = (os.getpid(), directory)
    return _run[1]


@contextlib.contextmanager
def private_temp(prefix: str) -> Iterator[Path]:
    """A new private temporary directory inside ``run_directory()``, removed at the end of the block."""
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir=run_directory()))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
