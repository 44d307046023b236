"""Fan-out simulation: 4 runner processes in separate clones share only a PostgreSQL store URL.

The jobs of ``tfkit ci matrix`` (12 environments: 4 stacks x dev, staging, production; st01 needs st00, st02
needs st01, st03 needs st02) are dealt to 4 runners (tests/fanout_runner.py), each taking its jobs in a
random order, all released together. Every environment is applied for real (embedded Terraform, the gate,
Terraform's state in the pg backend). Checked from the store: no environment's ledger entry was recorded
before those of what it comes after or needs, no record is lost, each environment is applied exactly once;
with a failing staging stack, exactly its downstream is stopped and everything else applied.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from graphrepo import GraphRepo, git, make_graph_repo
from testsupport import invoke_tfkit

from tfkit.fanout import upstream
from tfkit.project import Project
from tfkit.store import open_store

pytestmark = pytest.mark.slow

RUNNER = Path(__file__).with_name("fanout_runner.py")
FAILING = """
resource "terraform_data" "broken" {
  input = "x"
  provisioner "local-exec" {
    command = "exit 3"
  }
}
"""


def _fan_out(origin: GraphRepo, base: Path, url: str, runners: int, seed: int) -> dict[str, str]:
    """Deal the matrix's jobs to ``runners`` fresh clones, start them together; every runner's results."""
    matrix = invoke_tfkit("ci", "matrix", "--format", "json", cwd=origin.root)
    assert matrix.returncode == 0, matrix.stderr
    jobs = [j["environment"] for j in json.loads(matrix.stdout)["jobs"]]
    random.Random(seed).shuffle(jobs)
    env = {**os.environ, "TFKIT_STORE_URL": url, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = []
    for number in range(runners):
        clone = base / f"runner-{number}"
        git(base, "clone", "-q", str(origin.root), str(clone))
        share = json.dumps(jobs[number::runners])
        children.append(
            subprocess.Popen(
                [sys.executable, str(RUNNER), share, str(seed + number), "600"],
                cwd=clone,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results: dict[str, str] = {}
    for child in children:
        out, errors = child.communicate(timeout=900)
        assert child.returncode == 0, errors[-3000:]
        mine = json.loads(out.strip().splitlines()[-1])
        assert not set(mine) & set(results), "a job ran on two runners"
        results.update(mine)
    return results


def _recorded(url: str) -> list[tuple[str, str]]:
    """(environment, snapshot) of every ledger row, in the order the server recorded them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT environment, id FROM tfkit.ledger ORDER BY recorded_at, environment"
        ).fetchall()
    return [(str(e), str(i)) for e, i in rows]


@pytest.fixture
def origin(tmp_path: Path) -> GraphRepo:
    return make_graph_repo(tmp_path / "origin", stacks=4, stages=("dev", "staging", "production"), modules=2)


def _check_order(project: Project, rows: list[tuple[str, str]]) -> None:
    position = {name: i for i, (name, _) in enumerate(rows)}
    graph = project.graph
    for name in position:
        for before in graph.predecessors(name):
            assert before in position and position[before] < position[name], (before, name, rows)


def test_four_runners_apply_every_environment_once_in_graph_order(
    origin: GraphRepo, tmp_path: Path, pg_fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = _fan_out(origin, tmp_path, pg_fresh_url, runners=4, seed=random.randrange(1 << 30))
    names = origin.names()
    assert results == dict.fromkeys(names, "applied")
    rows = _recorded(pg_fresh_url)
    assert sorted(n for n, _ in rows) == sorted(names), "each environment exactly once, none lost"
    project = Project.load(tmp_path / "runner-0")  # the runners' project id: their origin remote
    _check_order(project, rows)
    monkeypatch.setenv("TFKIT_STORE_URL", pg_fresh_url)
    with open_store(project) as store:
        for name, snapshot in rows:
            assert store.ledger.last(name) is not None
            assert store.snapshots.get(snapshot).manifest.environment == name


def test_a_failing_staging_stack_stops_exactly_its_downstream(
    origin: GraphRepo, tmp_path: Path, pg_fresh_url: str
) -> None:
    main = origin.root / "envs/staging/st01/main.tf"
    main.write_text(main.read_text() + FAILING)
    git(origin.root, "commit", "-qam", "st01 fails in staging")
    results = _fan_out(origin, tmp_path, pg_fresh_url, runners=4, seed=random.randrange(1 << 30))
    project = Project.load(origin.root)
    downstream = {n for n in origin.names() if "st01-staging" in upstream(project.graph, n)}
    assert downstream == {
        "st01-production",
        "st02-staging",
        "st02-production",
        "st03-staging",
        "st03-production",
    }
    assert results["st01-staging"].startswith("failed: ")
    assert {n for n, r in results.items() if r.startswith("stopped: ")} == downstream
    applied = {n for n, r in results.items() if r == "applied"}
    assert applied == set(origin.names()) - downstream - {"st01-staging"}
    rows = _recorded(pg_fresh_url)
    assert sorted(n for n, _ in rows) == sorted(applied)
    _check_order(project, rows)
