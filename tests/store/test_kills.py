"""SIGKILL at points of apply, rollback and recording, on both stores: nothing lost, nothing left running.

Each trial starts the real ``python -m tfkit`` (embedded engine, real Terraform), kills tfkit alone with
SIGKILL at a point drawn from a fixed seed, then checks what the issue asks:

* no lost apply: the next command (``tfkit status``) reports the unfinished operation and the environment
  is unstable, unless the kill came after the recording had committed (then it is recorded and stable);
* no orphan: no process of the trial (found by a marker in its environment: worker, Terraform,
  provisioner) is left; they are polled until gone, and the longest wait is printed;
* no secret left behind: after the next command, no file under the trial's ``$TMPDIR`` holds the canary
  (the value of a sensitive variable, which Terraform writes into plan files).

Kill points: ``terraform`` is inside Terraform's apply (a ``local-exec`` provisioner touches
``<release>.started`` and waits for ``<release>``); the others are tfkit's named pause points
(``tfkit.pausepoints``), where the run stops and waits to be killed. Every wait is for a condition.
``TFKIT_KILL_TRIALS`` sets the number of trials of each test (20 by default).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from storecase import unique_project
from testsupport import start_tfkit, wait_for

from tfkit.store import Store
from tfkit.store.local import LocalStore
from tfkit.store.postgres import PostgresStore
from tfkit.store.settings import StoreSettings

pytestmark = pytest.mark.slow

SEED = 19
TRIALS = int(os.environ.get("TFKIT_KILL_TRIALS", "20"))
CANARY = "canary-19-5e1f0c7d9ab2"
#: Only bounds a hung run or a process that never goes; every wait is for a condition.
WAIT = 300.0

CONFIG = """
variable "round" {
  type        = string
  description = "Changes on every apply, so each one replaces the resource and runs the provisioner."
}

variable "canary" {
  type        = string
  sensitive   = true
  description = "A secret: Terraform writes its value into plan files, never into a snapshot."
}

resource "terraform_data" "step" {
  input            = var.round
  triggers_replace = var.round
  provisioner "local-exec" {
    command = "touch \\"$FAULT_RELEASE.started\\"; while [ ! -f \\"$FAULT_RELEASE\\" ]; do sleep 0.05; done"
  }
}

