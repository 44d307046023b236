"""``[checkov]`` settings: merging, custom check directories, finding the executable, the schema."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scanutil import fake_checkov
from testsupport import core_config

from tfkit.errors import ConfigError, ScanConfigError
from tfkit.findings import Severity
from tfkit.project import Project
from tfkit.scan.settings import CheckovSettings, find_checkov, load_settings


def _with(repo: Path, toml: str) -> Project:
    """The example's configuration without its gate tables, plus ``toml``."""
    (repo / "tfkit.toml").write_text(core_config() + toml)
    return Project.load(repo)


def test_no_table_means_no_scan(example_repo: Path) -> None:
    assert load_settings(_with(example_repo, ""), "dev").enabled is False
    assert load_settings(None, None).enabled is False


def test_cache_lives_in_tfkit_dir_unless_shared(example_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFKIT_CACHE_DIR")
    project = _with(example_repo, "\n[checkov]\n")
    assert load_settings(project, "dev").cache_dir == example_repo / ".tfkit" / "cache" / "checkov"


def test_environment_keys_replace_top_level_ones(example_repo: Path) -> None:
    (example_repo / "checks").mkdir()
    project = _with(
        example_repo,
        '\n[checkov]\nskip_checks = ["CKV_AWS_20"]\nfail_on = ["HIGH"]\nexternal_checks_dirs = ["checks"]\n'
        '[environments.production.checkov]\nskip_checks = []\ndeleted_data = "hard"\n',
    )
    dev = load_settings(project, "dev")
    prod = load_settings(project, "production")
    assert dev.enabled and dev.skip_checks == ("CKV_AWS_20",) and dev.deleted_data is Severity.SOFT
    assert prod.skip_checks == () and prod.fail_on == ("HIGH",) and prod.deleted_data is Severity.HARD
    assert dev.external_checks_dirs == ((example_repo / "checks").resolve(),)
    assert dev.cache_dir == Path(os.environ["TFKIT_CACHE_DIR"]) / "checkov"  # shared by the test session
    assert dev.severity_of("HIGH") is Severity.SOFT
    assert dev.severity_of(None) is Severity.ADVISORY


def test_missing_check_directory_is_a_one_line_error(example_repo: Path) -> None:
    project = _with(example_repo, '\n[checkov]\nexternal_checks_dirs = ["policies/nope"]\n')
    with pytest.raises(ScanConfigError) as info:
        load_settings(project, "dev")
    assert info.value.exit_code == 2
    assert "policies/nope does not exist" in str(info.value) and "\n" not in str(info.value)


def test_python_checks_without_init_py_are_reported(example_repo: Path) -> None:
    checks = example_repo / "checks" / "nested"
    checks.mkdir(parents=True)
    (example_repo / "checks" / "__init__.py").write_text("")
    (checks / "my_check.py").write_text("check = None\n")
    project = _with(example_repo, '\n[checkov]\nexternal_checks_dirs = ["checks"]\n')
    with pytest.raises(
        ScanConfigError, match=r"nested holds Python checks \(my_check.py\) but no __init__.py"
    ):
        load_settings(project, "dev")
    (checks / "__init__.py").write_text("")
    assert load_settings(project, "dev").external_checks_dirs


def test_yaml_only_directory_needs_no_init_py(example_repo: Path) -> None:
    (example_repo / "yaml").mkdir()
    (example_repo / "yaml" / "c.yaml").write_text("metadata: {}\n")
    project = _with(example_repo, '\n[checkov]\nexternal_checks_dirs = ["yaml"]\n')
    assert load_settings(project, "dev").external_checks_dirs


def test_unknown_checkov_key_is_a_config_error(example_repo: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'skip_checks'"):
        _with(example_repo, '\n[checkov]\nskip_check = ["CKV_AWS_20"]\n')


def test_find_checkov_order(tmp_path: Path) -> None:
    first = fake_checkov(tmp_path / "a", "exit 0\n")
    second = fake_checkov(tmp_path / "b", "exit 0\n")
    env = {"TFKIT_CHECKOV": str(second), "PATH": ""}
    assert find_checkov(CheckovSettings(command=str(first)), env) == str(first)
    assert find_checkov(CheckovSettings(), env) == str(second)


def test_missing_checkov_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ScanConfigError, match="checkov not found") as info:
        find_checkov(CheckovSettings(), {})
    assert info.value.exit_code == 2
    with pytest.raises(ScanConfigError, match="TFKIT_CHECKOV is '/no/such/checkov'"):
        find_checkov(CheckovSettings(), {"TFKIT_CHECKOV": "/no/such/checkov"})


def test_the_repository_setup_checkov_is_found_last(
    example_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = example_repo / ".venv-checkov" / "bin" / "checkov"
    local.parent.mkdir(parents=True)
    local.write_text("#!/bin/sh\nexit 0\n")
    local.chmod(0o755)
    monkeypatch.delenv("TFKIT_CHECKOV", raising=False)
    monkeypatch.setenv("PATH", str(example_repo / "empty-path"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(example_repo / "no-managed-checkov"))
    settings = load_settings(_with(example_repo, "\n[checkov]\n"), "dev")
    assert find_checkov(settings) == str(local)
    local.unlink()
    with pytest.raises(ScanConfigError, match="checkov not found"):
        find_checkov(settings)
