"""Secret scanning of files and of git history: Yelp's detect-secrets plus tfkit's Terraform rules.

detect-secrets (its Python API, default plugins and filters) finds cloud keys, tokens, private keys,
high-entropy strings and secret keywords in any text file; ``tfkit.guard.tfrules`` adds what is specific to
Terraform. A ``SecretFinding`` names the file, line and kind, never the value: the value only feeds a
fingerprint, so findings can be printed, written to a baseline and compared safely.

History scanning reads every file content each commit since the base introduced (``git diff-tree`` per
commit, each blob scanned once), since a secret deleted later is still exposed in the repository's history.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tfkit.content_cache import ContentCache, code_digest, content_key, installed_version
from tfkit.errors import GuardError
from tfkit.fsutil import private_temp
from tfkit.guard import git
from tfkit.guard.baseline import Baseline
from tfkit.guard.patterns import matches_any
from tfkit.guard.tfrules import scan_terraform

__all__ = [
    "ADVICE",
    "MAX_FILE_BYTES",
    "SecretFinding",
    "SecretScan",
    "files_to_scan",
    "scan_files",
    "scan_history",
    "scan_text",
]

ADVICE = (
    "for each real secret: revoke and replace it at its issuer now, then remove it from the repository "
    "and from its history (git filter-repo), and load it from a secret source instead; record a reviewed "
    "false positive with --update-baseline"
)
#: Larger files (and binary ones) are skipped: secrets live in text, and huge files are data.
MAX_FILE_BYTES = 2_000_000
#: Directories never walked outside git (tools' caches, Terraform's working data, tfkit's own store).
_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".terraform",
        ".tfkit",
        "node_modules",
        "__pycache__",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
    }
)


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """A possible secret: where, what kind, found by which detector; ``commit`` for history findings."""

    file: str
    line: int
    kind: str
    detector: str
    fingerprint: str
    commit: str | None = None

    def one_line(self) -> str:
        """``file:line: kind [detector]``, with the commit for a history finding; never the value."""
        where = f" (added in commit {self.commit[:12]})" if self.commit else ""
        return f"{self.file}:{self.line}: {self.kind} [{self.detector}]{where}"


@dataclass(frozen=True, slots=True)
class SecretScan:
    """The outcome of a scan: new findings, those the baseline covers, and how much was read."""

    findings: tuple[SecretFinding, ...]
    reviewed: tuple[SecretFinding, ...]
    files: int
    commits: int = 0

    @property
    def clean(self) -> bool:
        """No finding outside the baseline."""
        return not self.findings


def _fingerprint(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:24]


@contextmanager
def _detector() -> Iterator[None]:
    """detect-secrets' default plugins and filters, for the duration of a scan."""
    from detect_secrets.settings import default_settings

    with default_settings():
        yield


def _detect_secrets(disk_path: Path, display: str) -> Iterator[SecretFinding]:
    from detect_secrets.core.scan import scan_file

    for secret in scan_file(str(disk_path)):
        value = secret.secret_value or secret.secret_hash
        yield SecretFinding(
            display, secret.line_number, secret.type, "detect-secrets", _fingerprint(secret.type, value)
        )


def _is_text(data: bytes) -> bool:
    return b"\0" not in data[:8192]


def _tfkit_rules(display: str, data: bytes) -> Iterator[SecretFinding]:
    text = data.decode("utf-8", errors="replace")
    for hit in scan_terraform(display, text):
        yield SecretFinding(display, hit.line, hit.kind, "tfkit", _fingerprint(hit.kind, hit.value))


