"""Connection failures are one-line StoreErrors (exit 5) naming the store, never its password."""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from storecase import pg_settings

from tfkit.errors import StoreError
from tfkit.store.pg_db import connect
from tfkit.store.postgres import PostgresStore
from tfkit.store.settings import StoreSettings


def _failure(settings: StoreSettings) -> StoreError:
    with PostgresStore(settings) as store, pytest.raises(StoreError) as info:
        store.ledger.health("staging")
    assert info.value.exit_code == 5 and "\n" not in str(info.value)
    return info.value


def _with_user(url: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = quote(user) + (f":{quote(password)}" if password is not None else "")
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


def test_an_unreachable_server(tmp_path: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket is closed
    error = _failure(StoreSettings(url=f"postgresql://tfkit:hunter2-pw@127.0.0.1:{port}/tfkit", project="p"))
    message = str(error)
    assert message.startswith(f"cannot reach the store postgresql://tfkit:***@127.0.0.1:{port}/tfkit")
    assert "check the host and port" in message and "hunter2-pw" not in message


def test_a_missing_database(pg_server: Any) -> None:
    url = pg_server.url_for("no_such_tfkit_db")
    message = str(_failure(pg_settings(url)))
    assert 'database "no_such_tfkit_db" does not exist; create it' in message
    assert message.startswith("cannot open the store postgresql://postgres@/no_such_tfkit_db")


def test_a_missing_role(pg_url: str) -> None:
    message = str(_failure(pg_settings(_with_user(pg_url, "no_such_role", "pw-of-nobody"))))
    assert 'role "no_such_role" does not exist' in message and "pw-of-nobody" not in message


@contextlib.contextmanager
def _password_role(pg_server: Any) -> Iterator[str]:
    """A role that must log in with a password: a scram-sha-256 rule for it alone, before the trust rules."""
    role = f"tfkit_pw_{secrets.token_hex(4)}"
    with pg_server.connect() as admin:
        hba = str(admin.execute("SHOW hba_file").fetchone()[0])
        original = str(admin.execute("SELECT pg_read_file(%s)", (hba,)).fetchone()[0])
        rules = [
            line.replace("\t", " ") for line in original.splitlines() if line.strip() and "#" not in line
        ]

        def write(lines: list[str]) -> None:
            rows = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}, {}").format(sql.Literal(i), sql.Literal(line))
                for i, line in enumerate(lines)
            )
            admin.execute(
                sql.SQL("COPY (SELECT line FROM ({}) AS r(n, line) ORDER BY n) TO {}").format(
                    rows, sql.Literal(hba)
                )
            )
            admin.execute("SELECT pg_reload_conf()")

        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'the-right-one'").format(sql.Identifier(role)))
        try:
            write([f"local all {role} scram-sha-256", f"host all {role} 127.0.0.1/32 scram-sha-256", *rules])
            yield role
        finally:
            write(rules)
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_wrong_password(pg_server: Any, pg_url: str) -> None:
    if pg_server.process is None:
        pytest.skip("TFKIT_TEST_PG_URL's server: its pg_hba.conf is not this suite's to change")
    with _password_role(pg_server) as role:
        url = _with_user(pg_url, role, "not-the-right-one")
        deadline = time.monotonic() + 30  # the server reloads pg_hba.conf a moment after being told to
        while time.monotonic() < deadline:
            try:
                psycopg.connect(url).close()
            except psycopg.OperationalError:
                break
            time.sleep(0.05)
        message = str(_failure(pg_settings(url)))
        assert f'password authentication failed for user "{role}"; check the password' in message
        assert f"{role}:***@" in message and "not-the-right-one" not in message
        connect(pg_settings(_with_user(pg_url, role, "the-right-one"))).close()  # the right one is let in
