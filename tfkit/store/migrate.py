"""Copy tfkit's memory from one store to another (``tfkit store migrate``), verified and safe to re-run.

For each environment, under both stores' locks (no apply can record meanwhile): every snapshot the target
lacks is read from the source with its digests checked and saved in the target, then every missing ledger
entry, then the health record and an unfinished apply (the journal's entry). Snapshots go before ledger
entries, so an interrupted migration never leaves an entry whose snapshot is missing; a re-run skips what
is already there by id and completes it. A record present on both sides with different content is a
conflict, never overwritten. Afterwards every copied snapshot is read back and checked file by file
against the source's digests, and the counts are compared.

Terraform's own state is moved by the ``state`` step the caller passes (``tfkit.state_move``, which needs
the engine), run for each environment under the same locks, after its records.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tfkit.errors import ConfigError, SnapshotError
from tfkit.ledger import Health, LedgerEntry
from tfkit.snapshots import Snapshot
from tfkit.store import Store

__all__ = ["EnvironmentMigration", "MigrationReport", "migrate", "stored_environments"]


@dataclass(frozen=True, slots=True)
class EnvironmentMigration:
    """What the migration did for one environment, and what the target holds afterwards."""

    environment: str
    snapshots_copied: int
    snapshots_present: int
    entries_copied: int
    entries_present: int
    health: str  # "copied", "unchanged", "none recorded", "kept the target's newer record"
    snapshots_in_target: int
    entries_in_target: int
    state: str = ""  # what the state step did ("" when it did not run)
    unfinished: bool = False  # whether an unfinished apply (the journal's entry) was copied

    def one_line(self) -> str:
        """``staging: snapshots 2 copied, 1 already there; ledger entries ...; health copied``."""
        line = (
            f"{self.environment}: snapshots {self.snapshots_copied} copied, {self.snapshots_present} already "
            f"there; ledger entries {self.entries_copied} copied, {self.entries_present} already there; "
            f"health {self.health}"
        )
        if self.unfinished:
            line += "; its unfinished apply copied"
        return f"{line}; Terraform state: {self.state}" if self.state else line


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """The outcome of ``migrate``: one record per environment, source and target for messages."""

    source: str
    target: str
    environments: tuple[EnvironmentMigration, ...]

    @property
    def snapshots_copied(self) -> int:
        """Snapshots copied by this run (0 on a re-run that found everything)."""
        return sum(e.snapshots_copied for e in self.environments)

    @property
    def entries_copied(self) -> int:
        """Ledger entries copied by this run."""
        return sum(e.entries_copied for e in self.environments)


def stored_environments(store: Store) -> list[str]:
    """Every environment ``store`` holds a snapshot, ledger entry or health record of."""
    return sorted(set(store.snapshots.environments()) | set(store.ledger.environments()))


def migrate(
    source: Store,
    target: Store,
    environments: Iterable[str],
    *,
    lock_timeout: float = 0.0,
    state: Callable[[str], str] | None = None,
) -> MigrationReport:
    """Copy the snapshots, ledger entries and health of ``environments`` from ``source`` to ``target``.

    ``state(name)``, when given, moves the environment's Terraform state under the same locks and
    returns a one-line outcome (``""``: nothing to do for it).

    Raises ``SnapshotError`` when a source snapshot fails its digests, when a record with the same id holds
    different content in the target, or when the read-back after the copy differs; ``LockHeldError`` when a
    run holds an environment's lock in either store.
    """
    if _same_store(source, target):
        raise ConfigError(f"the target is the store in use already ({source.settings.describe()})")
    done = []
    for name in sorted(set(environments)):
        with contextlib.ExitStack() as locks:
            locks.enter_context(source.locks.hold(name, "migrate", timeout=lock_timeout))
            locks.enter_context(target.locks.hold(name, "migrate", timeout=lock_timeout))
            moved = _migrate_environment(source, target, name)
            if state is not None:
                moved = dataclasses.replace(moved, state=state(name))
            done.append(moved)
    return MigrationReport(source.settings.describe(), target.settings.describe(), tuple(done))


def _same_store(source: Store, target: Store) -> bool:
    a, b = source.settings, target.settings
    if a.url is None and b.url is None:
        return getattr(source, "state_dir", None) == getattr(target, "state_dir", None)
    return a.describe() == b.describe() and a.project == b.project


def _migrate_environment(source: Store, target: Store, name: str) -> EnvironmentMigration:
    snapshots = source.snapshots.list(name)
    present = {s.id: s for s in target.snapshots.list(name)}
    copied = 0
    for snapshot in snapshots:
        if snapshot.id in present:
            _check_same(snapshot, present[snapshot.id])
            continue
        snapshot.verify()
        files = {file: snapshot.read(file) for file in snapshot.manifest.files}
        target.snapshots.save(snapshot.manifest, files)
        copied += 1

    entries = source.ledger.entries(name)
    have = {e.id: e for e in target.ledger.entries(name)}
    entries_copied = 0
    for entry in entries:
        if entry.id in have:
            _check_entry(entry, have[entry.id])
            continue
        target.ledger.record(entry)
        entries_copied += 1

    health = _copy_health(source.ledger.health(name), target)
    unfinished = _copy_unfinished(source, target, name)
    _verify(target, name, snapshots, entries)
    return EnvironmentMigration(
        environment=name,
        snapshots_copied=copied,
        snapshots_present=len(snapshots) - copied,
        entries_copied=entries_copied,
        entries_present=len(entries) - entries_copied,
        health=health,
        snapshots_in_target=len(target.snapshots.list(name)),
        entries_in_target=len(target.ledger.entries(name)),
        unfinished=unfinished,
    )


def _check_same(snapshot: Snapshot, there: Snapshot) -> None:
    """A snapshot already in the target must be the same snapshot: same manifest, same digests."""
    if there.manifest.to_json() != snapshot.manifest.to_json():
        raise SnapshotError(
            f"snapshot {snapshot.id} of '{snapshot.manifest.environment}' is already in the target with a "
            "different manifest; resolve the conflict before migrating"
        )


def _check_entry(entry: LedgerEntry, there: LedgerEntry) -> None:
    if there != entry:
        raise SnapshotError(
            f"ledger entry {entry.id} of '{entry.environment}' is already in the target with different "
            "content; resolve the conflict before migrating"
        )


def _copy_health(health: Health, target: Store) -> str:
    """Copy a recorded health unless the target holds the same or a newer record of its own."""
    if not health.since:
        return "none recorded"
    current = target.ledger.health(health.environment)
    if current == health:
        return "unchanged"
    if current.since and current.since > health.since:
        return "kept the target's newer record"
    target.ledger.set_health(health)
    return "copied"


def _copy_unfinished(source: Store, target: Store, name: str) -> bool:
    """Copy the source's unfinished apply (its journal entry), keeping the health the target now has."""
    entry = source.journal.pending(name)
    if entry is None or target.journal.pending(name) == entry:
        return False
    health = target.ledger.health(name)
    target.journal.begin(entry)  # also marks the environment unstable: put the copied record back
    if health.since:
        target.ledger.set_health(health)
    return True


def _verify(target: Store, name: str, snapshots: list[Snapshot], entries: list[LedgerEntry]) -> None:
    """Read every source snapshot back from the target (digests checked) and compare records and counts."""
    for snapshot in snapshots:
        copy = target.snapshots.get(snapshot.id)
        copy.verify()
        if copy.manifest.to_json() != snapshot.manifest.to_json():
            raise SnapshotError(f"snapshot {snapshot.id}: the copy's manifest differs from the source's")
        for file, digest in snapshot.manifest.files.items():
            if copy.manifest.files.get(file) != digest:
                raise SnapshotError(f"snapshot {snapshot.id}: {file} differs after the copy")
    in_target = {e.id: e for e in target.ledger.entries(name)}
    missing = [e.id for e in entries if in_target.get(e.id) != e]
    if missing:
        raise SnapshotError(f"ledger entry {missing[0]} of '{name}' is missing or different after the copy")
    ids = {s.id for s in target.snapshots.list(name)}
    if not ids >= {s.id for s in snapshots}:
        raise SnapshotError(f"'{name}': the target lists fewer snapshots than were copied")
