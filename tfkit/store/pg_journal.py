"""The apply journal in PostgreSQL (``tfkit.journal``, schema version 2): one row per environment.

``begin`` writes the row and the unstable health in one transaction; the transaction that records an
apply (``PostgresStore.record_apply``) or finishes one (``finish``) deletes it, so an apply is either
recorded whole or still visible as unfinished: there is no in-between to recover from.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg

from tfkit.errors import SnapshotError
from tfkit.journal import JournalEntry, applying_health, journal_from_dict
from tfkit.ledger import Health
from tfkit.redact import mask
from tfkit.store.pg_db import Database, record_json
from tfkit.store.pg_ledger import PgLedger, upsert_health

__all__ = ["PgJournal", "delete_entry"]


def delete_entry(conn: psycopg.Connection[Any], project: str, environment: str) -> None:
    """Clear ``environment``'s journal entry inside the caller's transaction."""
    conn.execute("DELETE FROM tfkit.journal WHERE project = %s AND environment = %s", (project, environment))


def _upsert(conn: psycopg.Connection[Any], project: str, entry: JournalEntry) -> None:
    conn.execute(
        "INSERT INTO tfkit.journal (project, environment, entry) VALUES (%s, %s, %s) "
        "ON CONFLICT (project, environment) DO UPDATE SET entry = EXCLUDED.entry, began = now()",
        (project, entry.environment, record_json(entry)),
    )


class PgJournal:
    """The unfinished operations of one project (``settings.project``) in the PostgreSQL store."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.project = db.settings.project

    def begin(self, entry: JournalEntry) -> None:
        """The entry and the unstable health, in one transaction (durable on commit)."""
        health = applying_health(entry)

        def work(conn: psycopg.Connection[Any]) -> None:
            _upsert(conn, self.project, entry)
            upsert_health(conn, self.project, health)

        self.db.run(work, retry=True)

    def fail(self, environment: str, outcome: str) -> None:
        """Keep the entry, saying why the operation did not finish."""
        entry = self.pending(environment)
        if entry is not None:
            changed = replace(entry, outcome=mask(outcome))
            self.db.run(lambda conn: _upsert(conn, self.project, changed), retry=True)

    def finish(self, health: Health) -> None:
        """The operation succeeded: ``health`` and the entry's removal in one transaction."""

        def work(conn: psycopg.Connection[Any]) -> None:
            upsert_health(conn, self.project, health)
            delete_entry(conn, self.project, health.environment)

        self.db.run(work, retry=True)

    def pending(self, environment: str) -> JournalEntry | None:
        """The unfinished operation on ``environment``, or None."""
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT entry FROM tfkit.journal WHERE project = %s AND environment = %s",
                (self.project, environment),
            ).fetchone(),
            retry=True,
        )
        if row is None:
            return None
        where = f"journal entry of {environment} in {self.db.settings.describe()}"
        try:
            return journal_from_dict(row[0], where)
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"{where}: corrupted journal entry ({exc}); remove it") from None

    def health(self, environment: str) -> Health:
        """The recorded health (a transaction left nothing to complete)."""
        return PgLedger(self.db).health(environment)

    def settle(self, environment: str) -> JournalEntry | None:
        """``pending``: transactions leave nothing half-recorded to complete."""
        return self.pending(environment)
