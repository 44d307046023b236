"""``tfkit.store.migrate``: snapshots, ledger and health copied between stores, verified, safe to re-run.

The source records are real: written by the workflow (gated applies and a failed one, through the
recorded-plan engine seam) into the example repository's local ``.tfkit/`` store.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
from pathlib import Path

import psycopg
import pytest
from recorded import RecordedTerraform, change_service_module

from tfkit.errors import ConfigError, LockHeldError, SnapshotError, TerraformError
from tfkit.ledger import new_health
from tfkit.project import Project
from tfkit.store.local import LocalStore
from tfkit.store.migrate import migrate, stored_environments
from tfkit.store.settings import StoreSettings, store_settings
from tfkit.workflow import RunOptions, apply


def _seam(world: RecordedTerraform) -> RunOptions:
    return RunOptions(gate=False, engine_factory=world.factory)


@pytest.fixture
def recorded(example_repo: Path) -> Project:
    """dev and staging applied (a snapshot and a ledger entry each), then a failed dev apply: unstable."""
    project = Project.load(example_repo)
    world = RecordedTerraform()
    for env in ("dev", "staging"):
        world.serve(env, f"{env}-create", f"{env}-noop")
        assert apply(project.environment(env), auto_approve=True, options=_seam(world)).snapshot
    change_service_module(project.root)
    world.fail("dev")
    world.serve("dev", "dev-v2")
    with pytest.raises(TerraformError):
        apply(project.environment("dev"), auto_approve=True, options=_seam(world))
    return project


def _store(project: Project, state_dir: Path | None = None) -> LocalStore:
    settings = store_settings(project.config, project.root, environ={})
    return LocalStore(state_dir or project.state_dir, settings)


def _tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (its snapshots, ledger and health), by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "locks" not in p.relative_to(root).parts
    }


def test_migrate_copies_snapshots_ledger_and_health_byte_exact(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    assert stored_environments(source) == ["dev", "staging"]
    report = migrate(source, target, stored_environments(source))

    assert (report.snapshots_copied, report.entries_copied) == (2, 2)
    assert [r.one_line() for r in report.environments] == [
        "dev: snapshots 1 copied, 0 already there; ledger entries 1 copied, 0 already there; health copied; "
        "its unfinished apply copied",
        "staging: snapshots 1 copied, 0 already there; ledger entries 1 copied, 0 already there; "
        "health copied",
    ]
    copied = _tree(tmp_path / "target")
    assert copied == _tree(recorded.state_dir), "manifests, files, ledger and health byte for byte"
    assert any(name.endswith("manifest.json") for name in copied)
    assert not target.ledger.health("dev").stable
    assert "apply failed" in target.ledger.health("dev").reason
    for snapshot in target.snapshots.list("dev") + target.snapshots.list("staging"):
        snapshot.verify()


def test_a_second_run_copies_nothing_and_duplicates_nothing(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    migrate(source, target, ["dev", "staging"])
    before = _tree(tmp_path / "target")
    again = migrate(source, target, ["dev", "staging"])
    assert (again.snapshots_copied, again.entries_copied) == (0, 0)
    assert [(r.snapshots_present, r.entries_present, r.health) for r in again.environments] == [
        (1, 1, "unchanged"),
        (1, 1, "unchanged"),
    ]
    assert [(r.snapshots_in_target, r.entries_in_target) for r in again.environments] == [(1, 1), (1, 1)]
    assert _tree(tmp_path / "target") == before


def test_an_interrupted_migration_is_completed_by_a_rerun(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    migrate(source, target, ["dev", "staging"])
    # as if the first run had stopped after staging's snapshot: its ledger entry and health are missing
    snapshot = target.snapshots.latest("staging")
    assert snapshot is not None
    shutil.rmtree(tmp_path / "target" / "ledger" / "staging")
    (tmp_path / "target" / "health" / "staging.json").unlink()
    report = migrate(source, target, ["dev", "staging"])
    assert [(r.environment, r.snapshots_copied, r.entries_copied, r.health) for r in report.environments] == [
        ("dev", 0, 0, "unchanged"),
        ("staging", 0, 1, "copied"),
    ]
    assert _tree(tmp_path / "target") == _tree(recorded.state_dir)


def test_a_conflicting_ledger_entry_is_refused_not_overwritten(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    entry = source.ledger.entries("staging")[0]
    other = dataclasses.replace(entry, git_commit="0" * 40)
    target.ledger.record(other)
    with pytest.raises(SnapshotError, match=f"ledger entry {entry.id} of 'staging' is already in the target"):
        migrate(source, target, ["staging"])
    assert target.ledger.entries("staging") == [other]


def test_a_corrupted_source_snapshot_is_not_copied(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    snapshot = source.snapshots.latest("staging")
    assert snapshot is not None and snapshot.path is not None
    (snapshot.path / "plan.json").write_bytes(b"{}")
    with pytest.raises(SnapshotError, match=r"plan\.json does not match its digest"):
        migrate(source, target, ["staging"])
    assert target.snapshots.list("staging") == []
    assert target.ledger.entries("staging") == [], "no ledger entry without its snapshot"


def test_a_newer_health_record_in_the_target_is_kept(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    newer = dataclasses.replace(
        new_health("dev", stable=True, reason="fixed"), since="2999-01-01T00:00:00+00:00"
    )
    target.ledger.set_health(newer)
    report = migrate(source, target, ["dev"])
    assert report.environments[0].health == "kept the target's newer record"
    assert target.ledger.health("dev") == newer


def test_a_held_lock_stops_the_migration(recorded: Project, tmp_path: Path) -> None:
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    with source.locks.hold("staging", "apply"), pytest.raises(LockHeldError, match="'staging' is locked"):
        migrate(source, target, ["staging"])
    assert target.snapshots.list("staging") == []


def test_the_same_store_is_refused(recorded: Project) -> None:
    with pytest.raises(ConfigError, match="the target is the store in use already"):
        migrate(_store(recorded), _store(recorded), ["dev"])


def test_unknown_fields_of_a_newer_tfkit_are_not_a_conflict_on_rerun(
    recorded: Project, tmp_path: Path
) -> None:
    """A rerun compares records as this tfkit reads them, on both sides alike."""
    source, target = _store(recorded), _store(recorded, tmp_path / "target")
    migrate(source, target, ["dev"])
    health_file = tmp_path / "target" / "health" / "dev.json"
    raw = json.loads(health_file.read_text())
    health_file.write_text(json.dumps({**raw, "added_by_a_newer_tfkit": 1}))
    with pytest.warns(UserWarning, match="added_by_a_newer_tfkit"):
        report = migrate(source, target, ["dev"])
    assert report.environments[0].health == "unchanged"


# ------------------------------------------------------------------------------------------ PostgreSQL


def _pg(pg_url: str) -> StoreSettings:
    """Settings of the shared test database under a project id of this test's own."""
    return StoreSettings(url=pg_url, project=f"migrate-{secrets.token_hex(4)}")


