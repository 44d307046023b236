"""``plan --all``/``apply --all`` walk the graph: real Terraform on a small generated repository.

Six environments (3 stacks x dev, staging; st01 needs st00, st02 needs st01) are applied for real with the
embedded engine in worker processes; the order is checked from the workers' own progress events (an
environment's ``init`` comes after the ``done`` of everything it waits for), and a failure skips exactly
what is downstream of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphrepo import GraphRepo, make_graph_repo
from testsupport import run_tfkit

from tfkit.multi import run_environments
from tfkit.project import Project
from tfkit.store import open_store


@pytest.fixture
def small(tmp_path: Path) -> GraphRepo:
    return make_graph_repo(tmp_path / "repo", stacks=3, stages=("dev", "staging"), modules=2)


def test_apply_all_starts_each_environment_after_what_it_waits_for(small: GraphRepo) -> None:
    project = Project.load(small.root)
    graph = project.graph
    events: list[tuple[str, str]] = []
    order = graph.order()
    report = run_environments(
        small.root,
        order,
        "apply",
        jobs=3,
        after=graph.restricted(order),
        progress=lambda e, s: events.append((e, s)),
    )
    assert [e.exit_code for e in report.environments] == [0] * 6, [e.error for e in report.environments]
    assert all(e.details["applied"] for e in report.environments)
    for name in order:
        start = events.index((name, "init"))
        for before in graph.predecessors(name):
            assert events.index((before, "done")) < start, (before, name, events)
    with open_store(project) as store:
        assert {n: len(store.ledger.entries(n)) for n in order} == dict.fromkeys(order, 1)


def test_a_failure_skips_exactly_its_downstream_and_the_worst_code_wins(small: GraphRepo) -> None:
    (small.root / "envs/dev/st01/main.tf").write_text(
        'resource "terraform_data" "broken" {\n  input = var.nope\n}\n'
    )
    done = run_tfkit("apply", "--all", "--jobs", "2", "--auto-approve", "--format", "json", cwd=small.root)
    assert done.returncode == 2, done.stderr  # an undeclared variable is a configuration error: exit 2
    by_env = {e["environment"]: e for e in json.loads(done.stdout)["environments"]}
    assert by_env["st01-dev"]["outcome"] == "error"
    skipped = {n for n, e in by_env.items() if e["outcome"] == "skipped"}
    assert skipped == {"st01-staging", "st02-dev", "st02-staging"}
    assert {n for n, e in by_env.items() if e["outcome"] in ("ok", "passed")} == {"st00-dev", "st00-staging"}
    assert by_env["st02-staging"]["details"]["skipped"] == "'st01-dev' error upstream; not run"
    assert "error: apply failed for st01-dev (error); skipped downstream: " in done.stderr
    project = Project.load(small.root)
    with open_store(project) as store:
        assert store.ledger.last("st02-dev") is None and store.ledger.last("st00-staging") is not None


def test_apply_all_needs_auto_approve_and_plan_affected_needs_a_base(small: GraphRepo) -> None:
    done = run_tfkit("apply", "--all", cwd=small.root)
    assert done.returncode == 2 and "pass --auto-approve" in done.stderr
    done = run_tfkit("plan", "--affected", cwd=small.root)
    assert done.returncode == 2 and "--affected needs --base REF" in done.stderr
