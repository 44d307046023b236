"""Terraform's state with a store: where each environment keeps it, how Terraform is told, its pg row.

With a PostgreSQL store (and ``[store] terraform_state`` on, the default), an environment whose root
module declares no backend keeps its state through Terraform's own ``pg`` backend in the store's
database, one schema per environment (``schema_name``). tfkit supplies the backend the way Terragrunt
generates one: an override file holding ``terraform { backend "pg" {} }``; the connection string and
the schema reach Terraform only as ``PG_CONN_STR`` and ``PG_SCHEMA_NAME`` in its environment, so
neither argv nor any file (the override, Terraform's backend record) ever holds the password.
An environment that declares its own backend (s3, gcs, pg, local with a path, ``cloud``) keeps it.

Where the override goes: a materialized configuration (rollback, promotion, drift) gets it in its
private temporary directory; the environment's own directory gets one per session, named
``tfkit_backend_<pid>_<token>_override.tf`` so two sessions on one directory never remove each other's,
headed by a comment naming the writing process. It is written before ``init`` and removed when the
session closes; a leftover of a killed run on this host (its pid no longer alive) is removed by the
next session on that directory, so it is never taken for the user's own backend. Its name is local
data (``tfkit.bundle.LOCAL_DATA``: never in a snapshot, a digest or a copy) and git-ignored by the
example repository's ``.gitignore``, which users are told to copy. Writing into the directory is what
Terraform needs: it reads the root module from its working directory, and a copy elsewhere would break
the ``../../modules`` paths and the dependency lock file.

Also here: where a state lives, for people (``state_home``, ``state_in_database``: ``tfkit store
status``); the local state file (``local_state_path``, ``check_no_local_state``: a session refuses to
init the pg backend beside a local state Terraform would stop to ask about); and the pg backend's row
under Terraform's own advisory lock (``state_row``), through which ``tfkit.state_move`` moves a state
with its lineage and serial.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.errors import ConfigError, LockHeldError, RefusedError
from tfkit.fsutil import process_alive
from tfkit.override_names import BACKEND_OVERRIDE, OVERRIDE_PATTERN, is_tfkit_override
from tfkit.store.settings import StoreSettings

if TYPE_CHECKING:
    import psycopg

    from tfkit.project import Environment

__all__ = [
    "BACKEND_OVERRIDE",
    "OVERRIDE_PATTERN",
    "WORKSPACE",
    "PgState",
    "StateRow",
    "check_no_local_state",
    "declares_backend",
    "is_tfkit_override",
    "local_state_path",
    "pg_state",
    "remove_stale_overrides",
    "schema_name",
    "state_document",
    "state_home",
    "state_in_database",
    "state_row",
    "write_override",
]

_HEADER = "# Written by tfkit (pid {pid} on {host})"
_HEADER_RE = re.compile(r"^# Written by tfkit \(pid (\d+) on (.*)\)$")
_PG_BLOCK = 'terraform {\n  backend "pg" {}\n}\n'
#: Terraform's workspace: tfkit gives each environment a schema of its own and uses the default workspace.
WORKSPACE = "default"
#: The pg backend's database-wide advisory key, held while a state's row is being created.
_CREATION_KEY = -1
#: PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
_MAX_IDENTIFIER = 63


def declares_backend(directory: Path) -> bool:
    """Whether the root module in ``directory`` declares a ``backend`` or ``cloud`` block itself.

    Every ``.tf`` file counts (the user's own ``*_override.tf`` too) except tfkit's override files;
    ``.tf.json`` files count when their ``terraform`` object holds ``backend`` or ``cloud``.
    """
    from tfkit.hcl import load_module  # only where a store keeps state: a local store's plan reads HCL later

    module = load_module(directory)
    if any(not is_tfkit_override(block.file.name) for block in module.backends):
        return True
    for path in sorted(Path(directory).glob("*.tf.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # Terraform reports a broken file itself, with its line
        blocks = document.get("terraform") if isinstance(document, dict) else None
        for block in blocks if isinstance(blocks, list) else [blocks]:
            if isinstance(block, dict) and ("backend" in block or "cloud" in block):
                return True
    return False


def schema_name(project: str, environment: str) -> str:
    """The PostgreSQL schema holding one environment's state: ``tfstate_<project>_<environment>``.

    Lower-case letters, digits and ``_`` only (no quoting needed); a name longer than PostgreSQL's
    63 bytes keeps its start and ends in a hash of the whole, so two long names never collide.
    """
    raw = f"tfstate_{project}_{environment}"
    name = re.sub(r"[^a-z0-9_]+", "_", raw.lower())
    if len(name) <= _MAX_IDENTIFIER and name == raw:
        return name
    digest = hashlib.sha256(raw.encode()).hexdigest()[:12]
    return f"{name[: _MAX_IDENTIFIER - len(digest) - 1]}_{digest}"


@dataclass(frozen=True, slots=True)
class PgState:
    """An environment's state in the store's database: Terraform's pg backend in ``schema``.

    ``lock_timeout`` (seconds, ``[store] terraform_lock_timeout``) is the least Terraform waits for a
    state lock: the pg backend also tries a database-wide creation lock on every attempt, so runs on
    unrelated states would otherwise fail when they meet.
    """

    conn_str: str
    schema: str
    lock_timeout: float

    def environment(self) -> dict[str, str]:
        """What the Terraform child's environment gets (the only place the connection string goes)."""
        return {"PG_CONN_STR": self.conn_str, "PG_SCHEMA_NAME": self.schema}


def pg_state(settings: StoreSettings, directory: Path, environment: str) -> PgState | None:
    """The pg backend for the environment in ``directory``, or None when its state stays where it is.

    None for the local store, with ``[store] terraform_state = false``, or when the root module
    declares a backend of its own.
    """
    if settings.url is None or not settings.terraform_state or declares_backend(directory):
        return None
    from tfkit.locks import parse_timeout

    return PgState(
        settings.terraform_conn_str(),
        schema_name(settings.project, environment),
        parse_timeout(settings.terraform_lock_timeout),
    )


def write_override(directory: Path, *, session: bool) -> Path:
    """Write tfkit's ``backend "pg"`` override into ``directory`` and return its path.

    ``session`` names it for one session (the environment's own directory); otherwise it is
    ``BACKEND_OVERRIDE`` (a private materialized copy).
    """
    name = f"tfkit_backend_{os.getpid()}_{secrets.token_hex(4)}_override.tf" if session else BACKEND_OVERRIDE
    path = Path(directory) / name
    header = _HEADER.format(pid=os.getpid(), host=socket.gethostname())
    note = "# Terraform's state of this environment is in tfkit's PostgreSQL store while tfkit runs here;\n"
    note += "# tfkit removes this file when its run ends. Never commit it.\n"
    path.write_text(f"{header}\n{note}{_PG_BLOCK}", encoding="utf-8")
    return path


def remove_stale_overrides(directory: Path) -> list[Path]:
    """Remove tfkit's session override files left in ``directory`` by runs on this host that are gone."""
    removed = []
    host = socket.gethostname()
    for path in sorted(Path(directory).glob("tfkit_backend_*_override.tf")):
        if not is_tfkit_override(path.name):
            continue
        try:
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            continue
        found = _HEADER_RE.match(first)
        if found is None or found.group(2) != host or process_alive(int(found.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


# ------------------------------------------------------------------- where the state is, for people


def _backend_type(environment: Environment) -> str:
    """The type of the backend (or ``cloud``) block the environment declares, for messages."""
    from tfkit.hcl import load_module

    for block in load_module(environment.directory).backends:
        return block.labels[0] if block.kind == "backend" and block.labels else block.kind
    return "declared in a .tf.json file"


def state_home(environment: Environment, settings: StoreSettings) -> str:
    """Where the environment's state lives with the store ``settings`` describe, for messages.

    ``database <url without password>, schema <name>``, ``own backend (s3)`` or ``local file``.
    """
    backend = pg_state(settings, environment.directory, environment.name)
    if backend is not None:
        return f"database {settings.describe()}, schema {backend.schema}"
    if declares_backend(environment.directory):
        return f"own backend ({_backend_type(environment)})"
    return "local file"


# ------------------------------------------------------------------------ the local state file


def local_state_path(environment: Environment) -> Path:
    """The environment's local state file: its backend's ``path`` in tfkit.toml, else terraform.tfstate."""
    return environment.directory / (environment.backend.get("path") or "terraform.tfstate")


def state_document(raw: bytes | None, where: str) -> dict[str, Any] | None:
    """The state in ``raw`` (a state file's or row's bytes) when it holds resources or outputs, else None.

    Like Terraform, a missing, 0-byte or empty state counts as no state (nothing to move or protect);
    bytes that are not a state document are refused (``RefusedError``), never treated as empty.
    """
    if raw is None or not raw.strip():
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        document = None
    if not isinstance(document, dict) or "lineage" not in document:
        raise RefusedError(f"{where} does not hold a Terraform state document; refusing to move it")
    return document if document.get("resources") or document.get("outputs") else None


def check_no_local_state(environment: Environment, settings: StoreSettings) -> None:
    """Refuse (``ConfigError``) to init the pg backend beside a local state Terraform would want to migrate.

    Terraform would stop at ``init`` asking for approval it cannot get; this says what to run instead.
    """
    path = local_state_path(environment)
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return
    if state_document(raw, str(path)) is None:
        return
    shown = (
        path.relative_to(environment.project.root) if path.is_relative_to(environment.project.root) else path
    )
    raise ConfigError(
        f"'{environment.name}' has a local Terraform state ({shown}) but the store {settings.describe()} "
        "keeps its state in the database: move it there with `tfkit store migrate --to-env VAR` run on the "
        "local store (TFKIT_STORE_URL unset; see docs/store.md), or unset TFKIT_STORE_URL to keep it local"
    )


# ------------------------------------------------------------------ the pg backend's state row


class StateRow:
    """The pg backend's row of one environment's state, on a connection that holds Terraform's lock on it."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self._conn = conn
        self._schema = schema

    def _sql(self, text: str) -> Any:
        from psycopg import sql

        return sql.SQL(text).format(sql.Identifier(self._schema))

    def read(self) -> bytes | None:
        """The state document as Terraform stored it, or None when there is no row."""
        row = self._conn.execute(
            self._sql("SELECT data FROM {}.states WHERE name = %s"), (WORKSPACE,)
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0]).encode("utf-8")

    def write(self, data: bytes) -> None:
        """Store ``data`` byte for byte as the state (Terraform's upsert; lineage and serial untouched)."""
        self._conn.execute(
            self._sql(
                "INSERT INTO {}.states (name, data) VALUES (%s, %s) "
                "ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data"
            ),
            (WORKSPACE, data.decode("utf-8")),
        )

    def delete(self) -> None:
        """Remove the state's row (the state has moved out of the database)."""
        self._conn.execute(self._sql("DELETE FROM {}.states WHERE name = %s"), (WORKSPACE,))


def _has_table(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = 'states')",
        (schema,),
    ).fetchone()
    return bool(row and row[0])


def _try_terraform_lock(conn: psycopg.Connection[Any], schema: str) -> int | None:
    """One attempt at the lock Terraform's pg backend takes (``client.go`` ``Lock``): the row's id and the
    creation key together, then the id alone; the creation key alone while the row does not exist."""
    from psycopg import sql

    row = conn.execute(
        sql.SQL(
            "SELECT id, pg_try_advisory_lock(id), pg_try_advisory_lock(%s) FROM {}.states WHERE name = %s"
        ).format(sql.Identifier(schema)),
        (_CREATION_KEY, WORKSPACE),
    ).fetchone()
    if row is None:
        created = conn.execute("SELECT pg_try_advisory_lock(%s)", (_CREATION_KEY,)).fetchone()
        return _CREATION_KEY if created and created[0] else None
    key, mine, creation = int(row[0]), bool(row[1]), bool(row[2])
    if creation:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_CREATION_KEY,))
    if mine and creation:
        return key
    if mine:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return None


@contextlib.contextmanager
def state_row(settings: StoreSettings, schema: str, *, timeout: float) -> Iterator[StateRow | None]:
    """The state row of ``schema`` under Terraform's own lock, waiting up to ``timeout`` seconds for it.

    Yields None when Terraform never created the schema's ``states`` table. ``LockHeldError`` (exit 3)
    when a Terraform run keeps the lock; ``StoreError`` when the database fails.
    """
    import psycopg

    from tfkit.store.pg_db import connect, store_error

    with connect(settings, "tfkit store migrate") as conn:
        try:
            if not _has_table(conn, schema):
                yield None
                return
            deadline = time.monotonic() + timeout
            while (key := _try_terraform_lock(conn, schema)) is None:
                if time.monotonic() >= deadline:
                    raise LockHeldError(
                        f"Terraform's state in schema {schema} is locked by a Terraform run; try again "
                        "when it ends, or pass --lock-timeout"
                    )
                time.sleep(0.2)
            try:
                yield StateRow(conn, schema)
            finally:
                if not conn.broken:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        except psycopg.Error as exc:
            raise store_error(exc, settings, conn) from None


def state_in_database(settings: StoreSettings, environment: Environment) -> bool | None:
    """Whether Terraform's state of the environment is in the store's database; ``None``: not kept there.

    Reads the pg backend's ``states`` table in the environment's schema, on a connection of its own.
    """
    backend = pg_state(settings, environment.directory, environment.name)
    if backend is None:
        return None
    import psycopg
    from psycopg import sql

    from tfkit.store.pg_db import connect, store_error

    with connect(settings, "tfkit store status") as conn:
        try:
            if not _has_table(conn, backend.schema):
                return False
            row = conn.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.states WHERE name = %s)").format(
                    sql.Identifier(backend.schema)
                ),
                (WORKSPACE,),
            ).fetchone()
        except psycopg.Error as exc:
            raise store_error(exc, settings, conn) from None
    return bool(row and row[0])
