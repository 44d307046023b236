"""Record Checkov's own CLI results on every cloud fixture plan, for the parity test to compare against.

Run after changing a fixture plan or the pinned Checkov (Makefile's CHECKOV_VERSION)::

    python tests/scan/record_checkov_cli.py [-j JOBS]

It runs TFKIT_CHECKOV if set, else the project's .venv-checkov (``make setup``), else ``checkov`` on PATH.

The CLI runs as ``checkov_cli.run_cli`` runs it, ``JOBS`` plans at a time (default: one per CPU).
It writes ``tests/fixtures/checkov-cli.json``: the Checkov version, and per plan (path relative to
tests/fixtures/plans) its sha256, the CLI's parsing-error count, and the sorted [check, address, status].
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from checkov_cli import PLANS, RECORD, cloud_plans, installed_version, run_cli, sha256


def record(checkov: str, jobs: int) -> dict[str, Any]:
    """The record document, from real runs of ``checkov``."""

    def one(path: Path) -> tuple[str, dict[str, Any]]:
        start = time.monotonic()
        checks, errors = run_cli(checkov, path)
        name = path.relative_to(PLANS).as_posix()
        took = time.monotonic() - start
        print(f"{name}: {len(checks)} checks, {errors} parsing errors, {took:.0f}s", flush=True)
        return name, {"sha256": sha256(path), "parsing_errors": errors, "checks": sorted(map(list, checks))}

    with ThreadPoolExecutor(jobs) as pool:
        plans = dict(pool.map(one, cloud_plans()))
    return {"checkov_version": installed_version(checkov), "plans": dict(sorted(plans.items()))}


_STRING = r'"(?:[^"\\]|\\.)*"'  # a JSON string, escapes included
_CHECK = re.compile(r"\[\s*" + r",\s*".join([f"({_STRING})"] * 3) + r"\s*\]")


def dump(doc: dict[str, Any]) -> str:
    """The record as JSON text with one check per line: compact, and a re-record diffs line by line."""
    return _CHECK.sub(r"[\1, \2, \3]", json.dumps(doc, indent=1)) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="plans scanned at a time")
    args = parser.parse_args()
    local = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"  # `make setup`'s
    checkov = os.environ.get("TFKIT_CHECKOV") or (str(local) if local.exists() else shutil.which("checkov"))
    if not checkov:
        print("error: Checkov not found: set TFKIT_CHECKOV (`make setup` installs it)", file=sys.stderr)
        return 2
    start = time.monotonic()
    doc = record(checkov, args.jobs)
    RECORD.write_text(dump(doc))
    print(
        f"wrote {RECORD} ({len(doc['plans'])} plans, Checkov {doc['checkov_version']}) "
        f"in {time.monotonic() - start:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
