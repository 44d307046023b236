"""tfkit's own lock: one mutating operation (apply, rollback, destroy) per environment at a time.

It sits beside Terraform's state lock and also guards tfkit's store (snapshots, ledger, health).
The lock is an ``flock`` on ``.tfkit/locks/<env>.lock``, whose content names the holder
(operation, pid, host, user, start time). The kernel drops an ``flock`` when its process dies, even
on SIGKILL, so a dead run never blocks the next one and there is no race in taking over; a lock
file that still names a holder when the lock is acquired was left by a dead run, and the take-over
is reported with a ``StaleLockWarning``. POSIX only (``fcntl``), like Terraform's local lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tfkit.errors import FileError, LockHeldError

__all__ = [
    "MAX_LOCK_TIMEOUT",
    "LocalLocks",
    "LockHolder",
    "Locks",
    "StaleLockWarning",
    "ci_job_url",
    "current_holder",
    "environment_lock",
    "parse_timeout",
]


class StaleLockWarning(UserWarning):
    """A lock left by a process that no longer exists was taken over."""


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock: enough to find them and to tell whether they are still alive."""

    operation: str
    pid: int
    host: str
    user: str
    started: str
    ci_job: str | None = None

    def describe(self) -> str:
        """``apply by alice (pid 123 on host-1) since 2026-..., CI job https://...``."""
        job = f", CI job {self.ci_job}" if self.ci_job else ""
        return f"{self.operation} by {self.user} (pid {self.pid} on {self.host}) since {self.started}{job}"


def ci_job_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The URL of the CI job this process runs in (GitHub Actions, GitLab CI, Buildkite, Jenkins), if any."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    for name in ("CI_JOB_URL", "BUILDKITE_BUILD_URL", "BUILD_URL"):
        if env.get(name):
            return env[name]
    return None


def current_holder(operation: str) -> LockHolder:
    """This process as a lock holder."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return LockHolder(
        operation=operation,
        pid=os.getpid(),
        host=socket.gethostname(),
        user=user,
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        ci_job=ci_job_url(),
    )


class Locks(Protocol):
    """tfkit's per-environment lock: ``.tfkit/locks`` on one machine, or PostgreSQL across runners.

    ``hold`` raises ``LockHeldError`` (exit code 3) naming the holder when another run has the lock
    after ``timeout`` seconds.
    """

    def hold(
        self, environment: str, operation: str, *, timeout: float = 0.0
    ) -> contextlib.AbstractContextManager[LockHolder]: ...


class LocalLocks:
    """``flock``-based locks in a directory (``.tfkit/locks``): one machine."""

    def __init__(self, lock_dir: Path) -> None:
        self.lock_dir = Path(lock_dir)

    def hold(
        self, environment: str, operation: str, *, timeout: float = 0.0
    ) -> contextlib.AbstractContextManager[LockHolder]:
        """The lock of ``environment`` for a ``with`` block."""
        return environment_lock(self.lock_dir, environment, operation, timeout=timeout)


def _holder_from(text: str) -> LockHolder | None:
    """The holder recorded in a lock file's text; None when empty (released, or being written)."""
    if not text.strip():
        return None
    try:
        data = json.loads(text)
        holder = {k: data[k] for k in ("operation", "pid", "host", "user", "started")}
        return LockHolder(**holder, ci_job=data.get("ci_job"))
    except (ValueError, KeyError, TypeError):
        return LockHolder("unknown", -1, "unknown", "unknown", "unknown")


def _holder_of(fd: int) -> LockHolder | None:
    """The holder of a lock we could not take; it writes its name just after taking it, so wait briefly."""
    deadline = time.monotonic() + 2.0
    holder = _holder_from(_read_fd(fd))
    while holder is None and time.monotonic() < deadline:
        time.sleep(0.05)
        holder = _holder_from(_read_fd(fd))
    return holder


def _read_fd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _write_fd(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode("utf-8"))
    os.fsync(fd)


#: The longest ``--lock-timeout`` accepted (24 hours): a longer wait is a typo, and Terraform's
#: ``-lock-timeout`` and PostgreSQL's ``lock_timeout`` need a finite, bounded duration.
MAX_LOCK_TIMEOUT = 24 * 3600.0


def parse_timeout(text: str | None) -> float:
    """Seconds from ``30s``, ``5m``, ``1h`` or a plain number; ``None`` means do not wait.

    ``ValueError`` (one line) unless it is a finite, non-negative duration of at most ``MAX_LOCK_TIMEOUT``.
    """
    if not text:
        return 0.0
    units = {"s": 1, "m": 60, "h": 3600}
    hint = "use e.g. 30s, 5m or 1h"
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except ValueError:
        raise ValueError(f"invalid lock timeout {text!r}: {hint}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid lock timeout {text!r}: must be a finite, non-negative duration; {hint}")
    if seconds > MAX_LOCK_TIMEOUT:
        raise ValueError(f"invalid lock timeout {text!r}: at most {int(MAX_LOCK_TIMEOUT // 3600)}h")
    return seconds


@contextlib.contextmanager
def environment_lock(
    lock_dir: Path, environment: str, operation: str, *, timeout: float = 0.0
) -> Iterator[LockHolder]:
    """Hold the lock of ``environment`` for the ``with`` block; exit code 3 if another run has it.

    The lock file is opened without following a symlink (one planted there would have tfkit truncate
    its target); a lock file or directory tfkit cannot use (a directory in its place, a read-only file
    system) is a one-line ``FileError``, never "locked by another run".
    """
    path = lock_dir / f"{environment}.lock"
    try:
        lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        what = "a symlink, which tfkit does not follow" if exc.errno == errno.ELOOP else exc.strerror
        where = exc.filename or path
        raise FileError(
            f"cannot open the lock file of '{environment}' ({where}): {what}; remove it or fix its directory",
            path=str(where),
        ) from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder_of(fd)
                    who = holder.describe() if holder else "another run"
                    raise LockHeldError(
                        f"environment '{environment}' is locked by {who}; wait for it to finish or pass "
                        "--lock-timeout",
                        holder=holder,
                    ) from None
                time.sleep(0.2)
        stale = _holder_from(_read_fd(fd))
        if stale is not None:
            warnings.warn(
                f"took over the lock on '{environment}' left by a run that died: {stale.describe()}",
                StaleLockWarning,
                stacklevel=3,
            )
        me = current_holder(operation)
        _write_fd(fd, json.dumps(asdict(me)))
        try:
            yield me
        finally:
            _write_fd(fd, "")
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
