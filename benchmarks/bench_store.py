"""Benchmark: the PostgreSQL store against the local ``.tfkit/`` store, measured in the same run.

1. Recording: ``record_apply`` + ``prune`` (what ``recording.record_success`` does after each apply) of a
   realistic snapshot (24 files, about 60 KB: a configuration bundle that rarely changes, variables, a plan
   and a gate result that change every time), then the read-back a rollback does (``get`` + ``verify``).
   The two stores alternate cycle by cycle, so a slow spell of this shared machine hits both; prints p50/p95
   in ms, the ratios, and the store's added time per apply (target: at most 100 ms at p95).
2. Runners: ``--procs`` processes each run ``--cycles`` cycles on random environments among ``--envs``:
   take the environment's lock (waiting), read health and the last ledger entry (the promotion check),
   record an apply, prune, release. Afterwards every ledger entry a runner recorded must be in the store
   (lost entries) and no two holders' intervals of one environment may overlap (overlapping holders);
   both must print 0. Runs against both stores.
3. Real engine: ``--real-procs`` runner processes each do ``--real-cycles`` applies (``workflow.apply`` with
   ``auto_approve``: plan -> gate (the built-in policies; Checkov off) -> apply -> verify -> record,
   embedded Terraform) on random environments among ``--envs`` tiny ``terraform_data`` root modules of one
   project, first with the local store (the runners share one directory, as on one machine), then with
   PostgreSQL (each runner a copy of its own, state in the database); promotion order is skipped (with a
   reason, as ``--skip-promotion-check`` does), the environments being independent. The store each runner
   opens is wrapped in a timing proxy: the time spent inside store calls per apply (lock taken and released
   included, lock waits too; and without the waits for another runner's lock) and the whole apply's wall
   time, p50/p95 for both stores and their differences; lost ledger entries (each apply's snapshot must be
   in the ledger) and overlapping lock holders (from the moments each runner held each lock) must print 0.

The server: ``TFKIT_TEST_PG_URL``, else one started by the test suite's ``tests/pg_server.py``, but durable
like the local store (fsync on, data directory on disk; ``--test-settings`` keeps the suite's fsync=off in
/dev/shm), with a fresh database that is dropped at the end.

Run: ``.venv/bin/python benchmarks/bench_store.py [--cycles 200] [--procs 4] [--runner-cycles 50]
[--real-cycles 8] [--real-procs 4]`` (``--real-cycles 0`` skips part 3).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from tfkit.ledger import new_entry, new_health  # noqa: E402
from tfkit.snapshots import SnapshotManifest, new_snapshot_id  # noqa: E402
from tfkit.store import Store  # noqa: E402
from tfkit.store.local import LocalStore  # noqa: E402
from tfkit.store.postgres import PostgresStore  # noqa: E402
from tfkit.store.settings import StoreSettings  # noqa: E402

WIDTH = 44
KEEP = 10  # snapshots kept per environment, as [snapshots] keep defaults to
#: Part 3's one input variable (Terraform reads TF_VAR_<name> with the name's own case).
ROUND_VAR = "TF_VAR_" + "round"


def snapshot_files(rng: random.Random, cycle: int) -> dict[str, bytes]:
    """24 files, about 60 KB: 20 bundle files that change now and then, variables, plan, gate, state."""
    files: dict[str, bytes] = {}
    for i in range(20):
        version = cycle // 25 if i == 0 else 0  # one module file changes every 25 applies
        body = "".join(
            f'resource "terraform_data" "r{i}_{j}" {{\n  input = "v{version}-{j}-{"x" * 40}"\n}}\n'
            for j in range(18)
        )
        files[f"bundle/modules/m{i // 5}/f{i}.tf"] = body.encode()[:2000]
    files["variables.json"] = json.dumps({"region": "eu-west-1", "size": cycle % 3}, indent=2).encode()
    plan = {"format_version": "1.2", "cycle": cycle, "noise": rng.randbytes(6000).hex()}
    files["plan.json"] = json.dumps(plan).encode()
    files["gate.json"] = json.dumps({"evaluated": True, "passed": True, "cycle": cycle}).encode()
    files["state.enc"] = rng.randbytes(6000).hex().encode()
    return files


def manifest(environment: str) -> SnapshotManifest:
    return SnapshotManifest(
        id=new_snapshot_id(),
        environment=environment,
        kind="apply",
        created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        tfkit_version="bench",
        terraform_version="1.15.5",
        engine="embedded",
        lineage="bench",
        serial=1,
    )


def record(store: Store, environment: str, files: dict[str, bytes]) -> str:
    """What record_success does with the store: the apply's records in one go, then retention."""
    m = manifest(environment)
    entry = new_entry(environment, kind="apply", snapshot=m.id, modules={"modules/m0": "d"}, git_commit=None)
    store.record_apply(m, files, entry, new_health(environment, stable=True, snapshot=m.id))
    store.snapshots.prune(environment, KEEP)
    return m.id


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def open_store(kind: str, where: str, project: str) -> Store:
    settings = StoreSettings(url=None if kind == "local" else where, project=project)
    return LocalStore(Path(where), settings) if kind == "local" else PostgresStore(settings)


