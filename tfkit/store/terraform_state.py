"""Terraform's state in the store's database: which environments keep it there, and how Terraform is told.

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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from tfkit.errors import ConfigError
from tfkit.hcl import load_module
from tfkit.store.settings import StoreSettings

__all__ = [
    "BACKEND_OVERRIDE",
    "OVERRIDE_PATTERN",
    "PgState",
    "declares_backend",
    "duration_seconds",
    "is_tfkit_override",
    "pg_state",
    "remove_stale_overrides",
    "schema_name",
    "write_override",
]

#: tfkit's backend override in a materialized copy (``pg``, or ``local`` pointing at the real state file).
BACKEND_OVERRIDE = "tfkit_backend_override.tf"
#: tfkit's backend override files (the session ones and ``BACKEND_OVERRIDE``).
OVERRIDE_PATTERN = re.compile(r"^tfkit_backend_(?:\d+_[0-9a-f]+_)?override\.tf$")
_HEADER = "# Written by tfkit (pid {pid} on {host})"
_HEADER_RE = re.compile(r"^# Written by tfkit \(pid (\d+) on (.*)\)$")
_PG_BLOCK = 'terraform {\n  backend "pg" {}\n}\n'
#: PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1).
_MAX_IDENTIFIER = 63


def is_tfkit_override(name: str) -> bool:
    """Whether a file named ``name`` is one of tfkit's backend override files."""
    return OVERRIDE_PATTERN.match(name) is not None


def declares_backend(directory: Path) -> bool:
    """Whether the root module in ``directory`` declares a ``backend`` or ``cloud`` block itself.

    Every ``.tf`` file counts (the user's own ``*_override.tf`` too) except tfkit's override files;
    ``.tf.json`` files count when their ``terraform`` object holds ``backend`` or ``cloud``.
    """
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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(text: str) -> float:
    """Seconds in a Terraform duration such as ``60s``, ``1m30s`` or ``500ms`` (else ``ConfigError``)."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ConfigError(
            f"store.terraform_lock_timeout must be a duration such as '60s' or '2m', not {text!r}",
            key="store.terraform_lock_timeout",
        )
    return sum(float(n) * _UNIT[u] for n, u in parts)


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
    return PgState(
        settings.terraform_conn_str(),
        schema_name(settings.project, environment),
        duration_seconds(settings.terraform_lock_timeout),
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
        if found is None or found.group(2) != host or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
