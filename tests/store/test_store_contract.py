"""The store contract: the local store and the PostgreSQL store behave the same for every operation."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
from dataclasses import replace

import pytest
from storecase import FILES, StoreCase, entry, go, manifest, outcome, release, start_holder

from tfkit.errors import LockHeldError, SnapshotError
from tfkit.ledger import Health, Override, new_health
from tfkit.locks import StaleLockWarning


def test_save_list_get_latest_verify(case: StoreCase) -> None:
    snaps = case.store.snapshots
    first = snaps.save(manifest(), FILES)
    second = snaps.save(manifest(), {**FILES, "plan.json": b'{"second": true}'})
    other = snaps.save(manifest("dev"), FILES)
    assert [s.id for s in snaps.list("staging")] == [first.id, second.id]
    assert snaps.latest("staging").id == second.id and snaps.latest("production") is None
    assert snaps.environments() == ["dev", "staging"]
    got = snaps.get(other.id)  # by id, whatever the environment
    assert got.manifest == other.manifest and got.manifest.environment == "dev"
    got.verify()
    assert got.bundle() == {"envs/staging/main.tf": FILES["bundle/envs/staging/main.tf"]}
    assert got.manifest.files["plan.json"] == hashlib.sha256(b"{}").hexdigest()
    assert snaps.get(second.id).read("plan.json") == b'{"second": true}'
    assert got.files.file_names() == set(FILES)
    with pytest.raises(SnapshotError, match="no snapshot with id 'nope'"):
        snaps.get("nope")
    with pytest.raises(SnapshotError, match="has no file"):
        got.read("state.enc")


def test_prune_keeps_the_newest(case: StoreCase) -> None:
    snaps = case.store.snapshots
    ids = [snaps.save(manifest(), {**FILES, "plan.json": str(i).encode()}).id for i in range(4)]
    kept_elsewhere = snaps.save(manifest("dev"), FILES)
    assert snaps.prune("staging", 2) == ids[:2]
    assert [s.id for s in snaps.list("staging")] == ids[2:]
    for snap in snaps.list("staging"):
        snap.verify()
    snaps.get(kept_elsewhere.id).verify()  # its files (shared with pruned ones in the database) survive
    assert snaps.prune("staging", 2) == []
    assert snaps.prune("staging", 0) == ids[2:] and snaps.list("staging") == []


def test_ledger_and_health(case: StoreCase) -> None:
    ledger = case.store.ledger
    assert ledger.entries("staging") == [] and ledger.last("staging") is None
    assert ledger.health("staging") == Health("staging", "stable", "")
    first, second = manifest(), manifest()
    overrides = (Override("allow-unstable", "hotfix"),)
    recorded = [ledger.record(entry(first)), ledger.record(replace(entry(second), overrides=overrides))]
    assert ledger.entries("staging") == recorded and ledger.last("staging") == recorded[-1]
    assert ledger.last("staging").overrides == (Override("allow-unstable", "hotfix"),)
    unstable = new_health("staging", stable=False, reason="apply failed: boom", snapshot=first.id)
    assert ledger.set_health(unstable) == unstable
    assert ledger.health("staging") == unstable and not ledger.health("staging").stable
    ledger.set_health(new_health("qa", stable=True))
    assert ledger.environments() == ["qa", "staging"]


def test_record_apply_records_all_three(case: StoreCase) -> None:
    m = manifest()
    health = new_health("staging", stable=True, reason="apply succeeded", snapshot=m.id)
    snap = case.store.record_apply(m, FILES, entry(m), health)
    assert snap.id == m.id and snap.manifest.files.keys() == FILES.keys()
    assert case.store.snapshots.latest("staging").manifest == snap.manifest
    last = case.store.ledger.last("staging")
    assert last is not None and last.snapshot == m.id and last.modules == {"modules/app": "d1"}
    assert case.store.ledger.health("staging") == health
    with case.reopen() as other:  # another runner sees it all
        assert other.snapshots.get(m.id).read("plan.json") == b"{}"
        assert other.ledger.last("staging").snapshot == m.id and other.ledger.health("staging") == health


def test_lock_held_by_another_runner(case: StoreCase) -> None:
    holder = start_holder(case.kind, case.where, case.settings.project)
    try:
        go(holder)
        assert outcome(holder) == f"held {holder.pid}"
        with pytest.raises(LockHeldError) as info, case.store.locks.hold("staging", "rollback"):
            pass
        message = str(info.value)
        assert "apply by" in message and f"pid {holder.pid} on {socket.gethostname()}" in message
        assert "--lock-timeout" in message and info.value.exit_code == 3
        with (
            pytest.raises(LockHeldError, match=f"pid {holder.pid}"),
            case.store.locks.hold("staging", "rollback", timeout=0.3),
        ):
            pass  # a wait that runs out names the holder too
        with case.store.locks.hold("dev", "apply") as me:  # other environments are free
            assert me.operation == "apply" and me.pid == os.getpid()
    finally:
        assert release(holder) == 0
    with case.store.locks.hold("staging", "rollback") as me:  # released when its holder left
        assert me.operation == "rollback"


def test_lock_waits_with_a_timeout(case: StoreCase) -> None:
    holder = start_holder(case.kind, case.where, case.settings.project)
    go(holder)
    assert outcome(holder).startswith("held")
    waiter = start_holder(case.kind, case.where, case.settings.project, operation="destroy", timeout=60)
    go(waiter)
    release(holder)  # the waiter takes the lock once the holder lets go
    assert outcome(waiter) == f"held {waiter.pid}"
    assert release(waiter) == 0


def test_a_killed_holder_releases_its_lock(case: StoreCase) -> None:
    holder = start_holder(case.kind, case.where, case.settings.project)
    go(holder)
    assert outcome(holder).startswith("held")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with (
        pytest.warns(StaleLockWarning, match=f"pid {holder.pid}"),
        case.store.locks.hold("staging", "rollback", timeout=60) as me,
    ):
        assert me.operation == "rollback"
    with case.store.locks.hold("staging", "apply"):  # a clean release leaves nothing stale behind
        pass