# --------------------------------------------------------------------------- 1. one runner


def bench_recording(url: str, cycles: int) -> None:
    rng = random.Random(7)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stores = {
            "local": open_store("local", str(Path(tmp) / ".tfkit"), "bench"),
            "postgresql": open_store("postgresql", url, f"bench-{os.getpid()}"),
        }
        size = sum(len(v) for v in snapshot_files(rng, 0).values())
        print(
            f"recording: {cycles} cycles per store, {len(snapshot_files(rng, 0))} files, {size / 1000:.0f} KB"
        )
        for cycle in range(cycles):
            files = snapshot_files(rng, cycle)
            for kind, store in stores.items():
                took, snapshot_id = timed(lambda s=store, f=files: record(s, "staging", f))
                times.setdefault(f"{kind}: record_apply + prune", []).append(took)
                took, _ = timed(lambda s=store, i=snapshot_id: s.snapshots.get(i).verify())
                times.setdefault(f"{kind}: get + verify (read back)", []).append(took)
        for store in stores.values():
            store.close()
    print(f"{'':{WIDTH}}{'p50 ms':>9}{'p95 ms':>9}")
    for label, values in times.items():
        print(f"{label:{WIDTH}}{pct(values, 50):9.2f}{pct(values, 95):9.2f}")
    for what in ("record_apply + prune", "get + verify (read back)"):
        pg, local = times[f"postgresql: {what}"], times[f"local: {what}"]
        print(
            f"{'ratio postgresql / local, ' + what.split()[0]:{WIDTH}}"
            f"{pct(pg, 50) / pct(local, 50):9.2f}{pct(pg, 95) / pct(local, 95):9.2f}"
        )

    def total(kind: str) -> list[float]:
        record_ms, read_ms = (
            times[f"{kind}: record_apply + prune"],
            times[f"{kind}: get + verify (read back)"],
        )
        return [r + g for r, g in zip(record_ms, read_ms, strict=True)]

    added = [p - lo for p, lo in zip(total("postgresql"), total("local"), strict=True)]
    label = "added per apply (record + read back)"
    print(f"{label:{WIDTH}}{pct(added, 50):9.2f}{pct(added, 95):9.2f}  (target: p95 <= 100)")


# --------------------------------------------------------------------------- 2. runners at once


def worker(kind: str, where: str, project: str, envs: int, cycles: int, seed: int) -> None:
    """One runner: prints one JSON line with what it recorded and when it held which lock."""
    rng = random.Random(seed)
    held: list[tuple[str, float, float, float]] = []
    recorded: list[tuple[str, str]] = []
    cycle_ms: list[float] = []
    print("ready", flush=True)
    sys.stdin.readline()
    with open_store(kind, where, project) as store:
        for cycle in range(cycles):
            environment = f"env{rng.randrange(envs):02d}"
            start = time.perf_counter()
            asked = time.monotonic()
            with store.locks.hold(environment, "apply", timeout=600):
                got = time.monotonic()
                store.ledger.health(environment)
                store.ledger.last(environment)
                snapshot_id = record(store, environment, snapshot_files(rng, cycle))
                recorded.append((environment, snapshot_id))
                left = time.monotonic()
            held.append((environment, got, left, asked))
            cycle_ms.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"held": held, "recorded": recorded, "cycle_ms": cycle_ms}), flush=True)


def run_together(
    commands: list[list[str]], env: dict[str, str] | None, what: str
) -> tuple[list[dict[str, Any]], float]:
    """Start the runners, release them together once all are ready; their JSON results and the wall time."""
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for command in commands
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for child in children:  # all started before any is waited for
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate()[0] for child in children]
    wall = time.perf_counter() - start
    if any(child.returncode for child in children):
        raise SystemExit(f"{what} failed")
    return [json.loads(out.strip().splitlines()[-1]) for out in outputs], wall


