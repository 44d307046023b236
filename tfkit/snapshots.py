"""Snapshots: what an environment looked like after each successful, gated apply.

A snapshot holds a manifest (ids, time, git commit, tfkit and Terraform versions, the state's
lineage and serial, the digest of every file), the configuration bundle (the environment directory
and its local modules), the non-sensitive variable values, the redacted plan JSON and the gate
result. Sensitive variable values are never stored: rollback reads them again from their sources.
The full state is stored only encrypted (Fernet), and only when a key is configured.

Writes are atomic as a whole: the snapshot is assembled in a hidden temporary directory (each file
fsynced, owner-only permissions) and renamed into place, so a reader sees a complete snapshot or
none. Every file's sha256 is in the manifest and checked on read.

DESIGN.md puts the store, the ledger and health in one module; they are split by responsibility:
this module (the store), ``ledger`` (ledger and health), ``locks``, ``bundle`` and ``promotion``.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import secrets as _random
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from tfkit.errors import SnapshotError
from tfkit.fsutil import atomic_write, fsync_dir, process_alive

__all__ = [
    "DirectoryFiles",
    "LocalSnapshotStore",
    "Snapshot",
    "SnapshotFiles",
    "SnapshotManifest",
    "SnapshotStore",
    "SnapshotWarning",
    "check_placement",
    "known_fields",
    "manifest_digest",
    "new_snapshot_id",
    "seal",
    "typed_record",
]

MANIFEST = "manifest.json"
_T = TypeVar("_T")
BUNDLE_PREFIX = "bundle/"


def new_snapshot_id(now: datetime | None = None) -> str:
    """A sortable, unique id: UTC time plus a random suffix (``20261125T221530Z-3f9a1c``)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{_random.token_hex(3)}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_digest(data: bytes) -> str:
    """The digest of a manifest's stored bytes: what the ledger records at apply time (tamper evidence)."""
    return _sha256(data)


def seal(manifest: SnapshotManifest, files: Mapping[str, bytes]) -> SnapshotManifest:
    """``manifest`` with the sha256 of every file in ``files``: the manifest a store writes for them."""
    return replace(manifest, files={name: _sha256(data) for name, data in files.items()})


