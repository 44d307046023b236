"""Checkov run for real: failures as one-line errors, offline, typed findings, and the cache.

The offline and typed-findings tests share one scan of the same plan with the same settings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scanutil import PLANS, fake_checkov

from tfkit.errors import ScanConfigError, ScanError
from tfkit.plan import Plan, load_plan
from tfkit.scan.cache import UNITS_FILE
from tfkit.scan.checkov import scan_plan
from tfkit.scan.report import ScanReport
from tfkit.scan.settings import CheckovSettings

IAM = PLANS / "checkov" / "iam-data-source-read-v1.1.json"
VERSION = 'if [ "$1" = --version ]; then echo 3.3.30; exit 0; fi\n'
BLOCKER = """
import os, socket
_log = os.environ["TFKIT_NET_LOG"]
with open(_log, "a") as h:
    h.write("loaded\\n")
def _record(what):
    with open(_log, "a") as h:
        h.write(what + "\\n")
def _getaddrinfo(host, *args, **kwargs):
    _record(f"getaddrinfo {host}")
    raise OSError("network blocked by the test")
_connect = socket.socket.connect
def _guarded(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record(f"connect {address}")
        raise OSError("network blocked by the test")
    return _connect(self, address)
socket.getaddrinfo = _getaddrinfo
socket.socket.connect = _guarded
"""


def _settings(tmp_path: Path, **kw: object) -> CheckovSettings:
    return CheckovSettings(cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


def test_crashing_checkov_is_a_one_line_error_with_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = fake_checkov(tmp_path / "bin", VERSION + 'echo "Traceback: KeyError boom" >&2\nexit 3\n')
    monkeypatch.setenv("TFKIT_CHECKOV", str(exe))
    with pytest.raises(ScanError) as info:
        scan_plan(load_plan(IAM.read_bytes()), _settings(tmp_path))
    assert info.value.exit_code == 1 and info.value.returncode == 3
    assert str(info.value) == "checkov crashed (exit 3): Traceback: KeyError boom"
    assert "boom" in info.value.stderr


def test_output_that_is_not_a_report_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_checkov(tmp_path / "bin", VERSION + 'echo "Update available!"\necho "warn" >&2\nexit 0\n')
    monkeypatch.setenv("TFKIT_CHECKOV", str(exe))
    with pytest.raises(
        ScanError, match="checkov produced no JSON report \\(it printed 'Update available!'\\): warn"
    ):
        scan_plan(load_plan(IAM.read_bytes()), _settings(tmp_path))
    exe.write_text("#!/bin/sh\n" + VERSION + "echo '{\"foo\": 1}'\n")
    with pytest.raises(ScanError, match="not a report"):
        scan_plan(load_plan(IAM.read_bytes()), _settings(tmp_path))


@pytest.mark.slow
def test_unknown_check_id_is_a_config_error(tmp_path: Path, checkov_env: str) -> None:
    settings = _settings(tmp_path, skip_checks=("CKV_AWS_2O",))
    for _ in range(2):  # once learning the catalog from the run, once from the cache
        with pytest.raises(
            ScanConfigError, match=r"checkov\.skip_checks: unknown check id 'CKV_AWS_2O' \(did you mean"
        ):
            scan_plan(load_plan(IAM.read_bytes()), settings)


@pytest.fixture(scope="module")
def offline_scan(
    checkov_exe: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Plan, ScanReport, list[str]]:
    """One cold scan of IAM with a blocker in Checkov's process logging every network attempt.

    Shared by the tests of offline running and of typed findings (the same plan and settings).
    """
    tmp = tmp_path_factory.mktemp("offline")
    site = tmp / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = tmp / "net.log"
    plan = load_plan(IAM.read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFKIT_CHECKOV", checkov_exe)
        mp.setenv("PYTHONPATH", str(site))
        mp.setenv("TFKIT_NET_LOG", str(log))
        report = scan_plan(plan, _settings(tmp, fail_on=("HIGH",)), file=str(IAM))
    return plan, report, log.read_text().splitlines()


@pytest.mark.slow
def test_no_network_connection_is_attempted(
    tmp_path: Path,
    checkov_env: str,
    monkeypatch: pytest.MonkeyPatch,
    offline_scan: tuple[Plan, ScanReport, list[str]],
) -> None:
    _, report, lines = offline_scan
    assert report.runs == 1 and report.failed
    assert "loaded" in lines, "the blocker did not load in Checkov's process"
    assert [line for line in lines if line != "loaded"] == []
    # Control: the same blocker does see Checkov's network use when it is not switched off.
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    log = tmp_path / "net.log"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("TFKIT_NET_LOG", str(log))
    env = {k: v for k, v in os.environ.items() if k != "BC_SKIP_MAPPING"}
    subprocess.run(
        [checkov_env, "-f", str(IAM), "--framework", "terraform_plan", "-o", "json"],
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert any(line.startswith("getaddrinfo") for line in log.read_text().splitlines())


@pytest.mark.slow
def test_findings_are_typed(offline_scan: tuple[Plan, ScanReport, list[str]]) -> None:
    plan, report, _ = offline_scan
    assert report.tool == "checkov" and report.version.count(".") == 2
    addresses = {rc.address for rc in plan.resource_changes}
    failed = {(f.check_id, f.address) for f in report.failed}
    assert ("CKV_AWS_49", "data.aws_iam_policy_document.allow_access_from_another_account") in failed
    assert {f.address for f in report.findings} == addresses | {"aws.default"}  # and the provider
    assert all(f.source == "checkov" and f.name and f.file == str(IAM) for f in report.findings)
    assert not any(f.blocking for f in report.findings)  # no built-in check has a severity offline


@pytest.mark.slow
def test_cache_sends_only_changed_resources(scan_repo: Path, checkov_env: str, cold_cache: Path) -> None:
    from tfkit import workflow
    from tfkit.project import Project
    from tfkit.scan.settings import load_settings

    project = Project.load(scan_repo)
    env = project.environment("staging")
    settings = load_settings(project, "staging")
    first_plan = workflow.plan(env)
    cold = scan_plan(first_plan, settings)
    assert cold.runs == 1 and cold.sent and cold.cached == 0
    warm = scan_plan(first_plan, settings)
    assert warm.runs == 0 and warm.sent == () and warm.findings == cold.findings

    tfvars = env.directory / "staging.tfvars"
    text = tfvars.read_text()
    assert '"SSH from the VPN range"' in text
    tfvars.write_text(text.replace('"SSH from the VPN range"', '"SSH from the VPN"'))
    second_plan = workflow.plan(env)
    changed = scan_plan(second_plan, settings)
    rule = [rc.address for rc in second_plan.resource_changes if "ssh-vpn" in rc.address]
    assert changed.runs == 1 and list(changed.sent) == rule
    full = scan_plan(second_plan, dataclasses.replace(settings, cache_dir=None))
    assert full.sent and sorted(map(repr, changed.findings)) == sorted(map(repr, full.findings))
    ids = {f.check_id for f in full.findings}
    assert {"CKV_TFK_1", "CKV_TFK_2", "CKV2_TFK_1"} <= ids


@pytest.mark.slow
def test_custom_check_failure_fails_the_scan_command(scan_repo: Path, tfkit_cli) -> None:
    service = scan_repo / "modules" / "service" / "main.tf"
    service.write_text(service.read_text().replace('engine = "postgres"', 'engine = "oracle"'))
    result = tfkit_cli("scan", "--env", "staging", cwd=scan_repo)
    assert result.returncode == 1, result.stderr
    assert "SOFT     CKV2_TFK_1 module.service.terraform_data.database: " in result.stdout
    assert "gate FAILED for staging" in result.stdout


@pytest.mark.slow
def test_scan_command_on_a_plan_file(tmp_path: Path, checkov_env: str, tfkit_cli) -> None:
    result = tfkit_cli("scan", str(IAM), cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # failed checks fail the gate (fail_on: all severities)
    assert "CKV_AWS_49 data.aws_iam_policy_document.allow_access_from_another_account" in result.stdout
    assert "scanner: checkov " in result.stdout
    destroy = tfkit_cli("scan", str(PLANS / "snyk-cli" / "aws-destroy-v0.1.json"), cwd=tmp_path)
    assert destroy.returncode == 1
    assert "SOFT     TFKIT_DEL_1 aws_s3_bucket.terra_ci" in destroy.stdout


def test_scan_command_errors(tmp_path: Path, tfkit_cli) -> None:
    both = tfkit_cli("scan", str(IAM), "--env", "dev", cwd=tmp_path)
    assert both.returncode == 2 and "either --env" in both.stderr
    missing = tfkit_cli("scan", str(IAM), cwd=tmp_path, env={"TFKIT_CHECKOV": str(tmp_path / "none")})
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: checkov not found")
    assert "Traceback" not in missing.stderr
    crash = fake_checkov(tmp_path / "bin", VERSION + "echo 'segfault-ish' >&2\nexit 139\n")
    crashed = tfkit_cli("scan", str(IAM), cwd=tmp_path, env={"TFKIT_CHECKOV": str(crash)})
    assert crashed.returncode == 1
    assert crashed.stderr.strip().splitlines()[-1] == "error: checkov crashed (exit 139): segfault-ish"
    bad_plan = tmp_path / "bad.json"
    bad_plan.write_text("{")
    assert tfkit_cli("scan", str(bad_plan), cwd=tmp_path).returncode == 2


def test_report_json_is_parsed_without_loss() -> None:
    from tfkit.scan._runner import parse_report

    doc = {
        "check_type": "terraform_plan",
        "results": {
            "passed_checks": [{"check_id": "A", "resource": "x.y", "check_result": {"result": "PASSED"}}],
            "failed_checks": [{"check_id": "B", "resource_address": "x.z", "severity": "HIGH"}],
            "skipped_checks": [],
        },
        "summary": {"passed": 1, "failed": 1, "parsing_errors": 0, "checkov_version": "9.9.9"},
    }
    results, version = parse_report(json.dumps([doc]))
    assert version == "9.9.9"
    assert [(r["check_id"], r["resource"], r["result"], r["severity"]) for r in results] == [
        ("A", "x.y", "PASSED", None),
        ("B", "x.z", "FAILED", "HIGH"),
    ]
    with pytest.raises(ScanError, match="could not parse the plan"):
        parse_report(json.dumps({**doc, "summary": {"passed": 0, "failed": 0, "parsing_errors": 1}}))


@pytest.mark.slow
def test_a_started_checkov_writes_its_results_to_a_file_and_prints_no_report(
    tmp_path: Path, checkov_exe: str
) -> None:
    """Checkov's own printing (every result serialised twice, once as indented pure-Python JSON) is
    skipped: the helper writes the reports, results cut to what tfkit reads, and they parse whole; the
    plan read with Checkov's JSON parser, the results are the CLI's."""
    from tfkit.scan._runner import executable, parse_report, start_checkov

    settings = _settings(tmp_path)
    with start_checkov(executable(checkov_exe), settings, catalog=False, json_parser=True) as started:
        run = started.scan(IAM.read_bytes(), catalog=False)
        assert (started.directory / "stdout").read_text() == ""
        written = (started.directory / "report.json").read_bytes()
    cli = subprocess.run(
        [checkov_exe, "-f", str(IAM), "--framework", "terraform_plan", "-o", "json", "--skip-download"],
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    expected, _ = parse_report(cli.stdout)

    def canonical(results: list[dict[str, Any]]) -> list[str]:  # evaluated keys: a set in Checkov
        return sorted(repr({**r, "evaluated_keys": sorted(r["evaluated_keys"])}) for r in results)

    assert run.results and canonical(run.results) == canonical(expected)
    assert len(written) * 3 < len(cli.stdout)  # no code blocks, line ranges, file paths, ...


@pytest.mark.slow
def test_resources_no_check_looks_at_are_not_sent_even_cold(tmp_path: Path, checkov_env: str) -> None:
    """300 local_file resources and the local provider: Checkov, started first, tells the built-in catalog
    before tfkit has the plan ready, so even the first scan sends nothing and writes no result entry."""
    plan = load_plan((PLANS / "terraform-plan-comment" / "create-300-for-each-v1.2.json").read_bytes())
    settings = _settings(tmp_path)
    cold = scan_plan(plan, settings)
    assert cold.runs == 0 and cold.sent == () and cold.skipped == 301 and cold.findings == ()
    assert not (tmp_path / "cache" / UNITS_FILE).exists()
    assert list((tmp_path / "cache" / "catalog").rglob("*.json"))
    warm = scan_plan(plan, settings)
    assert warm.runs == 0 and warm.skipped == 301 and warm.findings == cold.findings


@pytest.mark.slow
def test_an_unchanged_plan_is_one_cache_entry(tmp_path: Path, checkov_env: str) -> None:
    """A scanned plan is looked up whole (one file), whatever Checkov does not read (its timestamp,
    prior_state); a changed resource misses it and sends that resource's component only."""
    source = json.loads((PLANS / "checkov" / "aws-55-resources-v0.1.json").read_bytes())
    settings = _settings(tmp_path)
    cold = scan_plan(load_plan(json.dumps(source).encode()), settings)  # written as the changes below are
    assert cold.runs == 1 and len(cold.sent) > 40 and cold.cached == 0
    doc = json.loads(json.dumps(source))
    bucket = next(
        r for r in doc["planned_values"]["root_module"]["resources"] if r["type"] == "aws_s3_bucket"
    )
    bucket["values"]["force_destroy"] = not bucket["values"].get("force_destroy")
    changed = scan_plan(load_plan(json.dumps(doc).encode()), settings)
    assert changed.runs == 1 and bucket["address"] in changed.sent and len(changed.sent) < 10

    (tmp_path / "cache" / UNITS_FILE).unlink()  # from here on, the whole-plan entries alone answer
    original = dict(source)
    original["timestamp"] = "2026-12-07T11:00:00Z"
    original["prior_state"] = {"format_version": "1.0", "values": {"root_module": {}}}
    again = scan_plan(load_plan(json.dumps(original).encode()), settings)
    assert again.runs == 0 and again.sent == () and again.findings == cold.findings
    assert again.cached == len(cold.sent) + 1  # every unit a check looks at, and the providers
    assert scan_plan(load_plan(json.dumps(doc).encode()), settings).runs == 0


@pytest.mark.slow
def test_a_copy_of_the_repository_elsewhere_hits_the_same_cache(
    scan_repo: Path, tmp_path: Path, checkov_env: str, cold_cache: Path
) -> None:
    """The external checks directory enters the key by content, not by path: a fresh clone elsewhere (a CI
    runner restoring the cache) sends Checkov nothing it scanned before; a changed check is a miss."""
    from tfkit import workflow
    from tfkit.project import Project
    from tfkit.scan.settings import load_settings

    here = Project.load(scan_repo)
    settings = load_settings(here, "staging")
    cold = scan_plan(workflow.plan(here.environment("staging")), settings)
    assert cold.runs == 1 and cold.sent

    elsewhere = Project.load(Path(shutil.copytree(scan_repo, tmp_path / "elsewhere", symlinks=True)))
    moved = dataclasses.replace(load_settings(elsewhere, "staging"), cache_dir=settings.cache_dir)
    assert moved.external_checks_dirs != settings.external_checks_dirs
    warm = scan_plan(workflow.plan(elsewhere.environment("staging")), moved)
    assert (
        warm.runs == 0
        and warm.sent == ()
        and sorted(map(repr, warm.findings)) == sorted(map(repr, cold.findings))
    )

    check = next(moved.external_checks_dirs[0].rglob("*.py"))
    check.write_text(check.read_text() + "\n# changed\n")
    assert scan_plan(workflow.plan(elsewhere.environment("staging")), moved).runs == 1


def _fake_console_script(tmp_path: Path, main_py: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for Checkov's console script (so tfkit starts it ahead of its input) whose
    ``checkov.main`` is ``main_py``; ``checkov.version`` answers 3.3.30."""
    package = tmp_path / "site" / "checkov"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "version.py").write_text("version = '3.3.30'\n")
    (package / "main.py").write_text(main_py)
    script = tmp_path / "bin" / "checkov"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nfrom checkov.main import Checkov\n")
    script.chmod(0o755)
    monkeypatch.setenv("TFKIT_CHECKOV", str(script))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "site"))


def test_checkov_dying_in_its_start_up_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_console_script(tmp_path, "raise ImportError('boom in start-up')\n", monkeypatch)
    with pytest.raises(ScanError) as info:
        scan_plan(load_plan(IAM.read_bytes()), _settings(tmp_path))
    assert str(info.value).startswith("checkov crashed (exit 1): ")
    assert str(info.value).endswith("ImportError: boom in start-up")
    assert info.value.returncode == 1


def test_checkov_slow_to_start_is_stopped_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_console_script(tmp_path, "import time\ntime.sleep(120)\n", monkeypatch)
    with pytest.raises(ScanError, match=r"^checkov did not finish within 1s"):
        scan_plan(load_plan(IAM.read_bytes()), _settings(tmp_path, timeout=1.0))
