"""Where an environment's Terraform state lives for a given store, and the hooks the pg-backend wiring fills.

With the PostgreSQL store (and ``[store] terraform_state``), an environment whose configuration declares
no backend keeps its state in the store's database through Terraform's own ``pg`` backend; one that
declares its own backend keeps it. ``tfkit store status`` and ``tfkit store migrate`` ask this module; the
two functions that need the pg-backend wiring (``state_in_database`` and ``state_mover``) answer
"unknown" (``None``) until it provides them, so nothing here guesses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tfkit.hcl import load_module

if TYPE_CHECKING:
    from tfkit.project import Environment
    from tfkit.store import Store
    from tfkit.store.settings import StoreSettings

__all__ = [
    "StateMover",
    "declared_backend",
    "state_home",
    "state_in_database",
    "state_mover",
]


def declared_backend(environment: Environment) -> str | None:
    """The type of the backend (or ``cloud``) block the environment's configuration declares, if any."""
    for block in load_module(environment.directory).backends:
        return block.labels[0] if block.kind == "backend" and block.labels else block.kind
    return None


def state_home(environment: Environment, settings: StoreSettings) -> str:
    """Where the environment's state lives with the store ``settings`` describe, for messages.

    ``own backend (s3)``, ``local file`` or ``database <url without password>, project <id>``.
    """
    backend = declared_backend(environment)
    if backend is not None and backend != "local":
        return f"own backend ({backend})"
    if settings.url is None or not settings.terraform_state or backend == "local":
        return "local file"
    return f"database {settings.describe()}, project {settings.project}"


def state_in_database(store: Store, environment: Environment) -> bool | None:
    """Whether the environment's Terraform state is stored in the store's database; ``None``: unknown.

    Hook for the pg-backend wiring (it knows the schema and workspace names the backend uses): until it
    answers, ``tfkit store status`` prints ``unknown`` rather than guessing.
    """
    return None


class StateMover(Protocol):
    """Moves one environment's Terraform state from where ``source`` keeps it to where ``target`` does.

    The intended implementation runs Terraform's own migration through the ``Engine``: initialise on the
    source location, point the backend at the target location, then ``init -migrate-state -force-copy``
    (the connection string only in ``PG_CONN_STR``). It returns a one-line outcome; it raises a
    ``TfkitError`` when Terraform refuses.
    """

    def __call__(self, environment: Environment, source: StoreSettings, target: StoreSettings) -> str: ...


def state_mover() -> StateMover | None:
    """The step that moves Terraform state between stores; ``None`` until the pg-backend wiring provides it.

    What it needs (not on this branch): ``Engine.init`` accepting ``migrate_state``/``force_copy``
    (``tfkit/terraform``) and a ``Session`` that can be opened on a given ``StoreSettings``'s state
    location (``tfkit/workflow.py``).
    """
    return None
