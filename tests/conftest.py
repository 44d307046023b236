"""Shared fixtures: copies of the example repository in temporary directories, and both engines."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The test value of the example repository's sensitive variable (planted to prove it never leaks).
TEST_SECRET = "tfkit-test-S3cr3t-6f1c9a7e2b"


def copy_example(dest: Path) -> Path:
    """Copy the example repository (tfkit.toml, modules, envs, policies) to ``dest`` with a test secret."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "tfkit.toml", dest / "tfkit.toml")
    for part in ("modules", "envs", "policies"):
        shutil.copytree(
            REPO / part, dest / part, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan")
        )
    secrets = dest / ".secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "db_password").write_text(TEST_SECRET + "\n")
    (secrets / "db_password").chmod(0o600)
    return dest


@pytest.fixture(scope="session", autouse=True)
def shared_scan_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One Checkov result cache for the whole run (content-keyed, so sharing is exact), as CI would.

    Also points TFKIT_CHECKOV at the project's Checkov environment when `make` did not export it.
    """
    cache = tmp_path_factory.mktemp("tfkit-cache")
    saved = {k: os.environ.get(k) for k in ("TFKIT_CACHE_DIR", "TFKIT_CHECKOV")}
    os.environ["TFKIT_CACHE_DIR"] = str(cache)
    checkov = REPO / ".venv-checkov" / "bin" / "checkov"
    if not saved["TFKIT_CHECKOV"] and checkov.exists():
        os.environ["TFKIT_CHECKOV"] = str(checkov)
    yield cache
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def example_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the example repository; TF_VAR_db_password unset so the file source is used."""
    monkeypatch.delenv("TF_VAR_db_password", raising=False)
    monkeypatch.delenv("TFKIT_ENGINE", raising=False)
    monkeypatch.delenv("TFKIT_BINARY", raising=False)
    return copy_example(tmp_path / "repo")


def make_terraform_shim(directory: Path) -> Path:
    """A ``terraform`` executable that forwards to the embedded engine (for machines without one)."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "terraform"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tfkit.terraform._embedded "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return shim


@pytest.fixture(scope="session")
def terraform_binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The binary engine's executable: the ``terraform`` on PATH, else a shim to the embedded one."""
    found = shutil.which("terraform")
    if found:
        return found
    return str(make_terraform_shim(tmp_path_factory.mktemp("shim")))


@pytest.fixture(params=["embedded", "binary"])
def engine_kind(
    request: pytest.FixtureRequest, terraform_binary: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Each test using this runs once per engine; the binary one via TFKIT_BINARY."""
    if request.param == "binary":
        monkeypatch.setenv("TFKIT_BINARY", terraform_binary)
    return str(request.param)


def run_tfkit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``tfkit`` command as a user would, capturing its output."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password",)}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tfkit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tfkit_cli():
    """The ``run_tfkit`` helper as a fixture."""
    return run_tfkit
