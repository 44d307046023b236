"""What every check of a plan produces: a ``Finding`` with a ``Severity``, possibly waived.

Policies (``tfkit.policy``) and scanners (``tfkit.scan``) both speak this vocabulary, so the gate
(``tfkit.gate``) and every report treat them alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import date

from tfkit import addresses

__all__ = ["Finding", "Severity", "Waiver"]


class Severity(enum.StrEnum):
    """How much a finding matters (Sentinel's enforcement levels)."""

    ADVISORY = "advisory"  # reported, never fails the gate
    SOFT = "soft"  # fails the gate unless waived
    HARD = "hard"  # fails the gate; cannot be waived

    @property
    def rank(self) -> int:
        """Ordering for reports: hard first."""
        return {Severity.HARD: 0, Severity.SOFT: 1, Severity.ADVISORY: 2}[self]


@dataclass(frozen=True, slots=True)
class Waiver:
    """A reviewed exception: findings of ``check_id`` on addresses matching the pattern ``address``."""

    check_id: str
    address: str
    reason: str
    expires: date
    environments: tuple[str, ...] = ()

    def matches(self, finding: Finding, environment: str | None = None) -> bool:
        """Whether this waiver is about ``finding`` (ignoring expiry)."""
        if self.environments and environment not in self.environments:
            return False
        if finding.check_id != self.check_id:
            return False
        return addresses.matches(self.address, finding.address or "")

    def expired(self, today: date) -> bool:
        """A waiver is valid through its expiry date and expired the day after."""
        return today > self.expires


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or one passed check, when ``passed``) found on a plan."""

    source: str  # "policy" or a scanner's name ("checkov")
    check_id: str
    severity: Severity
    message: str
    address: str | None = None
    path: str | None = None
    name: str = ""
    file: str | None = None
    line: int | None = None
    guideline: str | None = None
    passed: bool = False
    waiver: Waiver | None = None
    waiver_expired: bool = False

    @property
    def waived(self) -> bool:
        """Covered by an unexpired waiver (hard findings can never be waived)."""
        return self.waiver is not None and not self.waiver_expired and self.severity is not Severity.HARD

    @property
    def blocking(self) -> bool:
        """Whether this finding fails the gate."""
        if self.passed or self.severity is Severity.ADVISORY:
            return False
        return not self.waived

    def with_waiver(self, waiver: Waiver, today: date) -> Finding:
        """This finding marked with ``waiver`` (and whether it had expired on ``today``)."""
        return replace(self, waiver=waiver, waiver_expired=waiver.expired(today))

    def one_line(self) -> str:
        """``SEVERITY CHECK_ID ADDRESS[.path]: message`` (greppable; never holds a secret value)."""
        where = self.address or "(plan)"
        if self.path:
            where = f"{where}.{self.path}"
        note = ""
        if self.waiver is not None:
            note = " [waiver EXPIRED " if self.waiver_expired else " [waived until "
            note += f"{self.waiver.expires.isoformat()}: {self.waiver.reason}]"
        return f"{self.severity.value.upper():8} {self.check_id} {where}: {self.message}{note}"
