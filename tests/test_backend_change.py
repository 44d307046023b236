"""``check_backend_change``: which backends take a local ``terraform.tfstate`` and so refuse an init.

The journey with real Terraform (a ``backend "local"`` block added after an apply) is in
tests/test_workflow.py; these cases cover the decision on hand-written directories.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfkit.backend_change import check_backend_change
from tfkit.errors import ConfigError
from tfkit.project import Project

STATE = json.dumps({"version": 4, "lineage": "x", "serial": 3, "resources": [{"type": "terraform_data"}]})
TOML_PATH = '[environments.dev.backend]\npath = "terraform.tfstate"\n'
EMPTY_STATE = json.dumps({"version": 4, "lineage": "x", "serial": 1, "resources": [], "outputs": {}})


def _project(root: Path, backend: str | None, state: str | None, toml_backend: str = "") -> Project:
    directory = root / "envs" / "dev"
    directory.mkdir(parents=True)
    (directory / "main.tf").write_text('resource "terraform_data" "a" {}\n')
    if backend is not None:
        (directory / "backend.tf").write_text(f"terraform {{\n{backend}\n}}\n")
    if state is not None:
        (directory / "terraform.tfstate").write_text(state)
    (root / "tfkit.toml").write_text(f"[environments.dev]\n{toml_backend}")
    return Project.load(root)


@pytest.mark.parametrize(
    ("backend", "state", "toml_backend"),
    [
        (None, STATE, ""),  # no backend: terraform.tfstate is where the state lives
        ('backend "local" {}', STATE, ""),
        ('backend "local" {\n  path = "./terraform.tfstate"\n}', STATE, ""),
        (
            'backend "local" {\n  path = "other.tfstate"\n}',
            STATE,
            '[environments.dev.backend]\npath = "terraform.tfstate"\n',
        ),
        ('backend "s3" {}', None, ""),
        ('backend "s3" {}', "", ""),  # Terraform's 0-byte leftover after a migration
        ('backend "s3" {}', EMPTY_STATE, ""),
    ],
    ids=[
        "no-backend",
        "local-default",
        "local-same-path",
        "toml-path-wins",
        "no-file",
        "0-byte",
        "empty-state",
    ],
)
def test_nothing_to_migrate_is_not_refused(
    tmp_path: Path, backend: str | None, state: str | None, toml_backend: str
) -> None:
    check_backend_change(_project(tmp_path, backend, state, toml_backend).environment("dev"))


@pytest.mark.parametrize(
    "backend",
    ['backend "local" {\n  path = "other.tfstate"\n}', 'backend "s3" {\n  bucket = "b"\n}', "cloud {}"],
    ids=["local-elsewhere", "s3", "cloud"],
)
def test_a_backend_that_would_take_the_local_state_is_refused(tmp_path: Path, backend: str) -> None:
    project = _project(tmp_path, backend, STATE)
    with pytest.raises(ConfigError) as refused:
        check_backend_change(project.environment("dev"))
    message = str(refused.value)
    assert refused.value.exit_code == 2 and "\n" not in message
    assert (
        "envs/dev/terraform.tfstate" in message
        and "`terraform -chdir=envs/dev init -migrate-state`" in message
    )
