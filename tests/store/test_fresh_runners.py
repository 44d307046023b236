"""Acceptance: tfkit's memory and Terraform's state survive fresh CI runners through one PostgreSQL store.

Each "runner" is a separate clone of one origin repository in its own directory, running the real
``tfkit`` command (``python -m tfkit``, embedded Terraform) as a CI job would; the runners share nothing
but ``TFKIT_STORE_URL``. The server is the suite's own (``tests/pg_server.py``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pg_server import PgServer
from recorded import add_failing_migration
from testsupport import REPO, TEST_SECRET, copy_example, core_config, run_tfkit, start_tfkit

from tfkit.locks import StaleLockWarning
from tfkit.project import Project
from tfkit.store import open_store

pytestmark = pytest.mark.slow


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


class Runners:
    """Fresh clones of one origin repository, each with its own directory and nothing else shared."""

    def __init__(self, base: Path, origin: Path, url: str) -> None:
        self.base = base
        self.origin = origin
        self.url = url
        self.count = 0

    def new(self) -> Path:
        """A fresh runner: a clone of origin, plus the secret CI would mount."""
        self.count += 1
        path = self.base / f"runner-{self.count}"
        _git(self.base, "clone", "-q", str(self.origin), str(path))
        secrets = path / ".secrets"
        secrets.mkdir(mode=0o700)
        (secrets / "db_password").write_text(TEST_SECRET + "\n")
        (secrets / "db_password").chmod(0o600)  # a secret readable by others is an error in CI
        return path

    def tfkit(self, runner: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """``tfkit ARGS`` on ``runner`` with the shared store."""
        return run_tfkit(*args, cwd=runner, env={"TFKIT_STORE_URL": self.url})

    def project(self, runner: Path) -> Project:
        return Project.load(runner)


@pytest.fixture
def runners(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Runners:
    """An origin repository (the example, gate tables removed for speed) and a factory of runners."""
    for name in ("TF_VAR_db_password", "TFKIT_ENGINE", "TFKIT_BINARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFKIT_STORE_URL", pg_url)  # for this process's own look at the store
    origin = copy_example(tmp_path / "origin")
    (origin / "tfkit.toml").write_text(core_config())
    (origin / ".gitignore").write_text((REPO / ".gitignore").read_text())
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "v1")
    return Runners(tmp_path, origin, pg_url)


def _health(runners: Runners, runner: Path, env: str) -> str:
    with open_store(runners.project(runner)) as store:
        return store.ledger.health(env).status


def _state_rows(url: str) -> dict[str, int]:
    """``{schema: rows}`` of every Terraform pg-backend ``states`` table in the database."""
    with psycopg.connect(url, autocommit=True) as conn:
        schemas = [
            r[0]
            for r in conn.execute(
                "select table_schema from information_schema.tables where table_name = 'states'"
            )
        ]
        return {s: conn.execute(f'select count(*) from "{s}".states').fetchone()[0] for s in schemas}  # type: ignore[index]


def _assert_ok(done: subprocess.CompletedProcess[str], what: str) -> None:
    assert done.returncode == 0, f"{what}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def test_five_fresh_runners_apply_fail_roll_back_and_promote(
    runners: Runners, pg_server: PgServer, pg_url: str
) -> None:
    database = psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"]
    baseline = pg_server.connections(str(database))

    a = runners.new()
    _assert_ok(runners.tfkit(a, "apply", "--env", "dev", "--auto-approve"), "runner A applies dev")
    assert not list(a.rglob("terraform.tfstate")), "the state lives in the database, not on the runner"
    assert pg_server.connections(str(database)) == baseline, "no connection outlives an operation"

    b = runners.new()
    _assert_ok(runners.tfkit(b, "apply", "--env", "staging", "--auto-approve"), "runner B applies staging")

    c = runners.new()
    add_failing_migration(c)
    failed = runners.tfkit(
        c, "apply", "--env", "staging", "--auto-approve", "--skip-promotion-check", "--reason", "hotfix"
    )
    assert failed.returncode == 1 and "migration failed" in failed.stderr, failed.stderr
    assert _health(runners, c, "staging") == "unstable"

    d = runners.new()
    status = runners.tfkit(d, "status")
    assert status.returncode != 0 and "staging: unstable" in status.stdout, status.stdout
    refused = runners.tfkit(d, "apply", "--env", "staging", "--auto-approve")
    assert refused.returncode == 4 and "unstable" in refused.stderr, refused.stderr
    _assert_ok(runners.tfkit(d, "rollback", "--env", "staging", "--auto-approve"), "runner D rolls back")
    assert _health(runners, d, "staging") == "stable"
    clean = runners.tfkit(d, "plan", "--env", "staging")
    _assert_ok(clean, "runner D plans staging")
    assert "No changes" in clean.stdout, clean.stdout

    e = runners.new()
    _assert_ok(runners.tfkit(e, "apply", "--env", "production", "--auto-approve"), "runner E promotes")
    _assert_ok(runners.tfkit(e, "status"), "every environment stable")

    rows = _state_rows(pg_url)
    assert sum(rows.values()) >= 3, rows  # one state per environment, in the store's database
    for runner in (a, b, c, d, e):
        assert not list(runner.rglob("*.tfstate")), runner
        assert not (runner / ".tfkit" / "snapshots").exists(), "tfkit's memory is in the store"
    assert pg_server.connections(str(database)) == baseline
    with psycopg.connect(pg_url) as conn:
        dump = b"".join(
            bytes(r[0])
            for r in conn.execute("select data from tfkit.blobs")  # type: ignore[misc]
        )
    assert TEST_SECRET.encode() not in dump, "no secret in tfkit's records"


def test_rollback_on_failure_in_one_call_on_a_fresh_runner(runners: Runners) -> None:
    first = runners.new()
    _assert_ok(runners.tfkit(first, "apply", "--env", "dev", "--auto-approve"), "dev")
    _assert_ok(runners.tfkit(first, "apply", "--env", "staging", "--auto-approve"), "staging")

    failing = runners.new()
    add_failing_migration(failing)
    done = runners.tfkit(
        failing,
        "apply",
        "--env",
        "staging",
        "--auto-approve",
        "--rollback-on-failure",
        "--skip-promotion-check",
        "--reason",
        "hotfix",
    )
    assert done.returncode == 1 and "rolled back to snapshot" in done.stderr, done.stderr

    fresh = runners.new()
    _assert_ok(runners.tfkit(fresh, "status"), "staging is stable again")
    clean = runners.tfkit(fresh, "plan", "--env", "staging")
    _assert_ok(clean, "plan")
    assert "No changes" in clean.stdout


# ------------------------------------------------------------------ two runners, one environment

WAITING_CONFIG = """
variable "round" {
  type        = string
  description = "Changes on every apply, so each one has work to do."
}