def _scan_disk_file(path: Path, display: str) -> list[SecretFinding]:
    """Both detectors on one file on disk."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    if not _is_text(data):
        return []
    return _unique([*_detect_secrets(path, display), *_tfkit_rules(display, data)])


def scan_text(display: str, data: bytes) -> list[SecretFinding]:
    """Both detectors on content held in memory (a blob from history), named ``display``.

    detect-secrets reads files, so the content goes to a private temporary directory (mode 0700) under
    its own file name for the duration of the scan and is removed right after.
    """
    if len(data) > MAX_FILE_BYTES or not _is_text(data):
        return []
    with _detector(), private_temp("scan-") as tmp:
        disk = Path(tmp) / (display.rsplit("/", 1)[-1] or "file")
        fd = os.open(disk, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return _unique([*_detect_secrets(disk, display), *_tfkit_rules(display, data)])


def _unique(findings: Iterable[SecretFinding]) -> list[SecretFinding]:
    seen: dict[tuple[str, int, str], SecretFinding] = {}
    for f in findings:
        seen.setdefault((f.file, f.line, f.kind), f)
    return sorted(seen.values(), key=lambda f: (f.file, f.line, f.kind))


def _walk(directory: Path) -> Iterator[Path]:
    for current, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".venv"))
        for name in sorted(files):
            yield Path(current) / name


def files_to_scan(root: Path, targets: Iterable[Path] = (), *, exclude: Iterable[str] = ()) -> list[str]:
    """The files to scan, relative to ``root``: the named files and directories, else the whole repository.

    In a git work tree, directories are listed by git (tracked and untracked files, git-ignored ones
    left out); elsewhere they are walked, skipping caches and Terraform's and tfkit's working data.
    """
    root = root.resolve()
    in_git = git.toplevel(root) is not None
    chosen: set[str] = set()
    named = list(targets) or [root]
    for target in named:
        path = target.resolve()
        if not path.exists():
            raise GuardError(f"{target}: no such file or directory")
        if not path.is_relative_to(root):
            raise GuardError(f"{target}: outside the repository {root}")
        rel = path.relative_to(root).as_posix()
        if path.is_file():
            chosen.add(rel)
        elif in_git:
            chosen.update(git.tracked_and_untracked(root, (rel if rel != "." else ".",)))
        else:
            chosen.update(p.relative_to(root).as_posix() for p in _walk(path))
    patterns = tuple(exclude)
    return sorted(p for p in chosen if (root / p).is_file() and not matches_any(patterns, p))


def scan_files(
    root: Path, paths: Iterable[str], *, baseline: Baseline | None = None, cache_dir: Path | None = None
) -> SecretScan:
    """Scan files (relative to ``root``) with both detectors; the baseline sets reviewed findings apart.

    With ``cache_dir``, a file whose content (and name) was scanned before by the same detectors (their
    code and detect-secrets' version) gets that scan's findings back: fingerprints, never values.
    detect-secrets' plugins load only when some file is not in the cache.
    """
    found: list[SecretFinding] = []
    count = 0
    cache = ContentCache(cache_dir / "secret-scan") if cache_dir is not None else None
    loaded = False
    with ExitStack() as detector:
        for rel in paths:
            count += 1
            key = _scan_key(root / rel, rel) if cache is not None else None
            cached = cache.get(key) if cache is not None and key is not None else None
            if isinstance(cached, list):
                found.extend(SecretFinding(*entry) for entry in cached)
                continue
            if not loaded:  # the first file to scan: load the plugins now
                detector.enter_context(_detector())
                loaded = True
            scanned = _scan_disk_file(root / rel, rel)
            if cache is not None and key is not None:
                cache.put(key, [[f.file, f.line, f.kind, f.detector, f.fingerprint] for f in scanned])
            found.extend(scanned)
    return _split(found, baseline, count)


def _scan_key(path: Path, display: str) -> str | None:
    """The cache key of scanning ``path`` under the name ``display`` (``None``: unreadable, not cached)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    rules = code_digest(__name__, "tfkit.guard.tfrules", "tfkit.secret_names")
    detector = installed_version("detect_secrets", "detect-secrets")
    return content_key("tfkit-secret-scan", rules, detector, display, data)


def scan_history(
    root: Path,
    base: str | None = None,
    *,
    baseline: Baseline | None = None,
    exclude: Iterable[str] = (),
    only: Iterable[str] = (),
) -> SecretScan:
    """Scan every file content the commits since ``base`` (all commits without one) introduced.

    ``only`` (patterns) limits the scan to those paths; each distinct finding is reported once, at the
    oldest commit that introduced it.
    """
    top = git.toplevel(root)
    if top is None:
        raise GuardError(f"{root} is not in a git repository; --history needs one")
    commits = git.commits_since(top, base)
    patterns, limit = tuple(exclude), tuple(only)
    seen_blobs: set[tuple[str, str]] = set()
    first: dict[tuple[str, str, str], SecretFinding] = {}
    files = 0
    for commit in commits:
        for change in git.commit_blobs(top, commit):
            key = (change.blob, change.path.rsplit("/", 1)[-1])
            wanted = not limit or matches_any(limit, change.path)
            if key in seen_blobs or not wanted or matches_any(patterns, change.path):
                continue
            seen_blobs.add(key)
            files += 1
            for f in scan_text(change.path, git.read_blob(top, change.blob)):
                first.setdefault(
                    (f.file, f.kind, f.fingerprint),
                    SecretFinding(f.file, f.line, f.kind, f.detector, f.fingerprint, commit),
                )
    return _split(list(first.values()), baseline, files, len(commits))


def _split(found: list[SecretFinding], baseline: Baseline | None, files: int, commits: int = 0) -> SecretScan:
    unique = (
        _unique(found) if not any(f.commit for f in found) else sorted(found, key=lambda f: (f.file, f.line))
    )
    base = baseline or Baseline()
    return SecretScan(
        findings=tuple(f for f in unique if not base.covers(f)),
        reviewed=tuple(f for f in unique if base.covers(f)),
        files=files,
        commits=commits,
    )
