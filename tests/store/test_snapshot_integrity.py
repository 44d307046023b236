"""Tamper evidence on both stores: a snapshot is restored only as the ledger recorded it.

Each attack rewrites a snapshot the way issue 19 found it possible: a file together with its digest in the
manifest (so ``Snapshot.verify`` alone is satisfied), the ledger entry as well, or a manifest of another
environment put in this one's place. ``check_recorded`` must refuse each; ``check_contents`` refuses a
snapshot carrying more than a configuration.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from storecase import FILES, StoreCase, manifest

from tfkit.errors import ConfigError, SnapshotError
from tfkit.integrity import SIGNING_KEY_ENV, check_contents, check_recorded, sign, signing_key
from tfkit.ledger import LedgerEntry, new_entry, new_health
from tfkit.snapshots import Snapshot, SnapshotManifest, manifest_digest, seal

KEY = b"k" * 32
VARS = {**FILES, "variables.json": b'{"size": 1}'}


def record(
    case: StoreCase, files: Mapping[str, bytes], key: bytes | None = None, m: SnapshotManifest | None = None
) -> Snapshot:
    """Record a snapshot as ``tfkit.recording`` does: sealed manifest, its digest (signed) in the entry."""
    sealed = seal(m or manifest(sensitive_variables=("db_password",)), files)
    digest = manifest_digest(sealed.to_json())
    signature = sign(key, sealed.environment, sealed.id, digest) if key else None
    entry = new_entry(
        sealed.environment,
        kind="apply",
        snapshot=sealed.id,
        modules={},
        git_commit=None,
        manifest_digest=digest,
        signature=signature,
    )
    health = new_health(sealed.environment, stable=True)
    return case.store.record_apply(sealed, files, entry, health)


def rewrite(case: StoreCase, snapshot: Snapshot, name: str, data: bytes) -> SnapshotManifest:
    """Replace file ``name`` and its digest in the manifest, as an attacker with write access would."""
    files = {n: snapshot.read(n) for n in snapshot.manifest.files} | {name: data}
    forged = seal(snapshot.manifest, files)
    if case.kind == "local":
        assert snapshot.path is not None
        target = snapshot.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        (snapshot.path / "manifest.json").write_bytes(forged.to_json())
        return forged
    digest = forged.files[name]
    with psycopg.connect(case.where, autocommit=True) as conn:
        project = case.settings.project
        conn.execute(
            "INSERT INTO tfkit.blobs (sha256, size, data) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (digest, len(data), data),
        )
        conn.execute(
            "INSERT INTO tfkit.snapshot_files (project, snapshot_id, name, sha256) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (project, snapshot_id, name) DO UPDATE SET sha256 = EXCLUDED.sha256",
            (project, snapshot.id, name, digest),
        )
        conn.execute(
            "UPDATE tfkit.snapshots SET manifest = %s WHERE project = %s AND id = %s",
            (forged.to_json(), project, snapshot.id),
        )
    return forged


def rewrite_entry(case: StoreCase, entry: LedgerEntry) -> None:
    """Replace a ledger entry (the attacker rewrites the ledger too)."""
    if case.kind == "local":
        path = Path(case.where) / "ledger" / entry.environment / f"{entry.id}.json"
        raw = json.loads(path.read_text()) | {"manifest_digest": entry.manifest_digest}
        path.write_text(json.dumps(raw))
        return
    case.store.ledger.record(entry)


def check(case: StoreCase, snapshot_id: str, key: bytes | None = None, env: str = "staging") -> None:
    snapshot = case.reopen().snapshots.get(snapshot_id)
    check_recorded(snapshot, env, case.store.ledger.entries(env), key)


def test_an_untouched_snapshot_is_accepted_with_and_without_a_key(case: StoreCase) -> None:
    plain = record(case, VARS)
    signed = record(case, VARS, KEY)
    check(case, plain.id)
    check(case, signed.id, KEY)
    assert case.reopen().snapshots.get(signed.id).digest == signed.digest != ""


def test_a_file_rewritten_with_its_digest_is_refused(case: StoreCase) -> None:
    snap = record(case, VARS)
    rewrite(case, snap, "variables.json", b'{"db_password": "planted"}')
    case.reopen().snapshots.get(snap.id).verify()  # the manifest alone is satisfied ...
    with pytest.raises(
        SnapshotError, match=r"is not the one the ledger recorded .*pick another with --to ID"
    ):
        check(case, snap.id)  # ... the ledger is not


def test_a_planted_file_listed_in_the_manifest_is_refused(case: StoreCase) -> None:
    snap = record(case, VARS)
    rewrite(case, snap, "bundle/envs/staging/exec.tf", b'resource "terraform_data" "x" {}\n')
    with pytest.raises(SnapshotError, match="is not the one the ledger recorded"):
        check(case, snap.id)


def test_rewriting_the_ledger_too_is_caught_only_by_the_signature(case: StoreCase) -> None:
    snap = record(case, VARS, KEY)
    forged = rewrite(case, snap, "variables.json", b'{"size": 99}')
    old = next(e for e in case.store.ledger.entries("staging") if e.snapshot == snap.id)
    rewrite_entry(case, replace(old, manifest_digest=manifest_digest(forged.to_json())))
    check(case, snap.id)  # without the key, a consistent rewrite of all three cannot be told
    with pytest.raises(SnapshotError, match=f"signature does not verify with {SIGNING_KEY_ENV}"):
        check(case, snap.id, KEY)


def test_with_a_key_an_unsigned_entry_is_refused(case: StoreCase) -> None:
    snap = record(case, VARS)
    with pytest.raises(SnapshotError, match="ledger entry is not signed"):
        check(case, snap.id, KEY)


def test_a_snapshot_the_ledger_never_recorded_is_refused(case: StoreCase) -> None:
    snap = case.store.snapshots.save(manifest(), VARS)  # a run killed before its ledger entry
    with pytest.raises(SnapshotError, match="the ledger has no record of it"):
        check(case, snap.id)


def test_a_snapshot_of_another_environment_is_refused(case: StoreCase) -> None:
    dev = record(case, VARS, m=manifest("dev"))
    with pytest.raises(SnapshotError, match="belongs to 'dev', not 'staging'"):
        check(case, dev.id)
    # the manifest of dev's snapshot put in staging's place
    if case.kind == "local":
        assert dev.path is not None
        shutil.copytree(dev.path, dev.path.parent.parent / "staging" / dev.id)
        shutil.rmtree(dev.path)
    else:
        with psycopg.connect(case.where, autocommit=True) as conn:
            conn.execute(
                "UPDATE tfkit.snapshots SET environment = 'staging' WHERE project = %s AND id = %s",
                (case.settings.project, dev.id),
            )
    with pytest.raises(SnapshotError, match=r"manifest describes snapshot .* of 'dev' but is stored as"):
        case.reopen().snapshots.get(dev.id)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "bundle/envs/staging/zz_override.tf",
            b'terraform {\n  backend "local" {}\n}\n',
            "declares a backend",
        ),
        ("bundle/envs/staging/terraform.tfstate", b"{}", "is local data"),
        ("bundle/envs/staging/.terraform/x", b"{}", "is local data"),
        ("bundle/elsewhere/main.tf", b"", "in neither the environment's directory nor a recorded module"),
        ("variables.json", b'{"db_password": "planted"}', "value for sensitive variable 'db_password'"),
        ("variables.json", b"[1]", "variables.json is not a JSON object"),
    ],
)
def test_a_snapshot_may_hold_only_a_configuration(
    case: StoreCase, name: str, content: bytes, message: str
) -> None:
    snap = record(case, {**VARS, name: content})
    check(case, snap.id)  # recorded as it is: only its content is wrong
    with pytest.raises(SnapshotError, match=message):
        check_contents(case.reopen().snapshots.get(snap.id), "envs/staging")


def test_the_signing_key_is_a_secret_and_must_not_be_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    assert signing_key() is None
    monkeypatch.setenv(SIGNING_KEY_ENV, "short-key")
    with pytest.raises(ConfigError, match="too short") as short:
        signing_key()
    assert "short-key" not in str(short.value)
    monkeypatch.setenv(SIGNING_KEY_ENV, "a-long-enough-signing-key")
    assert signing_key() == b"a-long-enough-signing-key"
    from tfkit.redact import mask

    assert "a-long-enough-signing-key" not in mask("key a-long-enough-signing-key")