def _rows(pg_url: str, project: str) -> dict[str, int]:
    """How many rows of each of tfkit's tables belong to ``project`` (read straight from the database)."""
    with psycopg.connect(pg_url) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*) FROM tfkit.{table} WHERE project = %s", (project,)
            ).fetchone()[0]
            for table in ("snapshots", "ledger", "health")
        }


def test_local_to_postgresql_to_local_round_trips_exactly(
    recorded: Project, pg_url: str, tmp_path: Path
) -> None:
    from tfkit.store.postgres import PostgresStore

    source, back = _store(recorded), _store(recorded, tmp_path / "back")
    settings = _pg(pg_url)
    with PostgresStore(settings) as database:
        there = migrate(source, database, stored_environments(source))
        assert (there.snapshots_copied, there.entries_copied) == (2, 2)
        assert _rows(pg_url, settings.project) == {"snapshots": 2, "ledger": 2, "health": 2}
        assert not database.ledger.health("dev").stable
        assert database.ledger.health("dev") == source.ledger.health("dev")

        again = migrate(source, database, stored_environments(source))
        assert (again.snapshots_copied, again.entries_copied) == (0, 0)
        assert _rows(pg_url, settings.project) == {"snapshots": 2, "ledger": 2, "health": 2}

        assert stored_environments(database) == ["dev", "staging"]
        home = migrate(database, back, stored_environments(database))
        assert (home.snapshots_copied, home.entries_copied) == (2, 2)
        assert migrate(database, back, ["dev", "staging"]).snapshots_copied == 0
    assert _tree(tmp_path / "back") == _tree(recorded.state_dir), "byte for byte after the round trip"


def test_a_corrupted_blob_in_the_database_is_not_copied_out(
    recorded: Project, pg_fresh_url: str, tmp_path: Path
) -> None:
    """A database of its own: blobs are shared by content, so corrupting one would reach other tests."""
    from tfkit.store.postgres import PostgresStore

    with PostgresStore(_pg(pg_fresh_url)) as database:
        migrate(_store(recorded), database, ["staging"])
        snapshot = database.snapshots.latest("staging")
        assert snapshot is not None
        with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE tfkit.blobs SET data = %s WHERE sha256 = %s",
                (b"{}", snapshot.manifest.files["plan.json"]),
            )
        target = _store(recorded, tmp_path / "out")
        with pytest.raises(SnapshotError, match=r"plan\.json.*(corrupted|does not match its digest)"):
            migrate(database, target, ["staging"])
    assert target.snapshots.list("staging") == [] and target.ledger.entries("staging") == []