resource "terraform_data" "secret" {
  input = sha256(var.canary)
}
"""

#: Where a recording is committed: killed at or after these, the apply is recorded (local store's order).
LOCAL_COMMITTED = {"record:ledger", "record:health"}


@dataclass
class Figures:
    """What the trials of one test saw."""

    trials: int = 0
    points: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    recorded: int = 0
    longest_orphan_wait: float = 0.0


@dataclass
class Bench:
    """A repository with environment ``dev`` on one store, and how to run and kill tfkit on it."""

    kind: str
    project: str
    repo: Path
    tmpdir: Path
    env: dict[str, str]
    figures: Figures = field(default_factory=Figures)
    count: int = 0

    def _env(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}

    def run(self, *args: str, round_id: str = "", code: int | None = 0) -> subprocess.CompletedProcess[str]:
        """A run that is not killed (its provisioner does not wait)."""
        release = self.tmpdir.parent / f"release-free-{self.count}"
        self.count += 1
        release.touch()
        proc = start_tfkit(
            *args, cwd=self.repo, env=self._env(TF_VAR_round=round_id, FAULT_RELEASE=str(release))
        )
        out, err = proc.communicate(timeout=WAIT)
        if code is not None:
            assert proc.returncode == code, f"{args}: exit {proc.returncode}\n{out}\n{err}"
        assert CANARY not in out + err
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def status(self) -> dict[str, Any]:
        """``tfkit status --json``: the row of ``dev`` (also the next command after each kill)."""
        done = self.run("status", "--json", code=None)
        assert done.returncode in (0, 4), done.stderr
        rows = [r["details"] for r in json.loads(done.stdout)["environments"]]
        (row,) = [r for r in rows if r["environment"] == "dev"]
        assert (done.returncode == 4) == (row["health"] == "unstable")
        return dict(row)

    def killed(self, args: tuple[str, ...], point: str, round_id: str) -> None:
        """Run ``args`` and SIGKILL tfkit (only tfkit) at ``point``; wait until all its processes are gone."""
        self.count += 1
        trial = f"trial-{os.getpid()}-{self.count}"
        release = self.tmpdir.parent / f"release-{trial}"
        started = Path(f"{release}.started")
        paused = self.tmpdir.parent / f"paused-{trial}"
        if point != "terraform":
            release.touch()
        extra = {
            "TF_VAR_round": round_id,
            "FAULT_RELEASE": str(release),
            "TFKIT_KILL_TRIAL": trial,
            "TFKIT_PAUSE_AT": "" if point == "terraform" else point,
            "TFKIT_PAUSE_FILE": str(paused),
        }
        proc = start_tfkit(*args, cwd=self.repo, env=self._env(**extra))
        marker = started if point == "terraform" else paused
        _wait_for(marker.exists, proc, f"{args[0]} at {point}")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=WAIT)
        began = time.monotonic()
        deadline = began + WAIT
        while left := _processes_of(trial):
            assert time.monotonic() < deadline, f"processes of the killed run still there: {left}"
            time.sleep(0.05)
        waited = time.monotonic() - began
        self.figures.longest_orphan_wait = max(self.figures.longest_orphan_wait, waited)
        self.figures.trials += 1
        self.figures.points[point] = self.figures.points.get(point, 0) + 1

    def check_after_kill(self, operation: str, point: str, entries_before: int) -> dict[str, Any]:
        """The next command reports the unfinished operation (or the committed recording); no canary left."""
        row = self.status()
        committed = self.kind == "local" and point in LOCAL_COMMITTED
        if committed:
            assert row["health"] == "stable" and row["unfinished"] is None, row
            assert self.entries() == entries_before + 1, "the committed recording is in the ledger"
            self.figures.recorded += 1
        else:
            assert row["health"] == "unstable", row
            assert row["unfinished"] and row["unfinished"].startswith(f"{operation} by "), row
            assert self.entries() == entries_before, "nothing recorded"
            self.figures.unfinished += 1
        leaks = _files_holding(self.tmpdir, CANARY)
        assert not leaks, f"temporary files with the canary left after the next run: {leaks}"
        return row

    def store(self) -> Store:
        """The store of the repository, opened in the test (not a run under test)."""
        url = self.env["TFKIT_STORE_URL"] or None
        settings = StoreSettings(url=url, project=self.project)
        return LocalStore(self.repo / ".tfkit", settings) if url is None else PostgresStore(settings)

    def entries(self) -> int:
        """How many ledger entries ``dev`` has."""
        with self.store() as store:
            return len(store.ledger.entries("dev"))


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    wait_for(condition, proc, what, timeout=WAIT)


def _processes_of(trial: str) -> list[str]:
    """Live processes whose environment carries the trial's marker (zombies excluded)."""
    needle = f"TFKIT_KILL_TRIAL={trial}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command[:120]}")
    return found


def _files_holding(root: Path, secret: str) -> list[str]:
    needle = secret.encode()
    found = []
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(str(path))
    return found


def _bench(tmp_path: Path, kind: str, url: str = "", engine: str = "") -> Bench:
    """``dev`` applied once (round ``base``) on the local store, or the PostgreSQL store at ``url``."""
    project = unique_project("kill")
    repo = tmp_path / "repo"
    (repo / "envs" / "dev").mkdir(parents=True)
    (repo / "envs" / "dev" / "main.tf").write_text(CONFIG)
    config = f'[environments.dev]\n\n[store]\nproject = "{project}"\n'
    if engine:
        config += f'\n[engine]\nkind = "binary"\nbinary = "{engine}"\n'
    (repo / "tfkit.toml").write_text(config)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir), "TF_VAR_canary": CANARY, "TFKIT_STORE_URL": url, "TFKIT_BINARY": ""}
    bench = Bench(kind, project, repo, tmpdir, env)
    bench.run("apply", "--env", "dev", "--auto-approve", round_id="base")
    return bench


