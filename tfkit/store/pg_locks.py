"""tfkit's per-environment locks across runners: PostgreSQL session advisory locks.

A lock is an advisory lock on two ``int4`` keys, taken on a connection of its own (``pg_try_advisory_lock``
without a timeout; with one, ``pg_advisory_lock`` waiting in the server under ``lock_timeout``, so a
released lock passes to the next waiter at once and waiters are served in turn), held for the whole ``with``
block and released by ``pg_advisory_unlock`` and closing that connection. The server drops a session's
locks when its connection goes, so a runner killed with SIGKILL releases its lock at once, and one whose
machine vanished releases it when the server's TCP keepalives for tfkit's sessions give up (about a
minute, see ``SERVER_KEEPALIVES`` in ``tfkit.store.settings``). The two-int key space cannot collide
with Terraform's pg backend, which locks one-bigint keys. The key is the first 8 bytes of
sha256(project, environment) split in two: two different environments share a key with probability
about n²/2⁶⁵ for n environments in one database (3e-8 for a million), and a collision would only make
them wait for each other.

The holder is named in ``tfkit.locks`` (written after the lock is taken, deleted before it is released)
and in the connection's ``application_name`` (visible in ``pg_stat_activity``). A row found when the lock
is free was left by a run that died: it is taken over with a ``StaleLockWarning``. A lock whose connection
dropped while held is reported at release (``LockLostWarning``), unless the operation itself is failing
with a ``StoreError``: its one-line error already says the store went away.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from tfkit.errors import LockHeldError, StoreError
from tfkit.locks import LockHolder, StaleLockWarning, current_holder
from tfkit.store.pg_db import Database, connect, record_json, store_error

__all__ = ["LockLostWarning", "PgLocks", "lock_key"]

#: How long to wait for a holder's row when its lock is taken but the row is not written yet.
HOLDER_GRACE = 2.0


class LockLostWarning(UserWarning):
    """A lock's connection dropped while the lock was held (the server then released the lock)."""


def lock_key(project: str, environment: str) -> tuple[int, int]:
    """The two signed int4 advisory keys of ``environment`` of ``project``."""
    digest = hashlib.sha256(f"tfkit-lock\0{project}\0{environment}".encode()).digest()
    return (
        int.from_bytes(digest[0:4], "big", signed=True),
        int.from_bytes(digest[4:8], "big", signed=True),
    )


def _holder(raw: object) -> LockHolder:
    if isinstance(raw, dict):
        try:
            return LockHolder(
                **{k: raw[k] for k in ("operation", "pid", "host", "user", "started")},
                ci_job=raw.get("ci_job"),
            )
        except (KeyError, TypeError):
            pass
    return LockHolder("unknown", -1, "unknown", "unknown", "unknown")


class PgLocks:
    """Locks of one project's environments, shared by every runner that uses the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.settings = db.settings

    def _row(self, conn: psycopg.Connection[Any], environment: str) -> LockHolder | None:
        row = conn.execute(
            "SELECT holder FROM tfkit.locks WHERE project = %s AND environment = %s",
            (self.settings.project, environment),
        ).fetchone()
        return None if row is None else _holder(row[0])

    def _held_by(self, conn: psycopg.Connection[Any], environment: str) -> LockHolder | None:
        """The holder of a lock we could not take; it writes its row just after taking it, so wait briefly."""
        deadline = time.monotonic() + HOLDER_GRACE
        holder = self._row(conn, environment)
        while holder is None and time.monotonic() < deadline:
            time.sleep(0.05)
            holder = self._row(conn, environment)
        return holder

    @staticmethod
    def _acquire(conn: psycopg.Connection[Any], key: tuple[int, int], timeout: float) -> bool:
        """Take the lock: at once, or waiting in the server up to ``timeout`` s (handed over on release)."""
        if timeout <= 0:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
            return bool(row and row[0])
        conn.execute(
            sql.SQL("SET lock_timeout = {}").format(sql.Literal(f"{max(1, round(timeout * 1000))}ms"))
        )
        try:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", key)
            return True
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            conn.execute("RESET lock_timeout")

    @contextlib.contextmanager
    def _hold(self, environment: str, operation: str, timeout: float) -> Iterator[LockHolder]:
        self.db.connection()  # the schema (and its locks table) exists before the lock connection uses it
        me = current_holder(operation)
        project = self.settings.project
        conn = connect(
            self.settings, f"tfkit {operation} {project}/{environment} {me.user}@{me.host} pid {me.pid}"
        )
        key = lock_key(project, environment)
        acquired = store_lost = False
        try:
            try:
                acquired = self._acquire(conn, key, timeout)
                if not acquired:
                    holder = self._held_by(conn, environment)
                    who = holder.describe() if holder else "another run"
                    raise LockHeldError(
                        f"environment '{environment}' is locked by {who}; wait for it to finish or pass "
                        "--lock-timeout",
                        holder=holder,
                    )
                stale = self._row(conn, environment)
                if stale is not None:
                    warnings.warn(
                        f"took over the lock on '{environment}' left by a run that died: {stale.describe()}",
                        StaleLockWarning,
                        stacklevel=4,
                    )
                conn.execute(
                    "INSERT INTO tfkit.locks (project, environment, holder) VALUES (%s, %s, %s) "
                    "ON CONFLICT (project, environment) DO UPDATE "
                    "SET holder = EXCLUDED.holder, since = now()",
                    (project, environment, record_json(me)),
                )
            except psycopg.Error as exc:
                raise store_error(exc, self.settings, conn) from None
            try:
                yield me
            except StoreError:
                store_lost = True  # the operation's own error already says the store went away
                raise
        finally:
            try:
                if acquired:
                    try:
                        conn.execute(
                            "DELETE FROM tfkit.locks WHERE project = %s AND environment = %s",
                            (project, environment),
                        )
                        conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
                    except psycopg.Error:
                        if not store_lost:
                            warnings.warn(
                                f"the lock on '{environment}' was lost while held: its connection to "
                                f"{self.settings.describe()} dropped, so another run may have taken it "
                                "meanwhile",
                                LockLostWarning,
                                stacklevel=4,
                            )
            finally:
                conn.close()  # a session's advisory locks go with it, whatever happened above

    def hold(
        self, environment: str, operation: str, *, timeout: float = 0.0
    ) -> contextlib.AbstractContextManager[LockHolder]:
        """The lock of ``environment`` for a ``with`` block; ``LockHeldError`` (exit 3) naming the holder."""
        return self._hold(environment, operation, timeout)
