"""The one way tfkit runs ``git``: a small runner, and the current commit for snapshot records.

Core code (snapshots, the ledger) and the guard both ask git questions; they share this runner so
there is one timeout, one way to call ``git -C``, and one way to read a failure. The guard wraps
failures in its own ``GuardError``; recording a snapshot only wants ``head_commit`` or ``None``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GitError", "GitMissingError", "GitResult", "head_commit", "run_git"]

TIMEOUT_SECONDS = 120


class GitError(Exception):
    """git could not run (timeout, OS error); callers turn it into their own error."""


class GitMissingError(GitError):
    """There is no ``git`` executable on PATH."""


@dataclass(frozen=True, slots=True)
class GitResult:
    """What ``git -C root args`` printed and returned."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def first_error_line(self) -> str:
        """git's first line of stderr (``failed`` when it printed none)."""
        return (self.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"])[0]


def run_git(root: Path, *args: str, timeout: float = TIMEOUT_SECONDS) -> GitResult:
    """Run ``git -C root args`` with no input; raises ``GitError`` when git cannot be run at all."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise GitMissingError("git is not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"git {args[0] if args else ''} could not run: {exc}") from None
    return GitResult(done.returncode, done.stdout, done.stderr)


def head_commit(root: Path) -> str | None:
    """The commit checked out at ``root``; None outside a repository, before the first commit, without git."""
    try:
        done = run_git(root, "rev-parse", "--verify", "--quiet", "HEAD", timeout=10)
    except GitError:
        return None
    commit = done.stdout.decode("utf-8", "replace").strip()
    return commit if done.returncode == 0 and commit else None
