"""``tfkit store status``/``migrate`` and the store's configuration errors: one line, an exit code,
no password.

The audit-hook test sees the processes tfkit itself starts (git, the binary engine's Terraform).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pg_server import PgServer
from testsupport import invoke_tfkit, make_manifest

from tfkit.ledger import new_entry, new_health
from tfkit.project import Project
from tfkit.store.local import LocalStore
from tfkit.store.pg_schema import LATEST_VERSION
from tfkit.store.settings import STORE_URL_ENV, display_url, store_settings

PASSWORD = "pw-6d2f0c9e41"
UNREACHABLE = f"postgresql://tfkit:{PASSWORD}@127.0.0.1:1/tfkit"


def _with_store(repo: Path, table: str) -> None:
    config = repo / "tfkit.toml"
    config.write_text(config.read_text() + "\n[store]\n" + table + "\n")


def _one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single error line of a failed run, after checking its exit code and that no traceback came."""
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def _record(project: Project) -> str:
    """One recorded staging apply (snapshot, ledger entry) and an unstable dev, in the local store."""
    store = LocalStore(project.state_dir, store_settings(project.config, project.root, environ={}))
    manifest = make_manifest("staging", lineage="l-1", serial=1)
    entry = new_entry("staging", kind="apply", snapshot=manifest.id, modules={}, git_commit=None)
    snapshot = store.record_apply(manifest, {"plan.json": b"{}"}, entry, new_health("staging", stable=True))
    store.ledger.set_health(new_health("dev", stable=False, reason="apply failed: boom"))
    return snapshot.id


# ------------------------------------------------------------------------------------------ store status


def test_store_status_of_the_local_store(example_repo: Path) -> None:
    project = Project.load(example_repo)
    _record(project)
    result = invoke_tfkit("store", "status", cwd=example_repo, env={STORE_URL_ENV: ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"store: {project.state_dir} (local directory)",
        "project: repo",
        "connection: ok",
        "dev: 0 snapshots, 0 ledger entries, unstable: apply failed: boom; Terraform state: local file",
        "staging: 1 snapshots, 1 ledger entries, stable; Terraform state: local file",
        "production: 0 snapshots, 0 ledger entries, stable (nothing recorded); Terraform state: local file",
    ]


def test_store_status_as_json(example_repo: Path) -> None:
    _record(Project.load(example_repo))
    result = invoke_tfkit("store", "status", "--format", "json", cwd=example_repo, env={STORE_URL_ENV: ""})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["kind"], data["project"], data["reachable"], data["schema_version"]) == (
        "local",
        "repo",
        True,
        None,
    )
    rows = {row["environment"]: row for row in data["environments"]}
    assert list(rows) == ["dev", "staging", "production"]
    assert rows["staging"]["snapshots"] == 1 and rows["staging"]["ledger_entries"] == 1
    assert rows["dev"]["health"] == "unstable" and rows["dev"]["health_reason"] == "apply failed: boom"
    assert rows["production"]["health_since"] == "" and rows["production"]["terraform_state"] == "local file"


def test_store_status_names_records_of_an_environment_tfkit_toml_no_longer_has(example_repo: Path) -> None:
    project = Project.load(example_repo)
    LocalStore(project.state_dir, store_settings(project.config, project.root, environ={})).ledger.set_health(
        new_health("qa", stable=True)
    )
    result = invoke_tfkit("store", "status", cwd=example_repo, env={STORE_URL_ENV: ""})
    assert result.stdout.splitlines()[-1] == (
        "qa (not in tfkit.toml): 0 snapshots, 0 ledger entries, stable; Terraform state: unknown"
    )


