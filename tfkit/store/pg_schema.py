"""The PostgreSQL store's schema: tables in a schema of their own (``tfkit``), created and upgraded by tfkit.

Each migration is a numbered list of statements; ``tfkit.schema_version`` has one row per migration applied.
Creation and upgrades run in one transaction holding a transaction-level advisory lock, so runners that
start together on an empty database take turns instead of colliding. A schema newer than this tfkit knows
is refused (never downgraded), and a ``tfkit`` schema holding tables without ``schema_version`` belongs to
something else and is left alone. The role tfkit connects as needs CREATE on the database, or an empty
schema ``tfkit`` it owns (``CREATE SCHEMA tfkit AUTHORIZATION <role>``, made by an administrator).

Advisory keys use PostgreSQL's two-``int4`` key space (``pg_advisory_lock(int4, int4)``), which is distinct
from the one-``bigint`` space Terraform's pg backend locks in, so the two can never block each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, LiteralString

import psycopg

from tfkit.errors import StoreError, StoreSchemaError

__all__ = ["BLOB_GC_KEY", "LATEST_VERSION", "SCHEMA", "SCHEMA_KEY", "TFKIT_CLASSID", "ensure_schema"]

SCHEMA = "tfkit"

#: First key of tfkit's own advisory locks (``tfkt`` in ASCII); the second is 0 for schema changes and
#: 1 for blob garbage collection. Environment locks use a 64-bit hash instead (``tfkit.store.pg_locks``).
TFKIT_CLASSID = 0x74666B74
SCHEMA_KEY = (TFKIT_CLASSID, 0)
#: Saves hold it shared, blob garbage collection exclusively: a blob is never deleted under a save.
BLOB_GC_KEY = (TFKIT_CLASSID, 1)

MIGRATIONS: Sequence[Sequence[LiteralString]] = (
    # 1: snapshots (manifest bytes kept exactly; files are content-addressed blobs), ledger, health, locks.
    (
        """CREATE TABLE tfkit.schema_version (
            version integer PRIMARY KEY,
            applied timestamptz NOT NULL DEFAULT now(),
            tfkit_version text NOT NULL)""",
        """CREATE TABLE tfkit.blobs (
            sha256 text PRIMARY KEY,
            size bigint NOT NULL,
            data bytea NOT NULL)""",
        """CREATE TABLE tfkit.snapshots (
            project text NOT NULL,
            id text NOT NULL,
            environment text NOT NULL,
            kind text NOT NULL,
            created text NOT NULL,
            manifest bytea NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, id))""",
        "CREATE INDEX snapshots_by_environment ON tfkit.snapshots (project, environment, id)",
        """CREATE TABLE tfkit.snapshot_files (
            project text NOT NULL,
            snapshot_id text NOT NULL,
            name text NOT NULL,
            sha256 text NOT NULL REFERENCES tfkit.blobs (sha256),
            PRIMARY KEY (project, snapshot_id, name),
            FOREIGN KEY (project, snapshot_id) REFERENCES tfkit.snapshots (project, id) ON DELETE CASCADE)""",
        "CREATE INDEX snapshot_files_by_blob ON tfkit.snapshot_files (sha256)",
        """CREATE TABLE tfkit.ledger (
            project text NOT NULL,
            environment text NOT NULL,
            id text NOT NULL,
            entry jsonb NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, environment, id))""",
        """CREATE TABLE tfkit.health (
            project text NOT NULL,
            environment text NOT NULL,
            record jsonb NOT NULL,
            updated timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, environment))""",
        """CREATE TABLE tfkit.locks (
            project text NOT NULL,
            environment text NOT NULL,
            holder jsonb NOT NULL,
            since timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, environment))""",
    ),
    # 2: the apply journal (tfkit.journal): an operation that began applying and is not recorded yet.
    (
        """CREATE TABLE tfkit.journal (
            project text NOT NULL,
            environment text NOT NULL,
            entry jsonb NOT NULL,
            began timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, environment))""",
    ),
)
LATEST_VERSION = len(MIGRATIONS)


def _installed_version(conn: psycopg.Connection[Any]) -> int | None:
    """The schema version recorded in the database, ``None`` when there is no ``schema_version`` table."""
    # pg_class through a query, not to_regclass(): the catalog cache of a session that waited for the
    # schema lock may predate the tables another runner just created.
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'tfkit' AND c.relname = 'schema_version')"
    ).fetchone()
    if not row or not row[0]:
        return None
    found = conn.execute("SELECT coalesce(max(version), 0) FROM tfkit.schema_version").fetchone()
    return int(found[0]) if found else 0


def _check_not_newer(version: int, where: str) -> None:
    if version > LATEST_VERSION:
        raise StoreSchemaError(
            f"the store's schema ({where}) is version {version}, this tfkit knows up to {LATEST_VERSION}; "
            "upgrade tfkit"
        )


def ensure_schema(conn: psycopg.Connection[Any], where: str) -> int:
    """Create or upgrade tfkit's schema on ``conn`` (autocommit) to ``LATEST_VERSION``; return the version.

    ``where`` names the store in messages. The common case (already current) costs one or two queries
    and takes no lock.
    """
    version = _installed_version(conn)
    if version is not None:
        _check_not_newer(version, where)
        if version == LATEST_VERSION:
            return version
    from tfkit._version import __version__

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", SCHEMA_KEY)
        version = _installed_version(conn)  # another runner may have created it while we waited
        if version is None:
            row = conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s",
                (SCHEMA,),
            ).fetchone()
            if row and row[0]:
                raise StoreSchemaError(
                    f"the database of {where} has a schema '{SCHEMA}' that is not tfkit's (no "
                    "schema_version table); use another database, or drop or rename that schema"
                )
            exists = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tfkit')"
            ).fetchone()
            if not (exists and exists[0]):  # CREATE SCHEMA needs CREATE on the database, even IF NOT EXISTS
                try:
                    conn.execute("CREATE SCHEMA tfkit")
                except psycopg.errors.InsufficientPrivilege:
                    raise StoreError(
                        f"cannot create tfkit's schema in {where}: the role may not create schemas there; "
                        "GRANT CREATE ON DATABASE to it, or have an administrator run "
                        "CREATE SCHEMA tfkit AUTHORIZATION <the role>"
                    ) from None
            version = 0
        _check_not_newer(version, where)
        for number in range(version + 1, LATEST_VERSION + 1):
            for statement in MIGRATIONS[number - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO tfkit.schema_version (version, tfkit_version) VALUES (%s, %s)",
                (number, __version__),
            )
    return LATEST_VERSION
