"""Snapshots in PostgreSQL: the manifest's exact bytes in ``tfkit.snapshots``, files as shared blobs.

Each file is a blob keyed by its sha256 (``tfkit.blobs``), written once however many snapshots of however
many projects hold it; ``tfkit.snapshot_files`` maps a snapshot's file names to blobs. A blob is checked
against its own sha256 on every read (and the ``Snapshot`` checks it against the manifest). Pruning deletes
snapshot rows and, in the same transaction, the blobs no snapshot refers to any more; saves hold the blob
lock shared and pruning holds it exclusively, so a blob is never collected while a save is taking it.
"""

from __future__ import annotations

import builtins
import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

from tfkit.errors import SnapshotError
from tfkit.snapshots import (
    Snapshot,
    SnapshotManifest,
    SnapshotWarning,
    check_placement,
    manifest_digest,
    seal,
)
from tfkit.store.pg_db import Database
from tfkit.store.pg_schema import BLOB_GC_KEY

__all__ = ["BlobFiles", "PgSnapshotStore", "insert_snapshot"]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def insert_snapshot(
    conn: psycopg.Connection[Any], project: str, manifest: SnapshotManifest, files: Mapping[str, bytes]
) -> SnapshotManifest:
    """Write a snapshot inside the caller's transaction; returns the manifest with its files' digests."""
    final = seal(manifest, files)
    digests = dict(final.files)
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", BLOB_GC_KEY)
    blobs = {digest: files[name] for name, digest in digests.items()}
    with (
        conn.cursor() as cur
    ):  # blobs in sha256 order: concurrent saves of the same new blobs cannot deadlock
        cur.executemany(
            "INSERT INTO tfkit.blobs (sha256, size, data) VALUES (%s, %s, %s) "
            "ON CONFLICT (sha256) DO NOTHING",
            [(digest, len(data), data) for digest, data in sorted(blobs.items())],
        )
        cur.execute(
            "INSERT INTO tfkit.snapshots (project, id, environment, kind, created, manifest) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (project, final.id, final.environment, final.kind, final.created, final.to_json()),
        )
        cur.executemany(
            "INSERT INTO tfkit.snapshot_files (project, snapshot_id, name, sha256) VALUES (%s, %s, %s, %s)",
            [(project, final.id, name, digest) for name, digest in sorted(digests.items())],
        )
    return final


@dataclass(frozen=True, slots=True)
class BlobFiles:
    """A stored snapshot's files, read from the blobs (each checked against its own sha256 on every read).

    The first read fetches every file of the snapshot in one query (a snapshot is read whole: verify,
    bundle, rollback) and keeps them for this object's life; a snapshot never changes once written.
    """

    db: Database
    project: str
    snapshot_id: str
    _blobs: dict[str, tuple[str, bytes]] = field(default_factory=dict, compare=False, repr=False)

    def _load(self) -> dict[str, tuple[str, bytes]]:
        if not self._blobs:
            rows = self.db.run(
                lambda conn: conn.execute(
                    "SELECT f.name, b.sha256, b.data FROM tfkit.snapshot_files f "
                    "JOIN tfkit.blobs b USING (sha256) WHERE f.project = %s AND f.snapshot_id = %s",
                    (self.project, self.snapshot_id),
                ).fetchall(),
                retry=True,
            )
            self._blobs.update({str(name): (str(digest), bytes(data)) for name, digest, data in rows})
        return self._blobs

    def read_file(self, name: str) -> bytes:
        """The file's bytes; ``SnapshotError`` when missing or when the blob does not match its sha256."""
        found = self._load().get(name)
        if found is None:
            raise SnapshotError(f"cannot read {name}: not in the store")
        digest, data = found
        if _sha256(data) != digest:
            raise SnapshotError(
                f"{name}: corrupted blob {digest[:12]} in the store (its content does not match its sha256); "
                "do not restore from this snapshot"
            )
        return data

    def file_names(self) -> builtins.set[str]:
        """The names of every file stored for the snapshot."""
        return set(self._load())


