"""The store's schema: created on first use, upgraded by tfkit itself, never downgraded, never another's."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from storecase import REPO, pg_settings

import tfkit.store.pg_schema as pg_schema
from tfkit.errors import StoreError, StoreSchemaError
from tfkit.ledger import new_health
from tfkit.store.postgres import PostgresStore


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [int(r[0]) for r in conn.execute("SELECT version FROM tfkit.schema_version ORDER BY 1")]


def test_a_fresh_database_gets_the_schema_once(pg_fresh_url: str) -> None:
    for _ in range(2):
        with PostgresStore(pg_settings(pg_fresh_url)) as store:
            assert store.ledger.environments() == []
    assert _versions(pg_fresh_url) == list(range(1, pg_schema.LATEST_VERSION + 1))
    with psycopg.connect(pg_fresh_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'tfkit'")}
    assert tables == {
        "schema_version",
        "blobs",
        "snapshots",
        "snapshot_files",
        "ledger",
        "health",
        "locks",
        "journal",
    }


def test_a_version_1_store_is_upgraded_to_the_journal_keeping_its_records(
    pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = pg_settings(pg_fresh_url)
    with monkeypatch.context() as m:
        m.setattr(pg_schema, "MIGRATIONS", pg_schema.MIGRATIONS[:1])
        m.setattr(pg_schema, "LATEST_VERSION", 1)
        with PostgresStore(settings) as store:
            store.ledger.set_health(new_health("staging", stable=False, reason="apply failed: boom"))
    assert _versions(pg_fresh_url) == [1]
    with PostgresStore(settings) as store:
        assert store.journal.pending("staging") is None
        assert store.ledger.health("staging").reason == "apply failed: boom"
    assert _versions(pg_fresh_url) == [1, 2]


def test_an_older_schema_is_upgraded(pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with PostgresStore(pg_settings(pg_fresh_url)) as store:
        store.ledger.environments()
    newer = (*pg_schema.MIGRATIONS, ("CREATE TABLE tfkit.extra (x integer)",))
    monkeypatch.setattr(pg_schema, "MIGRATIONS", newer)
    monkeypatch.setattr(pg_schema, "LATEST_VERSION", len(newer))
    with PostgresStore(pg_settings(pg_fresh_url)) as store:
        store.ledger.environments()
    assert _versions(pg_fresh_url) == list(range(1, len(newer) + 1))
    with psycopg.connect(pg_fresh_url) as conn:
        assert conn.execute("SELECT to_regclass('tfkit.extra') IS NOT NULL").fetchone() == (True,)


def test_a_newer_schema_is_refused_and_left_alone(pg_fresh_url: str) -> None:
    with PostgresStore(pg_settings(pg_fresh_url)) as store:
        store.ledger.environments()
    newer = pg_schema.LATEST_VERSION + 7
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        conn.execute("INSERT INTO tfkit.schema_version (version, tfkit_version) VALUES (%s, '9.9')", (newer,))
    with PostgresStore(pg_settings(pg_fresh_url)) as store, pytest.raises(StoreSchemaError) as info:
        store.ledger.health("staging")
    message = str(info.value)
    assert "schema (postgresql://postgres@/" in message
    assert f"is version {newer}, this tfkit knows up to {pg_schema.LATEST_VERSION}; upgrade tfkit" in message
    assert info.value.exit_code == 2 and "\n" not in message
    assert _versions(pg_fresh_url)[-1] == newer


def test_a_tfkit_schema_of_another_tool_is_refused(pg_fresh_url: str) -> None:
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tfkit")
        conn.execute("CREATE TABLE tfkit.widgets (id integer)")
    with PostgresStore(pg_settings(pg_fresh_url)) as store, pytest.raises(StoreSchemaError) as info:
        store.snapshots.list("staging")
    assert "has a schema 'tfkit' that is not tfkit's" in str(info.value) and info.value.exit_code == 2
    with psycopg.connect(pg_fresh_url) as conn:
        assert conn.execute("SELECT to_regclass('tfkit.schema_version')").fetchone() == (None,)


def test_an_empty_tfkit_schema_made_by_an_administrator_is_used(pg_fresh_url: str) -> None:
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tfkit")
    with PostgresStore(pg_settings(pg_fresh_url)) as store:
        assert store.snapshots.environments() == []
    assert _versions(pg_fresh_url) == list(range(1, pg_schema.LATEST_VERSION + 1))


def test_other_tools_tables_in_the_database_do_not_matter(pg_fresh_url: str) -> None:
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.states (id bigint, name text, data text)")  # e.g. Terraform's
    with PostgresStore(pg_settings(pg_fresh_url)) as store:
        assert store.ledger.environments() == []


CREATE = textwrap.dedent(
    """
    import sys
    from tfkit.store.postgres import PostgresStore
    from tfkit.store.settings import StoreSettings
    print("ready", flush=True)
    sys.stdin.readline()
    with PostgresStore(StoreSettings(url=sys.argv[1], project=sys.argv[2])) as store:
        print(store.ledger.environments(), flush=True)
    """
)


def test_runners_creating_the_schema_together_take_turns(pg_fresh_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE, pg_fresh_url, f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:  # released as close together as we can
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [proc.communicate(timeout=120) for proc in procs]
    outcomes = [
        (p.returncode, out.strip(), err.strip()) for p, (out, err) in zip(procs, results, strict=True)
    ]
    assert outcomes == [(0, "[]", "")] * 4
    assert _versions(pg_fresh_url) == list(range(1, pg_schema.LATEST_VERSION + 1))


def test_a_role_without_create_on_the_database_uses_a_schema_made_for_it(
    pg_server: Any, pg_fresh_url: str
) -> None:
    role = f"tfkit_owner_{secrets.token_hex(4)}"
    with psycopg.connect(pg_fresh_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(sql.SQL("CREATE SCHEMA tfkit AUTHORIZATION {}").format(sql.Identifier(role)))
        try:
            parts = urlsplit(pg_fresh_url)
            url = urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))
            with PostgresStore(pg_settings(url)) as store:
                store.ledger.set_health(new_health("staging", stable=False, reason="x"))
                assert not store.ledger.health("staging").stable
            assert _versions(pg_fresh_url) == list(range(1, pg_schema.LATEST_VERSION + 1))
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_role_that_may_not_create_the_schema_is_told_what_to_grant(pg_fresh_url: str) -> None:
    role = f"tfkit_plain_{secrets.token_hex(4)}"
    with psycopg.connect(pg_fresh_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            parts = urlsplit(pg_fresh_url)
            url = urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))
            with PostgresStore(pg_settings(url)) as store, pytest.raises(StoreError) as info:
                store.ledger.environments()
            assert "the role may not create schemas there; GRANT CREATE ON DATABASE" in str(info.value)
            assert "CREATE SCHEMA tfkit AUTHORIZATION" in str(info.value) and info.value.exit_code == 5
        finally:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
