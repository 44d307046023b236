"""What a store holds (``tfkit store status``): where it is, its schema version, each environment's records.

Reading the counts is also the connectivity check: a store that cannot be reached raises ``StoreError``
(exit code 5) on the first read, so a status that returns was read from a reachable store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tfkit.store import Store
from tfkit.store.tfstate import state_home, state_in_database

if TYPE_CHECKING:
    from tfkit.project import Environment, Project

__all__ = ["EnvironmentRecords", "StoreStatus", "VersionedStore", "store_status"]


@runtime_checkable
class VersionedStore(Protocol):
    """A store with a versioned schema (PostgreSQL): the version its database holds."""

    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        ...


@dataclass(frozen=True, slots=True)
class EnvironmentRecords:
    """What the store holds for one environment, and where its Terraform state lives.

    ``terraform_state`` is ``own backend (s3)``, ``local file``, ``in the database``, ``not in the
    database`` or ``unknown`` (tfkit cannot tell); ``configured`` is false for an environment the store
    holds records of but tfkit.toml no longer names.
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
    version = store.schema_version() if isinstance(store, VersionedStore) else None
    where = settings.describe() if settings.url is not None else str(project.state_dir)
    return StoreStatus(settings.kind, where, settings.project, True, version, rows)


def _records(store: Store, name: str, environment: Environment | None) -> EnvironmentRecords:
    health = store.ledger.health(name)
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
    home = state_home(environment, store.settings)
    if not home.startswith("database "):
        return home
    known = state_in_database(store, environment)
    return "unknown" if known is None else ("in the database" if known else "not in the database")