@pytest.fixture(params=["local", "postgresql"])
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bench]:
    """``dev`` applied once, on the local store or the suite's PostgreSQL server (embedded engine)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else ""
    made = _bench(tmp_path, request.param, url)
    yield made
    print(f"\n{request.node.name}: {made.figures}")


def _fixing_rollback_ends_it(bench: Bench) -> None:
    """After the trials, a rollback (no kill) records and 'dev' is stable: Terraform's lock was released.

    Left unfinished, a plain apply is refused naming the unfinished run, and the rollback says it replaces it.
    """
    unfinished = bench.status()["unfinished"]
    if unfinished:
        refused = bench.run("apply", "--env", "dev", "--auto-approve", round_id="again", code=4)
        assert f"'dev' has an unfinished {unfinished}; it is unstable" in refused.stderr
    rolled = bench.run("rollback", "--env", "dev", "--auto-approve")
    assert ("this rollback replaces it" in rolled.stderr) == bool(unfinished)
    row = bench.status()
    assert row["health"] == "stable" and row["unfinished"] is None, row


def test_sigkill_during_apply(bench: Bench) -> None:
    rng = random.Random(f"{SEED}-apply-{bench.kind}")
    for i in range(TRIALS):
        point = rng.choice(["journal", "terraform"])
        before = bench.entries()
        args = ("apply", "--env", "dev", "--auto-approve", "--allow-unstable", "--reason", "kill test")
        bench.killed(args, point, round_id=f"a{i}")
        bench.check_after_kill("apply", point, before)
    assert bench.figures.unfinished == TRIALS
    _fixing_rollback_ends_it(bench)


def test_sigkill_during_rollback(bench: Bench) -> None:
    bench.run("apply", "--env", "dev", "--auto-approve", round_id="other")
    with bench.store() as store:
        base, other = (s.id for s in store.snapshots.list("dev"))
    targets = {"base": base, "other": other}
    current: str | None = "other"
    rng = random.Random(f"{SEED}-rollback-{bench.kind}")
    for _ in range(TRIALS):
        point = rng.choice(["journal", "terraform", "record"])
        target = "base" if current != "base" else "other"
        before = bench.entries()
        bench.killed(("rollback", "--env", "dev", "--auto-approve", "--to", targets[target]), point, "")
        bench.check_after_kill("rollback", point, before)
        current = {"journal": current, "terraform": None, "record": target}[point]
    _fixing_rollback_ends_it(bench)


def test_sigkill_during_recording(bench: Bench) -> None:
    points = ["record", "record:snapshot", "record:ledger", "record:health"]
    if bench.kind == "local":
        points.append("record:committing")
    rng = random.Random(f"{SEED}-recording-{bench.kind}")
    for i in range(TRIALS):
        point = rng.choice(points)
        before = bench.entries()
        args = ("apply", "--env", "dev", "--auto-approve", "--allow-unstable", "--reason", "kill test")
        bench.killed(args, point, round_id=f"r{i}")
        bench.check_after_kill("apply", point, before)
    _fixing_rollback_ends_it(bench)


def test_sigkill_inside_terraform_with_the_binary_engine(tmp_path: Path, terraform_binary: str) -> None:
    """The binary engine's ``terraform`` dies with tfkit too (it gets Ctrl-C's interrupt from the kernel)."""
    made = _bench(tmp_path, "local", engine=terraform_binary)
    rng = random.Random(f"{SEED}-binary")
    for i in range(5):
        point = rng.choice(["journal", "terraform"])
        before = made.entries()
        args = ("apply", "--env", "dev", "--auto-approve", "--allow-unstable", "--reason", "kill test")
        made.killed(args, point, round_id=f"b{i}")
        made.check_after_kill("apply", point, before)
    _fixing_rollback_ends_it(made)
    print(f"\nbinary engine: {made.figures}")
