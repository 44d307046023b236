"""Work done ahead while the engine plans (``tfkit.ahead``, ``gate.prepare``): the same verdict, the same
errors in the same place, and no thread left behind."""

from __future__ import annotations

import secrets
import string
import threading
from pathlib import Path

import pytest
from recorded import plan_bytes
from test_cli import assert_user_error
from testsupport import invoke_tfkit

from tfkit import gate
from tfkit.ahead import Ahead
from tfkit.errors import PolicyDefinitionError
from tfkit.plan import load_plan
from tfkit.project import Project

AHEAD_THREAD = "tfkit-gate-ahead"


def _left_behind() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == AHEAD_THREAD]


def test_the_work_starts_at_the_first_step_and_runs_once() -> None:
    runs: list[str] = []
    steps: list[str] = []
    ahead: Ahead[str] = Ahead(lambda: runs.append(threading.current_thread().name) or "done", name="t-once")
    assert ahead.result() is None  # never started: nothing to wait for
    on_step = ahead.starting_at(steps.append)
    for step in ("init (cached)", "plan"):
        on_step(step)
    assert ahead.result() == "done"
    assert steps == ["init (cached)", "plan"]
    assert runs == ["t-once"]  # in its own thread, once


def test_failed_work_is_dropped_and_the_block_joins_the_thread() -> None:
    release = threading.Event()
    finished: list[bool] = []

    def work() -> None:
        release.wait()
        finished.append(True)
        raise SystemExit(3)  # not even this escapes the thread: the caller meets it again itself

    with Ahead(work, name="t-join") as ahead:
        ahead.start()
        release.set()
    assert finished == [True]
    assert not [t for t in threading.enumerate() if t.name == "t-join"]
    assert ahead.result() is None


def _secret_var_file(repo: Path) -> None:
    password = "Pw-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(14))
    (repo / "envs" / "dev" / "terraform.tfvars").write_text(f'db_password = "{password}"\n')


def test_a_prepared_gate_gives_the_same_result(example_repo: Path) -> None:
    _secret_var_file(example_repo)
    project = Project.load(example_repo)
    plan = load_plan(plan_bytes("dev-public-http"))
    prepared = gate.prepare("dev", project)
    assert prepared.policies is not None and prepared.var_files
    with_ahead = gate.evaluate(plan, "dev", project=project, scanners=False, prepared=prepared)
    without = gate.evaluate(plan, "dev", project=project, scanners=False)
    assert with_ahead.findings == without.findings
    assert with_ahead.errors == without.errors and not with_ahead.passed
    assert {f.check_id for f in with_ahead.findings if f.blocking} >= {"TFK201"}


def test_a_policy_that_fails_to_load_ahead_fails_in_the_gate_as_before(example_repo: Path) -> None:
    (example_repo / "policies" / "broken.py").write_text("x = 1\nraise ValueError('bad config')\n")
    project = Project.load(example_repo)
    prepared = gate.prepare("dev", project)
    assert prepared.policies is None and prepared.var_files == ()
    plan = load_plan(plan_bytes("dev-create"))
    with pytest.raises(PolicyDefinitionError, match=r"broken\.py:2: policy file failed to import") as raised:
        gate.evaluate(plan, "dev", project=project, scanners=False, prepared=prepared)
    with pytest.raises(PolicyDefinitionError) as unprepared:
        gate.evaluate(plan, "dev", project=project, scanners=False)
    assert str(raised.value) == str(unprepared.value)


@pytest.mark.slow
def test_tfkit_plan_reports_a_broken_policy_after_the_engine_planned(example_repo: Path) -> None:
    (example_repo / "policies" / "broken.py").write_text("x = 1\nraise ValueError('bad config')\n")
    result = invoke_tfkit("plan", "--env", "dev", cwd=example_repo)
    assert_user_error(result, 2, "broken.py:2: policy file failed to import: ValueError: bad config")
    assert "tfkit: dev: plan..." in result.stderr  # the engine planned first, as without the head start
    assert not _left_behind()


@pytest.mark.slow
def test_an_engine_error_is_reported_as_before_and_the_thread_is_gone(example_repo: Path) -> None:
    tfvars = example_repo / "envs" / "dev" / "dev.tfvars"
    tfvars.write_text("\n".join(ln for ln in tfvars.read_text().splitlines() if not ln.startswith("cidr")))
    result = invoke_tfkit("plan", "--env", "dev", cwd=example_repo)
    assert_user_error(result, 2, "no value for required variable cidr")
    assert not _left_behind()
