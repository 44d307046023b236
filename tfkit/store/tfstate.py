"""Where an environment's Terraform state lives for a given store, and the step that would move it.

With the PostgreSQL store (and ``[store] terraform_state``), an environment whose configuration declares
no backend keeps its state in the store's database through Terraform's own ``pg`` backend, in a schema
of its own (``tfkit.store.terraform_state``); one that declares its own backend keeps it. ``tfkit store
status`` and ``tfkit store migrate`` ask this module. Moving a state between stores (``state_mover``)
answers ``None`` until the engine can run Terraform's own migration, so nothing here guesses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tfkit.hcl import load_module
from tfkit.store.terraform_state import declares_backend, pg_state

if TYPE_CHECKING:
    from tfkit.project import Environment
    from tfkit.store.settings import StoreSettings

__all__ = ["StateMover", "state_home", "state_in_database", "state_mover"]

#: Terraform's workspace: tfkit gives each environment a schema of its own and uses the default workspace.
WORKSPACE = "default"


def _backend_type(environment: Environment) -> str:
    """The type of the backend (or ``cloud``) block the environment declares, for messages."""
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
            table = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = 'states')",
                (backend.schema,),
            ).fetchone()
            if not table or not table[0]:
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


class StateMover(Protocol):
    """Moves one environment's Terraform state from where ``source`` keeps it to where ``target`` does.

    The intended implementation runs Terraform's own migration through the ``Engine``: initialise on the
    source location, point the backend at the target location, then ``init -migrate-state -force-copy``
    (the connection string only in ``PG_CONN_STR``). It returns a one-line outcome; it raises a
    ``TfkitError`` when Terraform refuses.
    """

    def __call__(self, environment: Environment, source: StoreSettings, target: StoreSettings) -> str: ...


def state_mover() -> StateMover | None:
    """The step that moves Terraform state between stores; ``None`` until the engine can run it.

    What it needs (not on this branch): ``Engine.init`` accepting ``migrate_state``/``force_copy``
    (``tfkit/terraform``) and a ``Session`` that can be opened on a given ``StoreSettings``'s state
    location (``tfkit/workflow.py``).
    """
    return None
