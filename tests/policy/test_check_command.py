"""`tfkit check PLAN_JSON` and `tfkit policies` as a user runs them (a subprocess), with their exit codes."""

from __future__ import annotations

from pathlib import Path

from testsupport import PLANS


def _repo(root: Path, toml: str = "") -> Path:
    (root / "envs" / "production").mkdir(parents=True)
    (root / "tfkit.toml").write_text("[environments.production]\nprotected = true\n" + toml)
    return root


def test_check_fails_with_exit_1_and_findings_grouped_by_severity(tmp_path: Path, tfkit_cli) -> None:
    root = _repo(tmp_path)
    done = tfkit_cli(
        "check", str(PLANS / "snyk-cli" / "aws-destroy-v0.1.json"), "--env", "production", cwd=root
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "soft (fail unless waived):"
    assert sum(line.startswith("  SOFT     TFK001 ") for line in lines) == 8
    assert lines[-1].startswith("gate FAILED for production: 0 hard, 8 soft")


def test_check_passes_with_exit_0_outside_a_repository(tmp_path: Path, tfkit_cli) -> None:
    done = tfkit_cli("check", str(PLANS / "snyk-cli" / "aws-destroy-v0.1.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("gate passed: 0 hard, 0 soft, 0 advisory, 0 waived")


def test_check_advisory_findings_do_not_fail(tmp_path: Path, tfkit_cli) -> None:
    root = _repo(
        tmp_path, "[policies]\ndisabled = ['TFK004', 'TFK006']\n[policies.TFK003]\nseverity = 'advisory'\n"
    )
    done = tfkit_cli("check", str(PLANS / "checkov" / "aws-55-resources-v0.1.json"), cwd=root)
    assert done.returncode == 0, done.stdout
    assert "advisory (reported only):" in done.stdout and "ADVISORY TFK003 aws_lambda_function" in done.stdout


def test_check_bad_input_is_one_line_with_exit_2(tmp_path: Path, tfkit_cli) -> None:
    root = _repo(tmp_path)
    (root / "bad.json").write_text('{"format_version": "1.2", "resource_changes": [')
    cases = [
        ("check", "bad.json"),
        ("check", "missing.json"),
        ("check", str(PLANS / "snyk-cli" / "aws-destroy-v0.1.json"), "--env", "prod"),
    ]
    for args in cases:
        done = tfkit_cli(*args, cwd=root)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
        assert "Traceback" not in done.stderr


def test_policies_lists_ids_severities_and_per_environment_settings(tmp_path: Path, tfkit_cli) -> None:
    root = _repo(tmp_path, "[environments.production.policies.TFK002]\nmax_destructive = 2\n")
    done = tfkit_cli("policies", "--env", "production", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "TFK001   soft     No delete or replace in a protected environment" in done.stdout
    assert "max_destructive=2" in done.stdout
    typo = tfkit_cli("policies", cwd=_repo(tmp_path / "typo", "[policies.TFK02]\nenabled = false\n"))
    assert typo.returncode == 2 and "unknown policy 'TFK02' (did you mean 'TFK" in typo.stderr
