"""What a store holds (``tfkit store status``): where it is, its schema version, each environment's records.

Reading the counts is also the connectivity check: a store that cannot be reached raises ``StoreError``
(exit code 5) on the first read, so a status that returns was read from a reachable store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfkit.store import Store
from tfkit.store.terraform_state import pg_state, state_home, state_in_database

if TYPE_CHECKING:
    from tfkit.project import Environment, Project
    from tfkit.store.settings import StoreSettings

__all__ = ["EnvironmentRecords", "StoreStatus", "store_status"]


@dataclass(frozen=True, slots=True)
class EnvironmentRecords:
    """What the store holds for one environment, and where its Terraform state lives.

    ``terraform_state`` is ``own backend (s3)``, ``local file``, ``in the database``, ``not in the
    database`` or ``unknown`` (an environment tfkit.toml does not name, or whose directory is missing);
    ``configured`` is false for an environment the store holds records of but tfkit.toml no longer names.
    """

    environment: str
    snapshots: int
    ledger_entries: int
    health: str
    health_reason: str
    health_since: str  # "" when no health was ever recorded (stable by default)
    terraform_state: str
    configured: bool = True


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """The store of a project: kind, where (without password), project id, schema, environments."""

    kind: str
    where: str
    project: str
    reachable: bool
    schema_version: int | None
    environments: tuple[EnvironmentRecords, ...]


def store_status(project: Project, store: Store) -> StoreStatus:
    """Read what ``store`` holds for ``project``'s environments (and any others it has records of)."""
    settings = store.settings
    configured = {env.name: env for env in project.environments}
    stored = set(store.snapshots.environments()) | set(store.ledger.environments())
    names = [env.name for env in project.environments] + sorted(stored - set(configured))
    rows = tuple(_records(store, name, configured.get(name)) for name in names)
    version = None if settings.url is None else _schema_version(settings)
    where = settings.describe() if settings.url is not None else str(project.state_dir)
    return StoreStatus(settings.kind, where, settings.project, True, version, rows)


def _schema_version(settings: StoreSettings) -> int | None:
    """The version of tfkit's schema in the database (read on a connection of its own, closed at once)."""
    import psycopg

    from tfkit.store.pg_db import connect, store_error

    with connect(settings, "tfkit store status") as conn:
        try:
            row = conn.execute("SELECT max(version) FROM tfkit.schema_version").fetchone()
        except psycopg.Error as exc:
            raise store_error(exc, settings, conn) from None
    return int(row[0]) if row and row[0] is not None else None


def _records(store: Store, name: str, environment: Environment | None) -> EnvironmentRecords:
    health = store.journal.health(name)
    return EnvironmentRecords(
        environment=name,
        snapshots=len(store.snapshots.list(name)),
        ledger_entries=len(store.ledger.entries(name)),
        health=health.status,
        health_reason=health.reason,
        health_since=health.since,
        terraform_state=_terraform_state(store, environment),
        configured=environment is not None,
    )


def _terraform_state(store: Store, environment: Environment | None) -> str:
    if environment is None or not environment.directory.is_dir():
        return "unknown"
    if pg_state(store.settings, environment.directory, environment.name) is None:
        return state_home(environment, store.settings)
    return "in the database" if state_in_database(store.settings, environment) else "not in the database"
