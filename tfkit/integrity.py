"""Whether a stored snapshot may be restored: it is what tfkit recorded, and holds only what it may.

A snapshot's files are checked against the digests in its manifest (``Snapshot.verify``), but the manifest
sits beside them: whoever rewrites a file can rewrite its digest too. So the ledger entry written at apply
time holds the digest of the manifest itself, and with a signing key (``TFKIT_SNAPSHOT_KEY``, a secret:
registered for masking, never printed) an HMAC of it, so that rewriting the ledger as well is detected.
Before a snapshot is restored (rollback, drift, promotion), ``check_recorded`` compares it with its
entry and ``check_contents`` limits what it may bring: files of the environment's directory and of the
modules it recorded, no local data (state, Terraform's data), no override file that declares a backend,
and no value of a variable recorded as sensitive.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from tfkit.bundle import is_local_data
from tfkit.errors import ConfigError, SnapshotError
from tfkit.ledger import LedgerEntry
from tfkit.redact import register_secret
from tfkit.snapshots import Snapshot

__all__ = ["SIGNING_KEY_ENV", "check_contents", "check_recorded", "sign", "signing_key"]

#: The environment variable holding the key that signs each snapshot's manifest digest in the ledger.
SIGNING_KEY_ENV = "TFKIT_SNAPSHOT_KEY"
#: A shorter key is too easy to guess to be worth the name.
MIN_KEY_LENGTH = 16
_OVERRIDE = re.compile(r"(^|_)override\.tf(\.json)?$")
_BACKEND = re.compile(r"\b(backend|cloud)\b")


def signing_key() -> bytes | None:
    """The key from ``TFKIT_SNAPSHOT_KEY``, or ``None`` when unset; a short one is a ``ConfigError``."""
    value = os.environ.get(SIGNING_KEY_ENV)
    if not value:
        return None
    register_secret(value)
    if len(value) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"{SIGNING_KEY_ENV} is too short to sign snapshots (at least {MIN_KEY_LENGTH} characters); "
            "use a random value, e.g. from `openssl rand -hex 32`",
            key=SIGNING_KEY_ENV,
        )
    return value.encode()


def sign(key: bytes, environment: str, snapshot_id: str, digest: str) -> str:
    """The HMAC-SHA256 binding a manifest digest to its snapshot id and environment."""
    message = f"tfkit-snapshot-v1\0{environment}\0{snapshot_id}\0{digest}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _refused(snapshot: Snapshot, why: str) -> SnapshotError:
    return SnapshotError(
        f"refusing snapshot {snapshot.id} of '{snapshot.manifest.environment}': {why}; do not restore from "
        "it (pick another with --to ID)"
    )


def check_recorded(
    snapshot: Snapshot, environment: str, entries: Sequence[LedgerEntry], key: bytes | None
) -> None:
    """Refuse ``snapshot`` unless it is of ``environment`` and matches the ledger entry that recorded it.

    An entry written before tfkit recorded manifest digests carries none: it is accepted without a key
    (there is nothing to compare) and refused with one, as an unsigned entry is.
    """
    if snapshot.manifest.environment != environment:
        raise SnapshotError(
            f"snapshot {snapshot.id} belongs to '{snapshot.manifest.environment}', not '{environment}'"
        )
    entry = next((e for e in reversed(entries) if e.snapshot == snapshot.id), None)
    if entry is None:
        raise _refused(snapshot, "the ledger has no record of it (never recorded as an apply, or planted)")
    if entry.manifest_digest is not None and not hmac.compare_digest(entry.manifest_digest, snapshot.digest):
        raise _refused(snapshot, "its manifest is not the one the ledger recorded when it was applied")
    if key is not None:
        if entry.manifest_digest is None or entry.signature is None:
            raise _refused(snapshot, f"its ledger entry is not signed, and {SIGNING_KEY_ENV} is set")
        expected = sign(key, environment, snapshot.id, entry.manifest_digest)
        if not hmac.compare_digest(entry.signature, expected):
            raise _refused(snapshot, f"its ledger entry's signature does not verify with {SIGNING_KEY_ENV}")
    snapshot.verify()


def check_contents(snapshot: Snapshot, environment_dir: str) -> None:
    """Refuse a snapshot that brings more than a configuration: ``environment_dir`` is the environment's
    directory relative to the repository root (POSIX)."""
    allowed = (environment_dir, *snapshot.manifest.modules)
    for rel in snapshot.bundle():
        pure = PurePosixPath(rel)
        if not any(pure.is_relative_to(top) for top in allowed):
            raise _refused(snapshot, f"{rel} is in neither the environment's directory nor a recorded module")
        if any(is_local_data(part) for part in pure.parts):
            raise _refused(snapshot, f"{rel} is local data (state, Terraform's data), never configuration")
    for rel, data in snapshot.bundle().items():
        if _OVERRIDE.search(PurePosixPath(rel).name) and _BACKEND.search(data.decode("utf-8", "replace")):
            raise _refused(snapshot, f"{rel} is an override file that declares a backend")
    try:
        values = json.loads(snapshot.read("variables.json"))
    except ValueError:
        raise _refused(snapshot, "variables.json is not JSON") from None
    if not isinstance(values, dict):
        raise _refused(snapshot, "variables.json is not a JSON object")
    planted = sorted(set(values) & set(snapshot.manifest.sensitive_variables))
    if planted:
        raise _refused(snapshot, f"variables.json holds a value for sensitive variable '{planted[0]}'")