variable "release" {
  type        = string
  description = "The apply waits until this file exists."
}

resource "terraform_data" "step" {
  input            = var.round
  triggers_replace = var.round # replaced each round, so the provisioner runs (and waits) every time
  provisioner "local-exec" {
    command = "touch '${var.release}.started'; while [ ! -f '${var.release}' ]; do sleep 0.05; done"
  }
}
"""


@pytest.fixture
def waiting_repo(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A one-environment repository whose apply waits for a release file (so two runs truly overlap)."""
    for name in ("TF_VAR_db_password", "TFKIT_ENGINE", "TFKIT_BINARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFKIT_STORE_URL", pg_url)
    origin = tmp_path / "origin"
    (origin / "envs" / "dev").mkdir(parents=True)
    (origin / "envs" / "dev" / "main.tf").write_text(WAITING_CONFIG)
    (origin / "tfkit.toml").write_text(f'[environments.dev]\n\n[store]\nproject = "wait-{tmp_path.name}"\n')
    yield origin


def _start(repo: Path, url: str, round_id: str, release: Path) -> subprocess.Popen[str]:
    env = {"TFKIT_STORE_URL": url, "TF_VAR_round": round_id, "TF_VAR_release": str(release)}
    return start_tfkit("apply", "--env", "dev", "--auto-approve", cwd=repo, env=env)


