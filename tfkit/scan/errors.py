"""Errors of the scanners, in tfkit's error tree.

::

    TfkitError
    └── ScanError              1  the scanner ran and failed: crashed, timed out, or printed no report
        └── ScanConfigError    2  the scanner cannot be run as configured: missing executable, a custom
                                  checks directory that is missing or lacks __init__.py, an unknown check id
"""

from __future__ import annotations

from tfkit.errors import TfkitError

__all__ = ["ScanConfigError", "ScanError"]


class ScanError(TfkitError):
    """A scanner ran and failed; ``stderr`` holds the tail of what it printed."""

    exit_code = 1

    def __init__(self, message: str, *, stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode


class ScanConfigError(ScanError):
    """A scanner cannot run as configured; ``key`` names the tfkit.toml setting to fix."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
