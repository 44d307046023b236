"""Benchmark of ``tfkit plan --all --jobs 2`` against three single ``tfkit plan --env E`` runs in sequence.

Each run is the real command (``python -m tfkit``) on a fresh copy of the example repository with the
embedded engine and the gate (policies), as CI runs it; each measurement is the best of ``--repeat``
rounds. Prints the wall-clock times and the ratio. Wall clock, so it belongs here, not in the tests.

Run: ``.venv/bin/python benchmarks/bench_multi.py [--repeat 3] [--jobs 2]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import copy_example  # noqa: E402 - the tests' own copy of the example repository

ENVS = ("dev", "staging", "production")


def _tfkit(*args: str, cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password", "GITHUB_ACTIONS")}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tfkit", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"tfkit {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    sequential: list[float] = []
    together: list[float] = []
    per_env: dict[str, list[float]] = {name: [] for name in ENVS}
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-multi-") as tmp:
        for round_ in range(args.repeat):
            root = copy_example(Path(tmp) / f"seq-{round_}")
            times = {name: _tfkit("plan", "--env", name, cwd=root) for name in ENVS}
            for name, took in times.items():
                per_env[name].append(took)
            sequential.append(sum(times.values()))
            root = copy_example(Path(tmp) / f"all-{round_}")
            together.append(_tfkit("plan", "--all", "--jobs", str(args.jobs), cwd=root))
    best_seq, best_all = min(sequential), min(together)
    print(f"machine: {os.cpu_count()} cores; best of {args.repeat} rounds; embedded engine, gate on")
    for name in ENVS:
        print(f"  tfkit plan --env {name:<11} {min(per_env[name]):6.2f} s")
    print(f"three single runs in sequence   {best_seq:6.2f} s")
    print(f"tfkit plan --all --jobs {args.jobs}        {best_all:6.2f} s")
    print(
        f"ratio (--all / sequence)        {best_all / best_seq:6.2f}  (speed-up x{best_seq / best_all:.2f})"
    )


if __name__ == "__main__":
    main()
