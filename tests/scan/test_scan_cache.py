"""tfkit.scan.cache: the units' results in one SQLite file, written per scan in one transaction."""

from __future__ import annotations

import secrets
import sqlite3
import stat
from pathlib import Path

import pytest

from tfkit.redact import register_secret
from tfkit.scan import cache as cache_module
from tfkit.scan.cache import UNITS_FILE, ResultCache

RESULT = {"check_id": "CKV_AWS_1", "resource": "aws_s3_bucket.a", "result": "PASSED"}


def test_many_units_round_trip_in_one_owner_only_file(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    assert cache.results_of(["a", "b"]) == {}  # nothing written yet, and reading creates nothing
    assert not (tmp_path / "c").exists()
    entries = {f"key{i}": [dict(RESULT, resource=f"aws_s3_bucket.b{i}")] for i in range(1200)}
    entries["empty"] = []  # scanned, nothing applies: a hit, not a miss
    cache.put_many_results(entries)
    assert [p.name for p in (tmp_path / "c").iterdir()] == [UNITS_FILE]
    assert stat.S_IMODE((tmp_path / "c" / UNITS_FILE).stat().st_mode) == 0o600
    found = cache.results_of([*entries, "never-scanned"])  # more keys than one query binds
    assert found == entries
    cache.put_many_results({"key0": [dict(RESULT, result="FAILED")]})  # a key written again replaces
    assert cache.results_of(["key0", "key1"]) == {
        "key0": [dict(RESULT, result="FAILED")],
        "key1": entries["key1"],
    }


def test_no_cache_directory_keeps_nothing(tmp_path: Path) -> None:
    cache = ResultCache(None)
    cache.put_many_results({"a": [RESULT]})
    assert cache.results_of(["a"]) == {}


def test_an_entry_holding_a_registered_secret_is_not_written(tmp_path: Path) -> None:
    secret = "units-" + secrets.token_hex(12)
    register_secret(secret)
    cache = ResultCache(tmp_path / "c")
    cache.put_many_results({"clean": [RESULT], "leaky": [dict(RESULT, check_name=f"name {secret}")]})
    assert cache.results_of(["clean", "leaky"]) == {"clean": [RESULT]}
    assert secret.encode() not in (tmp_path / "c" / UNITS_FILE).read_bytes()


def test_a_file_that_is_not_a_database_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    cache.put_many_results({"a": [RESULT]})
    units = tmp_path / "c" / UNITS_FILE
    units.write_bytes(b"torn by a power cut" * 100)
    assert cache.results_of(["a"]) == {}
    cache.put_many_results({"b": [RESULT]})
    assert cache.results_of(["a", "b"]) == {"b": [RESULT]}


def test_a_write_waits_for_another_runs_transaction_then_gives_up_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs share the file: a writer waits for the other's transaction; past the wait, its results
    are simply not kept (a cache miss next time), and the other run's rows stay whole."""
    cache = ResultCache(tmp_path / "c")
    cache.put_many_results({"a": [RESULT]})
    monkeypatch.setattr(cache_module, "_BUSY_TIMEOUT", 0.05)
    other = sqlite3.connect(tmp_path / "c" / UNITS_FILE, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        other.execute("INSERT INTO results (key, value) VALUES ('c', '[]')")
        cache.put_many_results({"b": [RESULT]})  # no error
        other.execute("COMMIT")
    finally:
        other.close()
    assert cache.results_of(["a", "b", "c"]) == {"a": [RESULT], "c": []}
