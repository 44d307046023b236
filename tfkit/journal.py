"""The apply journal: a durable record that an apply began, written before Terraform starts.

A run that dies while Terraform applies (SIGKILL, a lost CI runner, a full disk while recording)
would otherwise leave no trace of what it changed. So before Terraform starts, the store durably
records who applies which plan of which environment, and when (the environment is "applying"); a
successful apply turns the entry into snapshot + ledger entry + stable health in one atomic step,
and anything else leaves it visible: every later command on that environment reports the
unfinished apply, and the environment is unstable until a rollback or a fixing apply records.

Stores: PostgreSQL keeps one row per environment (``tfkit.journal``), written with the unstable
health in one transaction and deleted in the transaction that records the apply. The local store
keeps ``.tfkit/journal/<env>.json`` (atomic, fsynced); its commit order and how each crash point is
read are in ``LocalJournal``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

from tfkit.errors import SnapshotError, StoreError
from tfkit.fsutil import atomic_write, fsync_dir
from tfkit.ledger import Health, LocalLedger, new_health
from tfkit.locks import LockHolder
from tfkit.pausepoints import pause_point
from tfkit.redact import mask
from tfkit.snapshots import SnapshotWarning, typed_record

__all__ = [
    "Journal",
    "JournalEntry",
    "LocalJournal",
    "UnfinishedApplyWarning",
    "applying_health",
    "journal_entry",
    "journal_from_dict",
    "local_writes",
    "plan_digest",
]


class UnfinishedApplyWarning(UserWarning):
    """An operation found an unfinished apply in the journal and replaces it (a rollback)."""


def plan_digest(plan_json: bytes) -> str:
    """``sha256:<hex>`` of the plan JSON that is about to be applied."""
    return "sha256:" + hashlib.sha256(plan_json).hexdigest()


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An operation that began applying on an environment and has not been recorded (yet).

    ``commit`` is the snapshot id the recording is writing (local store: how a crash mid-recording is
    told from one before it); ``outcome`` is empty while Terraform runs and says why when it failed.
    """

    environment: str
    operation: str  # apply, rollback, promote, destroy
    plan: str  # plan_digest of the plan being applied
    started: str
    user: str
    pid: int
    host: str
    ci_job: str | None = None
    commit: str | None = None
    outcome: str = ""

    def describe(self) -> str:
        """``apply by alice (pid 12 on ci-3) started 2026-..., CI job ..., plan sha256:0123456789ab``."""
        job = f", CI job {self.ci_job}" if self.ci_job else ""
        state = f"; {self.outcome}" if self.outcome else "; interrupted, never recorded"
        return (
            f"{self.operation} by {self.user} (pid {self.pid} on {self.host}) started {self.started}{job}, "
            f"plan {self.plan[:19]}{state}"
        )


def journal_entry(environment: str, holder: LockHolder, plan: str) -> JournalEntry:
    """The entry of ``holder``'s operation on ``environment``, starting now with plan digest ``plan``."""
    return JournalEntry(
        environment=environment,
        operation=holder.operation,
        plan=plan,
        started=holder.started,
        user=holder.user,
        pid=holder.pid,
        host=holder.host,
        ci_job=holder.ci_job,
    )


def journal_from_dict(raw: object, where: Path | str) -> JournalEntry:
    """A journal entry from its JSON form, each field of its declared type (else ValueError or TypeError)."""
    if not isinstance(raw, dict):
        raise TypeError("not a JSON object")
    return typed_record(JournalEntry, raw, where, SnapshotWarning)


def applying_health(entry: JournalEntry) -> Health:
    """The unstable health written with ``entry``: the environment is applying, or its run died."""
    reason = f"{entry.operation} did not finish: {entry.describe()}"
    return new_health(entry.environment, stable=False, reason=reason)