def bench_runners(kind: str, where: str, procs: int, envs: int, cycles: int) -> None:
    project = f"runners-{kind}-{os.getpid()}"
    commands = [
        [sys.executable, __file__, "--worker", kind, where, project, str(envs), str(cycles), str(seed)]
        for seed in range(procs)
    ]
    results, wall = run_together(commands, None, f"a {kind} runner")
    held = sorted((tuple(h) for r in results for h in r["held"]), key=lambda h: (h[0], h[1]))
    overlaps = sum(1 for a, b in itertools.pairwise(held) if a[0] == b[0] and b[1] < a[2])
    with open_store(kind, where, project) as store:
        stored = {(e.environment, e.id) for env in {h[0] for h in held} for e in store.ledger.entries(env)}
    expected = {tuple(rec) for r in results for rec in r["recorded"]}
    lost = len(expected - stored)
    waited = sum(1 for h in held if any(o[0] == h[0] and o[1] <= h[3] < o[2] for o in held if o is not h))
    cycle_ms = [t for r in results for t in r["cycle_ms"]]
    print(
        f"{kind + f': {procs} runners x {cycles} cycles, {envs} envs':{WIDTH}}"
        f"{pct(cycle_ms, 50):9.2f}{pct(cycle_ms, 95):9.2f}  wall {wall:5.1f} s  "
        f"lock waits {waited}  lost ledger entries {lost}  overlapping holders {overlaps}"
    )


# --------------------------------------------------------------------------- 3. real engine


class Timed:
    """A store (or one of its parts) whose every call adds its duration to ``spent[label]`` (seconds);
    ``locks.hold`` counts taking and releasing apart, and notes when the lock was held (``held``:
    environment, taken, released, asked; monotonic)."""

    def __init__(
        self,
        target: Any,
        spent: dict[str, float],
        held: list[tuple[str, float, float, float]],
        prefix: str = "",
    ) -> None:
        self._target, self._spent, self._held, self._prefix = target, spent, held, prefix

    def _add(self, label: str, start: float) -> None:
        self._spent[label] = self._spent.get(label, 0.0) + time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name in ("snapshots", "ledger", "locks"):
            return Timed(value, self._spent, self._held, f"{name}.")
        if name == "hold":
            return self._hold
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._add(self._prefix + name, start)

        return call

    @contextlib.contextmanager
    def _hold(self, environment: str, operation: str, **kwargs: Any) -> Iterator[Any]:
        manager = self._target.hold(environment, operation, **kwargs)
        asked = time.monotonic()
        start = time.perf_counter()
        holder = manager.__enter__()
        self._add("locks.hold (take)", start)
        taken = time.monotonic()
        try:
            yield holder
        finally:
            released = time.monotonic()
            start = time.perf_counter()
            try:
                manager.__exit__(*sys.exc_info())
            finally:
                self._add("locks.hold (release)", start)
                self._held.append((environment, taken, released, asked))

    def __enter__(self) -> Timed:
        start = time.perf_counter()
        self._target.__enter__()
        self._add("open", start)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        start = time.perf_counter()
        try:
            self._target.__exit__(exc_type, exc, tb)
        finally:
            self._add("close", start)


def real_project(root: Path, envs: int, project: str) -> None:
    """``envs`` tiny root modules (one ``terraform_data`` each) in one project; Checkov off, policies on."""
    lines = [f'[store]\nproject = "{project}"\n\n[checkov]\nenabled = false\n']
    for i in range(envs):
        directory = root / "envs" / f"env{i:02d}"
        directory.mkdir(parents=True)
        (directory / "main.tf").write_text(
            'variable "round" {\n  type        = string\n  description = "Changes on every apply."\n}\n\n'
            'resource "terraform_data" "step" {\n  input = var.round\n}\n'
        )
        lines.append(f"[environments.env{i:02d}]\n")
    (root / "tfkit.toml").write_text("\n".join(lines))


#: The 50 environments are independent: promotion order (env00 -> env01 -> ...) is not what is measured.
SKIP = "benchmark: independent environments"


