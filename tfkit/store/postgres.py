"""The PostgreSQL store: tfkit's memory shared by every runner that has ``TFKIT_STORE_URL``.

Records live in the ``tfkit`` schema (``tfkit.store.pg_schema``), keyed by ``settings.project`` so several
repositories can share one database. One data connection is opened on first use and closed by ``close()``;
each lock holds a connection of its own (``tfkit.store.pg_locks``). A recorded apply (snapshot, ledger
entry, health, and the removal of its journal entry) is one transaction: all of it is recorded, or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import psycopg

from tfkit.ledger import Health, LedgerEntry
from tfkit.pausepoints import pause_point
from tfkit.snapshots import Snapshot, SnapshotManifest, manifest_digest
from tfkit.store.pg_db import Database
from tfkit.store.pg_journal import PgJournal, delete_entry
from tfkit.store.pg_ledger import PgLedger, insert_entry, upsert_health
from tfkit.store.pg_locks import PgLocks
from tfkit.store.pg_snapshots import BlobFiles, PgSnapshotStore, insert_snapshot
from tfkit.store.settings import StoreSettings

__all__ = ["PostgresStore"]


class PostgresStore:
    """Snapshots, ledger, health and locks of one project in a PostgreSQL database."""

    def __init__(self, settings: StoreSettings) -> None:
        if settings.url is None:
            raise ValueError("PostgresStore needs a postgresql:// URL")
        self._settings = settings
        self._db = Database(settings)
        self._snapshots = PgSnapshotStore(self._db)
        self._ledger = PgLedger(self._db)
        self._locks = PgLocks(self._db)
        self._journal = PgJournal(self._db)

    @property
    def settings(self) -> StoreSettings:
        """Where the store is, and the project id its records are keyed by."""
        return self._settings

    @property
    def snapshots(self) -> PgSnapshotStore:
        """The snapshots."""
        return self._snapshots

    @property
    def ledger(self) -> PgLedger:
        """The promotion ledger and each environment's health."""
        return self._ledger

    @property
    def journal(self) -> PgJournal:
        """Operations that began applying and are not recorded (``tfkit.journal``)."""
        return self._journal

    @property
    def locks(self) -> PgLocks:
        """tfkit's per-environment locks across runners."""
        return self._locks

    def record_apply(
        self, manifest: SnapshotManifest, files: Mapping[str, bytes], entry: LedgerEntry, health: Health
    ) -> Snapshot:
        """Snapshot, ledger entry, health and the journal entry's removal in one transaction: all, or none."""
        project = self._settings.project

        def work(conn: psycopg.Connection[Any]) -> SnapshotManifest:
            final = insert_snapshot(conn, project, manifest, files)
            pause_point("record:snapshot")
            insert_entry(conn, project, entry)
            pause_point("record:ledger")
            upsert_health(conn, project, health)
            pause_point("record:health")
            delete_entry(conn, project, entry.environment)
            return final

        final = self._db.run(work)
        return Snapshot(final, BlobFiles(self._db, project, final.id), None, manifest_digest(final.to_json()))

    def close(self) -> None:
        """Close the data connection (locks close theirs when their ``with`` block ends)."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self._settings.describe()}, project={self._settings.project!r})"
