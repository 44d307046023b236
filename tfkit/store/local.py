"""The local store: ``.tfkit/`` on one machine (the embedded default, nothing to run).

Snapshots are directories renamed into place, ledger entries and health are one file each, locks
are ``flock``s. A recorded apply notes its snapshot id in the journal, then writes the snapshot, its
ledger entry, the health, and removes the journal entry; ``tfkit.journal.LocalJournal`` says how each
crash point is read (a snapshot without its ledger entry is never read as an apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from tfkit.journal import LocalJournal, local_writes
from tfkit.ledger import Health, LedgerEntry, LocalLedger
from tfkit.locks import LocalLocks
from tfkit.pausepoints import pause_point
from tfkit.snapshots import LocalSnapshotStore, Snapshot, SnapshotManifest
from tfkit.store.settings import StoreSettings

__all__ = ["LocalStore"]


class LocalStore:
    """Snapshots, ledger, health and locks under one ``.tfkit/`` directory."""

    def __init__(self, state_dir: Path, settings: StoreSettings) -> None:
        self.state_dir = Path(state_dir)
        self.settings = settings
        self.snapshots = LocalSnapshotStore(self.state_dir / "snapshots")
        self.ledger = LocalLedger(self.state_dir)
        self.locks = LocalLocks(self.state_dir / "locks")
        self.journal = LocalJournal(self.state_dir, self.ledger)

    def record_apply(
        self, manifest: SnapshotManifest, files: Mapping[str, bytes], entry: LedgerEntry, health: Health
    ) -> Snapshot:
        """Journal commit mark, snapshot, ledger entry, health, journal removal (each step atomic); a
        file system that refuses a write is a ``StoreError`` (the journal keeps the apply visible)."""
        with local_writes(self.state_dir):
            self.journal.committing(entry.environment, manifest.id)
            pause_point("record:committing")
            snapshot = self.snapshots.save(manifest, files)
            pause_point("record:snapshot")
            self.ledger.record(entry)
            pause_point("record:ledger")
            self.journal.finish(health)
        return snapshot

    def close(self) -> None:
        """Nothing to release: locks are released by their ``with`` blocks."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalStore({self.state_dir})"
