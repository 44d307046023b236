"""tfkit.content_cache: entries by content key, owner-only, never holding a registered secret."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest

from tfkit.content_cache import ContentCache, content_key, installed_version
from tfkit.fsutil import atomic_write
from tfkit.redact import register_secret


def test_entries_round_trip_owner_only_and_an_unreadable_one_is_a_miss(tmp_path: Path) -> None:
    cache = ContentCache(tmp_path / "c")
    key = content_key("reader", "1", b"content")
    assert key != content_key("reader", "2", b"content") != content_key("reader1", "", b"content")
    assert cache.get(key) is None
    assert cache.put(key, {"blocks": [1, "a"]})
    assert cache.get(key) == {"blocks": [1, "a"]}
    (entry,) = (tmp_path / "c").rglob("*.json")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    entry.write_text("{broken")
    assert cache.get(key) is None


def test_entries_are_not_synced_and_an_empty_one_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache entry skips fsync (derived data; an fsync costs milliseconds): a power cut can leave it
    empty, which reads as a miss; other files tfkit writes atomically are still synced."""
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    cache = ContentCache(tmp_path / "c")
    key = content_key(b"y")
    assert cache.put(key, [1]) and cache.get(key) == [1]
    assert synced == []
    (entry,) = (tmp_path / "c").rglob("*.json")
    entry.write_bytes(b"")
    assert cache.get(key) is None
    atomic_write(tmp_path / "durable.txt", "x")
    assert len(synced) == 2  # the file, then its directory


def test_an_entry_holding_a_registered_secret_is_not_written(tmp_path: Path) -> None:
    secret = "cache-" + secrets.token_hex(12)
    register_secret(secret)
    cache = ContentCache(tmp_path / "c")
    key = content_key(b"x")
    assert not cache.put(key, {"body": {"password": f'say "{secret}"'}})
    assert cache.get(key) is None
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.parametrize(
    ("module", "distribution"),
    [("jsonschema", "jsonschema"), ("hcl2", "python-hcl2"), ("detect_secrets", "detect-secrets")],
)
def test_installed_version_names_the_version_importlib_metadata_finds(module: str, distribution: str) -> None:
    from importlib.metadata import version

    assert version(distribution) in installed_version(module, distribution)


def test_installed_version_of_a_missing_distribution_says_so() -> None:
    assert installed_version("tfkit_no_such_module", "tfkit-no-such-distribution") == (
        "tfkit-no-such-distribution missing"
    )