@dataclass(frozen=True, slots=True)
class SnapshotManifest:
    """Everything known about a snapshot without reading its files."""

    id: str
    environment: str
    kind: str  # "apply", "rollback" or "promote"
    created: str
    tfkit_version: str
    terraform_version: str
    engine: str
    lineage: str | None
    serial: int | None
    git_commit: str | None = None
    modules: Mapping[str, str] = field(default_factory=dict)
    config_digest: str = ""
    sensitive_variables: tuple[str, ...] = ()
    state_encrypted: bool = False
    restored_from: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The manifest as stable, indented JSON."""
        data = asdict(self)
        data["sensitive_variables"] = list(self.sensitive_variables)
        return json.dumps(data, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, where: Path | str) -> SnapshotManifest:
        """Parse a manifest; a broken one is a ``SnapshotError`` naming the file.

        A field this tfkit does not know (written by a newer tfkit) is ignored with a
        ``SnapshotWarning``: the fields it knows still describe the snapshot.
        """
        try:
            raw = json.loads(data)
            if not isinstance(raw, dict):
                raise TypeError("not a JSON object")
            return typed_record(cls, raw, where, SnapshotWarning)
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"{where}: corrupted snapshot manifest ({exc}); remove it") from None


class SnapshotFiles(Protocol):
    """Where a snapshot's files are read from (a directory, or a database's blobs)."""

    def read_file(self, name: str) -> bytes:
        """The stored bytes of file ``name`` (unverified); ``SnapshotError`` if unreadable."""
        ...

    def file_names(self) -> builtins.set[str]:
        """Every file stored for the snapshot, manifest excluded (to find planted extras)."""
        ...


@dataclass(frozen=True, slots=True)
class DirectoryFiles:
    """A snapshot's files in a directory of the local store."""

    path: Path

    def read_file(self, name: str) -> bytes:
        """The file's bytes."""
        try:
            return (self.path / name).read_bytes()
        except OSError as exc:
            raise SnapshotError(f"cannot read {name}: {exc.strerror or exc}") from None

    def file_names(self) -> builtins.set[str]:
        """Every regular file below the directory except the manifest."""
        names = {p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file()}
        return names - {MANIFEST}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A stored snapshot; every read checks the file's digest against the manifest.

    ``files`` reads the stored bytes, wherever the store keeps them; ``path`` is the snapshot's directory
    in the local store (``None`` in a database); ``digest`` is ``manifest_digest`` of the manifest's
    stored bytes, compared with the ledger's record before a snapshot is restored.
    """

    manifest: SnapshotManifest
    files: SnapshotFiles
    path: Path | None = None
    digest: str = ""

    @property
    def id(self) -> str:
        """The snapshot's id."""
        return self.manifest.id

    def read(self, name: str) -> bytes:
        """The content of file ``name``, verified against its digest."""
        expected = self.manifest.files.get(name)
        if expected is None:
            raise SnapshotError(f"snapshot {self.id} has no file {name}")
        try:
            data = self.files.read_file(name)
        except SnapshotError as exc:
            raise SnapshotError(f"snapshot {self.id}: {exc}") from None
        if _sha256(data) != expected:
            raise SnapshotError(
                f"snapshot {self.id}: {name} does not match its digest (tampered with or corrupted); "
                "do not restore from this snapshot"
            )
        return data

    def verify(self) -> None:
        """Check every file's digest (raises ``SnapshotError`` on the first mismatch)."""
        for name in self.manifest.files:
            self.read(name)
        extra = self.files.file_names() - set(self.manifest.files)
        if extra:
            raise SnapshotError(f"snapshot {self.id}: unexpected file {sorted(extra)[0]} (tampered with)")

    def size(self) -> int:
        """The bytes of every file (verified)."""
        return sum(len(self.read(name)) for name in self.manifest.files)

    def bundle(self) -> dict[str, bytes]:
        """The configuration bundle: ``{path relative to the repository root: content}``."""
        return {
            name.removeprefix(BUNDLE_PREFIX): self.read(name)
            for name in self.manifest.files
            if name.startswith(BUNDLE_PREFIX)
        }

    def json(self, name: str) -> Any:
        """A JSON file of the snapshot, decoded."""
        return json.loads(self.read(name))

    def state(self, key: bytes | None) -> bytes:
        """The full state, decrypted with ``key``; raises if none was stored or the key is wrong."""
        if not self.manifest.state_encrypted:
            raise SnapshotError(f"snapshot {self.id} holds no state (no encryption key was configured)")
        if key is None:
            raise SnapshotError(
                f"snapshot {self.id} holds an encrypted state; set the encryption key it was written with"
            )
        from cryptography.fernet import Fernet, InvalidToken

        try:
            return Fernet(key).decrypt(self.read("state.enc"))
        except (InvalidToken, ValueError):
            raise SnapshotError(
                f"snapshot {self.id}: the encryption key does not decrypt the state"
            ) from None


def check_placement(
    manifest: SnapshotManifest, environment: str, snapshot_id: str, where: Path | str
) -> None:
    """A manifest must describe the snapshot it is stored as: one of ``dev`` in staging's place is refused."""
    if (manifest.environment, manifest.id) != (environment, snapshot_id):
        raise SnapshotError(
            f"{where}: the manifest describes snapshot {manifest.id} of '{manifest.environment}' but is "
            f"stored as {snapshot_id} of '{environment}' (moved or tampered with); do not restore from it"
        )


class SnapshotWarning(UserWarning):
    """A snapshot that cannot be read was skipped, or a record holds fields from a newer tfkit."""


def known_fields(
    cls: type[Any], raw: Mapping[str, Any], where: Path | str, category: type[Warning]
) -> dict[str, Any]:
    """The entries of ``raw`` that are fields of dataclass ``cls``; unknown ones are warned about, once.

    Records are read by the tfkit that wrote them and by newer and older ones: a newer tfkit may
    add a field, and an older one must still read what it knows rather than call the record corrupted.
    """
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        warnings.warn(
            f"{where}: ignoring field(s) {', '.join(unknown)} (written by a newer tfkit?)",
            category,
            stacklevel=3,
        )
    return {k: v for k, v in raw.items() if k in names}


def typed_record(cls: type[_T], raw: Mapping[str, Any], where: Path | str, category: type[Warning]) -> _T:
    """Dataclass ``cls`` from the known fields of ``raw`` (see ``known_fields``), each of its declared type.

    A record whose field has the wrong type (``"modules": "x"``) raises ``ValueError`` here, naming the
    field, rather than failing later wherever the field is used.
    """
    try:
        return msgspec.convert(known_fields(cls, raw, where, category), cls)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None


