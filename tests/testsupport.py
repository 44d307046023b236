"""Helpers shared by the test modules (import them as ``from testsupport import ...``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tfkit.bundle import ignore_local_data
from tfkit.snapshots import SnapshotManifest, new_snapshot_id

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
            REPO / part,
            dest / part,
            ignore=ignore_local_data,
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
    """Run the ``tfkit`` command as a user would (``python -m tfkit``), capturing its output.

    The timeout only guards against a hung run, so it is far above any run's normal time under load.
    """
    full_env = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password",)}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tfkit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def start_tfkit(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m tfkit ARGS`` in a session of its own (a runner a test can kill as a whole).

    ``env`` is added to this process's environment, without ``TF_VAR_db_password`` (so the file source
    is used) and ``TFKIT_ENGINE`` (the repository's engine setting applies).
    """
    full_env = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password", "TFKIT_ENGINE")}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "tfkit", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def make_manifest(env: str = "staging", kind: str = "apply", **extra: Any) -> SnapshotManifest:
    """A snapshot manifest as an apply would write one (files are filled in by the store's ``save``)."""
    fields: dict[str, Any] = {
        "created": "2026-12-07T00:00:00+00:00",
        "tfkit_version": "0.1.0",
        "terraform_version": "1.15.5",
        "engine": "embedded",
        "lineage": "abc",
        "serial": 3,
    }
    return SnapshotManifest(id=new_snapshot_id(), environment=env, kind=kind, **{**fields, **extra})


def invoke_tfkit(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``tfkit`` command in this process (click's runner), from ``cwd``; ``run_tfkit``'s result shape.

    For argument and configuration errors, where starting a process proves nothing: ``tfkit.cli.main`` runs
    as the console script would (its own error handling, exit codes), stdout and stderr captured apart. The
    process-wide things main() sets (the SIGTERM handler, how warnings are shown) are restored afterwards.
    Keep ``run_tfkit`` for what needs a real process: signals, ``python -m tfkit`` itself, the entry point.
    """
    from tfkit.cli import main

    overrides: dict[str, str | None] = {"TF_VAR_db_password": None, **(env or {})}
    code: int | str | None = 0
    sigterm = signal.getsignal(signal.SIGTERM)
    showwarning = warnings.showwarning
    runner = CliRunner()
    try:
        with contextlib.chdir(cwd), runner.isolation(env=overrides) as (stdout, stderr, _):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code
            out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        warnings.showwarning = showwarning
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["tfkit", *args], returncode, out, err)


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


def build_dist(kind: str, out: Path) -> Path:
    """Build tfkit's ``wheel`` or ``sdist`` into ``out`` with the project's own backend (hatchling), as pip
    or ``python -m build`` would, offline."""
    code = f"import hatchling.build as b; print(b.build_{kind}({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return out / done.stdout.strip().splitlines()[-1]


def install_wheel(wheel: Path, venv: Path) -> Path:
    """A fresh venv at ``venv`` with ``wheel`` installed; returns its ``bin`` directory.

    Its dependencies come from the test environment's site-packages through a path file, so nothing is
    downloaded (a ``.pth`` line adds a directory without running that directory's own ``.pth`` files, so
    the editable install of the checkout is not picked up); ``pip check`` still sees every one of them.
    """

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], cwd=venv.parent, capture_output=True, text=True, check=False, timeout=600
        )

    venv.parent.mkdir(parents=True, exist_ok=True)
    done = run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel)
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, *, timeout: float
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if ``proc`` ends first or ``timeout`` passes
    (a bound against a hung run, not a timing assertion)."""
    import pytest

    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before {what}: exit {proc.returncode}\n{out}\n{err}")
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)
