"""The change guard: classify every file changed since a base ref against the repository's rules.

Which changes count: the commits since the merge base of the base ref and ``HEAD`` (``git diff
--name-status BASE...HEAD``), plus, unless ``uncommitted=False``, staged and unstaged changes and untracked
files that are not git-ignored, because the guard runs as a pre-commit hook before the commit exists.
With the default base ``HEAD`` only those uncommitted changes are checked. Deleted files are listed but
always allowed (removing a state file is a fix). Paths are relative to the git work tree's root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfkit.errors import GuardError
from tfkit.guard import git
from tfkit.guard.baseline import load_baseline
from tfkit.guard.rules import GuardSettings, Verdict, classify, guard_settings
from tfkit.guard.scan import scan_files

__all__ = ["ChangeCheck", "check_changes"]


@dataclass(frozen=True, slots=True)
class ChangeCheck:
    """Every changed file's verdict, and the deleted files (which need no rule)."""

    base: str
    verdicts: tuple[Verdict, ...]
    deleted: tuple[str, ...]

    @property
    def refused(self) -> tuple[Verdict, ...]:
        """The files that broke a rule."""
        return tuple(v for v in self.verdicts if not v.allowed)

    @property
    def ok(self) -> bool:
        """No changed file broke a rule."""
        return not self.refused


def check_changes(
    root: Path, base: str = "HEAD", *, settings: GuardSettings | None = None, uncommitted: bool = True
) -> ChangeCheck:
    """Classify the files changed since ``base`` in the git work tree holding ``root``.

    Allowed files that still exist are also scanned for secrets (unless ``scan_changed_files`` is off):
    a var file or any other file holding a secret is refused by the rule ``contains-secret``.
    """
    top = git.toplevel(root)
    if top is None:
        raise GuardError(f"{root} is not in a git repository; check-changes compares against a git ref")
    settings = settings or guard_settings(root)
    changes = git.changed_files(top, base, uncommitted=uncommitted)
    deleted = tuple(c.path for c in changes if c.status == "D")
    verdicts = {c.path: classify(c.path, settings) for c in changes if c.status != "D"}
    if settings.scan_changed_files:
        # The baseline holds only fingerprints of reviewed findings (high-entropy by nature): not scanned.
        present = [
            p for p, v in verdicts.items() if v.allowed and (top / p).is_file() and p != settings.baseline
        ]
        scan = scan_files(top, present, baseline=load_baseline(root / settings.baseline))
        for finding in scan.findings:
            if not verdicts[finding.file].allowed:
                continue
            verdicts[finding.file] = Verdict(
                finding.file,
                False,
                "contains-secret",
                f"{finding.kind} at line {finding.line}; revoke and replace it, read it from a secret source "
                "and keep it out of the repository",
            )
    return ChangeCheck(base, tuple(verdicts[p] for p in sorted(verdicts)), deleted)