def test_an_environment_with_its_own_backend_keeps_it(example_repo: Path) -> None:
    (example_repo / "envs" / "production" / "backend.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    result = invoke_tfkit("store", "status", cwd=example_repo, env={STORE_URL_ENV: ""})
    assert result.stdout.splitlines()[-1].endswith("Terraform state: own backend (s3)")


# ------------------------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://tfkit:{PASSWORD}@db.internal:5432/tfkit",
        f"postgresql://tfkit@db/tfkit?password={PASSWORD}",
    ],
)
@pytest.mark.parametrize("command", [("status",), ("store", "status"), ("plan", "--env", "dev")])
def test_a_password_in_tfkit_toml_is_refused_without_showing_it(
    example_repo: Path, url: str, command: tuple[str, ...]
) -> None:
    _with_store(example_repo, f'url = "{url}"')
    line = _one_line(invoke_tfkit(*command, cwd=example_repo, env={STORE_URL_ENV: ""}), 2)
    assert "store.url holds a password" in line and "TFKIT_STORE_URL" in line
    assert PASSWORD not in line


def test_a_password_in_tfkit_toml_is_refused_even_when_the_variable_is_set(example_repo: Path) -> None:
    """The secret would still sit in the repository: the variable does not excuse it."""
    _with_store(example_repo, f'url = "postgresql://tfkit:{PASSWORD}@db/tfkit"')
    line = _one_line(invoke_tfkit("status", cwd=example_repo, env={STORE_URL_ENV: "postgresql://x@h/db"}), 2)
    assert "store.url holds a password" in line and PASSWORD not in line


def test_a_non_postgresql_scheme_in_tfkit_toml_is_one_line(example_repo: Path) -> None:
    _with_store(example_repo, f'url = "mysql://tfkit@db/{PASSWORD}"')
    line = _one_line(invoke_tfkit("status", cwd=example_repo, env={STORE_URL_ENV: ""}), 2)
    assert "key 'store.url' must be a postgresql:// (or postgres://) URL" in line
    assert PASSWORD not in line


def test_a_non_postgresql_scheme_in_the_variable_is_one_line(example_repo: Path) -> None:
    env = {STORE_URL_ENV: f"mysql://tfkit:{PASSWORD}@db/tfkit"}
    line = _one_line(invoke_tfkit("store", "status", cwd=example_repo, env=env), 2)
    assert "TFKIT_STORE_URL must be a postgresql:// URL" in line and PASSWORD not in line


def test_the_variable_overrides_tfkit_toml(example_repo: Path) -> None:
    _with_store(example_repo, 'url = "postgresql://tfkit@from-toml.internal/tfkit"\nproject = "infra"')
    project = Project.load(example_repo)
    env = {STORE_URL_ENV: f"postgresql://ci:{PASSWORD}@from-env.internal/tfkit"}
    settings = store_settings(project.config, project.root, environ=env)
    assert settings.url == env[STORE_URL_ENV] and settings.project == "infra"
    assert settings.describe() == "postgresql://ci:***@from-env.internal/tfkit"
    assert store_settings(project.config, project.root, environ={}).url == (
        "postgresql://tfkit@from-toml.internal/tfkit"
    )
    # and the command reads it: a variable with a wrong scheme wins over a valid tfkit.toml URL
    line = _one_line(invoke_tfkit("status", cwd=example_repo, env={STORE_URL_ENV: "sqlite:///x"}), 2)
    assert line.startswith("error: TFKIT_STORE_URL must be a postgresql:// URL")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgres://ci:{PASSWORD}@db:5432/tfkit", "postgres://ci:***@db:5432/tfkit"),
        ("postgresql:///tfkit?host=/var/run/postgresql", "postgresql:///tfkit?host=/var/run/postgresql"),
        (
            f"postgresql:///tfkit?host=/run/pg&password={PASSWORD}",
            "postgresql:///tfkit?host=/run/pg&password=***",
        ),
    ],
)
def test_postgres_scheme_and_socket_urls_select_postgresql(example_repo: Path, url: str, shown: str) -> None:
    project = Project.load(example_repo)
    settings = store_settings(project.config, project.root, environ={STORE_URL_ENV: url})
    assert (settings.kind, settings.url, settings.describe()) == ("postgresql", url, shown)
    scheme = url.split("://")[0]
    assert settings.conninfo().startswith(url.split("?")[0] + "?"), "libpq reads it: the // is kept"
    assert settings.terraform_conn_str().startswith(f"{scheme}://")


