"""Checkov's own CLI on the cloud fixture plans: how it is run, what is kept, and where the record lives.

Shared by the parity test and ``record_checkov_cli.py``, so both run and read the CLI one way.
Imports nothing from the test helpers: the recording script runs as a plain program.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

__all__ = [
    "PLANS",
    "RECORD",
    "RECORD_COMMAND",
    "Check",
    "cloud_plans",
    "installed_version",
    "run_cli",
    "sha256",
]

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "plans"
#: The recorded CLI results (see ``record_checkov_cli.py``).
RECORD = Path(__file__).resolve().parents[1] / "fixtures" / "checkov-cli.json"
RECORD_COMMAND = "python tests/scan/record_checkov_cli.py"
CLOUDS = {"aws", "google", "google-beta", "azurerm"}
#: (check id, resource address, "passed" or "failed")
Check = tuple[str, str, str]


def cloud_plans() -> list[Path]:
    """The fixture plans with an AWS, GCP or Azure resource change, sorted."""
    found = []
    for path in sorted(PLANS.glob("*/*.json")):
        doc = json.loads(path.read_bytes())
        providers = {rc.get("provider_name", "").split("/")[-1] for rc in doc.get("resource_changes") or ()}
        if providers & CLOUDS:
            found.append(path)
    return found


def sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes (a changed plan must be re-recorded)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed_version(checkov: str) -> str:
    """What ``checkov --version`` prints."""
    proc = subprocess.run([checkov, "--version"], capture_output=True, text=True, timeout=300, check=True)
    return proc.stdout.strip()


def run_cli(checkov: str, path: Path, checks_dir: Path | None = None) -> tuple[set[Check], int]:
    """`checkov -f PLAN --framework terraform_plan -o json`, as a user runs it offline; checks, errors.

    ``checks_dir`` is passed as ``--external-checks-dir``.
    """
    argv = [checkov, "-f", str(path), "--framework", "terraform_plan", "-o", "json", "--skip-download"]
    if checks_dir is not None:
        argv += ["--external-checks-dir", str(checks_dir)]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    out: set[Check] = set()
    errors = 0
    for report in doc if isinstance(doc, list) else [doc]:
        errors += (report.get("summary") or report).get("parsing_errors", 0)
        for key, status in (("passed_checks", "passed"), ("failed_checks", "failed")):
            for c in (report.get("results") or {}).get(key, ()):
                out.add((c["check_id"], c.get("resource_address") or c["resource"], status))
    return out, errors
