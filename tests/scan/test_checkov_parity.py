"""Acceptance: on every AWS, GCP and Azure fixture plan, tfkit's checks equal Checkov's own CLI.

Checkov's CLI side is recorded (``tests/fixtures/checkov-cli.json``, written by real runs of the pinned
Checkov: ``python tests/scan/record_checkov_cli.py``); tfkit's side runs live, real Checkov through
tfkit with a cold cache, one test per plan. A record made with another Checkov version than the
installed one, or of a plan whose bytes changed since, fails the test with the re-record command:
it never compares against stale results. Then a partial re-scan (one resource changed, the rest from
the cache) is compared with a live run of the CLI on the changed plan.

Distribution: ``make test`` runs ``pytest -n 2 --dist loadscope``, which gives each module, or each
class, to one worker whole. The per-plan tests are therefore dealt round-robin into four classes (four
scopes of 6-7 Checkov runs), so both workers share them and the scheduler can fill gaps left by
other modules. ``--dist loadgroup`` with ``xdist_group`` marks was not chosen: it spreads every
unmarked test one by one, so the module-scoped fixtures of other modules would run on both workers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import pytest
from checkov_cli import PLANS, RECORD, RECORD_COMMAND, Check, cloud_plans, run_cli, sha256

from tfkit.errors import ScanError
from tfkit.plan import load_plan
from tfkit.scan._runner import executable, version
from tfkit.scan.cache import ResultCache
from tfkit.scan.checkov import scan_plan
from tfkit.scan.settings import CheckovSettings

PLAN_FILES = cloud_plans()
CLASSES = 4


@pytest.fixture(scope="session")
def recorded() -> dict[str, Any]:
    """The recorded CLI results."""
    doc: dict[str, Any] = json.loads(RECORD.read_text())
    return doc


@pytest.fixture(scope="session")
def checkov_version(checkov_exe: str) -> str:
    """The installed Checkov's version, as tfkit's scanner asks it (faster than ``checkov --version``)."""
    return version(executable(checkov_exe), ResultCache(None))


def _stale(message: str) -> NoReturn:
    pytest.fail(f"{message}: re-record with `{RECORD_COMMAND}`", pytrace=False)


def _recorded_cli(path: Path, recorded: dict[str, Any], checkov_version: str) -> tuple[set[Check], int]:
    """The CLI's recorded checks and parsing errors on ``path``; fails when the record is stale."""
    name = path.relative_to(PLANS).as_posix()
    if recorded["checkov_version"] != checkov_version:
        _stale(f"{RECORD.name} is of Checkov {recorded['checkov_version']}, {checkov_version} is installed")
    entry = recorded["plans"].get(name)
    if entry is None:
        _stale(f"{RECORD.name} has no record of {name}")
    elif entry["sha256"] != sha256(path):
        _stale(f"{name} changed since {RECORD.name} was recorded")
    return {(c, a, s) for c, a, s in entry["checks"]}, entry["parsing_errors"]


def _tfkit(path: Path, cache: Path) -> tuple[set[Check], str] | str:
    """tfkit's checks on ``path`` and the Checkov version it ran, or its error line."""
    try:
        report = scan_plan(load_plan(path.read_bytes()), CheckovSettings(cache_dir=cache))
    except ScanError as exc:
        return str(exc)
    checks = {
        (f.check_id, f.address or "", "passed" if f.passed else "failed")
        for f in report.findings
        if not f.check_id.startswith("TFKIT_")
    }
    return checks, report.version


def test_fixture_set_covers_the_three_clouds() -> None:
    names = " ".join(p.name for p in PLAN_FILES)
    assert len(PLAN_FILES) >= 20 and "aws" in names and "gcp" in names and "azure" in names


def test_record_holds_exactly_the_cloud_plans(recorded: dict[str, Any]) -> None:
    names = sorted(p.relative_to(PLANS).as_posix() for p in PLAN_FILES)
    if sorted(recorded["plans"]) != names:
        _stale(f"{RECORD.name} records other plans than the cloud fixture plans")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each ``_SameChecks`` class is parametrised with its share of the plans."""
    plans = getattr(metafunc.cls, "plans", None)
    if plans is not None and "path" in metafunc.fixturenames:
        metafunc.parametrize("path", plans, ids=lambda p: p.name)


class _SameChecks:
    """tfkit's live checks on each of ``plans`` equal the CLI's recorded ones."""

    plans: list[Path]

    @pytest.mark.slow
    def test_same_checks_as_checkov_cli(
        self,
        path: Path,
        recorded: dict[str, Any],
        checkov_version: str,
        checkov_env: str,
        tmp_path: Path,
    ) -> None:
        direct, parse_errors = _recorded_cli(path, recorded, checkov_version)
        mine = _tfkit(path, tmp_path / "cache")
        if parse_errors:  # Checkov's CLI rejects the file (a duplicate JSON key): tfkit must not pass it
            assert not direct and isinstance(mine, str)
            assert mine.startswith("checkov could not parse the plan")
            return
        assert not isinstance(mine, str), mine
        checks, version = mine
        assert version == checkov_version
        assert checks == direct
        assert direct, "Checkov found no check to run: the comparison would prove nothing"


class TestPlansA(_SameChecks):
    plans = PLAN_FILES[0::CLASSES]


class TestPlansB(_SameChecks):
    plans = PLAN_FILES[1::CLASSES]


class TestPlansC(_SameChecks):
    plans = PLAN_FILES[2::CLASSES]


class TestPlansD(_SameChecks):
    plans = PLAN_FILES[3::CLASSES]


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
    direct = {(c, a, s == "passed") for c, a, s in run_cli(checkov_env, changed)[0]}
    assert mine == direct
    assert ("CKV_AWS_20", target["address"], False) in mine  # the public ACL was seen


@pytest.mark.slow
def test_example_environments_equal_checkov_cli_cold_and_warm(
    scan_repo: Path, checkov_env: str, tmp_path: Path, cold_cache: Path
) -> None:
    """The example's environments, with its custom checks: tfkit cold == tfkit warm == Checkov's CLI."""
    from tfkit import workflow
    from tfkit.project import Project
    from tfkit.scan.settings import load_settings

    project = Project.load(scan_repo)
    for env in project.environments:
        plan = workflow.plan(env)
        settings = load_settings(project, env.name)
        cold = scan_plan(plan, settings)
        warm = scan_plan(plan, settings)
        assert cold.runs == 1 and warm.runs == 0 and warm.findings == cold.findings
        path = tmp_path / f"{env.name}.json"
        path.write_bytes(plan.raw)
        direct, errors = run_cli(checkov_env, path, settings.external_checks_dirs[0])
        mine = {
            (f.check_id, f.address or "", "passed" if f.passed else "failed")
            for f in cold.findings
            if not f.check_id.startswith("TFKIT_")
        }
        assert errors == 0 and mine == direct, env.name
        assert any(c.startswith("CKV_TFK_") for c, _, _ in direct)  # the custom checks ran
