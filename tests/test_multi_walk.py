"""The walk of ``--all``: a read-only run starts ahead of its predecessors, an apply never does.

The bookkeeping (``_Walk``) is driven here in chosen completion orders, without processes; the real-engine
tests plan and apply the example's chain dev -> staging -> production with ``--jobs 2`` and a failing dev.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tfkit.multi import _Walk, run_environments
from tfkit.project import Project
from tfkit.results import EnvironmentReport

CHAIN = ("dev", "staging", "production")
AFTER = {"staging": ["dev"], "production": ["staging"]}


def _ok(name: str) -> EnvironmentReport:
    return EnvironmentReport(name, "plan")


def _failed(name: str) -> EnvironmentReport:
    return EnvironmentReport(name, "plan", error="boom", error_code=2)


def _names(entries: list[EnvironmentReport]) -> list[str]:
    return [e.environment for e in entries]


def test_a_plan_starts_ahead_while_jobs_are_free_an_apply_waits() -> None:
    plan = _Walk(CHAIN, "plan", AFTER)
    assert plan.next(2) == ["dev", "staging"]
    assert plan.next(0) == []
    assert plan.next(1) == ["production"]
    apply = _Walk(CHAIN, "apply", AFTER)
    assert apply.next(2) == ["dev"]
    assert apply.finished(EnvironmentReport("dev", "apply")) == [EnvironmentReport("dev", "apply")]
    assert apply.next(2) == ["staging"]


def test_ready_environments_start_before_those_run_ahead() -> None:
    after = {"staging": ["dev"], "production": ["staging"]}
    walk = _Walk(("dev", "staging", "production", "tools"), "plan", after)
    assert walk.next(2) == ["dev", "tools"]
    assert walk.next(5) == ["staging", "production"]


def test_a_run_made_ahead_is_held_until_its_predecessors_finish_then_reported_in_order() -> None:
    walk = _Walk(CHAIN, "plan", AFTER)
    walk.next(3)
    assert walk.finished(_ok("production")) == []
    assert walk.finished(_ok("staging")) == []
    assert _names(walk.finished(_ok("dev"))) == ["dev", "staging", "production"]
    assert all(walk.results[n].skipped is None for n in CHAIN)


def test_a_failure_discards_what_ran_ahead_of_it_and_reports_it_skipped() -> None:
    walk = _Walk(CHAIN, "plan", AFTER)
    walk.next(2)
    assert walk.finished(_ok("staging")) == []  # held: dev has not finished
    final = walk.finished(_failed("dev"))
    assert _names(final) == ["dev", "staging", "production"]
    assert [e.outcome for e in final] == ["error", "skipped", "skipped"]
    assert final[1].skipped == "'dev' error upstream; plan not reported"
    assert final[2].plan is None and final[2].exit_code == 0
    assert walk.discarded("production") and not walk.discarded("dev")
    assert walk.next(2) == []  # nothing downstream of the failure starts any more
    assert walk.finished(_ok("production")) == []  # a run already under way is discarded


def test_a_held_failure_is_reported_once_its_predecessors_pass() -> None:
    walk = _Walk(CHAIN, "plan", AFTER)
    walk.next(3)
    assert walk.finished(_failed("staging")) == []
    final = walk.finished(_ok("dev"))
    assert [(e.environment, e.outcome) for e in final] == [
        ("dev", "ok"),
        ("staging", "error"),
        ("production", "skipped"),
    ]
    assert final[2].skipped == "'staging' error upstream; plan not reported"


def test_an_apply_downstream_of_a_failure_is_not_run() -> None:
    walk = _Walk(CHAIN, "apply", AFTER)
    walk.next(2)
    final = walk.finished(EnvironmentReport("dev", "apply", error="boom", error_code=2))
    assert [e.skipped for e in final[1:]] == ["'dev' error upstream; not run"] * 2
    assert walk.next(2) == []


def _broken_dev(root: Path) -> None:
    (root / "envs/dev/broken.tf").write_text('resource "terraform_data" "broken" {\n  input = var.nope\n}\n')


@pytest.mark.slow
@pytest.mark.parametrize("operation", ["plan", "apply"])
def test_a_failing_dev_skips_its_chain_whether_planned_ahead_or_applied(
    example_repo: Path, operation: str
) -> None:
    _broken_dev(example_repo)
    graph = Project.load(example_repo).graph
    events: list[tuple[str, str]] = []
    report = run_environments(
        example_repo,
        CHAIN,
        operation,
        jobs=2,
        after=graph.restricted(list(CHAIN)),
        progress=lambda e, s: events.append((e, s)),
    )
    outcomes = {e.environment: (e.outcome, e.skipped) for e in report.environments}
    why = "plan not reported" if operation == "plan" else "not run"
    assert outcomes == {
        "dev": ("error", None),
        "staging": ("skipped", f"'dev' error upstream; {why}"),
        "production": ("skipped", f"'dev' error upstream; {why}"),
    }
    assert report.exit_code == 2
    assert all(e.plan is None and e.gate is None for e in report.environments[1:])
    if operation == "apply":  # never started: an apply waits for what it comes after
        assert not [e for e in events if e[0] != "dev"], events
