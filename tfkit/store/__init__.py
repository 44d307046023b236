"""tfkit's memory: snapshots, the promotion ledger, health and locks, behind one ``Store``.

Two stores implement it: the local ``.tfkit/`` directory (the embedded default: nothing to run, one
machine) and PostgreSQL (``[store] url`` or ``TFKIT_STORE_URL``: shared by every CI runner, and the
home of Terraform's state for environments that declare no backend). The operations in
``tfkit.workflow`` see only this protocol, opened per operation by ``open_store``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from tfkit.fsutil import sweep_once
from tfkit.store.settings import StoreSettings, store_settings

if TYPE_CHECKING:  # the protocol only names them: the store that is opened imports what it uses
    from tfkit.journal import Journal
    from tfkit.ledger import Health, Ledger, LedgerEntry
    from tfkit.locks import Locks
    from tfkit.project import Project
    from tfkit.snapshots import Snapshot, SnapshotManifest, SnapshotStore

__all__ = ["Store", "StoreSettings", "open_store", "store_settings"]


class Store(Protocol):
    """Where one project's memory lives; close it (or use ``with``) to release its connections."""

    @property
    def settings(self) -> StoreSettings:
        """Where the store is, and the project id its records are keyed by."""
        ...

    @property
    def snapshots(self) -> SnapshotStore:
        """The snapshots."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The promotion ledger and each environment's health."""
        ...

    @property
    def journal(self) -> Journal:
        """Operations that began applying and are not recorded yet (``tfkit.journal``)."""
        ...

    @property
    def locks(self) -> Locks:
        """tfkit's per-environment locks."""
        ...

    def record_apply(
        self, manifest: SnapshotManifest, files: Mapping[str, bytes], entry: LedgerEntry, health: Health
    ) -> Snapshot:
        """Save a snapshot with its ledger entry and the new health together, clearing the environment's
        journal entry (one DB transaction; the local store's commit order is in ``LocalJournal``)."""
        ...

    def close(self) -> None:
        """Release connections and locks."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def open_store(project: Project, settings: StoreSettings | None = None) -> Store:
    """The store ``project`` is configured for (``settings`` overrides, e.g. for ``tfkit store migrate``)."""
    settings = settings or store_settings(project.config, project.root)
    sweep_once()  # a killed run's temporary files go with the next run that opens a store
    if settings.url is None:
        from tfkit.store.local import LocalStore

        return LocalStore(project.state_dir, settings)
    from tfkit.store.postgres import PostgresStore

    return PostgresStore(settings)