def _first_to_exit(procs: list[subprocess.Popen[str]]) -> int:
    while True:
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                return i
        time.sleep(0.05)


def test_two_runners_on_one_environment_exactly_one_applies(
    waiting_repo: Path, tmp_path: Path, pg_url: str
) -> None:
    import shutil

    one = shutil.copytree(waiting_repo, tmp_path / "runner-1")
    two = shutil.copytree(waiting_repo, tmp_path / "runner-2")
    for round_no in range(10):
        release = tmp_path / f"release-{round_no}"
        procs = [_start(r, pg_url, f"r{round_no}", release) for r in (one, two)]
        loser = _first_to_exit(procs)
        out, err = procs[loser].communicate()
        assert procs[loser].returncode == 3, f"round {round_no}: {out}\n{err}"
        assert "is locked by apply by" in err and "pid" in err, err
        release.touch()
        winner = procs[1 - loser]
        out, err = winner.communicate()
        assert winner.returncode == 0, f"round {round_no}: {out}\n{err}"
    with open_store(Project.load(one)) as store:
        entries = store.ledger.entries("dev")
        assert len(entries) == 10, "every apply recorded once, none lost"
        assert {s.id for s in store.snapshots.list("dev")} == {e.snapshot for e in entries}
        assert store.ledger.health("dev").stable


def test_a_runner_killed_mid_apply_leaves_the_lock_free_and_the_health_right(
    waiting_repo: Path, tmp_path: Path, pg_url: str, pg_server: PgServer
) -> None:
    import shutil

    runner = shutil.copytree(waiting_repo, tmp_path / "runner")
    first = tmp_path / "release-good"
    first.touch()
    good = _start(runner, pg_url, "good", first)
    _, err = good.communicate()
    assert good.returncode == 0, err
    database = str(psycopg.conninfo.conninfo_to_dict(pg_url)["dbname"])
    baseline = pg_server.connections(database)
    points = random.Random(1307).sample(range(0, 4000, 100), 10)  # milliseconds after start, fixed seed
    for kill_no, delay_ms in enumerate(points):
        release = tmp_path / f"release-kill-{kill_no}"
        proc = _start(runner, pg_url, f"kill-{kill_no}", release)
        if kill_no % 2 == 0:  # inside Terraform's apply: the provisioner has started
            while not Path(f"{release}.started").exists() and proc.poll() is None:
                time.sleep(0.01)
        else:  # anywhere: init, plan, gate, apply or recording
            deadline = time.monotonic() + delay_ms / 1000
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.01)
        assert proc.poll() is None, f"kill {kill_no}: the run ended by itself: {proc.communicate()}"
        os.killpg(proc.pid, signal.SIGKILL)  # the whole runner goes, as a lost VM would
        proc.communicate()
        started = Path(f"{release}.started").exists()
        release.touch()
        with open_store(Project.load(runner)) as store:
            with warnings.catch_warnings(record=True) as caught, store.locks.hold("dev", "check", timeout=60):
                pass  # the dead runner's lock went with its connection
            for warning in caught:  # its holder row may remain: taken over, and said so
                assert issubclass(warning.category, StaleLockWarning) and "died" in str(warning.message)
            health = store.ledger.health("dev")
            assert started or kill_no % 2, f"kill {kill_no} was to be inside the apply"
            if started:
                assert not health.stable, f"kill {kill_no}: Terraform had started applying"
            snapshots = store.snapshots.list("dev")
            entries = store.ledger.entries("dev")
            assert {s.id for s in snapshots} == {e.snapshot for e in entries}, "no snapshot without entry"
            for snapshot in snapshots:
                snapshot.verify()
        if not health.stable:
            store_env = {"TFKIT_STORE_URL": pg_url}
            done = run_tfkit("rollback", "--env", "dev", "--auto-approve", cwd=runner, env=store_env)
            assert done.returncode == 0, done.stderr
    assert pg_server.connections(database) == baseline, "killed runners left no connection behind"