# ------------------------------------------------------------------------------------ store migrate


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "give exactly one of --to URL|local and --to-env VAR"),
        (("--to", "local", "--to-env", "X"), "give exactly one of --to URL|local and --to-env VAR"),
        (
            ("--to-env", "TFKIT_TEST_UNSET_VARIABLE"),
            "environment variable TFKIT_TEST_UNSET_VARIABLE is not set",
        ),
        (("--to", f"mysql://u:{PASSWORD}@h/db"), "Invalid value for --to: must be a postgresql:// URL"),
        (("--to", "local"), "the target is the store in use already (local .tfkit/)"),
    ],
)
def test_store_migrate_argument_errors(example_repo: Path, args: tuple[str, ...], expected: str) -> None:
    result = invoke_tfkit("store", "migrate", *args, cwd=example_repo, env={STORE_URL_ENV: ""})
    line = _one_line(result, 2)
    assert expected in line and PASSWORD not in line


def test_a_password_in_to_is_warned_about(example_repo: Path) -> None:
    url = f"postgresql://tfkit:{PASSWORD}@127.0.0.1:1/tfkit"
    result = invoke_tfkit(
        "store", "migrate", "--to", url, "--records-only", cwd=example_repo, env={STORE_URL_ENV: ""}
    )
    assert "warning: --to carries a password, which other users can see in `ps`" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


# ------------------------------------------------------------------------- the password and child argv

AUDIT = textwrap.dedent(
    """
    import json, sys

    log = open(sys.argv[1], "a")

    def audit(event, args):
        if event in ("subprocess.Popen", "os.posix_spawn", "os.exec", "os.system"):
            argv = args[:2]  # (executable, argv); the environment that follows is not argv
            log.write(json.dumps([event, repr(argv)]) + "\\n")
            log.flush()

    sys.addaudithook(audit)
    from tfkit.cli import main
    main(sys.argv[2:])
    """
)


@pytest.mark.parametrize("server", ["unreachable", "reachable"])
def test_the_password_never_reaches_a_child_s_argv_or_a_file(
    example_repo: Path, terraform_binary: str, tmp_path: Path, request: pytest.FixtureRequest, server: str
) -> None:
    """Every process tfkit starts (git, Terraform) is logged by an audit hook: none carries the password.

    ``reachable``: the suite's server (it trusts local connections, so the planted password is accepted
    and ignored), and a real apply whose state goes to the database.
    """
    if server == "reachable":
        parts = urlsplit(request.getfixturevalue("pg_url"))
        user, _, host = parts.netloc.rpartition("@")
        url = urlunsplit(parts._replace(netloc=f"{user or 'postgres'}:{PASSWORD}@{host}"))
        _project(example_repo, f"argv-{secrets.token_hex(4)}")
        commands = [["apply", "--env", "dev", "--auto-approve"], ["status"], ["store", "status"]]
    else:
        url = UNREACHABLE
        commands = [["plan", "--env", "dev"], ["status"], ["store", "status"]]
    script = tmp_path / "audited.py"
    script.write_text(AUDIT)
    log = tmp_path / "children.jsonl"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TFKIT_ENGINE": "binary",
        "TFKIT_BINARY": terraform_binary,
        STORE_URL_ENV: url,
    }
    if checkov := os.environ.get("TFKIT_CHECKOV"):
        env["TFKIT_CHECKOV"] = checkov
    codes = []
    for command in commands:
        done = subprocess.run(
            [sys.executable, str(script), str(log), *command],
            cwd=example_repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert PASSWORD not in done.stdout + done.stderr
        codes.append(done.returncode)
    assert codes == ([0, 0, 0] if server == "reachable" else [codes[0], 5, 5]), codes
    started = log.read_text()
    assert "'git'" in started and "'init'" in started, "the hook saw the children"
    assert server == "unreachable" or "'apply'" in started
    assert PASSWORD not in started
    for path in example_repo.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


# ------------------------------------------------------------------------------------------ PostgreSQL


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("store", "status"),
        ("store", "migrate", "--to", "local", "--records-only"),
        ("rollback", "--env", "dev"),
    ],
)
def test_an_unreachable_store_is_one_line_exit_5_without_the_password(
    example_repo: Path, command: tuple[str, ...]
) -> None:
    line = _one_line(invoke_tfkit(*command, cwd=example_repo, env={STORE_URL_ENV: UNREACHABLE}), 5)
    assert "postgresql://tfkit:***@127.0.0.1:1/tfkit" in line and PASSWORD not in line


