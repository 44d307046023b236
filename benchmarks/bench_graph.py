"""Benchmark of the environment graph: ``tfkit affected`` on 200 environments, and a fan-out apply.

1. ``affected``: a generated repository (tests/graphrepo.py: ``--stages`` x ``--stacks`` root modules of
   ``terraform_data``, shared and nested modules, ``needs`` chains) on a branch that changes one nested
   module; the time of ``tfkit.affected.affected`` in-process (first call, then best of ``--repeat``) and
   of the whole ``python -m tfkit affected --base main`` command (interpreter start included). Target:
   under 1 s on 200 environments.
2. Fan-out apply (``--apply``): the same repository applied for real (embedded Terraform, the built-in
   policies, Checkov off, Terraform's state in PostgreSQL) by 1, 2 and 4 runner processes in separate
   clones sharing only the store URL (tests/fanout_runner.py: jobs dealt round-robin from ``tfkit ci
   matrix``, each runner taking its share in a random order, waiting on the store's ledger), against one
   runner applying every environment in graph order (sequential, never waiting). A fresh database each time.
   Afterwards the ledger must hold each environment exactly once.

The server: ``TFKIT_TEST_PG_URL``, else one started by the test suite's ``tests/pg_server.py``.

Run: ``.venv/bin/python benchmarks/bench_graph.py [--stacks 50] [--stages 4] [--repeat 5] [--apply]
[--runners 1,2,4]``. Wall clock, so it belongs here, not in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from graphrepo import STAGES, GraphRepo, git, make_graph_repo  # noqa: E402 - the tests' generator

RUNNER = REPO / "tests" / "fanout_runner.py"


def _env(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password", "GITHUB_ACTIONS")}
    return {**keep, "PYTHONPATH": str(REPO), **extra}


def bench_affected(repo: GraphRepo, repeat: int) -> None:
    from tfkit.affected import affected
    from tfkit.project import Project

    git(repo.root, "checkout", "-qb", "change")
    leaf = repo.root / "modules" / "leaf" / "main.tf"
    leaf.write_text(leaf.read_text() + "\n# changed\n")
    git(repo.root, "commit", "-qam", "change the nested module")
    start = time.perf_counter()
    project = Project.load(repo.root)
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    found = affected(project, "main")
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        affected(Project.load(repo.root), "main")
        times.append(time.perf_counter() - start)
    commands = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tfkit", "affected", "--base", "main"],
            cwd=repo.root,
            env=_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        commands.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr
    print(f"affected: {len(found.names)} of {len(project.names)} environments after a one-module change")
    print(f"  tfkit.toml loaded ({len(project.names)} environments): {loaded * 1000:.0f} ms")
    print(
        f"  affected() in-process: first {first * 1000:.0f} ms, "
        f"best {min(times) * 1000:.0f} ms (load included)"
    )
    print(
        f"  `tfkit affected --base main` command: best {min(commands):.2f} s, "
        f"median {sorted(commands)[len(commands) // 2]:.2f} s"
    )
    git(repo.root, "checkout", "-q", "main")


def _fan_out(
    origin: Path, base: Path, url: str, runners: int, shuffle: bool, seed: int
) -> tuple[float, dict[str, str]]:
    matrix = subprocess.run(
        [sys.executable, "-m", "tfkit", "ci", "matrix", "--format", "json"],
        cwd=origin,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    jobs = [j["environment"] for j in json.loads(matrix.stdout)["jobs"]]
    children = []
    for number in range(runners):
        clone = base / f"runner-{number}"
        git(base, "clone", "-q", str(origin), str(clone))
        share = jobs[number::runners]
        args = [sys.executable, str(RUNNER), json.dumps(share), str(seed + number), "7200"]
        if not shuffle:  # the sequential baseline: graph order, so it never waits
            args = [sys.executable, "-c", _IN_ORDER, json.dumps(share)]
        children.append(
            subprocess.Popen(
                args,
                cwd=clone,
                env=_env(TFKIT_STORE_URL=url),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results: dict[str, str] = {}
    for child in children:
        out, _ = child.communicate()
        results.update(json.loads(out.strip().splitlines()[-1]))
    return time.perf_counter() - start, results


#: One runner applying its jobs in the order given (graph order), as one CI job applying the chain would.
_IN_ORDER = """
import json, sys
from pathlib import Path
from tfkit import workflow
from tfkit.project import Project
project = Project.load(Path.cwd())
print("ready", flush=True)
sys.stdin.readline()
result = {}
for name in json.loads(sys.argv[1]):
    workflow.apply(project.environment(name), auto_approve=True)
    result[name] = "applied"
print(json.dumps(result), flush=True)
"""


def bench_apply(repo: GraphRepo, runner_counts: list[int]) -> None:
    import pg_server  # the test suite's server start, outside pytest

    server = pg_server.open_server()
    try:
        rows = [
            ("sequential (1 runner, graph order)", 1, False),
            *((f"{n} runner(s), random order", n, True) for n in runner_counts),
        ]
        baseline = None
        for label, count, shuffle in rows:
            dbname = server.create_database("tfkit_bench_graph")
            try:
                url = server.url_for(dbname)
                with tempfile.TemporaryDirectory(prefix="tfkit-bench-graph-") as tmp:
                    wall, results = _fan_out(
                        repo.root, Path(tmp), url, count, shuffle, random.randrange(1 << 30)
                    )
                with server.connect(dbname) as conn:
                    recorded = [r[0] for r in conn.execute("SELECT environment FROM tfkit.ledger").fetchall()]
            finally:
                server.drop_database(dbname)
            applied = sum(r == "applied" for r in results.values())
            once = len(recorded) == len(set(recorded)) == len(repo.names())
            baseline = baseline or wall
            print(
                f"  {label:<36} {wall:8.1f} s  x{baseline / wall:4.2f}  applied {applied}/{len(repo.names())}"
                f"  ledger once each: {once}"
            )
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=50)
    parser.add_argument("--stages", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--apply", action="store_true", help="Also run the fan-out apply (slow).")
    parser.add_argument("--runners", default="1,2,4")
    args = parser.parse_args()
    stages = (
        STAGES[: args.stages]
        if args.stages <= len(STAGES)
        else tuple(f"stage{i}" for i in range(args.stages))
    )
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-graph-") as tmp:
        repo = make_graph_repo(Path(tmp) / "repo", stacks=args.stacks, stages=stages)
        bench_affected(repo, args.repeat)
        if args.apply:
            print(f"apply of {len(repo.names())} environments (wall time, speed-up against sequential):")
            bench_apply(repo, [int(n) for n in args.runners.split(",")])


if __name__ == "__main__":
    main()