class SnapshotStore(Protocol):
    """Where snapshots live: the local ``.tfkit/snapshots`` or the PostgreSQL store.

    ``save`` fills in the manifest's file digests and writes the snapshot atomically as a whole.
    """

    def save(self, manifest: SnapshotManifest, files: Mapping[str, bytes]) -> Snapshot: ...
    def list(self, environment: str) -> builtins.list[Snapshot]: ...
    def get(self, snapshot_id: str) -> Snapshot: ...
    def latest(self, environment: str) -> Snapshot | None: ...
    def prune(self, environment: str, keep: int) -> builtins.list[str]: ...
    def environments(self) -> builtins.list[str]: ...


class LocalSnapshotStore:
    """Snapshots under ``<root>/<env>/<id>/`` (``root`` is ``.tfkit/snapshots``), owner-only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save(self, manifest: SnapshotManifest, files: Mapping[str, bytes]) -> Snapshot:
        """Write ``files`` and the manifest (with their digests) atomically as one snapshot."""
        env_dir = self.root / manifest.environment
        env_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)  # noqa: PTH101
        final_manifest = seal(manifest, files)
        manifest_bytes = final_manifest.to_json()
        tmp = env_dir / f".tmp-{manifest.id}-{os.getpid()}"
        try:
            tmp.mkdir(mode=0o700)
            for name, data in files.items():
                atomic_write(tmp / name, data, mode=0o600, sync_dir=False)
            atomic_write(tmp / MANIFEST, manifest_bytes, mode=0o600, sync_dir=False)
            for directory in (tmp, *(d for d in tmp.rglob("*") if d.is_dir())):
                directory.chmod(0o700)
                fsync_dir(directory)
            tmp.rename(env_dir / manifest.id)
            fsync_dir(env_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final_path = env_dir / manifest.id
        digest = manifest_digest(manifest_bytes)
        return Snapshot(final_manifest, DirectoryFiles(final_path), final_path, digest)

    def _load(self, path: Path) -> Snapshot:
        try:
            data = (path / MANIFEST).read_bytes()
        except OSError:
            raise SnapshotError(f"{path}: snapshot has no readable manifest; remove it") from None
        manifest = SnapshotManifest.from_json(data, path / MANIFEST)
        check_placement(manifest, path.parent.name, path.name, path)
        return Snapshot(manifest, DirectoryFiles(path), path, manifest_digest(data))

    def list(self, environment: str) -> builtins.list[Snapshot]:
        """The snapshots of ``environment``, oldest first (incomplete writes are ignored)."""
        env_dir = self.root / environment
        if not env_dir.is_dir():
            return []
        found = []
        for path in sorted(env_dir.iterdir()):
            if not path.is_dir() or path.name.startswith("."):
                continue
            try:
                found.append(self._load(path))
            except SnapshotError as exc:
                warnings.warn(f"skipping an unreadable snapshot: {exc}", SnapshotWarning, stacklevel=2)
        return found

    def get(self, snapshot_id: str) -> Snapshot:
        """The snapshot with ``snapshot_id`` in any environment."""
        plain = snapshot_id and not snapshot_id.startswith(".") and not {"/", "\0"} & set(snapshot_id)
        if plain and self.root.is_dir():
            for env_dir in sorted(self.root.iterdir()):
                candidate = env_dir / snapshot_id
                if candidate.is_dir():
                    return self._load(candidate)
        raise SnapshotError(f"no snapshot with id '{snapshot_id}'; see `tfkit snapshots list --env ENV`")

    def latest(self, environment: str) -> Snapshot | None:
        """The newest snapshot of ``environment`` (every snapshot passed the gate), if any."""
        found = self.list(environment)
        return found[-1] if found else None

    def environments(self) -> builtins.list[str]:
        """The environments that have a snapshot folder."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def prune(self, environment: str, keep: int) -> builtins.list[str]:
        """Delete all but the newest ``keep`` snapshots and leftovers of interrupted writes."""
        env_dir = self.root / environment
        removed: builtins.list[str] = []
        if env_dir.is_dir():
            for leftover in env_dir.glob(".tmp-*"):
                pid = leftover.name.rsplit("-", 1)[-1]
                if not (pid.isdigit() and process_alive(int(pid))):
                    shutil.rmtree(leftover, ignore_errors=True)
        snapshots = self.list(environment)
        for snapshot in snapshots[: max(0, len(snapshots) - keep)]:
            assert snapshot.path is not None
            shutil.rmtree(snapshot.path)
            removed.append(snapshot.id)
        return removed
