"""The few git queries the guard needs, run through ``tfkit.git``; a failure is a one-line ``GuardError``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfkit.errors import GuardError
from tfkit.git import GitError, GitMissingError, run_git
from tfkit.override_names import is_tfkit_override

__all__ = [
    "BlobChange",
    "Change",
    "changed_files",
    "commit_blobs",
    "commits_since",
    "read_blob",
    "resolve",
    "toplevel",
    "tracked_and_untracked",
]


def _git(root: Path, *args: str, check: bool = True) -> bytes:
    """Run ``git -C root args``; a failure raises ``GuardError`` with git's first line of stderr."""
    try:
        done = run_git(root, *args)
    except GitMissingError:
        raise GuardError("git is not installed; install git to check a repository's changes") from None
    except GitError as exc:
        raise GuardError(str(exc)) from None
    if check and done.returncode != 0:
        raise GuardError(f"git {args[0]}: {done.first_error_line}")
    return done.stdout


def toplevel(path: Path) -> Path | None:
    """The root of the git work tree holding ``path``, or None outside one."""
    try:
        out = _git(path, "rev-parse", "--show-toplevel", check=False)
    except GuardError:
        return None
    text = out.decode("utf-8", "replace").strip()
    return Path(text) if text else None


def resolve(root: Path, ref: str) -> str:
    """The commit id of ``ref``; a one-line error (exit 2) when it does not exist."""
    out = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    commit = out.decode().strip()
    if not commit:
        raise GuardError(
            f"base ref '{ref}' does not exist in {root}; fetch it or name an existing branch or commit"
        )
    return commit


@dataclass(frozen=True, slots=True)
class Change:
    """A file changed since the base: its path (the new one for renames) and git's status letter."""

    path: str
    status: str
    old_path: str | None = None


def _name_status(data: bytes) -> list[Change]:
    """Parse ``--name-status -z`` output."""
    parts = data.decode("utf-8", "surrogateescape").split("\0")
    changes: list[Change] = []
    i = 0
    while i < len(parts) and parts[i]:
        status = parts[i][0]
        if status in "RC":
            changes.append(Change(parts[i + 2], status, parts[i + 1]))
            i += 3
        else:
            changes.append(Change(parts[i + 1], status))
            i += 2
    return changes


def changed_files(root: Path, base: str, *, uncommitted: bool = True) -> list[Change]:
    """Every file changed since the merge base of ``base`` and HEAD, by path.

    With ``uncommitted`` (the default) this also counts staged and unstaged changes and untracked files
    that are not git-ignored: a pre-commit hook runs before the commit, and an untracked ``.env`` is one
    ``git add .`` away from being committed.
    """
    commit = resolve(root, base)
    found: dict[str, Change] = {}
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).decode().strip()
    if head:
        merge_base = _git(root, "merge-base", commit, head).decode().strip()
        committed = _git(root, "diff", "--name-status", "-z", "-M", merge_base, head, "--")
        found.update((c.path, c) for c in _name_status(committed))
    if uncommitted:
        against = head or commit
        working = _git(root, "diff", "--name-status", "-z", "-M", against, "--")
        found.update((c.path, c) for c in _name_status(working))
        untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard")
        for path in untracked.decode("utf-8", "surrogateescape").split("\0"):
            # A running tfkit's backend override (tfkit.store.terraform_state) is not a change.
            if path and not is_tfkit_override(path.rpartition("/")[2]):
                found[path] = Change(path, "?")
    return [found[p] for p in sorted(found)]


def commits_since(root: Path, base: str | None) -> list[str]:
    """The commits reachable from HEAD and not from ``base`` (every commit without one), oldest first."""
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).decode().strip()
    if not head:
        return []
    spec = [f"{resolve(root, base)}..{head}"] if base else [head]
    return _git(root, "rev-list", "--reverse", *spec, "--").decode().split()


@dataclass(frozen=True, slots=True)
class BlobChange:
    """A file content a commit added or modified: its path and blob id."""

    path: str
    blob: str


def commit_blobs(root: Path, commit: str) -> list[BlobChange]:
    """The file contents a commit introduced (added, modified, renamed or copied files; not deletions)."""
    raw = _git(root, "diff-tree", "-r", "-z", "--root", "--no-commit-id", "-M", commit)
    parts = raw.decode("utf-8", "surrogateescape").split("\0")
    blobs: list[BlobChange] = []
    i = 0
    while i < len(parts) and parts[i].startswith(":"):
        meta = parts[i].split()
        new_mode, new_blob, status = meta[1], meta[3], meta[4][0]
        if status in "RC":
            path, i = parts[i + 2], i + 3
        else:
            path, i = parts[i + 1], i + 2
        if status != "D" and new_mode.startswith("100"):
            blobs.append(BlobChange(path, new_blob))
    return blobs


def read_blob(root: Path, blob: str) -> bytes:
    """The content of one blob."""
    return _git(root, "cat-file", "blob", blob)


def tracked_and_untracked(root: Path, pathspecs: tuple[str, ...] = ()) -> list[str]:
    """Tracked files plus untracked ones that are not git-ignored, relative to ``root``."""
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *pathspecs)
    return sorted({p for p in out.decode("utf-8", "surrogateescape").split("\0") if p})
