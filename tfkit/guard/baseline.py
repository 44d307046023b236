"""The baseline of reviewed false positives: findings a person looked at and judged not secret.

A JSON file committed with the repository (default ``.tfkit-secrets-baseline.json``, set by
``[guard] baseline``). Each entry names the file, the kind and the finding's fingerprint (a truncated
SHA-256 of kind and value), never the value, so entries survive line moves and the file is safe to commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tfkit.errors import GuardError
from tfkit.fsutil import atomic_write

if TYPE_CHECKING:
    from tfkit.guard.scan import SecretFinding

__all__ = ["BASELINE_VERSION", "Baseline", "load_baseline", "write_baseline"]

BASELINE_VERSION = 1


@dataclass(frozen=True, slots=True)
class Baseline:
    """The reviewed findings, by ``(file, kind, fingerprint)``."""

    entries: frozenset[tuple[str, str, str]] = frozenset()

    def covers(self, finding: SecretFinding) -> bool:
        """Whether ``finding`` was reviewed as a false positive."""
        return (finding.file, finding.kind, finding.fingerprint) in self.entries


def load_baseline(path: Path) -> Baseline:
    """Read a baseline; a missing file is an empty baseline, a malformed one a one-line error."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Baseline()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GuardError(f"{path}: cannot read the secrets baseline: {exc}") from None
    reviewed = doc.get("reviewed") if isinstance(doc, dict) else None
    if not isinstance(reviewed, list) or doc.get("version") != BASELINE_VERSION:
        raise GuardError(
            f"{path}: not a tfkit secrets baseline (version {BASELINE_VERSION} with a 'reviewed' list)"
        )
    try:
        entries = frozenset((str(e["file"]), str(e["kind"]), str(e["fingerprint"])) for e in reviewed)
    except (KeyError, TypeError):
        raise GuardError(f"{path}: every baseline entry needs file, kind and fingerprint") from None
    return Baseline(entries)


def write_baseline(path: Path, findings: Iterable[SecretFinding]) -> int:
    """Write every finding (by file, kind and fingerprint) as reviewed; returns how many entries."""
    entries = sorted({(f.file, f.kind, f.fingerprint) for f in findings})
    doc = {
        "version": BASELINE_VERSION,
        "generated_by": "tfkit check-secrets --update-baseline",
        "reviewed": [{"file": f, "kind": k, "fingerprint": p} for f, k, p in entries],
    }
    atomic_write(path, json.dumps(doc, indent=2) + "\n")
    return len(entries)