def test_an_unreachable_target_is_one_line_exit_5(example_repo: Path) -> None:
    env = {STORE_URL_ENV: "", "NEW_STORE": UNREACHABLE}
    result = invoke_tfkit(
        "store", "migrate", "--to-env", "NEW_STORE", "--records-only", cwd=example_repo, env=env
    )
    line = _one_line(result, 5)
    assert "postgresql://tfkit:***@127.0.0.1:1/tfkit" in line and PASSWORD not in line


def _project(repo: Path, project: str) -> None:
    _with_store(repo, f'project = "{project}"')


def test_migrate_to_postgresql_and_back_to_a_fresh_clone(
    example_repo: Path, pg_url: str, tmp_path: Path
) -> None:
    """The records of one clone reach another clone that shares nothing but the database."""
    from testsupport import copy_example

    project_id = f"cli-{secrets.token_hex(4)}"
    _project(example_repo, project_id)
    snapshot = _record(Project.load(example_repo))
    local = {STORE_URL_ENV: "", "NEW_STORE": pg_url}

    moved = invoke_tfkit(
        "store", "migrate", "--to-env", "NEW_STORE", "--records-only", cwd=example_repo, env=local
    )
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.splitlines()[:3] == [
        "dev: snapshots 0 copied, 0 already there; ledger entries 0 copied, 0 already there; health copied",
        "production: snapshots 0 copied, 0 already there; ledger entries 0 copied, 0 already there; "
        "health none recorded",
        "staging: snapshots 1 copied, 0 already there; ledger entries 1 copied, 0 already there; "
        "health copied",
    ]
    assert f"from local .tfkit/ to {display_url(pg_url)}" in moved.stdout
    assert "tfkit: dev: Terraform state not moved (--records-only)" in moved.stderr

    shared = {STORE_URL_ENV: pg_url}
    status = invoke_tfkit("store", "status", cwd=example_repo, env=shared)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[:4] == [
        f"store: {display_url(pg_url)} (PostgreSQL, schema version {LATEST_VERSION})",
        f"project: {project_id}",
        "connection: ok",
        "dev: 0 snapshots, 0 ledger entries, unstable: apply failed: boom; "
        "Terraform state: not in the database",
    ]

    fresh = copy_example(tmp_path / "fresh")
    _project(fresh, project_id)
    back = invoke_tfkit("store", "migrate", "--to", "local", "--records-only", cwd=fresh, env=shared)
    assert back.returncode == 0, back.stderr
    assert "staging: snapshots 1 copied" in back.stdout
    assert "to use the target store, unset TFKIT_STORE_URL and [store] url" in back.stdout
    fresh_status = invoke_tfkit("status", cwd=fresh, env={STORE_URL_ENV: ""})
    assert fresh_status.returncode == 4, "dev's unstable mark came along"
    assert "dev: unstable: apply failed: boom" in fresh_status.stdout
    snapshots = invoke_tfkit("snapshots", "show", snapshot, cwd=fresh, env={STORE_URL_ENV: ""})
    assert snapshots.returncode == 0 and "all digests verified" in snapshots.stdout


