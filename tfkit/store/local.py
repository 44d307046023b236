"""The local store: ``.tfkit/`` on one machine (the embedded default, nothing to run).

Snapshots are directories renamed into place, ledger entries and health are one file each, locks
are ``flock``s. A recorded apply writes the snapshot, then its ledger entry, then the health: a run
killed in between leaves a snapshot without its entry, which is never read as an apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from tfkit.ledger import Health, LedgerEntry, LocalLedger
from tfkit.locks import LocalLocks
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

    def record_apply(
        self, manifest: SnapshotManifest, files: Mapping[str, bytes], entry: LedgerEntry, health: Health
    ) -> Snapshot:
        """Snapshot, then ledger entry, then health (each file written atomically)."""
        snapshot = self.snapshots.save(manifest, files)
        self.ledger.record(entry)
        self.ledger.set_health(health)
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
