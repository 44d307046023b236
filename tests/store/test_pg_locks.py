"""Locks across runners: one holder per environment, named; a key space apart from Terraform's."""

from __future__ import annotations

import socket
import time
from typing import Any

import psycopg
import pytest
from storecase import go, outcome, pg_settings, release, start_holder, unique_project

from tfkit.locks import StaleLockWarning
from tfkit.store.pg_locks import LockLostWarning, lock_key
from tfkit.store.postgres import PostgresStore


def test_keys_are_stable_signed_int4_pairs() -> None:
    key = lock_key("acme-infra", "staging")
    assert key == lock_key("acme-infra", "staging")
    assert all(-(2**31) <= part < 2**31 for part in key)
    others = {
        lock_key("acme-infra", "production"),
        lock_key("acme-other", "staging"),
        lock_key("acme", "infra-staging"),
    }
    assert key not in others and len(others) == 3


@pytest.mark.parametrize("round_", range(3))
def test_two_runners_racing_for_one_lock(pg_url: str, round_: int) -> None:
    project = unique_project()
    runners = [start_holder("postgresql", pg_url, project, operation=op) for op in ("apply", "destroy")]
    try:
        for runner in runners:
            go(runner)
        results = {runner.pid: outcome(runner) for runner in runners}
        winners = [pid for pid, result in results.items() if result == f"held {pid}"]
        assert len(winners) == 1, results
        winner = next(r for r in runners if r.pid == winners[0])
        loser_result = next(result for pid, result in results.items() if pid != winner.pid)
        operation = "apply" if winner is runners[0] else "destroy"
        assert loser_result.startswith("locked environment 'staging' is locked by ")
        assert f"{operation} by " in loser_result
        assert f"(pid {winner.pid} on {socket.gethostname()})" in loser_result
    finally:
        for runner in runners:
            assert release(runner) == 0


def test_the_holder_is_named_in_a_row_and_in_pg_stat_activity(pg_store: PostgresStore, pg_url: str) -> None:
    project = pg_store.settings.project
    with psycopg.connect(pg_url, autocommit=True) as admin:
        with pg_store.locks.hold("staging", "rollback") as me:
            row = admin.execute(
                "SELECT holder FROM tfkit.locks WHERE project = %s AND environment = 'staging'", (project,)
            ).fetchone()
            assert row is not None and row[0]["operation"] == "rollback" and row[0]["pid"] == me.pid
            names = [
                r[0]
                for r in admin.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s",
                    (f"%{project}/staging%",),
                )
            ]
            assert names == [f"tfkit rollback {project}/staging {me.user}@{me.host} pid {me.pid}"[:63]]
        assert admin.execute(
            "SELECT count(*) FROM tfkit.locks WHERE project = %s", (project,)
        ).fetchone() == (0,)
        # the lock's connection is closed on release (its backend exits a moment after the client left)
        deadline = time.monotonic() + 10
        while (left := _backends(admin, f"%{project}/staging%")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert left == 0


def _backends(admin: psycopg.Connection[Any], pattern: str) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s", (pattern,))
    found = row.fetchone()
    return int(found[0]) if found else 0


def test_the_key_space_is_apart_from_terraforms(pg_store: PostgresStore, pg_url: str) -> None:
    """Terraform's pg backend locks one-bigint keys; a tfkit lock never blocks one, whatever the numbers."""
    high, low = lock_key(pg_store.settings.project, "staging")
    same_bits = (high << 32) | (low & 0xFFFFFFFF)
    with pg_store.locks.hold("staging", "apply"), psycopg.connect(pg_url, autocommit=True) as terraform:
        assert terraform.execute("SELECT pg_try_advisory_lock(%s::bigint)", (same_bits,)).fetchone() == (
            True,
        )
        held = terraform.execute(
            "SELECT objsubid FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s "
            "AND objid::bigint = %s",
            (high & 0xFFFFFFFF, low & 0xFFFFFFFF),
        ).fetchall()
        assert (2,) in held and (
            1,
        ) in held  # ours in the two-int space (2), Terraform's in the bigint one (1)


def test_a_lock_whose_connection_the_server_ended_is_reported_lost_and_free_again(pg_url: str) -> None:
    settings = pg_settings(pg_url)
    with PostgresStore(settings) as store, psycopg.connect(pg_url, autocommit=True) as admin:
        with (
            pytest.warns(LockLostWarning, match="'staging' was lost while held"),
            store.locks.hold("staging", "apply"),
        ):
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
                (f"%{settings.project}/staging%",),
            )
        # the release could not delete the holder row: the next holder takes it over as stale
        with (
            pytest.warns(StaleLockWarning),
            PostgresStore(settings) as other,
            other.locks.hold("staging", "apply", timeout=60),
        ):
            pass