class PgSnapshotStore:
    """The snapshots of one project (``settings.project``) in the PostgreSQL store."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.project = db.settings.project

    def _snapshot(self, manifest: SnapshotManifest) -> Snapshot:
        return Snapshot(
            manifest, BlobFiles(self.db, self.project, manifest.id), None, manifest_digest(manifest.to_json())
        )

    def _load(self, snapshot_id: str, environment: str, data: bytes) -> Snapshot:
        where = f"snapshot {environment}/{snapshot_id} in {self.db.settings.describe()}"
        manifest = SnapshotManifest.from_json(data, where)
        check_placement(manifest, environment, snapshot_id, where)
        return Snapshot(manifest, BlobFiles(self.db, self.project, manifest.id), None, manifest_digest(data))

    def save(self, manifest: SnapshotManifest, files: Mapping[str, bytes]) -> Snapshot:
        """Write the snapshot (blobs, manifest, file index) in one transaction."""
        return self._snapshot(self.db.run(lambda conn: insert_snapshot(conn, self.project, manifest, files)))

    def list(self, environment: str) -> builtins.list[Snapshot]:
        """The snapshots of ``environment``, oldest first (unreadable manifests skipped with a warning)."""
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT id, manifest FROM tfkit.snapshots WHERE project = %s AND environment = %s "
                "ORDER BY id",
                (self.project, environment),
            ).fetchall(),
            retry=True,
        )
        found = []
        for snapshot_id, data in rows:
            try:
                found.append(self._load(snapshot_id, environment, bytes(data)))
            except SnapshotError as exc:
                warnings.warn(f"skipping an unreadable snapshot: {exc}", SnapshotWarning, stacklevel=2)
        return found

    def get(self, snapshot_id: str) -> Snapshot:
        """The snapshot with ``snapshot_id`` in any environment of this project."""
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT environment, manifest FROM tfkit.snapshots WHERE project = %s AND id = %s",
                (self.project, snapshot_id),
            ).fetchone(),
            retry=True,
        )
        if row is None:
            raise SnapshotError(f"no snapshot with id '{snapshot_id}'; see `tfkit snapshots list --env ENV`")
        return self._load(snapshot_id, str(row[0]), bytes(row[1]))

    def latest(self, environment: str) -> Snapshot | None:
        """The newest readable snapshot of ``environment``, if any."""
        found = self.list(environment)
        return found[-1] if found else None

    def environments(self) -> builtins.list[str]:
        """The environments of this project that have a snapshot."""
        rows = self.db.run(
            lambda conn: conn.execute(
                "SELECT DISTINCT environment FROM tfkit.snapshots WHERE project = %s ORDER BY environment",
                (self.project,),
            ).fetchall(),
            retry=True,
        )
        return [str(row[0]) for row in rows]

    def prune(self, environment: str, keep: int) -> builtins.list[str]:
        """Delete all but the newest ``keep`` snapshots, then the blobs no snapshot refers to any more."""

        def surplus(conn: psycopg.Connection[Any]) -> builtins.list[str]:
            rows = conn.execute(
                "SELECT id FROM tfkit.snapshots WHERE project = %s AND environment = %s "
                "ORDER BY id DESC OFFSET %s",
                (self.project, environment, max(0, keep)),
            ).fetchall()
            return sorted(str(row[0]) for row in rows)

        def work(conn: psycopg.Connection[Any]) -> builtins.list[str]:
            if not surplus(conn):  # the usual case: nothing to delete, so no lock taken
                return []
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", BLOB_GC_KEY)
            doomed = surplus(conn)  # again, now that concurrent saves and prunes are done
            if not doomed:
                return []
            blobs = conn.execute(
                "SELECT DISTINCT sha256 FROM tfkit.snapshot_files "
                "WHERE project = %s AND snapshot_id = ANY(%s)",
                (self.project, doomed),
            ).fetchall()
            conn.execute(
                "DELETE FROM tfkit.snapshots WHERE project = %s AND id = ANY(%s)", (self.project, doomed)
            )
            conn.execute(
                "DELETE FROM tfkit.blobs b WHERE b.sha256 = ANY(%s) AND NOT EXISTS "
                "(SELECT 1 FROM tfkit.snapshot_files f WHERE f.sha256 = b.sha256)",
                ([str(row[0]) for row in blobs],),
            )
            return doomed

        return self.db.run(work, retry=True)
