"""Benchmark of Checkov in tfkit against Checkov's own CLI, on the same plans in one run.

Plans: the example repository's three environments scaled to a few hundred resources (a temporary copy
whose var files get ``--rules`` extra access rules and six zones; planned with the real engine), and two
real fixture plans. Per plan: ``checkov -f PLAN --framework terraform_plan -o json`` once (offline, with
the example's custom checks for the example plans), then tfkit's ``scan_plan`` cold (empty cache) and
warm (the same plan again). Prints seconds per plan, totals and ratios against the issue's targets:
tfkit warm >= 5x faster than the CLI over the three environments, cold no slower than the CLI.

Run: ``TFKIT_CHECKOV=.venv-checkov/bin/checkov .venv/bin/python benchmarks/bench_checkov.py [--rules 250]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tfkit.plan import Plan, load_plan  # noqa: E402
from tfkit.scan.checkov import scan_plan  # noqa: E402
from tfkit.scan.settings import CheckovSettings, find_checkov  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "plans"
FIXTURE_PLANS = ("checkov/aws-55-resources-v0.1.json", "terraform-plan-comment/create-300-for-each-v1.2.json")
TARGET_WARM = 5.0
ZONES = '["z1", "z2", "z3", "z4", "z5", "z6"]'


def _scaled_repo(dest: Path, rules: int) -> Path:
    """A copy of the example repository whose environments each plan a few hundred resources."""
    shutil.copy2(ROOT / "tfkit.toml", dest / "tfkit.toml")
    for part in ("modules", "envs", "policies"):
        shutil.copytree(ROOT / part, dest / part, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    (dest / ".secrets").mkdir(mode=0o700)
    (dest / ".secrets" / "db_password").write_text("bench-password-not-secret\n")
    for env in ("dev", "staging", "production"):
        tfvars = dest / "envs" / env / f"{env}.tfvars"
        lines = [line for line in tfvars.read_text().splitlines() if not line.startswith("zones")]
        text = "\n".join(lines)
        extra = ",\n".join(
            f'  {{ name = "bench-{i}", port = {1024 + i}, protocol = "tcp", '
            f'cidr = "10.{i // 250}.{i % 250}.0/24", description = "generated rule {i}" }}'
            for i in range(rules)
        )
        text = text.replace("access_rules = [", f"access_rules = [\n{extra},", 1)
        tfvars.write_text(f"{text}\nzones = {ZONES}\n")
    return dest


def _plans(rules: int, work: Path) -> dict[str, Plan]:
    from tfkit import workflow
    from tfkit.project import Project

    (work / "repo").mkdir()
    repo = _scaled_repo(work / "repo", rules)
    project = Project.load(repo)
    plans = {}
    for env in project.environments:
        start = time.perf_counter()
        plans[env.name] = workflow.plan(env)
        print(
            f"  planned {env.name}: {len(plans[env.name].resource_changes)} resources "
            f"in {time.perf_counter() - start:.1f}s",
            flush=True,
        )
    return plans


def _cli(checkov: str, plan: Plan, checks_dir: Path | None, work: Path) -> float:
    path = work / "cli-plan.json"
    path.write_bytes(plan.raw)
    argv = [checkov, "-f", str(path), "--framework", "terraform_plan", "-o", "json", "--skip-download"]
    if checks_dir is not None:
        argv += ["--external-checks-dir", str(checks_dir)]
    start = time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, check=False
    )
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checkov CLI failed: {proc.stderr.decode()[-500:]}")
    return took


def _tfkit(plan: Plan, checks_dir: Path | None, cache: Path) -> tuple[float, float, int]:
    settings = CheckovSettings(
        cache_dir=cache, external_checks_dirs=(checks_dir,) if checks_dir is not None else ()
    )
    start = time.perf_counter()
    cold = scan_plan(plan, settings)
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = scan_plan(plan, settings)
    warm_s = time.perf_counter() - start
    assert warm.findings == cold.findings and warm.runs == 0
    return cold_s, warm_s, len(cold.sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=250, help="extra access rules per environment")
    args = parser.parse_args()
    checkov = find_checkov(CheckovSettings())
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-checkov-") as tmp:
        work = Path(tmp)
        print(
            f"checkov: {checkov}\nplanning the scaled example ({args.rules} extra rules per env)...",
            flush=True,
        )
        env_plans = _plans(args.rules, work)
        checks = work / "repo" / "policies" / "checkov"
        rows: list[tuple[str, int, float, float, float, int, bool]] = []
        cases = [(name, plan, checks, True) for name, plan in env_plans.items()]
        cases += [(name, load_plan((FIXTURES / name).read_bytes()), None, False) for name in FIXTURE_PLANS]
        for i, (name, plan, checks_dir, is_env) in enumerate(cases):
            cli_s = _cli(checkov, plan, checks_dir, work)
            cold_s, warm_s, sent = _tfkit(plan, checks_dir, work / f"cache-{i}")
            rows.append((name, len(plan.resource_changes), cli_s, cold_s, warm_s, sent, is_env))
            print(f"  {name}: cli {cli_s:.2f}s, tfkit cold {cold_s:.2f}s, warm {warm_s:.3f}s", flush=True)

    print(
        f"\n{'plan':58} {'res':>5} {'cli s':>8} {'cold s':>8} {'warm s':>8} {'cli/cold':>9} {'cli/warm':>9}"
    )
    for name, count, cli_s, cold_s, warm_s, _sent, _env in rows:
        print(
            f"{name:58} {count:5d} {cli_s:8.2f} {cold_s:8.2f} {warm_s:8.3f} {cli_s / cold_s:9.2f} "
            f"{cli_s / warm_s:9.1f}"
        )
    envs = [r for r in rows if r[6]]
    cli_total = sum(r[2] for r in envs)
    cold_total = sum(r[3] for r in envs)
    warm_total = sum(r[4] for r in envs)
    warm_ratio = cli_total / warm_total
    cold_ratio = cli_total / cold_total
    print(f"\nthree environments: cli {cli_total:.2f}s, tfkit cold {cold_total:.2f}s, warm {warm_total:.3f}s")
    print(
        f"warm speed-up {warm_ratio:.1f}x (target >= {TARGET_WARM:g}x): "
        f"{'met' if warm_ratio >= TARGET_WARM else 'NOT met'}"
    )
    verdict = "met" if cold_ratio >= 1 else "NOT met"
    print(f"cold speed-up {cold_ratio:.2f}x (target >= 1x, no slower): {verdict}")


if __name__ == "__main__":
    main()