def real_worker(root: str, envs: int, cycles: int, seed: int) -> None:
    """A runner of part 3: real applies; prints one JSON line (what it recorded, store time, lock moments)."""
    import tfkit.workflow as workflow
    from tfkit.project import Project

    spent: dict[str, float] = {}
    held: list[tuple[str, float, float, float]] = []
    real_open = workflow.open_store
    workflow.open_store = lambda *a, **k: Timed(real_open(*a, **k), spent, held)  # type: ignore[assignment]
    project = Project.load(Path(root))
    rng = random.Random(seed)
    options = workflow.RunOptions(engine="embedded", lock_timeout=600)
    applies: list[dict[str, Any]] = []
    print("ready", flush=True)
    sys.stdin.readline()
    for cycle in range(cycles):
        name = f"env{rng.randrange(envs):02d}"
        os.environ[ROUND_VAR] = f"runner{seed}-cycle{cycle}"
        spent.clear()
        start = time.perf_counter()
        outcome = workflow.apply(
            project.environment(name), auto_approve=True, skip_promotion_check=SKIP, options=options
        )
        wall = time.perf_counter() - start
        assert outcome.applied and outcome.snapshot, outcome
        applies.append(
            {
                "env": name,
                "snapshot": outcome.snapshot,
                "store_ms": sum(spent.values()) * 1000,
                "calls_ms": {label: t * 1000 for label, t in spent.items()},
                "wall_ms": wall * 1000,
                "taken": held[-1][1],
            }
        )
    print(json.dumps({"applies": applies, "held": held}), flush=True)


