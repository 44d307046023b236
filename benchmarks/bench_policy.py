"""Benchmark: the built-in policy pack over a 50k-change plan, against ``json.loads`` of the same bytes.

Uses the 50k plan cached by ``benchmarks/bench_plan.py`` (``benchmarks/.cache/plan-50000-*.json``: real
Terraform output, see that script's ``--replicate-from``) when it is there; otherwise generates a plan JSON
of the same shape synthetically (``terraform_data`` with tags, a sensitive token, module instances, some
updates, replaces and deletes, outputs). Each evaluation is timed on a freshly loaded plan, so the lazy
decoding of values is counted in the policies' time, not hidden in a cache. ``json.loads`` of the plan's
bytes, tfkit's loads (from the bytes, and from a file as a user's run does) and evaluations are
interleaved, and both the best and the median of ``--repeat`` runs are printed: this machine is shared and
its speed wanders by 1.5x from minute to minute. The target: the pack takes at most 0.3x ``json.loads``.

Run: ``.venv/bin/python benchmarks/bench_policy.py [--size 50000] [--repeat 11]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tfkit.plan import load_plan
from tfkit.policy import Status, evaluate
from tfkit.policy.builtin import BUILTIN

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH = 40  # of the label column


def _change(i: int) -> dict:
    kind = i % 100
    actions = ["create"]
    if kind < 10:
        actions = ["update"]
    elif kind < 12:
        actions = ["delete", "create"]
    elif kind < 13:
        actions = ["delete"]
    module = f'module.svc["{"abcd"[i % 4]}"]' if i % 5 == 0 else None
    name = "each" if i % 2 else "counted"
    index = f"key-{i:06d}" if name == "each" else i
    address = f'terraform_data.{name}["{index}"]' if name == "each" else f"terraform_data.{name}[{index}]"
    if module:
        address = f"{module}.{address}"
    body = {
        "index": i,
        "name": f"{name}-{i}",
        "tags": {"env": "bench", "owner": "perf"},
        "token": "bench-token",
    }
    before = None if actions == ["create"] else {**body, "name": f"old-{i}"}
    after = None if actions == ["delete"] else body
    doc = {
        "address": address,
        "mode": "managed",
        "type": "terraform_data",
        "name": name,
        "index": index,
        "provider_name": "terraform.io/builtin/terraform",
        "change": {
            "actions": actions,
            "before": {"input": before, "output": before, "id": f"id-{i}"} if before else None,
            "after": {"input": after, "output": after} if after else None,
            "after_unknown": {"id": True, "output": True} if after else False,
            "before_sensitive": {"input": {"token": True}, "output": {"token": True}} if before else False,
            "after_sensitive": {"input": {"token": True}, "output": {"token": True}} if after else False,
        },
    }
    if module:
        doc["module_address"] = module
    return doc


def synthetic_plan(size: int) -> bytes:
    """Plan JSON (format 1.2) with ``size`` resource changes of the shape bench_plan.py plans for real."""
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.15.5",
        "variables": {"token": {"value": "bench-secret-token"}},
        "resource_changes": [_change(i) for i in range(size)],
        "output_changes": {
            "count": {
                "actions": ["create"],
                "before": None,
                "after": size,
                "after_unknown": False,
                "before_sensitive": False,
                "after_sensitive": False,
            },
        },
        "configuration": {
            "root_module": {
                "variables": {"token": {"sensitive": True}},
                "module_calls": {"svc": {"source": "./svc", "module": {}}},
            }
        },
        "applyable": True,
        "complete": True,
        "errored": False,
    }
    return json.dumps(doc, separators=(",", ":")).encode()  # compact, as Terraform writes it


def plan_bytes(size: int) -> tuple[bytes, str]:
    cached = sorted(CACHE.glob(f"plan-{size}-*.json")) if CACHE.is_dir() else []
    if cached:
        return cached[0].read_bytes(), f"real plan from {cached[0].name}"
    return synthetic_plan(size), "synthetic plan (run benchmarks/bench_plan.py to cache a real one)"


TARGET = 0.3  # the pack takes at most 0.3x json.loads of the same bytes


def timed(func) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    data, origin = plan_bytes(args.size)
    print(f"plan: {origin}; {len(data) / 1e6:.1f} MB, {args.size} resource changes")
    times: dict[str, list[float]] = {"json.loads": [], "load_plan(bytes)": [], "load_plan(file)": []}
    pack = f"built-in pack ({len(BUILTIN)} policies)"
    times[pack] = []
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_bytes(data)
        for _ in range(args.repeat):  # interleaved, so a slow spell of a shared machine hits all of them
            taken, loaded = timed(lambda: json.loads(data))
            times["json.loads"].append(taken)
            del loaded
            times["load_plan(file)"].append(timed(lambda: load_plan(path))[0])
            taken, plan = timed(lambda: load_plan(data))  # fresh: lazy decoding counts in the pack's time
            times["load_plan(bytes)"].append(taken)
            taken, report = timed(lambda: evaluate(plan, BUILTIN, env="production"))  # noqa: B023
            times[pack].append(taken)
            reports.append(report)
    print(f"{'':{WIDTH}}{'best':>8}{'median':>9}  (of {args.repeat}, seconds)")
    for label, measured in times.items():
        print(f"{label:{WIDTH}}{min(measured):8.3f}{statistics.median(measured):9.3f}")
    for label in ("json.loads", "load_plan(bytes)", "load_plan(file)"):
        best_ratio = min(times[pack]) / min(times[label])
        median_ratio = statistics.median(times[pack]) / statistics.median(times[label])
        target = f"  (target <= {TARGET})" if label == "json.loads" else ""
        print(f"{'ratio pack / ' + label:{WIDTH}}{best_ratio:8.2f}{median_ratio:9.2f}{target}")
    report = reports[times[pack].index(min(times[pack]))]
    for result in report.results:
        note = "" if result.status in (Status.PASSED, Status.FAILED) else f" ({result.status.value})"
        print(f"  {result.id:8} {result.duration:8.3f} s{note}")
    print(f"findings: {sum(len(r.violations) for r in report.results)}")


if __name__ == "__main__":
    main()
