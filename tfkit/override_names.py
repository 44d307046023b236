"""The names of tfkit's own backend override files, which tfkit writes and the guard and bundles skip.

Kept out of ``tfkit.store`` so that what only needs the names (the guard's list of changed files, hence
``tfkit affected``) does not import the store, its journal, ledger and snapshots.
"""

from __future__ import annotations

import re

__all__ = ["BACKEND_OVERRIDE", "OVERRIDE_PATTERN", "is_tfkit_override"]

#: tfkit's backend override in a materialized copy (``pg``, or ``local`` pointing at the real state file).
BACKEND_OVERRIDE = "tfkit_backend_override.tf"
#: tfkit's backend override files (the session ones and ``BACKEND_OVERRIDE``).
OVERRIDE_PATTERN = re.compile(r"^tfkit_backend_(?:\d+_[0-9a-f]+_)?override\.tf$")


def is_tfkit_override(name: str) -> bool:
    """Whether a file named ``name`` is one of tfkit's backend override files."""
    return OVERRIDE_PATTERN.match(name) is not None