def run_real(kind: str, roots: list[Path], envs: int, cycles: int, url: str | None) -> dict[str, list[float]]:
    """Part 3 on one store: a runner process per root (the same root for all with the local store)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TFKIT_STORE_URL", "TFKIT_ENGINE", ROUND_VAR)}
    if url is not None:
        env["TFKIT_STORE_URL"] = url
    commands = [
        [sys.executable, __file__, "--real-worker", str(root), str(envs), str(cycles), str(seed)]
        for seed, root in enumerate(roots)
    ]
    results, wall = run_together(commands, env, f"a {kind} real-engine runner")
    applies = [a for r in results for a in r["applies"]]
    held = sorted((tuple(h) for r in results for h in r["held"]), key=lambda h: (h[0], h[1]))
    overlaps = sum(1 for a, b in itertools.pairwise(held) if a[0] == b[0] and b[1] < a[2])
    waited = sum(1 for h in held if any(o[0] == h[0] and o[1] <= h[3] < o[2] for o in held if o is not h))
    from tfkit.project import Project
    from tfkit.store import open_store as open_project_store

    previous = os.environ.get("TFKIT_STORE_URL")
    if url is not None:
        os.environ["TFKIT_STORE_URL"] = url
    try:
        with open_project_store(Project.load(roots[0])) as store:
            found = {(a["env"], e.snapshot) for a in applies for e in store.ledger.entries(a["env"])}
    finally:
        if previous is None:
            os.environ.pop("TFKIT_STORE_URL", None)
        else:
            os.environ["TFKIT_STORE_URL"] = previous
    lost = sum(1 for a in applies if (a["env"], a["snapshot"]) not in found)
    store_ms = [a["store_ms"] for a in applies]
    wall_ms = [a["wall_ms"] for a in applies]
    # An apply that waited for another runner's lock spent that wait "in the store": without it, its lock
    # taking is not counted at all (a few ms of the lock's own cost are lost with it).
    queued = {h[1] for h in held if any(o[0] == h[0] and o[1] <= h[3] < o[2] for o in held if o is not h)}
    unqueued_ms = [
        a["store_ms"] - (a["calls_ms"].get("locks.hold (take)", 0.0) if a["taken"] in queued else 0.0)
        for a in applies
    ]
    firsts = {  # the apply that created each environment's state
        min((a for a in applies if a["env"] == e), key=lambda a: a["taken"])["snapshot"]
        for e in {a["env"] for a in applies}
    }
    new = [a["wall_ms"] for a in applies if a["snapshot"] in firsts]
    again = [a["wall_ms"] for a in applies if a["snapshot"] not in firsts]
    print(
        f"{kind + ': store calls per apply':{WIDTH}}{pct(store_ms, 50):9.0f}{pct(store_ms, 95):9.0f}"
        f"  ({len(applies)} applies, {len(firsts)} envs, wall {wall:5.1f} s)"
    )
    print(
        f"{'  without waits for another lock holder':{WIDTH}}"
        f"{pct(unqueued_ms, 50):9.0f}{pct(unqueued_ms, 95):9.0f}"
    )
    print(
        f"{kind + ': whole apply':{WIDTH}}{pct(wall_ms, 50):9.0f}{pct(wall_ms, 95):9.0f}"
        f"  lock waits {waited}  lost ledger entries {lost}  overlapping holders {overlaps}"
    )
    for label, values in (("first apply of an env", new), ("later applies", again)):
        if values:
            print(f"{'  ' + label + f' ({len(values)})':{WIDTH}}{pct(values, 50):9.0f}{pct(values, 95):9.0f}")
    labels = sorted({label for a in applies for label in a["calls_ms"]})
    mean = {label: statistics.fmean(a["calls_ms"].get(label, 0.0) for a in applies) for label in labels}
    top = sorted(mean.items(), key=lambda item: -item[1])[:4]
    print(
        f"{'  mean ms per apply, largest store calls':{WIDTH}}  " + ", ".join(f"{k} {v:.0f}" for k, v in top)
    )
    return {"store": store_ms, "unqueued": unqueued_ms, "wall": wall_ms}


def bench_real(url: str, procs: int, envs: int, cycles: int) -> None:
    print(f"real engine: {procs} runners x {cycles} applies (plan, gate, apply, verify, record), {envs} envs")
    print(f"{'':{WIDTH}}{'p50 ms':>9}{'p95 ms':>9}")
    with tempfile.TemporaryDirectory(prefix="tfkit-bench-real-") as tmp:
        base = Path(tmp)
        local_root = base / "local"
        real_project(local_root, envs, "bench-real-local")
        local = run_real("local", [local_root] * procs, envs, cycles, None)
        template = base / "pg-template"
        real_project(template, envs, f"bench-real-{os.getpid()}")
        roots = [Path(shutil.copytree(template, base / f"runner-{i}")) for i in range(procs)]
        pg = run_real("postgresql", roots, envs, cycles, url)
    for what, label in (
        ("store", "store calls"),
        ("unqueued", "store calls, no waits"),
        ("wall", "whole apply"),
    ):
        print(
            f"{'added by postgresql, ' + label:{WIDTH}}"
            f"{pct(pg[what], 50) - pct(local[what], 50):9.0f}{pct(pg[what], 95) - pct(local[what], 95):9.0f}"
            + ("  (target: p95 <= 100)" if what == "unqueued" else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--envs", type=int, default=50)
    parser.add_argument("--runner-cycles", type=int, default=50)
    parser.add_argument(
        "--test-settings", action="store_true", help="the test server's fsync=off in /dev/shm (not durable)"
    )
    parser.add_argument("--real-cycles", type=int, default=8, help="applies per runner in part 3 (0: skip)")
    parser.add_argument("--real-procs", type=int, default=4)
    parser.add_argument("--worker", nargs=6, metavar=("KIND", "WHERE", "PROJECT", "ENVS", "CYCLES", "SEED"))
    parser.add_argument("--real-worker", nargs=4, metavar=("ROOT", "ENVS", "CYCLES", "SEED"))
    args = parser.parse_args()
    if args.real_worker:
        root, envs, cycles, seed = args.real_worker
        real_worker(root, int(envs), int(cycles), int(seed))
        return
    if args.worker:
        kind, where, project, envs, cycles, seed = args.worker
        worker(kind, where, project, int(envs), int(cycles), int(seed))
        return
    import pg_server  # the test suite's server start, outside pytest

    if not args.test_settings:  # as durable as the local store, which fsyncs: fsync on, data on disk
        pg_server.SERVER_SETTINGS = tuple(
            s
            for s in pg_server.SERVER_SETTINGS
            if not s.startswith(("fsync", "synchronous_commit", "full_page"))
        )
        pg_server._base_parent = lambda: Path(tempfile.gettempdir())
    server = pg_server.open_server()
    dbname = server.create_database("tfkit_bench")
    try:
        url = server.url_for(dbname)
        with server.connect(dbname) as conn:
            fsync = conn.execute("SHOW fsync").fetchone()
            directory = conn.execute("SHOW data_directory").fetchone()
        print(
            f"PostgreSQL {server.version} (fsync {fsync[0] if fsync else '?'}, data in "
            f"{directory[0] if directory else '?'}); {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        bench_recording(url, args.cycles)
        print(f"{'':{WIDTH}}{'p50 ms':>9}{'p95 ms':>9}  (per locked cycle, waits included)")
        with tempfile.TemporaryDirectory() as tmp:
            bench_runners("local", str(Path(tmp) / ".tfkit"), args.procs, args.envs, args.runner_cycles)
        bench_runners("postgresql", url, args.procs, args.envs, args.runner_cycles)
        if args.real_cycles:
            bench_real(url, args.real_procs, args.envs, args.real_cycles)
    finally:
        server.drop_database(dbname)
        server.close()


if __name__ == "__main__":
    main()
