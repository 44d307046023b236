"""Faults at the workflow level: the real ``tfkit`` command, real Terraform, a real PostgreSQL server.

Each fault is met by ``python -m tfkit`` as a CI runner would meet it, and each test checks what a user
and the next runner see: one line on stderr with the documented exit code, no traceback, no password,
nothing half-recorded (every snapshot has its ledger entry and the reverse, read from the tables), and the
environment's health right afterwards (an apply that failed after Terraform started is unstable).

The configuration's apply waits inside Terraform (a ``local-exec`` provisioner touches ``<release>.started``
and waits for ``<release>``), so a test injects its fault at a known point by waiting for a condition,
never for a time.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import PgServer, _launch, _RunAs, _stop, resolve_bindir, start_server
from storecase import unique_project
from testsupport import start_tfkit, wait_for

pytestmark = pytest.mark.slow

PASSWORD = "fault-s3cret-pw"
#: Every wait in these tests is for a condition; this only bounds a hung run.
WAIT = 600.0
#: The progress lines tfkit writes on stderr as an operation proceeds ("tfkit: dev: plan...", also
#: "tfkit: dev: init (cached)..." when a recorded init is restored).
PROGRESS = re.compile(r"tfkit: dev: [a-z]+(?: \(cached\))?\.\.\.")

WAITING_CONFIG = """
{backend}
variable "round" {{
  type        = string
  description = "Changes on every apply, so each one replaces the resource and runs the provisioner."
}}

