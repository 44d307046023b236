"""The apply journal (``tfkit.journal``): the same contract on both stores, and every crash point of the
local store's commit order read correctly."""

from __future__ import annotations

from pathlib import Path

import pytest
from storecase import FILES, StoreCase, entry, manifest

from tfkit.errors import SnapshotError
from tfkit.journal import JournalEntry, journal_entry, plan_digest
from tfkit.ledger import new_health
from tfkit.locks import current_holder
from tfkit.store.local import LocalStore
from tfkit.store.settings import StoreSettings


def _began(env: str = "staging", operation: str = "apply") -> JournalEntry:
    return journal_entry(env, current_holder(operation), plan_digest(b'{"planned": 1}'))


def test_begin_marks_unstable_and_is_pending_for_another_runner(case: StoreCase) -> None:
    began = _began()
    case.store.journal.begin(began)
    with case.reopen() as other:
        found = other.journal.pending("staging")
        assert found == began
        health = other.ledger.health("staging")
        assert not health.stable and health.reason.startswith("apply did not finish: apply by")
    assert case.store.journal.pending("dev") is None
    assert began.plan == plan_digest(b'{"planned": 1}') and began.plan.startswith("sha256:")
    assert "interrupted, never recorded" in began.describe()


def test_record_apply_clears_the_entry_with_the_stable_health(case: StoreCase) -> None:
    case.store.journal.begin(_began())
    m = manifest()
    health = new_health("staging", stable=True, reason="apply succeeded", snapshot=m.id)
    case.store.record_apply(m, FILES, entry(m), health)
    with case.reopen() as other:
        assert other.journal.pending("staging") is None and other.journal.settle("staging") is None
        assert other.ledger.health("staging").stable
        assert [e.id for e in other.ledger.entries("staging")] == [m.id]


def test_fail_keeps_the_entry_with_its_reason_and_finish_clears_it(case: StoreCase) -> None:
    case.store.journal.begin(_began("staging", "destroy"))
    case.store.journal.fail("staging", "destroy failed: Error: boom")
    found = case.store.journal.pending("staging")
    assert found is not None and found.outcome == "destroy failed: Error: boom"
    assert found.describe().endswith("; destroy failed: Error: boom")
    case.store.journal.finish(new_health("staging", stable=True, reason="destroy succeeded"))
    assert case.store.journal.pending("staging") is None and case.store.ledger.health("staging").stable


def test_a_new_begin_replaces_an_unfinished_entry(case: StoreCase) -> None:
    case.store.journal.begin(_began("staging", "apply"))
    second = _began("staging", "rollback")
    case.store.journal.begin(second)
    assert case.store.journal.pending("staging") == second


# ---------------------------------------------------------------- the local store's crash points


def _local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / ".tfkit", StoreSettings(url=None, project="p"))


@pytest.mark.parametrize(
    ("steps", "recorded"),
    [
        (0, False),  # killed after begin: Terraform may have applied, nothing recorded
        (1, False),  # after the journal's commit mark
        (2, False),  # after the snapshot (a snapshot without its ledger entry is not an apply)
        (3, True),  # after the ledger entry: recorded, settle completes the health
        (4, True),  # after the stable health: settle removes the journal file
    ],
)
def test_each_crash_point_of_a_local_recording(tmp_path: Path, steps: int, recorded: bool) -> None:
    store = _local(tmp_path)
    store.journal.begin(_began())
    m = manifest()
    health = new_health("staging", stable=True, reason="apply succeeded", snapshot=m.id)
    # LocalStore.record_apply, step by step, stopped after ``steps`` of them.
    done = [
        lambda: store.journal.committing("staging", m.id),
        lambda: store.snapshots.save(m, FILES),
        lambda: store.ledger.record(entry(m)),
        lambda: store.ledger.set_health(health),
    ]
    for step in done[:steps]:
        step()
    after = _local(tmp_path)  # the next run
    pending = after.journal.pending("staging")
    assert (pending is None) is recorded
    read = after.journal.health("staging")  # what status shows, before anything settles it
    assert read.stable is recorded and (read.snapshot == m.id) is recorded
    settled = after.journal.settle("staging")
    assert (settled is None) is recorded
    assert after.ledger.health("staging").stable is recorded
    assert (tmp_path / ".tfkit" / "journal" / "staging.json").exists() is not recorded
    if recorded:
        assert after.ledger.health("staging").snapshot == m.id
        assert [e.id for e in after.ledger.entries("staging")] == [m.id]
    else:
        assert pending is not None and pending.operation == "apply"


def test_a_corrupted_local_journal_entry_is_one_line(tmp_path: Path) -> None:
    store = _local(tmp_path)
    path = tmp_path / ".tfkit" / "journal" / "staging.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"environment": 3}')
    with pytest.raises(SnapshotError, match=r"staging.json: corrupted journal entry .*; remove it"):
        store.journal.pending("staging")
