"""The promotion ledger and health in PostgreSQL (``tfkit.ledger``, ``tfkit.health``), keyed by project.

Records are stored whole as JSON, so a migration copies them exactly. Writing a health record survives a
dropped connection (it is retried once on a new connection): an apply that failed after Terraform started
must be marked unstable even when the connection went away while Terraform ran.
"""

from __future__ import annotations

from typing import Any

import psycopg

from tfkit.errors import SnapshotError
from tfkit.ledger import Health, LedgerEntry, entry_from_dict, health_from_dict
from tfkit.store.pg_db import Database, record_json

__all__ = ["PgLedger", "insert_entry", "upsert_health"]


def insert_entry(conn: psycopg.Connection[Any], project: str, entry: LedgerEntry) -> None:
    """Record ``entry`` inside the caller's transaction (the same id again replaces it, as a re-run copy)."""
    conn.execute(
        "INSERT INTO tfkit.ledger (project, environment, id, entry) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (project, environment, id) DO UPDATE SET entry = EXCLUDED.entry",
        (project, entry.environment, entry.id, record_json(entry)),
    )


def upsert_health(conn: psycopg.Connection[Any], project: str, health: Health) -> None:
    """Make ``health`` the environment's current health inside the caller's transaction."""
    conn.execute(
        "INSERT INTO tfkit.health (project, environment, record) VALUES (%s, %s, %s) "
        "ON CONFLICT (project, environment) DO UPDATE SET record = EXCLUDED.record, updated = now()",
        (project, health.environment, record_json(health)),
    )


class PgLedger:
    """Ledger entries and health of one project (``settings.project``) in the PostgreSQL store."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.project = db.settings.project

    def _where(self, what: str, environment: str) -> str:
        return f"{what} of {environment} in {self.db.settings.describe()}"

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        """Append ``entry``."""
        self.db.run(lambda conn: insert_entry(conn, self.project, entry), retry=True)
        return entry

    def entries(self, environment: str) -> list[LedgerEntry]:
        """Every entry of ``environment``, oldest first."""
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT id, entry FROM tfkit.ledger WHERE project = %s AND environment = %s ORDER BY id",
                (self.project, environment),
            ).fetchall(),
            retry=True,
        )
        found = []
        for entry_id, raw in rows:
            where = self._where(f"ledger entry {entry_id}", environment)
            try:
                if not isinstance(raw, dict):
                    raise TypeError("not a JSON object")
                found.append(entry_from_dict(raw, where))
            except (ValueError, TypeError) as exc:
                message = f"{where}: corrupted ledger entry ({exc}); restore or remove it"
                raise SnapshotError(message) from None
        return found

    def last(self, environment: str) -> LedgerEntry | None:
        """The newest entry of ``environment``."""
        entries = self.entries(environment)
        return entries[-1] if entries else None

    def health(self, environment: str) -> Health:
        """The recorded health, stable when nothing was ever recorded."""
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT record FROM tfkit.health WHERE project = %s AND environment = %s",
                (self.project, environment),
            ).fetchone(),
            retry=True,
        )
        if row is None:
            return Health(environment, "stable", "")
        where = self._where("health", environment)
        try:
            return health_from_dict(row[0], where)
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"{where}: corrupted health record ({exc}); remove it") from None

    def set_health(self, health: Health) -> Health:
        """Record ``health``; a connection dropped meanwhile is reopened and the write done again once."""
        self.db.run(lambda conn: upsert_health(conn, self.project, health), retry=True)
        return health

    def environments(self) -> list[str]:
        """Environments of this project with ledger entries or a health record."""
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT environment FROM tfkit.ledger WHERE project = %s "
                "UNION SELECT environment FROM tfkit.health WHERE project = %s ORDER BY 1",
                (self.project, self.project),
            ).fetchall(),
            retry=True,
        )
        return [str(row[0]) for row in rows]
