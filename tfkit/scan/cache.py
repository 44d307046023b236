"""The content-addressed store of Checkov results under ``.tfkit/cache/checkov``.

The results of each unit (resource, or the providers) live in one SQLite file, ``units.sqlite3``: a
cold scan of N resources writes its N entries in one transaction (all of them or none), where one file
per entry cost a file creation each (about 1.7 ms of system time apiece on ext4 here: 35 s on a
20,000-resource plan, more than Checkov's CLI spends on anything tfkit leaves out), and a scan reads
the entries it needs in a few queries. SQLite's own locking lets two runs share the file (a writer
waits for the other's transaction). Entries are not synced to disk, like every cache entry
(``tfkit.content_cache``); a file SQLite cannot read is a miss for every unit, and the next write
replaces it. The results of a whole plan, the check catalogs and the executables' versions, a few
entries per scan, are ``ContentCache`` files (written atomically and owner-only). No entry holding a
registered secret is ever written. Before this file, per-unit results were files under ``results/``:
they are no longer read (a first scan after the upgrade is cold) and that directory can be removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.content_cache import ContentCache
from tfkit.redact import mask

if TYPE_CHECKING:
    import sqlite3

__all__ = ["UNITS_FILE", "ResultCache"]

#: The SQLite file holding every unit's results, under the cache directory.
UNITS_FILE = "units.sqlite3"
_SCHEMA = "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
_CHUNK = 500  # keys per query, well under SQLite's limit on bound parameters
_BUSY_TIMEOUT = 60.0  # seconds a writer waits for another run's transaction


class ResultCache:
    """Results per unit key and per whole plan, the check catalog per settings key, executable versions."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _read(self, kind: str, key: str) -> Any:
        return None if self.root is None else ContentCache(self.root / kind).get(key)

    def _write(self, kind: str, key: str, value: Any) -> None:
        if self.root is not None:
            ContentCache(self.root / kind).put(key, value)

    @property
    def units_file(self) -> Path | None:
        """The SQLite file of the units' results (None: no cache)."""
        return None if self.root is None else self.root / UNITS_FILE

    def results_of(self, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The cached Checkov results of the units ``keys`` that were scanned (an absent key: a miss)."""
        wanted = list(dict.fromkeys(keys))
        path = self.units_file
        if path is None or not wanted or not path.is_file():
            return {}
        import sqlite3

        found: dict[str, list[dict[str, Any]]] = {}
        try:
            with _connection(path, readonly=True) as conn:
                for start in range(0, len(wanted), _CHUNK):
                    chunk = wanted[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = conn.execute(f"SELECT key, value FROM results WHERE key IN ({marks})", chunk)
                    for key, text in rows:
                        with contextlib.suppress(ValueError, TypeError):
                            value = json.loads(text)
                            if isinstance(value, list):
                                found[key] = value
        except sqlite3.Error:
            return {}  # unreadable (torn by a power cut, not a database): every unit misses
        return found

    def put_many_results(self, entries: Mapping[str, list[dict[str, Any]]]) -> None:
        """Remember the results of many units (an empty list: scanned, nothing applies) in one transaction.

        An entry that would hold a registered secret is left out: that unit is simply scanned again.
        """
        path = self.units_file
        if path is None or not entries:
            return
        rows = []
        for key, results in entries.items():
            text = json.dumps(results, separators=(",", ":"))
            if mask(text) == text:
                rows.append((key, text))
        if not rows:
            return
        import sqlite3

        try:
            _insert(path, rows)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _locked(exc):
                return  # another run held the file past the timeout: these results are simply not kept
            for stale in (path, path.with_name(path.name + "-journal")):  # not a database: start afresh
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
            with contextlib.suppress(sqlite3.Error):
                _insert(path, rows)

    def plan(self, key: str) -> dict[str, Any] | None:
        """The results of a whole plan (``{"results": [...], "cached": n, "skipped": n}``) under ``key``."""
        value = self._read("plans", key)
        return value if isinstance(value, dict) else None

    def put_plan(self, key: str, entry: dict[str, Any]) -> None:
        """Remember the results of a whole plan: the next scan of the same plan reads one file."""
        self._write("plans", key, entry)

    def catalog(self, key: str) -> dict[str, Any] | None:
        """The check catalog (id -> kind and resource types) recorded for ``key``."""
        value = self._read("catalog", key)
        return value if isinstance(value, dict) and "checks" in value else None

    def put_catalog(self, key: str, catalog: dict[str, Any]) -> None:
        """Record the check catalog for ``key``."""
        self._write("catalog", key, catalog)

    def version(self, key: str) -> str | None:
        """The version recorded for an executable fingerprint."""
        value = self._read("version", key)
        return value if isinstance(value, str) else None

    def put_version(self, key: str, version: str) -> None:
        """Record the version of an executable fingerprint."""
        self._write("version", key, version)


def _locked(exc: Exception) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


@contextlib.contextmanager
def _connection(path: Path, *, readonly: bool) -> Iterator[sqlite3.Connection]:
    """A connection to the units file, closed at the end of the block (read-only: never creates it)."""
    import sqlite3

    if readonly:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT)
    else:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT)
    try:
        yield conn
    finally:
        conn.close()


def _insert(path: Path, rows: list[tuple[str, str]]) -> None:
    """Write ``rows`` in one transaction, creating the file owner-only (its journal takes its mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    with _connection(path, readonly=False) as conn:
        conn.execute("PRAGMA synchronous=OFF")  # a cache: a torn file is only misses
        conn.execute(_SCHEMA)
        with conn:  # one transaction: every row or none
            conn.executemany("INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", rows)
