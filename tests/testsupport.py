"""Helpers shared by the test modules (import them as ``from testsupport import ...``)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Real plan JSON from others' Terraform runs, copied into the project (sources and licences in its README).
PLANS = REPO / "tests" / "fixtures" / "plans"
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


def make_terraform_shim(directory: Path) -> Path:
    """A ``terraform`` executable that forwards to the embedded engine (for machines without one)."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "terraform"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tfkit.terraform._embedded "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return shim


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


_GATE_TABLES = ("checkov", "policies", "waivers", "guard")


def core_config() -> str:
    """The example's tfkit.toml without its gate settings ([checkov], [policies...], waivers, guard).

    Tests about one gate setting start from this and add exactly the tables they test.
    """
    kept: list[str] = []
    keep = True
    for line in (REPO / "tfkit.toml").read_text().splitlines():
        header = line.strip()
        if header.startswith("["):
            parts = header.strip("[]").split(".")
            table = parts[2] if parts[0] == "environments" and len(parts) > 2 else parts[0]
            keep = table not in _GATE_TABLES
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"
