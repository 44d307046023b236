"""A directory of JSON entries keyed by content: what a slow reader made of some bytes, for the next run.

A key is the SHA-256 of the content and of everything that decides the result (the reader's own code, the
version of the library doing the work), so an edit or an upgrade misses and the work is done again. An
entry that cannot be read is a miss too; entries are written atomically (``fsutil.atomic_write``) and not
synced to disk (one lost to a power cut is only a miss). Used under ``Project.cache_dir`` by the HCL
reader (``tfkit.hcl``), the var-file secret scan (``tfkit.guard``), Checkov's whole-plan results and
catalogs (``tfkit.scan.cache``; its per-resource results are one SQLite file instead), the providers'
set attributes (``tfkit.provider_schema``) and the marks of tfkit.toml documents that passed the
schema (``tfkit.config``).
Entries are owner-only, and one that would hold a registered secret (``tfkit.redact``) is never written: the
work is simply done again next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from tfkit.fsutil import atomic_write
from tfkit.redact import mask

__all__ = ["ContentCache", "cache_dir", "code_digest", "content_key", "installed_version"]


def cache_dir(root: Path) -> Path:
    """Where the content-keyed caches of the repository at ``root`` live: ``TFKIT_CACHE_DIR``, else
    ``.tfkit/cache`` (entries are keyed by content and tool versions, so one directory can serve several
    checkouts, as a CI cache)."""
    shared = os.environ.get("TFKIT_CACHE_DIR")
    return Path(shared).expanduser() if shared else root / ".tfkit" / "cache"


def content_key(*parts: str | bytes) -> str:
    """The key of ``parts`` (salts, then the content): a SHA-256 over each part, length-prefixed."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


@cache
def code_digest(*modules: str) -> str:
    """A digest of the source of ``modules`` (imported already): a key part that changes with their code."""
    return content_key(*(Path(str(sys.modules[name].__file__)).read_bytes() for name in modules))


@cache
def installed_version(module: str, distribution: str) -> str:
    """A key part naming the installed version of ``distribution`` (whose top-level package is ``module``).

    Read from the name of its ``.dist-info`` directory beside the package, without importing the package
    or ``importlib.metadata`` (which alone costs more than most cache hits save); ``importlib.metadata``
    only when the layout is another one.
    """
    from importlib.util import find_spec

    spec = find_spec(module)
    if spec is not None and spec.origin is not None:
        name = distribution.replace("-", "_")
        found = list(Path(spec.origin).parent.parent.glob(f"{name}-*.dist-info"))
        if len(found) == 1:
            return found[0].name
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{distribution} {version(distribution)}"
    except PackageNotFoundError:
        return f"{distribution} missing"  # its users fail on the import, so nothing is cached under it


class ContentCache:
    """JSON entries in ``directory`` (created on first write), one file per key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Any:
        """The entry stored under ``key``, or ``None`` (never written, or unreadable)."""
        try:
            return json.loads(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: Any) -> bool:
        """Store ``value`` (JSON data) under ``key``; ``False`` (not stored) if it holds a known secret."""
        text = json.dumps(value, separators=(",", ":"))
        if mask(text) != text:
            return False
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, text, mode=0o600, durable=False)  # a torn entry is only a miss
        return True