def test_store_status_sees_terraform_state_in_the_database_after_an_apply(
    example_repo: Path, pg_url: str
) -> None:
    _project(example_repo, f"state-{secrets.token_hex(4)}")
    (example_repo / "envs" / "production" / "backend.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    shared = {STORE_URL_ENV: pg_url}
    applied = invoke_tfkit("apply", "--env", "dev", "--auto-approve", cwd=example_repo, env=shared)
    assert applied.returncode == 0, applied.stderr
    status = invoke_tfkit("store", "status", "--format", "json", cwd=example_repo, env=shared)
    assert status.returncode == 0, status.stderr
    rows = {row["environment"]: row for row in json.loads(status.stdout)["environments"]}
    assert {name: row["terraform_state"] for name, row in rows.items()} == {
        "dev": "in the database",
        "staging": "not in the database",
        "production": "own backend (s3)",
    }
    assert (rows["dev"]["snapshots"], rows["dev"]["ledger_entries"], rows["dev"]["health"]) == (
        1,
        1,
        "stable",
    )
    assert not (example_repo / "envs" / "dev" / "terraform.tfstate").exists()


# ------------------------------------------------------------------------- Terraform's state moves too


def _tree(root: Path) -> dict[str, bytes]:
    """Every file of a local store (snapshots, ledger, health) by relative path; locks left out."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "locks" not in p.relative_to(root).parts
    }


def _row(url: str, schema: str) -> bytes | None:
    """The pg backend's default state row in ``schema``, as stored."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{schema}.states",)).fetchone() == (None,):
            return None
        row = conn.execute(
            sql.SQL("SELECT data FROM {}.states WHERE name = 'default'").format(sql.Identifier(schema))
        ).fetchone()
    return None if row is None else str(row[0]).encode()


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def test_migration_local_to_postgresql_to_local_round_trips_records_and_state_exactly(
    example_repo: Path, pg_url: str, pg_server: PgServer, tmp_path: Path
) -> None:
    """Real embedded Terraform: two applies on the local store, the state into the database with its lineage
    and serial, plans clean there, back to a fresh local store byte for byte, then a rollback from the
    database to a snapshot taken before the move."""
    from recorded import change_service_module

    from tfkit.store.terraform_state import schema_name

    project_id = f"move-{secrets.token_hex(4)}"
    _project(example_repo, project_id)
    local, shared = {STORE_URL_ENV: "", "NEW_STORE": pg_url}, {STORE_URL_ENV: pg_url}
    dev = example_repo / "envs" / "dev"
    state_file, schema = dev / "terraform.tfstate", schema_name(project_id, "dev")

    _ok(invoke_tfkit("apply", "--env", "dev", "--auto-approve", cwd=example_repo, env=local))
    first = LocalStore(
        example_repo / ".tfkit", store_settings(Project.load(example_repo).config, example_repo, environ={})
    )
    before_move = first.snapshots.latest("dev")
    assert before_move is not None
    change_service_module(example_repo)
    _ok(invoke_tfkit("apply", "--env", "dev", "--auto-approve", cwd=example_repo, env=local))
    original = state_file.read_bytes()
    document = json.loads(original)
    assert document["serial"] > 1 and document["resources"]
    records = _tree(example_repo / ".tfkit")

    # Switching to the database with the state still local: one line, nothing changed.
    refused = invoke_tfkit("plan", "--env", "dev", cwd=example_repo, env=shared)
    line = _one_line(refused, 2)
    assert "'dev' has a local Terraform state (envs/dev/terraform.tfstate)" in line
    assert "tfkit store migrate --to-env VAR" in line
    assert state_file.read_bytes() == original and _row(pg_url, schema) is None
    assert not list(dev.glob("tfkit_backend_*"))

    moved = _ok(invoke_tfkit("store", "migrate", "--to-env", "NEW_STORE", cwd=example_repo, env=local))
    assert (
        f"Terraform state: moved into the database (schema {schema}, lineage {document['lineage']}, serial "
        f"{document['serial']}, {len(document['resources'])} resources); local terraform.tfstate removed"
    ) in moved
    assert "staging: snapshots 0 copied" in moved and "Terraform state: no state to move" in moved
    assert _row(pg_url, schema) == original, "the document arrives byte for byte: same lineage and serial"
    assert not list(dev.glob("*.tfstate*")), "no local state file (or backup) left behind"
    assert pg_server.connections(urlsplit(pg_url).path.lstrip("/")) == 0, "no connection left open"

    again = _ok(invoke_tfkit("store", "migrate", "--to-env", "NEW_STORE", cwd=example_repo, env=local))
    assert "dev: snapshots 0 copied, 2 already there" in again
    assert f"Terraform state: already in the database (schema {schema}" in again
    assert _row(pg_url, schema) == original

    assert "No changes" in _ok(invoke_tfkit("plan", "--env", "dev", cwd=example_repo, env=shared))
    assert _row(pg_url, schema) == original

    # Back to a fresh local store: records and state exactly as they were.
    (example_repo / ".tfkit").rename(tmp_path / "tfkit-before")
    back = _ok(invoke_tfkit("store", "migrate", "--to", "local", cwd=example_repo, env=shared))
    assert "dev: snapshots 2 copied" in back
    assert f"Terraform state: moved into terraform.tfstate (lineage {document['lineage']}" in back
    assert state_file.read_bytes() == original
    assert _row(pg_url, schema) is None, "the database holds the state no more"
    assert _tree(example_repo / ".tfkit") == records, "snapshots, ledger and health byte for byte"
    assert "No changes" in _ok(invoke_tfkit("plan", "--env", "dev", cwd=example_repo, env=local))

    # A target holding a different state is refused in one line; nothing overwritten.
    other = json.dumps({**document, "lineage": "another-lineage", "serial": 7}).encode()
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.states (name, data) VALUES ('default', %s)").format(
                sql.Identifier(schema)
            ),
            (other.decode(),),
        )
    conflict = invoke_tfkit("store", "migrate", "--to-env", "NEW_STORE", cwd=example_repo, env=local)
    line = _one_line(conflict, 4)
    assert "refusing to move the state of 'dev'" in line and "nothing overwritten" in line
    assert _row(pg_url, schema) == other and state_file.read_bytes() == original
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {}.states").format(sql.Identifier(schema)))

    # Into the database again, and roll back there to a snapshot taken before the first move.
    _ok(invoke_tfkit("store", "migrate", "--to-env", "NEW_STORE", cwd=example_repo, env=local))
    rolled = invoke_tfkit(
        "rollback", "--env", "dev", "--to", before_move.id, "--auto-approve", cwd=example_repo, env=shared
    )
    assert rolled.returncode == 0, (rolled.stdout, rolled.stderr)
    after = json.loads(_row(pg_url, schema) or b"{}")
    assert after["lineage"] == document["lineage"] and after["serial"] > document["serial"]
    assert not list(dev.glob("*.tfstate*"))


