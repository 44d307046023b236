"""Terraform's state in the PostgreSQL store: the pg backend tfkit supplies, with real Terraform and server.

Each test works on a copy of the example repository with ``TFKIT_STORE_URL`` pointing at the suite's
server and its own ``[store] project``, so its schemas are its own in the shared database. Until the
PostgreSQL store (``tfkit.store.postgres``) is merged, the end-to-end tests keep tfkit's own records in
the local store (``local_records``): what they test is where Terraform's state goes.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from pg_server import PgServer
from psycopg import sql

from tfkit.bundle import environment_files
from tfkit.errors import ConfigError, LockHeldError, RefusedError, TerraformError
from tfkit.project import Environment, Project
from tfkit.store import StoreSettings
from tfkit.store.local import LocalStore
from tfkit.store.terraform_state import (
    check_no_local_state,
    declares_backend,
    pg_state,
    remove_stale_overrides,
    schema_name,
    state_document,
    state_row,
    write_override,
)
from tfkit.terraform import open_engine
from tfkit.terraform.engine import PG_COMMANDS_PER_WORKER, CliEngine
from tfkit.workflow import RunOptions, Session, _materialized, apply, rollback

PASSWORD = "pw-" + secrets.token_hex(8)


# --------------------------------------------------------------------------------------- helpers


def _with_password(url: str) -> str:
    """``url`` with a password in it (the test server trusts local connections, so any one works)."""
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user or 'postgres'}:{PASSWORD}@{host}"))


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _connections_now(server: PgServer, dbname: str) -> int:
    """Client connections to ``dbname`` right now (no settling), besides the asking one."""
    with server.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchone()
    return int(row[0]) if row else 0


def _state_row(url: str, schema: str) -> dict[str, Any] | None:
    """The default workspace's state document in ``schema``, or None."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (f"{schema}.states",)).fetchone()
        if exists is None or exists[0] is None:
            return None
        row = conn.execute(
            sql.SQL("SELECT data FROM {}.states WHERE name = 'default'").format(sql.Identifier(schema))
        ).fetchone()
    return json.loads(row[0]) if row else None