resource "terraform_data" "step" {{
  input            = var.round
  triggers_replace = var.round
  provisioner "local-exec" {{
    command = "touch \\"$FAULT_RELEASE.started\\"; while [ ! -f \\"$FAULT_RELEASE\\" ]; do sleep 0.05; done"
  }}
}}
"""
LOCAL_BACKEND = 'terraform {\n  backend "local" {}\n}\n'
#: A resource whose destruction waits the same way (for the destroy test only).
WAITING_DESTROY = """
resource "terraform_data" "gone" {
  provisioner "local-exec" {
    when    = destroy
    command = "touch \\"$FAULT_RELEASE.started\\"; while [ ! -f \\"$FAULT_RELEASE\\" ]; do sleep 0.05; done"
  }
}
"""


def _repo(path: Path, project: str, *, local_backend: bool = False, extra: str = "") -> Path:
    (path / "envs" / "dev").mkdir(parents=True)
    config = WAITING_CONFIG.format(backend=LOCAL_BACKEND if local_backend else "") + extra
    (path / "envs" / "dev" / "main.tf").write_text(config)
    (path / "tfkit.toml").write_text(f'[environments.dev]\n\n[store]\nproject = "{project}"\n')
    return path


def _start(repo: Path, url: str, *args: str, round_id: str, release: Path) -> subprocess.Popen[str]:
    env = {"TFKIT_STORE_URL": url, "TF_VAR_round": round_id, "FAULT_RELEASE": str(release)}
    return start_tfkit(*args, "--env", "dev", "--auto-approve", cwd=repo, env=env)


def _run(repo: Path, url: str, *args: str, round_id: str, release: Path) -> subprocess.CompletedProcess[str]:
    """A run whose apply does not wait (its release file exists)."""
    release.touch()
    proc = _start(repo, url, *args, round_id=round_id, release=release)
    out, err = proc.communicate(timeout=WAIT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    wait_for(condition, proc, what, timeout=WAIT)


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=WAIT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _one_line_error(done: subprocess.CompletedProcess[str], code: int, *, unfinished: bool = False) -> str:
    """The run failed with ``code`` and said why in one line, without a traceback or the password.

    ``unfinished``: the run (a rollback) first warned, in one line, of the unfinished apply it replaces.
    """
    assert done.returncode == code, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    said = [line for line in done.stderr.splitlines() if not PROGRESS.fullmatch(line)]
    if unfinished:
        assert said and said[0].startswith("warning: 'dev' has an unfinished apply by "), done.stderr
        said = said[1:]
    assert len(said) == 1 and said[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    return said[0]


def _ok(done: subprocess.CompletedProcess[str], what: str) -> None:
    assert done.returncode == 0, f"{what}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert PASSWORD not in done.stdout + done.stderr


def _with_password(url: str) -> str:
    """``url`` with a password (the test servers trust every local login, so it is only carried along)."""
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


class Records:
    """What the tables hold for one project's ``dev``: snapshots, ledger entries, health."""

    def __init__(self, url: str, project: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            self.snapshots = {
                str(r[0])
                for r in conn.execute(
                    "SELECT id FROM tfkit.snapshots WHERE project = %s AND environment = 'dev'", (project,)
                )
            }
            entries = conn.execute(
                "SELECT entry FROM tfkit.ledger WHERE project = %s AND environment = 'dev' "
                "ORDER BY recorded_at",
                (project,),
            ).fetchall()
            self.entries = [dict(r[0]) for r in entries]
            health = conn.execute(
                "SELECT record FROM tfkit.health WHERE project = %s AND environment = 'dev'", (project,)
            ).fetchone()
            self.health: dict[str, Any] = dict(health[0]) if health else {}
            orphans = conn.execute(
                "SELECT count(*) FROM tfkit.snapshot_files f WHERE f.project = %s AND NOT EXISTS "
                "(SELECT 1 FROM tfkit.snapshots s WHERE s.project = f.project AND s.id = f.snapshot_id)",
                (project,),
            ).fetchone()
            self.orphan_files = int(orphans[0]) if orphans else 0

    @property
    def stable(self) -> bool:
        return self.health.get("status", "stable") == "stable"

    def agree(self) -> None:
        """Nothing half-recorded: each snapshot has its ledger entry, each entry its snapshot."""
        assert self.snapshots == {e["snapshot"] for e in self.entries}, (self.snapshots, self.entries)
        assert self.orphan_files == 0


def _data_connections(
    url: str, project: str, proc: subprocess.Popen[str], *, waiting_on_lock: bool = False
) -> list[int]:
    """Backend pids of the store's data connection of the tfkit run ``proc`` (by ``application_name``;
    its lock's connection is named after the operation, Terraform's have no name)."""
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"
    if waiting_on_lock:
        query += " AND wait_event_type = 'Lock'"
    with psycopg.connect(url, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute(query, (f"tfkit {project} pid {proc.pid}",))]


def _terminate(url: str, pids: list[int]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for pid in pids:
            row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
            assert row and row[0], f"backend {pid} was not there to terminate"


@contextlib.contextmanager
def _ledger_blocked(url: str) -> Iterator[None]:
    """The ledger table locked by another session: a recording stops inside its transaction, after the
    snapshot's rows, at its ledger entry."""
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE tfkit.ledger IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


def _cut_mid_recording(
    proc: subprocess.Popen[str], url: str, project: str, release: Path
) -> subprocess.CompletedProcess[str]:
    """Let the run's Terraform apply finish, then drop its data connection inside the recording."""
    _wait_for(Path(f"{release}.started").exists, proc, "Terraform's apply")
    with _ledger_blocked(url):
        release.touch()
        blocked = lambda: _data_connections(url, project, proc, waiting_on_lock=True)  # noqa: E731
        _wait_for(lambda: bool(blocked()), proc, "the recording")
        _terminate(url, blocked())
    return _finish(proc)


# ------------------------------------------------------------------------------------------- tests


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TF_VAR_db_password", "TFKIT_ENGINE", "TFKIT_BINARY", "TFKIT_STORE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_connection_dropped_mid_apply_mid_snapshot_and_mid_rollback(tmp_path: Path, pg_url: str) -> None:
    project = unique_project()
    repo = _repo(tmp_path / "repo", project)
    url = _with_password(pg_url)
    _ok(_run(repo, url, "apply", round_id="good", release=tmp_path / "r-good"), "the first apply")
    assert len(Records(pg_url, project).entries) == 1

    # Mid-apply, the store's idle data connection is killed: the recording reconnects and succeeds.
    _ok(_kill_idle_mid_apply(repo, url, pg_url, project, "apply", tmp_path / "r-2"), "apply r2")
    records = Records(pg_url, project)
    records.agree()
    assert len(records.entries) == 2 and records.stable, records.health
    assert records.health["snapshot"] == records.entries[-1]["snapshot"]

    # Mid-snapshot: the connection drops inside the recording's transaction; none of it is kept.
    proc = _start(repo, url, "apply", round_id="r3", release=tmp_path / "r-3")
    line = _one_line_error(_cut_mid_recording(proc, pg_url, project, tmp_path / "r-3"), 5)
    assert "apply of 'dev' was applied but could not be recorded: lost the connection to the store" in line
    assert "'dev' stays marked unstable" in line and "run `tfkit rollback --env dev`" in line
    after = Records(pg_url, project)
    after.agree()
    assert after.snapshots == records.snapshots, "the interrupted recording left nothing"
    assert not after.stable and "did not finish" in after.health["reason"]

    # Mid-rollback, while the rollback's Terraform applies: it reconnects to record, and 'dev' is stable.
    rolled = _kill_idle_mid_apply(repo, url, pg_url, project, "rollback", tmp_path / "r-back-1")
    _ok(rolled, "the rollback whose connection was killed while Terraform applied")
    records = Records(pg_url, project)
    records.agree()
    assert len(records.entries) == 3 and records.entries[-1]["kind"] == "rollback" and records.stable

    # Mid-rollback, inside its recording (after another apply cut the same way): nothing kept, unstable.
    proc = _start(repo, url, "apply", round_id="r4", release=tmp_path / "r-4")
    _one_line_error(_cut_mid_recording(proc, pg_url, project, tmp_path / "r-4"), 5)
    proc = _start(repo, url, "rollback", round_id="unused", release=tmp_path / "r-back-2")
    line = _one_line_error(
        _cut_mid_recording(proc, pg_url, project, tmp_path / "r-back-2"), 5, unfinished=True
    )
    assert "rollback of 'dev' was applied but could not be recorded: lost the connection" in line
    after = Records(pg_url, project)
    after.agree()
    assert after.snapshots == records.snapshots and not after.stable, after.health

    # What the error says to do works: the rollback (nothing left to apply) records, and 'dev' is stable.
    _ok(_run(repo, url, "rollback", round_id="unused", release=tmp_path / "r-back-3"), "the rollback")
    final = Records(pg_url, project)
    final.agree()
    assert final.stable and len(final.entries) == 4
    last = final.entries[-1]
    assert last["kind"] == "rollback" and final.health["snapshot"] == last["snapshot"]


def _kill_idle_mid_apply(
    repo: Path, url: str, admin_url: str, project: str, operation: str, release: Path
) -> subprocess.CompletedProcess[str]:
    """``operation`` (apply or rollback) whose store data connection is killed while Terraform applies."""
    proc = _start(repo, url, operation, round_id=release.name, release=release)
    _wait_for(Path(f"{release}.started").exists, proc, "Terraform's apply")
    killed = _data_connections(admin_url, project, proc)
    assert len(killed) == 1, killed
    _terminate(admin_url, killed)
    release.touch()
    return _finish(proc)


@pytest.fixture
def private_server() -> Iterator[PgServer]:
    """A server of this test's own, which it may stop and start again (on the same data directory)."""
    server = start_server(resolve_bindir())
    try:
        yield server
    finally:
        server.close()


def _restart(server: PgServer) -> str:
    """Start the stopped server again on its data directory; returns its new superuser URL."""
    assert server.bindir is not None and server.base is not None
    server.process, port = _launch(server.bindir, server.base, _RunAs.for_current_user())
    return f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable"


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("state", ["in a file", "in the database"])
def test_server_gone_mid_apply_says_the_apply_was_not_recorded(
    tmp_path: Path, private_server: PgServer, state: str
) -> None:
    assert private_server.tcp_url is not None and private_server.process is not None
    project = unique_project()
    in_file = state == "in a file"
    repo = _repo(tmp_path / "repo", project, local_backend=in_file)
    release = tmp_path / "release"
    proc = _start(repo, _with_password(private_server.tcp_url), "apply", round_id="r1", release=release)
    _wait_for(Path(f"{release}.started").exists, proc, "Terraform's apply")
    _stop(private_server.process)
    release.touch()
    line = _one_line_error(_finish(proc), 5)
    if in_file:  # Terraform finished; only tfkit's recording met the dead server
        assert "apply of 'dev' was applied but could not be recorded: cannot reach the store" in line
        assert '"r1"' in (repo / "envs" / "dev" / "terraform.tfstate").read_text(), "Terraform did apply"
    else:  # Terraform itself could not save its state there, nor tfkit the failure
        assert "apply of 'dev' failed part-way (" in line
        assert "but could not be recorded: cannot reach the store" in line
    assert "'dev' stays marked unstable" in line
    assert "when the store is back, run `tfkit rollback --env dev`" in line

    url = _restart(private_server)
    records = Records(url, project)
    records.agree()
    assert not records.snapshots
    assert not records.stable and "apply did not finish" in records.health["reason"]


@pytest.mark.usefixtures("clean_env")
def test_server_gone_mid_destroy_says_the_destroy_was_not_recorded(
    tmp_path: Path, private_server: PgServer
) -> None:
    assert private_server.tcp_url is not None and private_server.process is not None
    project = unique_project()
    repo = _repo(tmp_path / "repo", project, local_backend=True, extra=WAITING_DESTROY)
    url = _with_password(private_server.tcp_url)
    _ok(_run(repo, url, "apply", round_id="r1", release=tmp_path / "r-1"), "the apply")
    release = tmp_path / "r-destroy"
    proc = _start(repo, url, "destroy", round_id="r1", release=release)
    _wait_for(Path(f"{release}.started").exists, proc, "Terraform's destroy")
    _stop(private_server.process)
    release.touch()
    line = _one_line_error(_finish(proc), 5)
    assert "destroy of 'dev' was applied but could not be recorded: cannot reach the store" in line
    assert "'dev' stays marked unstable" in line and "apply it again with --allow-unstable --reason" in line
    assert "rollback" not in line, "a rollback would bring the destroyed resources back"
    assert '"resources": []' in (repo / "envs" / "dev" / "terraform.tfstate").read_text(), "destroyed"

    records = Records(_restart(private_server), project)
    records.agree()
    assert len(records.snapshots) == 1, "the apply's record is kept"
    assert not records.stable and "destroy did not finish" in records.health["reason"]


@pytest.mark.usefixtures("clean_env")
def test_store_unreachable_before_anything_runs(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    repo = _repo(tmp_path / "repo", "dead", local_backend=True)
    before = sorted(str(p.relative_to(repo)) for p in repo.rglob("*"))
    url = f"postgresql://tfkit:{PASSWORD}@127.0.0.1:{port}/tfkit?sslmode=disable"
    line = _one_line_error(_run(repo, url, "apply", round_id="r1", release=tmp_path / "release"), 5)
    assert "cannot reach the store" in line
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*")) == before, "nothing ran"
    assert not Path(f"{tmp_path / 'release'}.started").exists()


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("kind", ["another tool", "newer"])
def test_a_database_tfkit_cannot_use_is_refused_through_the_cli(
    tmp_path: Path, pg_fresh_url: str, kind: str
) -> None:
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA tfkit")
        if kind == "another tool":
            conn.execute("CREATE TABLE tfkit.widgets (id integer)")
        else:
            conn.execute(
                "CREATE TABLE tfkit.schema_version (version integer PRIMARY KEY, "
                "applied timestamptz NOT NULL DEFAULT now(), tfkit_version text NOT NULL)"
            )
            conn.execute("INSERT INTO tfkit.schema_version (version, tfkit_version) VALUES (999, '99.0')")
    repo = _repo(tmp_path / "repo", "refused", local_backend=True)
    line = _one_line_error(
        _run(repo, _with_password(pg_fresh_url), "apply", round_id="r1", release=tmp_path / "release"), 2
    )
    expected = "that is not tfkit's" if kind == "another tool" else "is version 999, this tfkit knows up to"
    assert expected in line, line
    assert not (repo / "envs" / "dev" / "terraform.tfstate").exists()
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'tfkit'")}
    assert tables == ({"widgets"} if kind == "another tool" else {"schema_version"}), "left alone"


@pytest.mark.usefixtures("clean_env")
def test_a_corrupted_blob_stops_the_rollback_before_anything_applies(
    tmp_path: Path, pg_fresh_url: str
) -> None:
    project = unique_project()
    repo = _repo(tmp_path / "repo", project)
    url = _with_password(pg_fresh_url)
    _ok(_run(repo, url, "apply", round_id="good", release=tmp_path / "r-good"), "apply good")
    first = Records(pg_fresh_url, project).snapshots
    _ok(_run(repo, url, "apply", round_id="r2", release=tmp_path / "r-2"), "apply r2")
    (good,) = first
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        states = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'states'"
        )
        (schema,) = [str(r[0]) for r in states]
        state_before = conn.execute(f'SELECT name, data FROM "{schema}".states').fetchall()
        conn.execute(
            "UPDATE tfkit.blobs SET data = 'not what was stored' WHERE sha256 = (SELECT sha256 FROM "
            "tfkit.snapshot_files WHERE project = %s AND snapshot_id = %s AND name = 'variables.json')",
            (project, good),
        )
    release = tmp_path / "r-back"
    proc = _start(repo, url, "rollback", "--to", good, round_id="unused", release=release)
    release.touch()
    line = _one_line_error(_finish(proc), 2)
    assert f"snapshot {good}" in line and "corrupted" in line, line
    assert not Path(f"{release}.started").exists(), "nothing applied"
    with psycopg.connect(pg_fresh_url, autocommit=True) as conn:
        assert conn.execute(f'SELECT name, data FROM "{schema}".states').fetchall() == state_before
    records = Records(pg_fresh_url, project)
    records.agree()
    assert records.stable and len(records.entries) == 2
