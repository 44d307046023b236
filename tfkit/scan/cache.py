"""The content-addressed store of Checkov results under ``.tfkit/cache/checkov``.

Every entry is one file named by the sha256 of what produced it, kept by ``tfkit.content_cache`` (written
atomically and owner-only, never holding a registered secret), so two runs sharing the directory need no
lock: a reader sees a whole file or none. A file that cannot be read or decoded is treated as missing
(and rewritten by the next scan).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tfkit.content_cache import ContentCache

__all__ = ["ResultCache"]


class ResultCache:
    """Results per unit key and per whole plan, the check catalog per settings key, executable versions."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _read(self, kind: str, key: str) -> Any:
        return None if self.root is None else ContentCache(self.root / kind).get(key)

    def _write(self, kind: str, key: str, value: Any) -> None:
        if self.root is not None:
            ContentCache(self.root / kind).put(key, value)

    def results(self, key: str) -> list[dict[str, Any]] | None:
        """The cached Checkov results of one unit, or None if it was never scanned."""
        value = self._read("results", key)
        return value if isinstance(value, list) else None

    def put_results(self, key: str, results: list[dict[str, Any]]) -> None:
        """Remember the results of one unit (an empty list: scanned, nothing applies)."""
        self._write("results", key, results)

    def put_many_results(self, entries: Mapping[str, list[dict[str, Any]]]) -> None:
        """Remember the results of many units; the fsyncs overlap in threads (a cold scan writes hundreds)."""
        if self.root is None or not entries:
            return
        with ThreadPoolExecutor(max_workers=min(16, len(entries))) as pool:
            list(pool.map(lambda item: self.put_results(*item), entries.items()))

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
