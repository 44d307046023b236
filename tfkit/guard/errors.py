"""The guard's one error: bad input to a guard command (not a git repository, unknown ref, bad path)."""

from __future__ import annotations

from tfkit.errors import TfkitError

__all__ = ["GuardError"]


class GuardError(TfkitError):
    """Bad input to ``check-secrets``, ``check-changes`` or ``describe``: one line, exit code 2."""

    exit_code = 2