class Spy:
    """An engine factory that records every Terraform command's argv and environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], Mapping[str, str]]] = []
        self.engines: list[CliEngine] = []

    def __call__(self, kind: str, workdir: Path, **kwargs: Any) -> CliEngine:
        engine = open_engine(kind, workdir, **kwargs)
        run = engine._runner.run

        def spy(argv: Any, **rest: Any) -> Any:
            self.calls.append((tuple(argv), dict(rest["env"])))
            return run(argv, **rest)

        engine._runner.run = spy  # type: ignore[method-assign]
        self.engines.append(engine)
        return engine

    def argv(self, command: str) -> list[tuple[str, ...]]:
        return [argv for argv, _ in self.calls if argv[0] == command]


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.fixture
def project_id() -> str:
    return f"t-{secrets.token_hex(5)}"


@pytest.fixture
def pg_project(
    example_repo: Path, pg_url: str, project_id: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    """The example repository with its store (and so its Terraform state) in the test database."""
    monkeypatch.setenv("TFKIT_STORE_URL", _with_password(pg_url))
    with (example_repo / "tfkit.toml").open("a") as f:
        f.write(f'\n[store]\nproject = "{project_id}"\n')
    yield Project.load(example_repo)


@pytest.fixture
def local_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """tfkit's own records in the local store while Terraform's state is in PostgreSQL (see the docstring)."""
    from tfkit import workflow
    from tfkit.store import store_settings

    def local(project: Project, settings: StoreSettings | None = None) -> LocalStore:
        return LocalStore(project.state_dir, settings or store_settings(project.config, project.root))

    monkeypatch.setattr(workflow, "open_store", local)


def _apply_dev(environment: Environment, options: RunOptions) -> dict[str, Any]:
    """Plan and apply through one session; the state document after it."""
    with Session(environment, options) as s:
        planned = s.plan()
        s.apply(planned)
        state = s.state()
    assert state is not None
    return state


# ------------------------------------------------------------------------------------ unit level


def test_schema_names_are_valid_identifiers_and_distinct() -> None:
    assert schema_name("infra", "dev") == "tfstate_infra_dev"
    dotted = schema_name("github.com-acme-infra", "dev")
    assert dotted.startswith("tfstate_github_com_acme_infra_dev_")
    assert dotted != schema_name("github_com_acme_infra", "dev")  # lossy names keep a hash of the original
    long_a = schema_name("p" * 80, "production")
    long_b = schema_name("p" * 80, "productiom")
    assert len(long_a.encode()) <= 63 and len(long_b.encode()) <= 63
    assert long_a != long_b


def test_the_terraform_lock_timeout_is_read_like_tfkits_own(tmp_path: Path) -> None:
    """``[store] terraform_lock_timeout`` (``^[0-9]+(s|m|h)$`` in the schema) is read by ``parse_timeout``."""
    (tmp_path / "main.tf").write_text('resource "terraform_data" "x" {}\n')
    for text, seconds in (("60s", 60.0), ("2m", 120.0), ("1h", 3600.0)):
        settings = StoreSettings("postgresql://tfkit@db/tfkit", "p", terraform_lock_timeout=text)
        backend = pg_state(settings, tmp_path, "dev")
        assert backend is not None and backend.lock_timeout == seconds


def test_a_local_state_beside_the_pg_backend_is_refused_before_init(pg_project: Project) -> None:
    """Terraform would stop at init asking to migrate it (exit 1); tfkit says what to run, changes nothing."""
    dev = pg_project.environment("dev")
    state = dev.directory / "terraform.tfstate"
    document = {"version": 4, "lineage": "l-1", "serial": 3, "resources": [{"type": "terraform_data"}]}
    state.write_text(json.dumps(document))
    spy = Spy()
    with pytest.raises(ConfigError) as caught, Session(dev, RunOptions(engine_factory=spy)) as s:
        s.plan()
    message = str(caught.value)
    assert "'dev' has a local Terraform state (envs/dev/terraform.tfstate)" in message
    assert "tfkit store migrate --to-env VAR" in message and "TFKIT_STORE_URL" in message
    assert "\n" not in message and PASSWORD not in message
    assert spy.calls == [], "Terraform never ran"
    assert json.loads(state.read_text()) == document
    assert not list(dev.directory.glob("tfkit_backend_*")), "no override written"


@pytest.mark.parametrize("content", ["", '{"version": 4, "lineage": "l", "serial": 1, "resources": []}'])
def test_an_empty_local_state_is_no_reason_to_refuse(pg_project: Project, content: str) -> None:
    """A 0-byte file (what Terraform's own migration leaves) or a state without resources is no obstacle."""
    dev = pg_project.environment("dev")
    (dev.directory / "terraform.tfstate").write_text(content)
    check_no_local_state(dev, StoreSettings("postgresql://tfkit@db/tfkit", "p"))


def test_the_state_row_is_taken_under_terraforms_own_lock(pg_url: str) -> None:
    """``state_row`` takes the advisory keys Terraform's pg backend takes (the row's id, the creation key -1):
    it waits while a Terraform run holds them, and a run trying them meanwhile is refused."""
    schema = f"tfstate_lock_{secrets.token_hex(4)}"
    settings = StoreSettings(pg_url, "p")
    with psycopg.connect(pg_url, autocommit=True) as terraform:
        # the layout Terraform's pg backend creates (internal/backend/remote-state/pg/backend.go)
        terraform.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        terraform.execute(
            sql.SQL("CREATE TABLE {}.states (id bigserial PRIMARY KEY, name text UNIQUE, data text)").format(
                sql.Identifier(schema)
            )
        )
        with state_row(settings, schema, timeout=5) as row:
            assert row is not None and row.read() is None
            row.write(b'{"lineage": "l"}')  # no row yet: written under the creation key
            busy = terraform.execute("SELECT pg_try_advisory_lock(-1)").fetchone()
            assert busy == (False,)
        key = terraform.execute(sql.SQL("SELECT id FROM {}.states").format(sql.Identifier(schema))).fetchone()
        assert key is not None
        terraform.execute("SELECT pg_advisory_lock(%s)", (key[0],))  # a Terraform run holds the state
        with (
            pytest.raises(LockHeldError, match=f"Terraform's state in schema {schema} is locked"),
            state_row(settings, schema, timeout=0.5),
        ):
            pass
        terraform.execute("SELECT pg_advisory_unlock(%s)", (key[0],))
        with state_row(settings, schema, timeout=5) as row:
            assert row is not None and row.read() == b'{"lineage": "l"}'
            assert terraform.execute("SELECT pg_try_advisory_lock(%s)", (key[0],)).fetchone() == (False,)
        assert terraform.execute("SELECT pg_try_advisory_lock(%s)", (key[0],)).fetchone() == (True,)
        terraform.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    with state_row(settings, schema, timeout=0) as row:
        assert row is None, "no states table: nothing Terraform ever stored"


def test_bytes_that_are_no_state_are_never_taken_for_an_empty_one() -> None:
    with pytest.raises(RefusedError, match="does not hold a Terraform state document"):
        state_document(b"not json", "terraform.tfstate")
    assert state_document(b"", "x") is None and state_document(None, "x") is None


def test_declared_backends(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "terraform_data" "x" {}\n')
    assert not declares_backend(tmp_path)
    write_override(tmp_path, session=True)  # tfkit's own override never counts
    write_override(tmp_path, session=False)
    assert not declares_backend(tmp_path)
    (tmp_path / "cloud.tf.json").write_text(json.dumps({"terraform": {"cloud": {"organization": "o"}}}))
    assert declares_backend(tmp_path)
    (tmp_path / "cloud.tf.json").unlink()
    (tmp_path / "backend.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    assert declares_backend(tmp_path)


def test_stale_override_of_a_dead_run_is_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    mine = write_override(tmp_path, session=True)
    stale = mine.with_name(f"tfkit_backend_{dead}_00ff00ff_override.tf")
    stale.write_text(mine.read_text().replace(f"pid {os.getpid()} ", f"pid {dead} "))
    elsewhere = mine.with_name(f"tfkit_backend_{dead}_11ff11ff_override.tf")
    elsewhere.write_text(stale.read_text().replace(f" on {socket.gethostname()})", " on another-host)"))
    assert remove_stale_overrides(tmp_path) == [stale]
    assert mine.exists() and elsewhere.exists()


def test_the_guard_never_reports_a_running_tfkits_override(tmp_path: Path) -> None:
    from tfkit.guard.git import changed_files

    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    (tmp_path / "envs" / "dev").mkdir(parents=True)
    write_override(tmp_path / "envs" / "dev", session=True)
    (tmp_path / "envs" / "dev" / "main.tf").write_text("")
    assert [c.path for c in changed_files(tmp_path, "HEAD")] == ["envs/dev/main.tf"]


# ------------------------------------------------------------------------- with real Terraform


def test_state_lives_in_the_database_and_the_url_in_no_argv_or_file(
    pg_project: Project, pg_url: str, project_id: str
) -> None:
    dev = pg_project.environment("dev")
    spy = Spy()
    options = RunOptions(engine_factory=spy)
    with Session(dev, options) as s:
        planned = s.plan()
        s.apply(planned)
        assert s.pg_state is not None and s.pg_state.schema == schema_name(project_id, "dev")
        overrides = list(dev.directory.glob("tfkit_backend_*_override.tf"))
        assert len(overrides) == 1
        assert "tfkit_backend" not in " ".join(environment_files(dev.directory, [], pg_project.root))
        # Nothing tfkit or Terraform wrote holds the connection string or the password.
        engine = spy.engines[0]
        for root in (dev.directory, engine.run_dir):
            assert _files_containing(root, PASSWORD.encode()) == []
        assert engine.backend_type() == "pg"
    assert not overrides[0].exists()  # removed when the session closed
    state = _state_row(pg_url, schema_name(project_id, "dev"))
    assert state is not None and state["resources"]
    assert not list(dev.directory.glob("*.tfstate*"))
    assert spy.calls and all(PASSWORD not in " ".join(argv) for argv, _ in spy.calls)
    assert all(PASSWORD in env["PG_CONN_STR"] for _, env in spy.calls)
    assert all(env["PG_SCHEMA_NAME"] == schema_name(project_id, "dev") for _, env in spy.calls)
    # The lock timeout: [store] terraform_lock_timeout's default when --lock-timeout is shorter.
    assert all("-lock-timeout=60s" in argv for argv in spy.argv("plan") + spy.argv("apply"))


def test_each_engine_keeps_the_state_in_the_database_and_no_connection_after(
    pg_project: Project, engine_kind: str, pg_server: PgServer, pg_url: str, project_id: str
) -> None:
    db = _dbname(pg_url)
    baseline = pg_server.connections(db)
    state = _apply_dev(pg_project.environment("dev"), RunOptions(engine=engine_kind))
    assert pg_server.connections(db) == baseline
    stored = _state_row(pg_url, schema_name(project_id, "dev"))
    assert stored is not None and (stored["lineage"], stored["serial"]) == (state["lineage"], state["serial"])
    assert not list(pg_project.environment("dev").directory.glob("*.tfstate*"))


def test_lock_timeout_is_the_larger_one(pg_project: Project) -> None:
    dev = pg_project.environment("dev")
    spy = Spy()
    with Session(dev, RunOptions(engine_factory=spy, lock_timeout=90)) as s:
        s.plan()
    assert all("-lock-timeout=90s" in argv for argv in spy.argv("plan"))
    config = pg_project.root / "tfkit.toml"
    config.write_text(config.read_text().replace("[store]\n", '[store]\nterraform_lock_timeout = "2m"\n'))
    spy = Spy()
    with Session(Project.load(pg_project.root).environment("dev"), RunOptions(engine_factory=spy)) as s:
        s.plan()
    assert all("-lock-timeout=120s" in argv for argv in spy.argv("plan"))


def test_plan_waits_for_the_creation_lock_of_another_run(pg_project: Project, pg_url: str) -> None:
    """A run creating some other state holds the database-wide lock -1; this plan waits instead of failing."""
    dev = pg_project.environment("dev")
    _apply_dev(dev, RunOptions())  # the state exists: only the creation lock is in the way
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(-1)")
        release = threading.Timer(1.0, lambda: holder.execute("SELECT pg_advisory_unlock(-1)"))
        release.start()
        try:
            with Session(dev, RunOptions()) as s:
                assert not s.plan().has_changes
        finally:
            release.join()


def test_the_first_plan_of_a_new_state_waits_for_the_creation_lock(
    pg_project: Project, pg_url: str, project_id: str
) -> None:
    """Until its row exists a state is locked through lock -1 alone, which another creation may hold."""
    dev = pg_project.environment("dev")
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(-1)")
        release = threading.Timer(1.0, lambda: holder.execute("SELECT pg_advisory_unlock(-1)"))
        release.start()
        try:
            state = _apply_dev(dev, RunOptions())
        finally:
            release.join()
    assert state["resources"]
    assert _state_row(pg_url, schema_name(project_id, "dev")) is not None


def test_an_environment_with_its_own_backend_keeps_it(
    pg_project: Project, pg_url: str, project_id: str
) -> None:
    dev = pg_project.environment("dev")
    (dev.directory / "backend.tf").write_text(
        'terraform {\n  backend "local" {\n    path = "mine.tfstate"\n  }\n}\n'
    )
    spy = Spy()
    with Session(dev, RunOptions(engine_factory=spy)) as s:
        assert s.pg_state is None
        s.apply(s.plan())
    assert json.loads((dev.directory / "mine.tfstate").read_text())["resources"]
    assert _state_row(pg_url, schema_name(project_id, "dev")) is None
    assert all("PG_CONN_STR" not in env or PASSWORD not in env["PG_CONN_STR"] for _, env in spy.calls)
    assert not any(a.startswith("-lock-timeout") for argv in spy.argv("plan") for a in argv)
    assert not list(dev.directory.glob("tfkit_backend_*"))


def test_a_materialized_session_uses_the_same_state(pg_project: Project) -> None:
    dev = pg_project.environment("dev")
    state = _apply_dev(dev, RunOptions())
    with Session(dev) as probe:
        files = environment_files(dev.directory, probe.modules(), pg_project.root)
    with _materialized(dev, files) as (_, workdir):
        var_files = [workdir / p.relative_to(dev.directory) for p in dev.var_files]
        with Session(dev, workdir=workdir, var_files=var_files, state_of_environment=True) as s:
            seen = s.state()
            assert (workdir / "tfkit_backend_override.tf").is_file()
            assert isinstance(s.engine, CliEngine) and s.engine.backend_type() == "pg"
            assert not s.plan().has_changes
        assert not list(workdir.glob("*.tfstate"))
    assert seen is not None and (seen["lineage"], seen["serial"]) == (state["lineage"], state["serial"])


def test_concurrent_plans_on_new_states_all_succeed(pg_project: Project, project_id: str) -> None:
    """Each new state holds lock -1 for its whole first plan; the others wait for it (three rounds)."""
    config = pg_project.root / "tfkit.toml"
    text = config.read_text()
    for round_ in range(3):
        config.write_text(text.replace(f'project = "{project_id}"', f'project = "{project_id}-{round_}"'))
        project = Project.load(pg_project.root)
        failures: list[BaseException] = []

        def plan(name: str, project: Project = project, failures: list[BaseException] = failures) -> None:
            try:
                with Session(project.environment(name)) as s:
                    s.plan()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=plan, args=(name,)) for name in project.names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []


def test_connections_are_bounded_in_a_session_and_released_after(
    pg_project: Project, pg_server: PgServer, pg_url: str
) -> None:
    db = _dbname(pg_url)
    baseline = pg_server.connections(db)
    commands = 0
    with Session(pg_project.environment("dev")) as s:
        peak = 0
        for _ in range(3):
            s.plan()
            s.state()
            commands += 2
            peak = max(peak, _connections_now(pg_server, db) - baseline)
        assert 0 < peak <= PG_COMMANDS_PER_WORKER < commands  # one leaked connection per command is bounded
    assert pg_server.connections(db) == baseline


def test_apply_and_rollback_leave_no_connection_and_no_local_state(
    pg_project: Project, pg_server: PgServer, pg_url: str, project_id: str, local_records: None
) -> None:
    db = _dbname(pg_url)
    baseline = pg_server.connections(db)
    dev = pg_project.environment("dev")
    options = RunOptions(gate=False)
    outcome = apply(dev, auto_approve=True, options=options)
    assert outcome.applied and outcome.converged
    assert pg_server.connections(db) == baseline
    rolled = rollback(dev, auto_approve=True, options=options)
    assert rolled.snapshot is not None and not rolled.applied
    assert pg_server.connections(db) == baseline
    state = _state_row(pg_url, schema_name(project_id, "dev"))
    assert state is not None and state["resources"]
    assert not list(dev.directory.glob("*.tfstate*"))
    assert not list(dev.directory.glob("tfkit_backend_*"))


def test_a_killed_runs_override_is_not_taken_for_the_users_backend(
    pg_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed with its override in place: the next run, even with the local store, removes it."""
    dev = pg_project.environment("dev")
    leftover = write_override(dev.directory, session=True)
    leftover.write_text(leftover.read_text().replace(f"pid {os.getpid()} ", f"pid {_dead_pid()} "))
    assert not declares_backend(dev.directory)
    monkeypatch.delenv("TFKIT_STORE_URL")
    local = Project.load(pg_project.root).environment("dev")
    state = _apply_dev(local, RunOptions())
    assert not leftover.exists()
    assert json.loads((dev.directory / "terraform.tfstate").read_text())["lineage"] == state["lineage"]


def test_the_pytest_plugins_copies_never_plan_the_stored_state(
    pg_project: Project, pg_url: str, project_id: str, tmp_path: Path
) -> None:
    """``tfkit_plan`` plans a private copy from no state, whatever store the project uses."""
    from tfkit.testing.planner import Planner

    _apply_dev(pg_project.environment("dev"), RunOptions())
    plan = Planner(pg_project, tmp_path / "work").plan("dev")
    assert plan.resource_changes and all(c.change.actions == ("create",) for c in plan.resource_changes)
    assert _state_row(pg_url, schema_name(project_id, "dev")) is not None  # the real state is there


def test_a_password_in_the_url_never_shows(
    pg_project: Project, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = urlsplit(_with_password(pg_url))
    monkeypatch.setenv("TFKIT_STORE_URL", urlunsplit(parts._replace(path="/no_such_database")))
    with pytest.raises(TerraformError) as raised, Session(pg_project.environment("dev")) as s:
        s.plan()
    assert "no_such_database" in str(raised.value)
    assert PASSWORD not in str(raised.value) and PASSWORD not in raised.value.stderr


def test_a_recorded_init_reaches_the_pg_backend_and_records_no_password(
    pg_project: Project, project_id: str
) -> None:
    """The second run restores init (no init command) and still plans against the state in the database."""
    dev = pg_project.environment("dev")
    first = Spy()
    _apply_dev(dev, RunOptions(engine_factory=first))
    assert first.argv("init")
    again = Spy()
    with Session(dev, RunOptions(engine_factory=again)) as s:
        assert not s.plan().has_changes  # the applied state, read from PostgreSQL
        assert again.engines[0].backend_type() == "pg"
    assert again.argv("init") == []
    records = pg_project.cache_dir / "terraform-init"
    assert records.is_dir() and _files_containing(records, PASSWORD.encode()) == []
    # Another project is another schema: another fingerprint, so init runs, and the plan is from no state.
    config = pg_project.root / "tfkit.toml"
    config.write_text(config.read_text().replace(project_id, f"{project_id}-other"))
    other = Spy()
    with Session(Project.load(pg_project.root).environment("dev"), RunOptions(engine_factory=other)) as s:
        assert s.plan().has_changes
    assert other.argv("init")
