"""The repository's rules: secret scanning of files and history, and the change guard.

* ``scan``/``tfrules``/``baseline``: find secrets (detect-secrets plus tfkit's Terraform rules), never
  showing a value; a baseline marks reviewed false positives.
* ``rules``/``changes``: classify every changed file against allow/refuse rules from ``[guard]``.
* ``description``: check that a change's description says what and why (``tfkit.report.markdown``
  writes one from the plans).
"""

from tfkit.errors import GuardError
from tfkit.guard.baseline import Baseline, load_baseline, write_baseline
from tfkit.guard.changes import ChangeCheck, check_changes
from tfkit.guard.description import DescriptionCheck, check_description
from tfkit.guard.rules import GuardSettings, Rule, Verdict, classify, guard_settings
from tfkit.guard.scan import (
    ADVICE,
    SecretFinding,
    SecretScan,
    files_to_scan,
    scan_files,
    scan_history,
    scan_text,
)

__all__ = [
    "ADVICE",
    "Baseline",
    "ChangeCheck",
    "DescriptionCheck",
    "GuardError",
    "GuardSettings",
    "Rule",
    "SecretFinding",
    "SecretScan",
    "Verdict",
    "check_changes",
    "check_description",
    "classify",
    "files_to_scan",
    "guard_settings",
    "load_baseline",
    "scan_files",
    "scan_history",
    "scan_text",
    "write_baseline",
]