def test_migration_between_two_databases_moves_the_state_row(
    example_repo: Path, pg_url: str, pg_fresh_url: str
) -> None:
    from tfkit.store.terraform_state import schema_name

    project_id = f"twodb-{secrets.token_hex(4)}"
    _project(example_repo, project_id)
    schema = schema_name(project_id, "dev")
    _ok(
        invoke_tfkit("apply", "--env", "dev", "--auto-approve", cwd=example_repo, env={STORE_URL_ENV: pg_url})
    )
    original = _row(pg_url, schema)
    assert original is not None

    env = {STORE_URL_ENV: pg_url, "NEW_STORE": pg_fresh_url}
    moved = _ok(invoke_tfkit("store", "migrate", "--to-env", "NEW_STORE", cwd=example_repo, env=env))
    assert f"Terraform state: moved into the database (schema {schema}, lineage" in moved
    assert _row(pg_fresh_url, schema) == original and _row(pg_url, schema) is None
    again = _ok(invoke_tfkit("store", "migrate", "--to-env", "NEW_STORE", cwd=example_repo, env=env))
    assert f"Terraform state: already in the database (schema {schema}" in again
    plan = invoke_tfkit("plan", "--env", "dev", cwd=example_repo, env={STORE_URL_ENV: pg_fresh_url})
    assert "No changes" in _ok(plan)
