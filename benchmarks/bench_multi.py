"""Benchmark of ``tfkit plan --all --jobs 2`` against three single ``tfkit plan --env E`` runs in sequence.

Each run is the real command (``python -m tfkit``) on a fresh copy of the example repository with the
embedded engine and the gate on (policies and Checkov, its cache warmed by one run before the rounds), as
CI runs it. The rounds are interleaved (sequence, --all, and so on for each ``--source``), so a load that
changes during the run weighs on every figure alike; each figure is given as min and median. ``--source
DIR`` (repeatable) measures the tfkit package of another checkout, e.g. the one before a change, in the
same run. Prints the wall-clock times and the ratios, and the CPU time (user + system) of each command's
whole process tree (its workers and engines: every one is waited for), which a loaded machine distorts
less than the wall clock. Wall clock, so it belongs here, not in the tests.

Run: ``.venv/bin/python benchmarks/bench_multi.py [--rounds 5] [--jobs 2] [--source DIR ...]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from testsupport import copy_example  # noqa: E402 - the tests' own copy of the example repository

ENVS = ("dev", "staging", "production")
TARGET = 0.6  # --all / sequence


class Run(NamedTuple):
    """A command's wall time and its process tree's CPU time (user + system), in seconds."""

    wall: float
    cpu: float

    def __add__(self, other: object) -> Run:
        if not isinstance(other, Run):
            return NotImplemented
        return Run(self.wall + other.wall, self.cpu + other.cpu)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _tfkit(*args: str, cwd: Path, env: Mapping[str, str]) -> Run:
    """The wall and CPU time of one ``tfkit`` command, which must succeed.

    A single ``plan --env staging`` on a fresh copy exits 4 (its apply would be refused: dev has not
    applied yet) after planning and gating in full, as ``--all`` does; that refusal counts as success.
    """
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tfkit", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    took = Run(time.perf_counter() - start, _children_cpu() - cpu)
    refused = done.returncode == 4 and "error: refusing to apply" in done.stderr
    if done.returncode != 0 and not refused:
        raise SystemExit(f"tfkit {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def _checkov() -> str:
    """The Checkov the gate runs: ``TFKIT_CHECKOV``, else the one ``make setup`` installs (the gate is on)."""
    if "TFKIT_CHECKOV" in os.environ:
        return os.environ["TFKIT_CHECKOV"]
    found = REPO / ".venv-checkov" / "bin" / "checkov"
    if not found.exists():
        raise SystemExit("no Checkov: run `make setup` or set TFKIT_CHECKOV (the plans are measured gate on)")
    return str(found)


def _figures(label: str, runs: list[Run]) -> str:
    wall, cpu = [r.wall for r in runs], [r.cpu for r in runs]
    return (
        f"  {label:<36} min {min(wall):5.2f} s  median {statistics.median(wall):5.2f} s"
        f"   CPU min {min(cpu):5.2f} s  median {statistics.median(cpu):5.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--source", type=Path, action="append", help="checkout whose tfkit/ is measured")
    args = parser.parse_args()
    sources = [s.resolve() for s in (args.source or [REPO])]
    dropped = ("TF_VAR_db_password", "GITHUB_ACTIONS", "PYTHONDONTWRITEBYTECODE")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    base["TFKIT_CHECKOV"] = _checkov()
    sequential: dict[Path, list[Run]] = {s: [] for s in sources}
    together: dict[Path, list[Run]] = {s: [] for s in sources}
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-multi-") as tmp:
        here = Path(tmp)
        envs = {
            s: {
                **base,
                "PYTHONPATH": str(s),
                "PYTHONPYCACHEPREFIX": str(here / "pycache"),
                "TFKIT_CACHE_DIR": str(here / f"cache-{i}"),
            }
            for i, s in enumerate(sources)
        }
        for i, source in enumerate(sources):  # warms bytecode, Checkov's cache and the provider cache
            _tfkit(
                "plan",
                "--all",
                "--jobs",
                str(args.jobs),
                cwd=copy_example(here / f"warm-{i}"),
                env=envs[source],
            )
        for round_ in range(args.rounds):
            for i, source in enumerate(sources):
                root = copy_example(here / f"seq-{i}-{round_}")
                runs = [_tfkit("plan", "--env", n, cwd=root, env=envs[source]) for n in ENVS]
                sequential[source].append(runs[0] + runs[1] + runs[2])
                root = copy_example(here / f"all-{i}-{round_}")
                together[source].append(
                    _tfkit("plan", "--all", "--jobs", str(args.jobs), cwd=root, env=envs[source])
                )
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.rounds} interleaved rounds")
    for source in sources:
        seq, all_ = sequential[source], together[source]
        one, each = [r.wall for r in all_], [r.wall for r in seq]
        ratio, middle = min(one) / min(each), statistics.median(one) / statistics.median(each)
        cpu = min(r.cpu for r in all_) / min(r.cpu for r in seq)
        print(f"tfkit from {source} (embedded engine, gate on, warm caches)")
        print(_figures("three single plans in sequence", seq))
        print(_figures(f"tfkit plan --all --jobs {args.jobs}", all_))
        print(
            f"  ratio --all / sequence: {ratio:.2f} (min) {middle:.2f} (median);"
            f" target <= {TARGET}: {'meets' if ratio <= TARGET else 'misses'}; CPU ratio {cpu:.2f} (min)"
        )


if __name__ == "__main__":
    main()