@contextlib.contextmanager
def local_writes(state_dir: Path) -> Iterator[None]:
    """Writes to the local store that the file system refuses (full, read-only) as one ``StoreError``
    line naming the file, so an apply it cannot record says so (and that it stays unstable)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or state_dir
        raise StoreError(f"cannot write {where}: {exc.strerror or exc}") from None


class Journal(Protocol):
    """The unfinished operations of a project's environments (one entry per environment at most).

    ``begin`` is durable when it returns and also marks the environment unstable; ``fail`` keeps the
    entry and says why; the store's ``record_apply`` (or ``finish``, for an apply that records no
    snapshot) clears it together with the new health. ``pending`` is what every later command reads;
    ``settle`` (under the environment's lock) also completes what a killed local recording left;
    ``health`` is the environment's health as it reads once settled (read-only).
    """

    def begin(self, entry: JournalEntry) -> None: ...
    def fail(self, environment: str, outcome: str) -> None: ...
    def finish(self, health: Health) -> None: ...
    def pending(self, environment: str) -> JournalEntry | None: ...
    def settle(self, environment: str) -> JournalEntry | None: ...
    def health(self, environment: str) -> Health: ...


class LocalJournal:
    """``.tfkit/journal/<env>.json``: one file per environment with an unfinished operation.

    Commit order (each step an atomic, fsynced write or removal):

    1. ``begin``: health "unstable" (naming the run), then the journal file;
    2. ``record_apply``: the journal gains ``commit`` = the new snapshot id, then the snapshot, the
       ledger entry, the stable health, and the journal file is removed.

    Killed after 1 or before the ledger entry of 2: the journal file stays and names the run; the
    environment is unstable (a snapshot without its ledger entry is never read as an apply). Killed
    after the ledger entry: the apply is recorded, so ``settle`` (under the environment's lock)
    completes it, writing the stable health and removing the file; ``pending`` already reads it as
    done. Killed between the stable health and the removal: the health (written after ``begin``'s
    unstable one) says it finished, and ``settle`` removes the file.
    """

    def __init__(self, state_dir: Path, ledger: LocalLedger) -> None:
        self.root = Path(state_dir) / "journal"
        self.ledger = ledger

    def _path(self, environment: str) -> Path:
        return self.root / f"{environment}.json"

    def _read(self, environment: str) -> JournalEntry | None:
        path = self._path(environment)
        try:
            return journal_from_dict(json.loads(path.read_text(encoding="utf-8")), path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            raise SnapshotError(f"{path}: corrupted journal entry ({exc}); remove it") from None

    def _write(self, entry: JournalEntry) -> None:
        atomic_write(self._path(entry.environment), json.dumps(asdict(entry), indent=2), mode=0o600)

    def _remove(self, environment: str) -> None:
        self._path(environment).unlink(missing_ok=True)
        fsync_dir(self.root)

    def begin(self, entry: JournalEntry) -> None:
        """Mark the environment unstable, then write the entry (both durable when this returns)."""
        with local_writes(self.root):
            self.ledger.set_health(applying_health(entry))
            self._write(entry)

    def fail(self, environment: str, outcome: str) -> None:
        """Keep the entry, saying why the operation did not finish."""
        entry = self._read(environment)
        if entry is not None:
            with local_writes(self.root):
                self._write(replace(entry, outcome=mask(outcome)))

    def committing(self, environment: str, snapshot: str) -> None:
        """Note the snapshot id being recorded (the first step of ``LocalStore.record_apply``)."""
        entry = self._read(environment)
        if entry is not None:
            self._write(replace(entry, commit=snapshot))

    def finish(self, health: Health) -> None:
        """The operation succeeded: write ``health``, then remove the entry."""
        with local_writes(self.root):
            self.ledger.set_health(health)
            pause_point("record:health")
            self._remove(health.environment)

    def _done(self, entry: JournalEntry) -> bool:
        """Whether the recording of ``entry`` got far enough to count (see the commit order)."""
        entries = self.ledger.entries(entry.environment) if entry.commit is not None else []
        if any(e.id == entry.commit for e in entries):
            return True
        return self.ledger.health(entry.environment).stable

    def pending(self, environment: str) -> JournalEntry | None:
        """The unfinished operation on ``environment``, or None (also when only its cleanup was cut short)."""
        entry = self._read(environment)
        return None if entry is None or self._done(entry) else entry

    def _completed(self, entry: JournalEntry) -> Health:
        return new_health(
            entry.environment, stable=True, reason=f"{entry.operation} succeeded", snapshot=entry.commit
        )

    def health(self, environment: str) -> Health:
        """The recorded health; stable when a killed recording got past its ledger entry (read-only)."""
        health = self.ledger.health(environment)
        if health.stable:
            return health
        entry = self._read(environment)
        return self._completed(entry) if entry is not None and self._done(entry) else health

    def settle(self, environment: str) -> JournalEntry | None:
        """``pending``, after completing a recording cut short past its ledger entry (under the lock)."""
        entry = self._read(environment)
        if entry is None:
            return None
        if not self._done(entry):
            return entry
        if not self.ledger.health(environment).stable:
            self.ledger.set_health(self._completed(entry))
        self._remove(environment)
        return None
