"""Benchmark of Checkov in tfkit against Checkov's own CLI, on the same plans in one run, interleaved.

Plans: the example repository's three environments scaled to a few hundred resources (a temporary copy
whose var files get ``--rules`` extra access rules and six zones; planned with the real engine), fixture
plans (``--fixtures``: two, every cloud plan, or none), and with ``--big N`` a plan of N resources made
from a real one (``--big-source``) by instantiating its root module N/len times as modules (distinct
addresses; ``prior_state`` replicated the same way, as in a plan of existing infrastructure).

Per plan and round (``--repeat``; the order of the contenders alternates from round to round):
``checkov -f PLAN --framework terraform_plan -o json --skip-download`` (offline, with the example's
custom checks for the example plans), and tfkit's ``scan_plan`` with an empty cache (cold), then once
more (warm), each in its own Python process that has imported tfkit and loaded the plan before the
clock starts; ``--baseline DIR`` adds another tfkit checkout (e.g. /work/main) as a third contender.
Prints min and median seconds (wall and CPU of the process tree) and the ratios tfkit ÷ CLI against
the issue's targets: cold <= 1.0x the CLI on every plan, warm unchanged. Every tfkit scan's checks are
compared with the CLI's (check id, address, passed or failed) and cold with warm: a difference is
printed and makes the exit status 1.

Run: ``TFKIT_CHECKOV=.venv-checkov/bin/checkov .venv/bin/python benchmarks/bench_checkov.py
[--rules 250] [--repeat 3] [--fixtures two|all|none] [--big 20000] [--no-envs] [--baseline DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tfkit.scan._runner import parse_report  # noqa: E402
from tfkit.scan.settings import CheckovSettings, find_checkov  # noqa: E402
from tfkit.scan.units import has_duplicate_keys  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "plans"
TWO_FIXTURES = ("checkov/aws-55-resources-v0.1.json", "terraform-plan-comment/create-300-for-each-v1.2.json")
CLOUDS = {"aws", "google", "google-beta", "azurerm"}
ZONES = '["z1", "z2", "z3", "z4", "z5", "z6"]'
Check = tuple[str, str, bool]

#: Run by each tfkit contender: load the plan, then time a cold scan and a warm one.
DRIVER = """
import json, resource, sys, time
from pathlib import Path
from tfkit.plan import load_plan
from tfkit.scan.checkov import scan_plan
from tfkit.scan.settings import CheckovSettings

plan_file, checks, cache = sys.argv[1:4]
plan = load_plan(Path(plan_file).read_bytes())
settings = CheckovSettings(  # no time limit: a 20k-resource scan on a loaded machine can pass the default
    timeout=24 * 3600.0, cache_dir=Path(cache), external_checks_dirs=(Path(checks),) if checks else ()
)

def cpu():
    return sum(
        u.ru_utime + u.ru_stime
        for u in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )

out = {}
for name in ("cold", "warm"):
    c, t = cpu(), time.perf_counter()
    report = scan_plan(plan, settings)
    out[name] = time.perf_counter() - t
    out[name + "_cpu"] = cpu() - c
    out[name + "_checks"] = sorted(
        [f.check_id, f.address or "", f.passed]
        for f in report.findings
        if not f.check_id.startswith("TFKIT_")
    )
    out[name + "_runs"] = report.runs
import tfkit
out["root"] = str(Path(tfkit.__file__).resolve().parents[1])
print(json.dumps(out))
"""


@dataclass
class Case:
    """One plan to measure, and every figure taken on it."""

    name: str
    path: Path
    resources: int
    checks_dir: Path | None
    times: dict[str, list[float]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.times.setdefault(key, []).append(value)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _scaled_repo(dest: Path, rules: int) -> Path:
    """A copy of the example repository whose environments each plan a few hundred resources."""
    shutil.copy2(ROOT / "tfkit.toml", dest / "tfkit.toml")
    for part in ("modules", "envs", "policies"):
        shutil.copytree(ROOT / part, dest / part, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    (dest / ".secrets").mkdir(mode=0o700)
    secret = dest / ".secrets" / "db_password"
    secret.write_text("bench-password-not-secret\n")
    secret.chmod(0o600)  # as a secret file must be (else tfkit warns: SecretFileWarning)
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


def _env_cases(rules: int, work: Path) -> list[Case]:
    from tfkit import workflow
    from tfkit.project import Project

    (work / "repo").mkdir()
    repo = _scaled_repo(work / "repo", rules)
    project = Project.load(repo)
    cases = []
    for env in project.environments:
        start = time.perf_counter()
        plan = workflow.plan(env)
        path = work / f"env-{env.name}.json"
        path.write_bytes(plan.raw)
        count = len(plan.resource_changes)
        print(f"  planned {env.name}: {count} resources in {time.perf_counter() - start:.1f}s", flush=True)
        cases.append(Case(f"env {env.name}", path, count, repo / "policies" / "checkov"))
    return cases


def _fixture_cases(which: str) -> list[Case]:
    if which == "none":
        return []
    names = list(TWO_FIXTURES)
    if which == "all":
        names = []
        for path in sorted(FIXTURES.glob("*/*.json")):
            doc = json.loads(path.read_bytes())
            kinds = {rc.get("provider_name", "").split("/")[-1] for rc in doc.get("resource_changes") or ()}
            # A plan with a repeated JSON key is one the CLI refuses (a parsing error): nothing to time
            # (the parity test checks that tfkit refuses it too).
            if (kinds & CLOUDS or path.name.startswith("create-300")) and not has_duplicate_keys(
                path.read_bytes()
            ):
                names.append(path.relative_to(FIXTURES).as_posix())
    cases = []
    for name in names:
        doc = json.loads((FIXTURES / name).read_bytes())
        cases.append(Case(name, FIXTURES / name, len(doc.get("resource_changes") or ()), None))
    return cases


def _module_copy(module: dict[str, Any], address: str) -> dict[str, Any]:
    """``module``'s resources (planned or prior) as module instance ``address``."""
    return {
        "address": address,
        "resources": [dict(r, address=f"{address}.{r['address']}") for r in module.get("resources") or ()],
    }


