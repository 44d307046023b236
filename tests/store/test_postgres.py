"""The PostgreSQL store's own guarantees: shared blobs, verified reads, projects apart, atomic applies."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from storecase import FILES, REPO, entry, manifest, pg_settings

import tfkit.store.pg_ledger as pg_ledger
import tfkit.store.postgres as postgres_module
from tfkit.errors import SnapshotError, StoreError
from tfkit.ledger import Health, new_health
from tfkit.store.postgres import PostgresStore


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _count(url: str, query: str, *args: object) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, args).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def test_blobs_are_stored_once_however_many_snapshots_share_them(
    pg_store: PostgresStore, pg_url: str
) -> None:
    unique = {**FILES, "plan.json": f'{{"test": "{pg_store.settings.project}"}}'.encode()}
    first = pg_store.snapshots.save(manifest(), unique)
    second = pg_store.snapshots.save(manifest("production"), unique)
    with PostgresStore(pg_settings(pg_url)) as other_project:
        other_project.snapshots.save(manifest(), unique)
    digest = _sha(unique["plan.json"])
    assert _count(pg_url, "SELECT count(*) FROM tfkit.blobs WHERE sha256 = %s", digest) == 1
    assert _count(pg_url, "SELECT count(*) FROM tfkit.snapshot_files WHERE sha256 = %s", digest) == 3
    assert first.read("plan.json") == second.read("plan.json") == unique["plan.json"]


def test_the_manifest_is_kept_byte_for_byte(pg_store: PostgresStore, pg_url: str) -> None:
    snap = pg_store.snapshots.save(manifest(), FILES)
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT manifest FROM tfkit.snapshots WHERE project = %s AND id = %s",
            (pg_store.settings.project, snap.id),
        ).fetchone()
    assert row is not None and bytes(row[0]) == snap.manifest.to_json()
    assert snap.path is None


def test_a_corrupted_blob_is_detected_on_read(pg_store: PostgresStore, pg_url: str) -> None:
    content = f"variable {pg_store.settings.project}".encode()
    snap = pg_store.snapshots.save(manifest(), {**FILES, "variables.json": content})
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE tfkit.blobs SET data = %s WHERE sha256 = %s", (b"tampered", _sha(content)))
    with pytest.raises(SnapshotError, match=f"snapshot {snap.id}: variables.json: corrupted blob") as info:
        pg_store.snapshots.get(snap.id).read("variables.json")
    assert info.value.exit_code == 2
    with pytest.raises(SnapshotError, match="corrupted blob"):
        pg_store.snapshots.get(snap.id).verify()
    assert pg_store.snapshots.get(snap.id).read("plan.json") == b"{}"  # the other files are fine


def test_a_mistyped_health_record_is_one_line_not_a_crash(pg_store: PostgresStore, pg_url: str) -> None:
    pg_store.ledger.set_health(new_health("dev", stable=False, reason="apply failed"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE tfkit.health SET record = jsonb_set(record, '{status}', '1') WHERE project = %s",
            (pg_store.settings.project,),
        )
    with pytest.raises(SnapshotError, match="corrupted health record") as info:
        pg_store.ledger.health("dev")
    assert info.value.exit_code == 2


def test_a_file_planted_in_the_index_is_detected(pg_store: PostgresStore, pg_url: str) -> None:
    snap = pg_store.snapshots.save(manifest(), FILES)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO tfkit.snapshot_files (project, snapshot_id, name, sha256) VALUES (%s, %s, %s, %s)",
            (pg_store.settings.project, snap.id, "bundle/evil.tf", _sha(FILES["plan.json"])),
        )
    with pytest.raises(SnapshotError, match=r"unexpected file bundle/evil\.tf"):
        pg_store.snapshots.get(snap.id).verify()


def test_pruning_collects_only_blobs_nobody_refers_to(pg_store: PostgresStore, pg_url: str) -> None:
    tag = pg_store.settings.project
    only_old, shared = f"old {tag}".encode(), f"shared {tag}".encode()
    old = pg_store.snapshots.save(manifest(), {"a": only_old, "b": shared})
    with PostgresStore(pg_settings(pg_url)) as other_project:
        other_project.snapshots.save(manifest(), {"b": shared})
    pg_store.snapshots.save(manifest(), {"c": f"new {tag}".encode()})
    assert pg_store.snapshots.prune("staging", 1) == [old.id]
    assert _count(pg_url, "SELECT count(*) FROM tfkit.blobs WHERE sha256 = %s", _sha(only_old)) == 0
    assert _count(pg_url, "SELECT count(*) FROM tfkit.blobs WHERE sha256 = %s", _sha(shared)) == 1
    assert _count(pg_url, "SELECT count(*) FROM tfkit.snapshot_files WHERE snapshot_id = %s", old.id) == 0


def test_projects_sharing_a_database_see_only_their_own_records(pg_store: PostgresStore, pg_url: str) -> None:
    m = manifest()
    pg_store.record_apply(m, FILES, entry(m), new_health("staging", stable=False, reason="mine"))
    with PostgresStore(pg_settings(pg_url)) as other:
        assert other.snapshots.list("staging") == [] and other.snapshots.environments() == []
        assert other.ledger.entries("staging") == [] and other.ledger.environments() == []
        assert other.ledger.health("staging") == Health("staging", "stable", "")
        with pytest.raises(SnapshotError, match="no snapshot with id"):
            other.snapshots.get(m.id)
        with other.locks.hold("staging", "apply"), pg_store.locks.hold("staging", "apply"):
            pass  # same environment name, different projects: different locks


def _recorded(url: str, project: str, snapshot_id: str) -> tuple[int, int, int]:
    """(snapshot rows, file rows, ledger rows) of ``snapshot_id``."""
    return (
        _count(
            url, "SELECT count(*) FROM tfkit.snapshots WHERE project = %s AND id = %s", project, snapshot_id
        ),
        _count(
            url,
            "SELECT count(*) FROM tfkit.snapshot_files WHERE project = %s AND snapshot_id = %s",
            project,
            snapshot_id,
        ),
        _count(url, "SELECT count(*) FROM tfkit.ledger WHERE project = %s AND id = %s", project, snapshot_id),
    )


def test_a_failing_health_write_records_nothing_of_the_apply(
    pg_store: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The health write fails in the server after the snapshot and the ledger entry: all is rolled back."""

    def failing(conn: psycopg.Connection[Any], project: str, health: Health) -> None:
        conn.execute("SELECT 1 / 0")

    monkeypatch.setattr(postgres_module, "upsert_health", failing)
    m = manifest()
    content = f"only in this apply {m.id}".encode()
    with pytest.raises(StoreError, match="failed: division by zero") as info:
        pg_store.record_apply(
            m, {**FILES, "plan.json": content}, entry(m), new_health("staging", stable=True)
        )
    assert info.value.exit_code == 5
    monkeypatch.undo()
    assert _recorded(pg_url, pg_store.settings.project, m.id) == (0, 0, 0)
    assert _count(pg_url, "SELECT count(*) FROM tfkit.blobs WHERE sha256 = %s", _sha(content)) == 0
    assert pg_store.ledger.health("staging") == Health("staging", "stable", "")
    good = manifest()  # the store is usable afterwards
    pg_store.record_apply(good, FILES, entry(good), new_health("staging", stable=True))
    assert _recorded(pg_url, pg_store.settings.project, good.id) == (1, len(FILES), 1)


