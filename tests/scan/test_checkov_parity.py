"""Acceptance: on every AWS, GCP and Azure fixture plan, tfkit's checks equal Checkov's own CLI.

Each plan goes through Checkov twice (its CLI directly, and tfkit cold); two plans run at a time.
Then a partial re-scan (one resource changed, the rest from the cache) is compared with a full scan.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from scanutil import PLANS

from tfkit.errors import ScanError
from tfkit.plan import load_plan
from tfkit.scan.checkov import scan_plan
from tfkit.scan.settings import CheckovSettings

CLOUDS = {"aws", "google", "google-beta", "azurerm"}
Check = tuple[str, str, str]
#: Checkov CLI's checks, its parsing errors, and tfkit's checks (or its error line).
Outcome = tuple[set[Check], int, set[Check] | str]


def _cloud_plans() -> list[Path]:
    found = []
    for path in sorted(PLANS.glob("*/*.json")):
        doc = json.loads(path.read_bytes())
        providers = {rc.get("provider_name", "").split("/")[-1] for rc in doc.get("resource_changes") or ()}
        if providers & CLOUDS:
            found.append(path)
    return found


PLAN_FILES = _cloud_plans()


def _direct(checkov: str, path: Path) -> tuple[set[Check], int]:
    """`checkov -f PLAN --framework terraform_plan -o json`, as a user runs it (offline)."""
    proc = subprocess.run(
        [checkov, "-f", str(path), "--framework", "terraform_plan", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    out: set[Check] = set()
    errors = 0
    for report in doc if isinstance(doc, list) else [doc]:
        errors += (report.get("summary") or report).get("parsing_errors", 0)
        for key, status in (("passed_checks", "passed"), ("failed_checks", "failed")):
            for c in (report.get("results") or {}).get(key, ()):
                out.add((c["check_id"], c.get("resource_address") or c["resource"], status))
    return out, errors


def _tfkit(path: Path, cache: Path) -> set[Check] | str:
    try:
        report = scan_plan(load_plan(path.read_bytes()), CheckovSettings(cache_dir=cache))
    except ScanError as exc:
        return str(exc)
    return {
        (f.check_id, f.address or "", "passed" if f.passed else "failed")
        for f in report.findings
        if not f.check_id.startswith("TFKIT_")
    }


@pytest.fixture(scope="module")
def both_ways(
    checkov_exe: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[set[Check], set[Check]]]:
    os.environ["TFKIT_CHECKOV"] = checkov_exe
    cache = tmp_path_factory.mktemp("checkov-cache")

    def one(path: Path) -> tuple[str, Outcome]:
        direct, errors = _direct(checkov_exe, path)
        return path.name, (direct, errors, _tfkit(path, cache / path.name))

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, PLAN_FILES))


def test_fixture_set_covers_the_three_clouds() -> None:
    names = " ".join(p.name for p in PLAN_FILES)
    assert len(PLAN_FILES) >= 20 and "aws" in names and "gcp" in names and "azure" in names


@pytest.mark.slow
@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda p: p.name)
def test_same_checks_as_checkov_cli(path: Path, both_ways: dict[str, Outcome]) -> None:
    direct, parse_errors, mine = both_ways[path.name]
    if parse_errors:  # Checkov's CLI rejects the file (a duplicate JSON key): tfkit must not pass it
        assert not direct and isinstance(mine, str) and mine.startswith("checkov could not parse the plan")
        return
    assert mine == direct
    assert direct, "Checkov found no check to run: the comparison would prove nothing"


@pytest.mark.slow
def test_partial_rescan_equals_full_scan(tmp_path: Path, checkov_env: str) -> None:
    """One resource of a 55-resource plan changes: only its component is sent, results equal a full scan."""
    source = PLANS / "checkov" / "aws-55-resources-v0.1.json"
    cache = tmp_path / "cache"
    settings = CheckovSettings(cache_dir=cache)
    assert scan_plan(load_plan(source.read_bytes()), settings).runs == 1
    doc = json.loads(source.read_bytes())
    target = next(
        r
        for r in doc["planned_values"]["root_module"]["resources"]
        if r["type"] == "aws_s3_bucket" and r["values"].get("acl") == "private"
    )
    target["values"]["acl"] = "public-read"
    for rc in doc["resource_changes"]:
        if rc["address"] == target["address"]:
            rc["change"]["after"]["acl"] = "public-read"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    partial = scan_plan(load_plan(changed.read_bytes()), settings)
    assert partial.runs == 1 and target["address"] in partial.sent and len(partial.sent) < 10
    assert partial.cached > 40
    mine = {
        (f.check_id, f.address, f.passed) for f in partial.findings if not f.check_id.startswith("TFKIT_")
    }
    direct = {(c, a, s == "passed") for c, a, s in _direct(checkov_env, changed)[0]}
    assert mine == direct
    assert ("CKV_AWS_20", target["address"], False) in mine  # the public ACL was seen
