"""Benchmark of ``tfkit plan --all --jobs 2`` against three single ``tfkit plan --env E`` runs in sequence.

Each run is the real command (``python -m tfkit``) on a fresh copy of the example repository with the
embedded engine and the gate on (policies and Checkov, its cache warmed by one run before the rounds), as
CI runs it. The rounds are interleaved (sequence, --all, and so on for each ``--source``), so a load that
changes during the run weighs on every figure alike; each figure is given as min and median. ``--source
DIR`` (repeatable) measures the tfkit package of another checkout, e.g. the one before a change, in the
same run. Prints the wall-clock times and the ratios. Wall clock, so it belongs here, not in the tests.

Run: ``.venv/bin/python benchmarks/bench_multi.py [--rounds 5] [--jobs 2] [--source DIR ...]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from testsupport import copy_example  # noqa: E402 - the tests' own copy of the example repository

ENVS = ("dev", "staging", "production")
TARGET = 0.6  # --all / sequence


def _tfkit(*args: str, cwd: Path, env: Mapping[str, str]) -> float:
    """The wall time of one ``tfkit`` command, which must succeed.

    A single ``plan --env staging`` on a fresh copy exits 4 (its apply would be refused: dev has not
    applied yet) after planning and gating in full, as ``--all`` does; that refusal counts as success.
    """
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tfkit", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - start
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


def _figures(label: str, times: list[float]) -> str:
    return f"  {label:<44} min {min(times):6.2f} s   median {statistics.median(times):6.2f} s"


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
    sequential: dict[Path, list[float]] = {s: [] for s in sources}
    together: dict[Path, list[float]] = {s: [] for s in sources}
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
                sequential[source].append(
                    sum(_tfkit("plan", "--env", n, cwd=root, env=envs[source]) for n in ENVS)
                )
                root = copy_example(here / f"all-{i}-{round_}")
                together[source].append(
                    _tfkit("plan", "--all", "--jobs", str(args.jobs), cwd=root, env=envs[source])
                )
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.rounds} interleaved rounds")
    for source in sources:
        seq, all_ = sequential[source], together[source]
        ratio, middle = min(all_) / min(seq), statistics.median(all_) / statistics.median(seq)
        print(f"tfkit from {source} (embedded engine, gate on, warm caches)")
        print(_figures("three single plans in sequence", seq))
        print(_figures(f"tfkit plan --all --jobs {args.jobs}", all_))
        print(
            f"  ratio --all / sequence: {ratio:.2f} (min) {middle:.2f} (median);"
            f" target <= {TARGET}: {'meets' if ratio <= TARGET else 'misses'}"
        )


if __name__ == "__main__":
    main()
