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

The server: ``TFKIT_TEST_PG_URL``, else one started by the test suite's ``tests/pg_server.py``, but durable
like the local store (fsync on, data directory on disk; ``--test-settings`` keeps the suite's fsync=off in
/dev/shm), with a fresh database that is dropped at the end.

Run: ``.venv/bin/python benchmarks/bench_store.py [--cycles 200] [--procs 4] [--runner-cycles 50]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
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


def bench_runners(kind: str, where: str, procs: int, envs: int, cycles: int) -> None:
    project = f"runners-{kind}-{os.getpid()}"
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, where, project, str(envs), str(cycles), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(procs)
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
        raise SystemExit(f"a {kind} runner failed")
    results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--envs", type=int, default=50)
    parser.add_argument("--runner-cycles", type=int, default=50)
    parser.add_argument(
        "--test-settings", action="store_true", help="the test server's fsync=off in /dev/shm (not durable)"
    )
    parser.add_argument("--worker", nargs=6, metavar=("KIND", "WHERE", "PROJECT", "ENVS", "CYCLES", "SEED"))
    args = parser.parse_args()
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
    finally:
        server.drop_database(dbname)
        server.close()


if __name__ == "__main__":
    main()
