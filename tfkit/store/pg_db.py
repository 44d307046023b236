"""Connections to the PostgreSQL store, with psycopg's errors turned into one-line ``StoreError``s.

Every message names the store by ``StoreSettings.describe()`` (the URL without its password); libpq's own
text is cut to its first meaningful line. ``Database`` is the store's one data connection, opened on
first use (when the schema is also created or upgraded) and closed by ``close()``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from tfkit.errors import StoreError
from tfkit.store.pg_schema import ensure_schema
from tfkit.store.settings import StoreSettings

__all__ = ["Database", "connect", "record_json", "store_error"]

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T")

_MISSING_DB = re.compile(r'database "([^"]*)" does not exist')
_BAD_PASSWORD = re.compile(r'password authentication failed for user "([^"]*)"')
_MISSING_ROLE = re.compile(r'role "([^"]*)" does not exist')
_UNREACHABLE = (
    "connection refused",
    "could not translate host name",
    "failed to resolve host",
    "no such file or directory",
    "no route to host",
    "network is unreachable",
    "could not connect",
)


def _reason(exc: psycopg.Error) -> str:
    """The first meaningful line of libpq's message (after ``FATAL:`` or the last ``failed:``)."""
    text = str(exc).strip()
    if "FATAL:" in text:
        text = text.rsplit("FATAL:", 1)[1]
    elif " failed: " in text:
        text = text.rsplit(" failed: ", 1)[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _connect_failure(exc: psycopg.Error, settings: StoreSettings) -> str:
    where = settings.describe()
    reason = _reason(exc)
    lowered = reason.lower()
    if found := _MISSING_DB.search(reason):
        name = found.group(1)
        return (
            f'cannot open the store {where}: database "{name}" does not exist; create it '
            f"(CREATE DATABASE {name}, owned by the role tfkit connects as) or fix the URL"
        )
    if found := _BAD_PASSWORD.search(reason):
        return (
            f'cannot open the store {where}: password authentication failed for user "{found.group(1)}"; '
            "check the password given in TFKIT_STORE_URL"
        )
    if found := _MISSING_ROLE.search(reason):
        return (
            f'cannot open the store {where}: role "{found.group(1)}" does not exist on the server; '
            "create it or fix the user in the URL"
        )
    if "no password supplied" in lowered:
        return (
            f"cannot open the store {where}: the server asks for a password and none was given; "
            "pass it in TFKIT_STORE_URL (from a secret) or ~/.pgpass"
        )
    if "timeout expired" in lowered:
        return (
            f"cannot reach the store {where}: no answer within {settings.connect_timeout} s; "
            "check the host, the port and the firewall"
        )
    if any(marker in lowered for marker in _UNREACHABLE):
        return (
            f"cannot reach the store {where}: {reason}; "
            "check the host and port and that the server is running"
        )
    return f"cannot open the store {where}: {reason}"


def store_error(
    exc: psycopg.Error, settings: StoreSettings, conn: psycopg.Connection[Any] | None
) -> StoreError:
    """The ``StoreError`` for ``exc`` raised while using ``conn`` (a dropped connection says so)."""
    where = settings.describe()
    if conn is not None and (conn.broken or conn.closed):
        lost = f"lost the connection to the store {where} ({_reason(exc)})"
        return StoreError(
            f"{lost}; PostgreSQL rolls back an unfinished transaction as a whole, so nothing half-recorded "
            "is left; run the operation again",
            reason=lost,
        )
    return StoreError(f"the store {where} failed: {_reason(exc)}")


def _without_nul(value: Any) -> Any:
    """``value`` with NUL characters replaced (U+FFFD): PostgreSQL's text and jsonb cannot hold them."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def record_json(record: DataclassInstance) -> Jsonb:
    """A record (ledger entry, health, lock holder) as a jsonb parameter.

    A NUL in a text (Terraform's error quoted in a health reason, say) would make the write fail and an
    unstable mark be lost; it is stored as U+FFFD instead.
    """
    return Jsonb(_without_nul(asdict(record)))


def connect(settings: StoreSettings, application: str = "tfkit") -> psycopg.Connection[Any]:
    """A new autocommit connection to the store; ``StoreError`` (one line) when it cannot be opened.

    ``application`` becomes the session's ``application_name`` (shown in ``pg_stat_activity``; at most
    63 characters are kept by the server).
    """
    try:
        return psycopg.connect(settings.conninfo(_printable(application)), autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(_connect_failure(exc, settings)) from None


def _printable(text: str) -> str:
    """``application_name`` keeps printable ASCII only: replace the rest, cut to the server's 63 bytes."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:63]


class Database:
    """The store's data connection: opened lazily, schema ensured once, closed by ``close()``."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self._conn: psycopg.Connection[Any] | None = None

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection (opened, and the schema created or upgraded, on first use)."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        conn = connect(self.settings, f"tfkit {self.settings.project} pid {os.getpid()}")
        try:
            ensure_schema(conn, self.settings.describe())
        except psycopg.Error as exc:
            error = store_error(exc, self.settings, conn)
            conn.close()
            raise error from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def run(self, work: Callable[[psycopg.Connection[Any]], T], *, retry: bool = False) -> T:
        """``work(connection)`` in one transaction; psycopg's errors become ``StoreError``.

        A connection found dead when the transaction begins (dropped while idle) is reopened and the work
        run there. With ``retry`` (idempotent work only) the work is also run again once on a new
        connection when the connection drops during it.
        """
        for attempt in (1, 2):
            conn = self.connection()
            began = False
            try:
                with conn.transaction():
                    began = True
                    return work(conn)
            except psycopg.Error as exc:
                if attempt == 1 and conn.broken and (retry or not began):
                    self._discard()
                    continue
                raise store_error(exc, self.settings, conn) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None

    def close(self) -> None:
        """Close the connection, if one was opened."""
        self._discard()
