"""The plugin's plans and real state: empty state by default, a read-only copy when asked, never a lock;
and ``tfkit_module_plan`` with Hypothesis, from ``tests/``, recorded then replayed."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
from testsupport import copy_example

from tfkit.project import Project
from tfkit.testing import assert_no_deletes, assert_only
from tfkit.testing.planner import Planner

pytest_plugins = ["pytester"]

#: State holding a resource the configuration does not have: planned from it, dev would delete it.
ORPHAN_STATE = {
    "version": 4,
    "terraform_version": "1.5.7",
    "serial": 3,
    "lineage": "the-real-one",
    "outputs": {},
    "resources": [
        {
            "mode": "managed",
            "type": "terraform_data",
            "name": "orphan",
            "provider": 'provider["terraform.io/builtin/terraform"]',
            "instances": [{"schema_version": 0, "attributes": {"id": "x", "input": None, "output": None}}],
        }
    ],
}

NAMING_MODULE = """\
variable "name" {
  type        = string
  description = "A DNS-style name."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,14}$", var.name))
    error_message = "lower-case letters, digits and -, 3 to 15 characters, starting with a letter."
  }
}

variable "code" {
  type        = string
  description = "Three digits."
  validation {
    condition     = can(regex("^[0-9]{3}$", var.code))
    error_message = "three digits."
  }
}

variable "size" {
  type        = number
  description = "How many."
  default     = 2
  validation {
    condition     = var.size >= 1 && var.size <= 5
    error_message = "1 to 5."
  }
}

resource "terraform_data" "named" {
  count = var.size
  input = "${var.name}-${var.code}-${count.index}"
}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TF_VAR_db_password", raising=False)
    monkeypatch.delenv("TFKIT_ENGINE", raising=False)
    return copy_example(tmp_path / "repo")


def _destroys(plan: object) -> list[str]:
    return [rc.address for rc in plan.resource_changes if rc.change.action.is_destructive]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_backend_is_never_locked_or_written_empty_by_default_copied_when_asked(
    repo: Path, tmp_path: Path
) -> None:
    real = tmp_path / "remote" / "dev.tfstate"  # a backend elsewhere, standing for a remote one
    real.parent.mkdir()
    real.write_text(json.dumps(ORPHAN_STATE))
    (repo / "envs" / "dev" / "backend.tf").write_text(
        f'terraform {{\n  backend "local" {{\n    path = "{real}"\n  }}\n}}\n'
    )
    before = (real.read_bytes(), real.stat().st_mtime_ns)
    with real.open("rb+") as held:
        # Another run holds the state lock (Terraform's local backend locks the file with fcntl).
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        empty = Planner(Project.load(repo), tmp_path / "empty").plan("dev")
        assert_only(empty, actions="create")
        copied = Planner(Project.load(repo), tmp_path / "copy", state="copy").plan("dev")
    assert _destroys(copied) == ["terraform_data.orphan"]  # planned against the real state's copy
    assert (real.read_bytes(), real.stat().st_mtime_ns) == before
    assert sorted(p.name for p in real.parent.iterdir()) == ["dev.tfstate"]  # no backup, no lock file


@pytest.mark.slow
def test_local_state_is_copied_only_when_asked(repo: Path, tmp_path: Path) -> None:
    state = repo / "envs" / "dev" / "terraform.tfstate"
    state.write_text(json.dumps(ORPHAN_STATE))
    assert_no_deletes(Planner(Project.load(repo), tmp_path / "empty").plan("dev"))
    copied = Planner(Project.load(repo), tmp_path / "copy", state="copy").plan("dev")
    assert _destroys(copied) == ["terraform_data.orphan"]
    assert state.read_text() == json.dumps(ORPHAN_STATE)
    with pytest.raises(ValueError, match="state must be one of empty, copy"):
        Planner(Project.load(repo), tmp_path / "x", state="real")


@pytest.mark.slow
def test_module_plans_with_hypothesis_from_tests_dir_recorded_then_replayed(
    pytester: pytest.Pytester, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "modules" / "naming").mkdir()
    (repo / "modules" / "naming" / "main.tf").write_text(NAMING_MODULE)
    tests = repo / "tests"
    tests.mkdir()
    (tests / "test_naming.py").write_text(
        """
import re

from hypothesis import given, settings

from tfkit.testing import assert_only
from tfkit.testing.strategies import module_inputs, unsupported_conditions


def test_every_condition_is_understood():
    assert unsupported_conditions("modules/naming") == {}


@settings(max_examples=4, deadline=None)
@given(inputs=module_inputs("modules/naming"))
def test_every_valid_input_plans(tfkit_module_plan, inputs):
    assert re.fullmatch(r"[a-z][a-z0-9-]{2,14}", inputs["name"]) and re.fullmatch(r"[0-9]{3}", inputs["code"])
    plan = tfkit_module_plan("modules/naming", inputs)
    assert_only(plan, actions="create")
    assert len(plan.resource_changes) == inputs.get("size", 2)
"""
    )
    monkeypatch.chdir(tests)  # paths are the repository's, whatever directory pytest runs from
    fixtures = repo / "recorded"
    args = ["-p", "no:cacheprovider", "--rootdir", str(tests), "--tfkit-fixtures", str(fixtures)]
    recorded = pytester.runpytest_subprocess(*args, "--tfkit-replay", "record")
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(["tfkit: plans from empty state*; --tfkit-replay record"])
    recordings = sorted(p.name for p in fixtures.iterdir())
    assert recordings and all(name.startswith("module-naming-") for name in recordings)

    monkeypatch.setenv("TFKIT_ENGINE", "binary")  # a replay that ran Terraform would fail on this binary
    monkeypatch.setenv("TFKIT_BINARY", str(repo / "no-such-terraform"))
    replayed = pytester.runpytest_subprocess(*args, "--tfkit-replay", "replay")
    replayed.assert_outcomes(passed=2)
