"""The promotion ledger and each environment's health.

The ledger records every successful apply (and rollback): which snapshot, the content digest of
each local module, and any override with its reason. Promotion reads it: an environment may only
take a shared module at a digest the previous environment's last successful apply used. Health
records whether the last apply failed: an unstable environment refuses new changes, and promotion
past it, until a rollback or a fixing apply succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tfkit.errors import SnapshotError
from tfkit.fsutil import atomic_write
from tfkit.redact import mask
from tfkit.snapshots import SnapshotWarning, known_fields, typed_record

__all__ = [
    "Health",
    "Ledger",
    "LedgerEntry",
    "LocalLedger",
    "Override",
    "entry_from_dict",
    "health_from_dict",
    "new_entry",
    "new_health",
]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Override:
    """A rule that was explicitly bypassed, and why."""

    rule: str  # "skip-promotion-check" or "allow-unstable"
    reason: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One successful apply or rollback of one environment.

    ``manifest_digest`` is the digest of the snapshot's manifest as written (``snapshots.manifest_digest``)
    and ``signature`` its HMAC when a signing key is configured (``tfkit.integrity``): the ledger is written
    apart from the snapshot, so a snapshot rewritten afterwards no longer matches it.
    """

    id: str
    environment: str
    kind: str
    snapshot: str
    time: str
    modules: Mapping[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    overrides: tuple[Override, ...] = ()
    manifest_digest: str | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class Health:
    """Whether an environment is stable, since when, and why not."""

    environment: str
    status: str  # "stable" or "unstable"
    since: str
    reason: str = ""
    snapshot: str | None = None

    @property
    def stable(self) -> bool:
        """True unless the last apply failed and nothing has fixed it since."""
        return self.status != "unstable"


class Ledger(Protocol):
    """Ledger entries and health records: the local ``.tfkit/`` files or the PostgreSQL store.

    ``record`` and ``set_health`` take the records whole, so a migration copies them exactly.
    """

    def record(self, entry: LedgerEntry) -> LedgerEntry: ...
    def entries(self, environment: str) -> list[LedgerEntry]: ...
    def last(self, environment: str) -> LedgerEntry | None: ...
    def health(self, environment: str) -> Health: ...
    def set_health(self, health: Health) -> Health: ...
    def environments(self) -> list[str]: ...


def new_entry(
    environment: str,
    *,
    kind: str,
    snapshot: str,
    modules: Mapping[str, str],
    git_commit: str | None,
    overrides: Sequence[Override] = (),
    manifest_digest: str | None = None,
    signature: str | None = None,
) -> LedgerEntry:
    """The entry of a successful apply or rollback recorded now (its id is the snapshot's)."""
    return LedgerEntry(
        id=snapshot,
        environment=environment,
        kind=kind,
        snapshot=snapshot,
        time=_now(),
        modules=dict(modules),
        git_commit=git_commit,
        overrides=tuple(overrides),
        manifest_digest=manifest_digest,
        signature=signature,
    )


def new_health(environment: str, *, stable: bool, reason: str = "", snapshot: str | None = None) -> Health:
    """``environment``'s health as of now; the reason is masked (it may quote Terraform's error)."""
    return Health(environment, "stable" if stable else "unstable", _now(), mask(reason), snapshot)


def health_from_dict(raw: object, where: Path | str) -> Health:
    """A health record from its JSON form, each field of its declared type (else ValueError or TypeError)."""
    if not isinstance(raw, Mapping):
        raise TypeError("not a JSON object")
    return typed_record(Health, raw, where, SnapshotWarning)


def entry_from_dict(raw: Mapping[str, object], where: Path | str) -> LedgerEntry:
    """A ledger entry from its JSON form; fields of a newer tfkit are ignored with a warning."""
    overrides = raw.get("overrides", ())
    if isinstance(overrides, list):  # fields of a newer tfkit inside an override are ignored too
        overrides = [
            known_fields(Override, o, where, SnapshotWarning) if isinstance(o, Mapping) else o
            for o in overrides
        ]
    return typed_record(LedgerEntry, {**raw, "overrides": overrides}, where, SnapshotWarning)


class LocalLedger:
    """Ledger entries and health records under ``.tfkit/`` (one file each, written atomically)."""

    def __init__(self, state_dir: Path) -> None:
        self.root = Path(state_dir) / "ledger"
        self.health_dir = Path(state_dir) / "health"

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        """Append ``entry``."""
        atomic_write(
            self.root / entry.environment / f"{entry.id}.json",
            json.dumps(asdict(entry), indent=2, sort_keys=True),
            mode=0o600,
        )
        return entry

    def entries(self, environment: str) -> list[LedgerEntry]:
        """Every entry of ``environment``, oldest first."""
        directory = self.root / environment
        if not directory.is_dir():
            return []
        found = []
        for path in sorted(directory.glob("*.json")):
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(raw, dict):
                    raise TypeError("not a JSON object")
                found.append(entry_from_dict(raw, path))
            except (OSError, ValueError, TypeError) as exc:
                raise SnapshotError(f"{path}: corrupted ledger entry ({exc}); restore or remove it") from None
        return found

    def last(self, environment: str) -> LedgerEntry | None:
        """The newest entry of ``environment``."""
        entries = self.entries(environment)
        return entries[-1] if entries else None

    def health(self, environment: str) -> Health:
        """The recorded health, stable when nothing was ever recorded."""
        path = self.health_dir / f"{environment}.json"
        try:
            return health_from_dict(json.loads(path.read_text(encoding="utf-8")), path)
        except FileNotFoundError:
            return Health(environment, "stable", "")
        except (OSError, ValueError, TypeError) as exc:
            raise SnapshotError(f"{path}: corrupted health record ({exc}); remove it") from None

    def set_health(self, health: Health) -> Health:
        """Record ``health`` as the environment's current health."""
        atomic_write(
            self.health_dir / f"{health.environment}.json", json.dumps(asdict(health), indent=2), mode=0o600
        )
        return health

    def environments(self) -> list[str]:
        """Environments with ledger entries or a health record."""
        names = {p.name for p in self.root.iterdir() if p.is_dir()} if self.root.is_dir() else set()
        if self.health_dir.is_dir():
            names |= {p.stem for p in self.health_dir.glob("*.json")}
        return sorted(names)
