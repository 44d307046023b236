"""Fixtures of the scanner tests: the Checkov executable, fixture plans, an example repository with checks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from scanutil import REPO
from testsupport import core_config

CHECKOV_TOML = """
[checkov]
external_checks_dirs = ["policies/checkov"]
"""


@pytest.fixture(scope="session")
def checkov_exe() -> str:
    """The Checkov under test, found as tfkit finds it (TFKIT_CHECKOV, else PATH); `make test` sets it."""
    found = os.environ.get("TFKIT_CHECKOV") or shutil.which("checkov")
    assert found, "Checkov is not installed: run `make setup` and export TFKIT_CHECKOV (see Makefile)"
    return found


@pytest.fixture
def checkov_env(checkov_exe: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """TFKIT_CHECKOV set for this test (and for the tfkit subprocesses it starts)."""
    monkeypatch.setenv("TFKIT_CHECKOV", checkov_exe)
    return checkov_exe


@pytest.fixture
def scan_repo(example_repo: Path, checkov_env: str) -> Path:
    """The example repository with its custom checks and a ``[checkov]`` table."""
    shutil.copytree(REPO / "policies" / "checkov", example_repo / "policies" / "checkov", dirs_exist_ok=True)
    (example_repo / "tfkit.toml").write_text(core_config() + CHECKOV_TOML)
    return example_repo


@pytest.fixture
def cold_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A result cache of this test's own: the session's shared one holds what other tests scanned, and the
    cache is keyed by content, so the same example plan would be warm there."""
    cache = tmp_path / "cold-cache"
    monkeypatch.setenv("TFKIT_CACHE_DIR", str(cache))
    return cache