def test_a_nul_in_a_health_reason_does_not_lose_the_unstable_mark(pg_store: PostgresStore) -> None:
    pg_store.ledger.set_health(new_health("staging", stable=False, reason="provider said \x00 here"))
    health = pg_store.ledger.health("staging")
    assert not health.stable and health.reason == "provider said \ufffd here"


def test_a_connection_dropped_mid_apply_records_nothing(
    pg_store: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the session between the ledger entry and the health write: all is rolled back."""
    real = postgres_module.upsert_health

    def killed_first(conn: psycopg.Connection[Any], project: str, health: Health) -> None:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        real(conn, project, health)

    monkeypatch.setattr(postgres_module, "upsert_health", killed_first)
    m = manifest()
    with pytest.raises(StoreError, match=r"lost the connection to the store .*nothing half-recorded is left"):
        pg_store.record_apply(m, FILES, entry(m), new_health("staging", stable=True, snapshot=m.id))
    monkeypatch.setattr(postgres_module, "upsert_health", real)
    assert _recorded(pg_url, pg_store.settings.project, m.id) == (0, 0, 0)
    assert pg_store.ledger.health("staging").snapshot is None  # and the store reconnects for the next call
    assert pg_store.snapshots.list("staging") == []


def test_unstable_health_is_recorded_after_the_connection_dropped(
    pg_store: PostgresStore, pg_url: str
) -> None:
    """An apply that failed while the data connection was lost is still marked unstable (one retry)."""
    pg_store.ledger.health("staging")  # the data connection is open
    pid = pg_store._db.connection().info.backend_pid
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    unstable = new_health("staging", stable=False, reason="apply failed part-way")
    pg_store.ledger.set_health(unstable)
    assert pg_store._db.connection().info.backend_pid != pid
    with PostgresStore(pg_store.settings) as fresh:
        assert fresh.ledger.health("staging") == unstable


def test_close_leaves_no_connection_open(pg_server: Any, pg_fresh_url: str) -> None:
    dbname = urlsplit(pg_fresh_url).path.lstrip("/")
    with PostgresStore(pg_settings(pg_fresh_url)) as store:
        m = manifest()
        store.record_apply(m, FILES, entry(m), new_health("staging", stable=True))
        with store.locks.hold("staging", "apply"):
            assert pg_server.connections(dbname, settle=0) == 2  # data + the lock's own
        store.snapshots.get(m.id).verify()
    assert pg_server.connections(dbname) == 0


PRUNER = """
import sys
from tfkit.snapshots import SnapshotManifest, new_snapshot_id
from tfkit.store.postgres import PostgresStore
from tfkit.store.settings import StoreSettings
url, project, shared = sys.argv[1], sys.argv[2], sys.argv[3].encode()
with PostgresStore(StoreSettings(url=url, project=project)) as store:
    store.snapshots.environments()
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(150):
        m = SnapshotManifest(new_snapshot_id(), "pruned", "apply", "now", "0", "1", "embedded", None, None)
        store.snapshots.save(m, {"shared": shared})
        store.snapshots.prune("pruned", 0)  # the shared blob is unreferenced now and collected
print("done", flush=True)
"""


def test_saves_and_blob_collection_running_at_once_never_lose_a_blob(
    pg_store: PostgresStore, pg_url: str
) -> None:
    """A save that reuses a blob while another runner's prune collects it keeps it (the blob lock)."""
    shared = f"shared by a saver and a pruner {pg_store.settings.project}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pruner = subprocess.Popen(
        [sys.executable, "-c", PRUNER, pg_url, pg_store.settings.project + "-pruner", shared],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert pruner.stdin is not None and pruner.stdout is not None
    assert pruner.stdout.readline().strip() == "ready"
    pruner.stdin.write("go\n")
    pruner.stdin.flush()
    saved = [pg_store.snapshots.save(manifest(), {"shared": shared.encode()}) for _ in range(150)]
    out, err = pruner.communicate(timeout=300)
    assert (pruner.returncode, out.strip(), err) == (0, "done", "")
    for snap in saved:
        pg_store.snapshots.get(snap.id).verify()
    assert _count(pg_url, "SELECT count(*) FROM tfkit.blobs WHERE sha256 = %s", _sha(shared.encode())) == 1


def test_a_health_write_cut_off_midway_is_done_again_on_a_new_connection(
    pg_store: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pg_ledger.upsert_health
    calls: list[int] = []

    def cut_off_once(conn: psycopg.Connection[Any], project: str, health: Health) -> None:
        calls.append(conn.info.backend_pid)
        if len(calls) == 1:  # inside the transaction, the server ends the session
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        real(conn, project, health)

    monkeypatch.setattr(pg_ledger, "upsert_health", cut_off_once)
    unstable = new_health("staging", stable=False, reason="apply failed part-way")
    pg_store.ledger.set_health(unstable)
    assert len(calls) == 2 and calls[0] != calls[1]
    assert pg_store.ledger.health("staging") == unstable
