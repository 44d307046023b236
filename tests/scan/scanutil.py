"""Helpers of the scanner tests (plain functions and paths; the fixtures are in conftest.py)."""

from __future__ import annotations

import stat
from pathlib import Path

from testsupport import PLANS, REPO

__all__ = ["PLANS", "REPO", "fake_checkov"]


def fake_checkov(directory: Path, script: str) -> Path:
    """A stand-in ``checkov`` executable (a shell script) for the failure modes of the real one."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "checkov"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
