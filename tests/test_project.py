"""Project and Environment: finding tfkit.toml upwards, environments in order, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfkit.errors import ConfigError, EnvironmentNotFoundError
from tfkit.project import Project


def test_load_searches_upwards_like_git(example_repo: Path) -> None:
    project = Project.load(example_repo / "envs" / "staging")
    assert project.root == example_repo.resolve()
    assert project.names == ("dev", "staging", "production")


def test_environment_fields(example_repo: Path) -> None:
    project = Project.load(example_repo)
    staging = project.environment("staging")
    assert staging.directory == (example_repo / "envs" / "staging").resolve()
    assert staging.var_files == ((example_repo / "envs" / "staging" / "staging.tfvars").resolve(),)
    assert staging.previous is not None and staging.previous.name == "dev"
    assert project.environment("dev").previous is None
    assert project.environment("production").protected
    assert set(staging.secrets) == {"db_password"}


def test_unknown_environment_lists_known_ones(example_repo: Path) -> None:
    with pytest.raises(EnvironmentNotFoundError) as info:
        Project.load(example_repo).environment("prod")
    assert str(info.value) == "unknown environment 'prod'; known environments: dev, staging, production"
    assert info.value.exit_code == 2


def test_missing_directory_is_reported(example_repo: Path) -> None:
    (example_repo / "tfkit.toml").write_text("[environments.qa]\n")
    env = Project.load(example_repo).environment("qa")
    with pytest.raises(EnvironmentNotFoundError, match=r"directory envs/qa does not exist"):
        env.check()


def test_missing_var_file_is_reported(example_repo: Path) -> None:
    (example_repo / "envs" / "dev" / "dev.tfvars").unlink()
    with pytest.raises(
        ConfigError, match=r"environments\.dev\.var_files: envs/dev/dev\.tfvars does not exist"
    ):
        Project.load(example_repo).environment("dev").check()


def test_no_config_anywhere(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no tfkit\.toml found"):
        Project.load(tmp_path)
