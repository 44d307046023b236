"""`tfkit check` and `tfkit policies` fail closed: an invalid tfkit.toml is an error, not "no repository"."""

from __future__ import annotations

import json
import shutil
import signal
import warnings
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from testsupport import PLANS, REPO

from tfkit.cli import main

PLAN = PLANS / "snyk-cli" / "aws-destroy-v0.1.json"
DENY = """
from tfkit.policy import Violation, policy


@policy(id="REPO900", title="nothing may be deleted here", severity="hard")
def deny_deletes(rc):
    if rc.change.actions.is_destructive:
        yield Violation("deletes are refused in this repository")
"""


def _repository(root: Path) -> Path:
    (root / "envs" / "dev").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "deny.py").write_text(DENY)
    (root / "tfkit.toml").write_text('[engine]\nkind = "embedded"\n\n[environments.dev]\n')
    return root


def _run(root: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """``tfkit ARGS`` in-process through the console entry point (exit codes and error lines included)."""
    monkeypatch.chdir(root)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    previous = signal.getsignal(signal.SIGTERM)
    result = CliRunner().invoke(_entry_point, list(args))
    signal.signal(signal.SIGTERM, previous)
    return result.exit_code, result.output


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def _entry_point(ctx: click.Context) -> None:
    main(list(ctx.args))


def test_the_repository_policy_fails_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = _run(_repository(tmp_path), monkeypatch, "check", str(PLAN))
    assert code == 1, output
    assert "REPO900" in output


@pytest.mark.parametrize("command", [["check", str(PLAN)], ["policies"]], ids=["check", "policies"])
def test_an_invalid_tfkit_toml_is_an_error_not_no_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    root = _repository(tmp_path)
    toml = root / "tfkit.toml"
    toml.write_text(toml.read_text().replace("[engine]", "[engin]"))
    code, output = _run(root, monkeypatch, *command)
    assert code == 2, output
    assert "unknown key 'engin'" in output and "gate passed" not in output
    assert "Traceback" not in output


def test_outside_any_repository_a_bare_plan_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(PLAN, tmp_path / "plan.json")
    code, output = _run(tmp_path, monkeypatch, "check", "plan.json")
    assert code == 0, output
    assert output.splitlines()[-1].startswith("gate passed")
    assert REPO not in tmp_path.parents


PRODUCTION_ONLY = """
from tfkit.policy import Violation, policy


@policy(id="REPO901", title="production keeps backups", severity="soft", envs=["production"])
def backups(rc):
    yield from ()
"""


def test_policies_without_env_shows_each_environments_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repository(tmp_path)
    for name in ("staging", "production"):
        (root / "envs" / name).mkdir()
    (root / "policies" / "prod.py").write_text(PRODUCTION_ONLY)
    (root / "tfkit.toml").write_text(
        '[engine]\nkind = "embedded"\n\n[policies]\ndisabled = ["REPO900"]\n\n'
        "[environments.dev]\n[environments.staging]\n"
        '[environments.production.policies.REPO900]\nenabled = true\nseverity = "soft"\n'
    )
    code, output = _run(root, monkeypatch, "policies")
    assert code == 0, output
    lines = {line.split()[0]: line for line in output.splitlines() if line.startswith(("REPO", "TFK003"))}
    assert lines["REPO901"].endswith("production keeps backups (dev, staging: disabled; production: soft)")
    assert lines["REPO900"].endswith("nothing may be deleted here (dev, staging: disabled; production: soft)")
    assert "(" not in lines["TFK003"].split("value")[-1]  # on everywhere with one severity: nothing added

    code, output = _run(root, monkeypatch, "policies", "--json")
    rows = {row["id"]: row for row in json.loads(output)}
    assert rows["REPO901"]["environments"] == {"dev": "disabled", "staging": "disabled", "production": "soft"}
    assert rows["REPO901"]["enabled"] is True

    code, output = _run(root, monkeypatch, "policies", "--env", "dev")
    assert "nothing may be deleted here (disabled)" in output
    assert "production keeps backups (disabled)" in output
    code, output = _run(root, monkeypatch, "policies", "--env", "production")
    assert "(disabled)" not in output and "REPO900  soft" in output