def big_plan(doc: dict[str, Any], count: int) -> dict[str, Any]:
    """A plan of about ``count`` resources: ``doc``'s root module instantiated as ``module.r<i>``."""
    root = doc["planned_values"]["root_module"]
    per = len(root.get("resources") or ())
    if not per or root.get("child_modules"):
        raise SystemExit("--big-source must be a plan whose resources are all in the root module")
    copies = -(-count // per)
    changes = {rc["address"]: rc for rc in doc.get("resource_changes") or ()}
    prior_root = ((doc.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    out = dict(doc)
    out["planned_values"] = {
        "root_module": {
            "resources": [],
            "child_modules": [_module_copy(root, f"module.r{i}") for i in range(copies)],
        }
    }
    out["resource_changes"] = [
        dict(changes[r["address"]], address=f"module.r{i}.{r['address']}", module_address=f"module.r{i}")
        for i in range(copies)
        for r in root["resources"]
        if r["address"] in changes
    ]
    if prior_root.get("resources"):
        out["prior_state"] = dict(doc["prior_state"])
        out["prior_state"]["values"] = {
            "root_module": {
                "resources": [],
                "child_modules": [_module_copy(prior_root, f"module.r{i}") for i in range(copies)],
            }
        }
    configuration = dict(doc["configuration"])
    configuration["root_module"] = {
        "module_calls": {
            f"r{i}": {"source": "./replica", "module": doc["configuration"]["root_module"]}
            for i in range(copies)
        }
    }
    out["configuration"] = configuration
    out.pop("output_changes", None)
    return out


def _cli(checkov: str, case: Case) -> set[Check]:
    argv = [checkov, "-f", str(case.path), "--framework", "terraform_plan", "-o", "json", "--skip-download"]
    if case.checks_dir is not None:
        argv += ["--external-checks-dir", str(case.checks_dir)]
    cpu, start = _children_cpu(), time.perf_counter()
    proc = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"}, check=False
    )
    case.add("cli", time.perf_counter() - start)
    case.add("cli_cpu", _children_cpu() - cpu)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"checkov CLI failed on {case.name}: {proc.stderr[-500:]}")
    results, _ = parse_report(proc.stdout, stderr=proc.stderr)
    return {(r["check_id"], r["resource"], r["result"] == "PASSED") for r in results}


def _tfkit(label: str, root: Path, case: Case, work: Path) -> dict[str, Any]:
    cache = work / f"cache-{label}"
    shutil.rmtree(cache, ignore_errors=True)
    argv = [sys.executable, "-c", DRIVER, str(case.path), str(case.checks_dir or ""), str(cache)]
    # cwd=root: ``python -c`` puts the working directory first on sys.path, so run from another checkout
    # the driver would import that checkout's tfkit whatever PYTHONPATH says (every contender the same).
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        cwd=root,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"tfkit ({label}) failed on {case.name}: {proc.stderr[-800:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["root"] != str(root.resolve()):
        raise SystemExit(f"tfkit ({label}) imported tfkit from {out['root']}, not from {root}")
    for key in ("cold", "cold_cpu", "warm", "warm_cpu", "cold_runs"):
        case.add(f"{label}_{key}", out[key])
    return out


def _compare(case: Case, label: str, cli: set[Check], out: dict[str, Any]) -> None:
    cold = {(c, a, p) for c, a, p in out["cold_checks"]}
    warm = {(c, a, p) for c, a, p in out["warm_checks"]}
    if cold != cli:
        case.mismatches.append(f"{label} cold != CLI: {sorted(cold ^ cli)[:4]}")
    if warm != cold or out["warm_runs"] != 0:
        case.mismatches.append(f"{label} warm != cold (or warm ran Checkov {out['warm_runs']} times)")


def _measure(cases: list[Case], checkov: str, contenders: dict[str, Path], repeat: int, work: Path) -> None:
    for case in cases:
        for round_no in range(repeat):
            order = ["cli", *contenders]
            if round_no % 2:
                order.reverse()
            cli: set[Check] = set()
            outs: dict[str, dict[str, Any]] = {}
            for label in order:
                if label == "cli":
                    cli = _cli(checkov, case)
                else:
                    outs[label] = _tfkit(label, contenders[label], case, work)
            for label, out in outs.items():
                _compare(case, label, cli, out)
        line = ", ".join(
            f"{k} {min(v):.2f}s" for k, v in case.times.items() if not k.endswith(("_cpu", "_runs"))
        )
        # 0 runs cold: the catalog Checkov told at start-up left out every resource (no check looks at them).
        runs = ", ".join(f"{k} {int(max(v))}" for k, v in case.times.items() if k.endswith("_cold_runs"))
        print(f"  {case.name} ({case.resources} resources): {line}; Checkov scans: {runs}", flush=True)
        for mismatch in case.mismatches:
            print(f"    RESULTS DIFFER: {mismatch}", flush=True)


def _report(cases: list[Case], contenders: dict[str, Path]) -> bool:
    ok = True
    head = f"{'plan':52} {'res':>6} {'cli min/med s':>14}"
    for label in contenders:
        head += f" {label + ' cold min/med':>22} {'ratio min/med':>14} {'cpu ratio':>9} {'warm s':>7}"
    print("\n" + head)
    for case in cases:
        cli = case.times["cli"]
        row = f"{case.name[:52]:52} {case.resources:6d} {min(cli):6.2f}/{statistics.median(cli):<7.2f}"
        for label in contenders:
            cold = case.times[f"{label}_cold"]
            ratio_min = min(cold) / min(cli)
            ratio_med = statistics.median(cold) / statistics.median(cli)
            cpu = min(case.times[f"{label}_cold_cpu"]) / min(case.times["cli_cpu"])
            row += f" {min(cold):10.2f}/{statistics.median(cold):<11.2f} {ratio_min:6.2f}/{ratio_med:<7.2f}"
            row += f" {cpu:9.2f} {min(case.times[f'{label}_warm']):7.3f}"
        print(row)
    for label in contenders:
        worst = max(min(c.times[f"{label}_cold"]) / min(c.times["cli"]) for c in cases)
        worst_med = max(
            statistics.median(c.times[f"{label}_cold"]) / statistics.median(c.times["cli"]) for c in cases
        )
        verdict = "met" if worst <= 1.0 else "NOT met"
        print(
            f"{label}: worst cold ratio min {worst:.2f}, median {worst_med:.2f} (target <= 1.0x): {verdict}"
        )
    for case in cases:
        ok = ok and not case.mismatches
    print(
        "results: tfkit cold == warm == Checkov's CLI on every plan" if ok else "results: DIFFERENCES (above)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rules", type=int, default=250, help="extra access rules per environment")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds per plan")
    parser.add_argument("--fixtures", choices=("two", "all", "none"), default="two")
    parser.add_argument("--no-envs", action="store_true", help="skip the example's environments")
    parser.add_argument("--big", type=int, default=0, help="also a generated plan of this many resources")
    parser.add_argument("--big-source", type=Path, default=FIXTURES / TWO_FIXTURES[0])
    parser.add_argument("--baseline", type=Path, help="another tfkit checkout to measure alongside")
    args = parser.parse_args()
    checkov = find_checkov(CheckovSettings())
    contenders = {"tfkit": ROOT}
    if args.baseline is not None:
        contenders["base"] = args.baseline.resolve()
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-checkov-") as tmp:
        work = Path(tmp)
        print(f"checkov: {checkov}; contenders: {', '.join(f'{k}={v}' for k, v in contenders.items())}")
        cases = []
        if not args.no_envs:
            print(f"planning the scaled example ({args.rules} extra rules per env)...", flush=True)
            cases += _env_cases(args.rules, work)
        cases += _fixture_cases(args.fixtures)
        if args.big:
            doc = big_plan(json.loads(args.big_source.read_bytes()), args.big)
            path = work / f"big-{args.big}.json"
            path.write_text(json.dumps(doc))
            cases.append(
                Case(f"big {args.big} ({args.big_source.name})", path, len(doc["resource_changes"]), None)
            )
        _measure(cases, checkov, contenders, args.repeat, work)
        ok = _report(cases, contenders)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
