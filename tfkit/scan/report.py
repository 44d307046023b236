"""``ScanReport``: what one scanner found on one plan, and what it cost."""

from __future__ import annotations

from dataclasses import dataclass

from tfkit.findings import Finding

__all__ = ["ScanReport"]


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The findings of one scanner (passed checks included, as ``Finding.passed``) and its figures.

    ``sent`` are the addresses handed to the scanner this time, ``cached`` how many units came from
    the cache, ``skipped`` how many no enabled check looks at; ``runs`` is 0 when nothing was sent.
    """

    tool: str
    version: str
    findings: tuple[Finding, ...]
    duration: float
    executable: str = ""
    sent: tuple[str, ...] = ()
    cached: int = 0
    skipped: int = 0
    runs: int = 0

    @property
    def failed(self) -> tuple[Finding, ...]:
        """The findings that are not passed checks."""
        return tuple(f for f in self.findings if not f.passed)
