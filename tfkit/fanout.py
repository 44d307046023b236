"""CI fan-out: one job per environment, on its own runner; the shared store keeps them in graph order.

``jobs`` lists the environments to run (all, or those a change affects) in graph levels, each with the
jobs it waits for, for a CI system's matrix or DAG. A job that starts early (a matrix starts every job
at once) calls ``wait_until_allowed``: it polls the store's ledger and health until everything its
environment comes after has applied the module digests it takes and everything it needs has applied
(the promotion rule, ``tfkit.promotion``), and refuses at once when anything upstream, transitively, is
unstable, so a failure stops exactly its downstream. An upstream apply that is running (its journal
entry, ``tfkit.journal``, is open) is waited for, not refused: it is not a failure yet. The apply that
follows checks the rule again under the environment's lock, so a job never applies out of order even
without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfkit.bundle import module_digests
from tfkit.errors import PromotionError
from tfkit.hcl import local_sources
from tfkit.promotion import promotion_problems

if TYPE_CHECKING:
    from tfkit.graph import EnvironmentGraph
    from tfkit.journal import Journal
    from tfkit.ledger import Ledger
    from tfkit.project import Environment

__all__ = ["Blocked", "Job", "blocked", "jobs", "upstream", "wait_until_allowed"]

#: Seconds between two looks at the store while a job waits.
POLL_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Job:
    """One environment's CI job: its graph level (among the jobs) and the jobs it waits for."""

    environment: str
    level: int
    needs: tuple[str, ...]


def jobs(graph: EnvironmentGraph, names: Iterable[str] | None = None) -> list[Job]:
    """A job per environment of ``names`` (default: all), level by level, each naming the jobs it waits for.

    Environments left out are taken as done: a job waits only for jobs in the list (through left-out ones).
    """
    chosen = list(graph.names if names is None else names)
    waits = graph.restricted(chosen)
    return [
        Job(name, number, tuple(n for n in graph.names if n in waits[name]))
        for number, level in enumerate(graph.levels(chosen))
        for name in level
    ]


def upstream(graph: EnvironmentGraph, name: str) -> list[str]:
    """Every environment ``name`` waits for, directly or transitively, in listing order."""
    found: set[str] = set()
    todo = list(graph.predecessors(name))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(graph.predecessors(current))
    return [n for n in graph.names if n in found]


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why an environment may not apply yet; ``final`` when waiting cannot help (unstable upstream)."""

    message: str
    final: bool


def blocked(
    environment: Environment,
    ledger: Ledger,
    modules: Mapping[str, str] | None = None,
    *,
    journal: Journal | None = None,
) -> Blocked | None:
    """Why ``environment`` may not apply its configuration now (``None``: it may).

    ``modules`` are the digests it would take (default: its local modules as they are on disk). An
    upstream environment with an open ``journal`` entry that has no outcome is applying (or its runner
    died): the job waits on it (until its timeout) rather than refusing.
    """
    for name in upstream(environment.project.graph, environment.name):
        health = ledger.health(name)
        running = journal.pending(name) if journal is not None else None
        in_flight = running is not None and not running.outcome  # a failed one says why: refuse
        if not health.stable and not in_flight:
            return Blocked(
                f"refusing to apply '{environment.name}': '{name}' upstream of it is unstable "
                f"({health.reason or 'its last apply failed'}); roll it back or fix it first",
                final=True,
            )
    if modules is None:
        modules = module_digests(local_sources(environment.directory), environment.project.root)
    problems = promotion_problems(environment, modules, ledger)
    return Blocked(problems[0].message, final=False) if problems else None


def wait_until_allowed(
    environment: Environment,
    ledger: Ledger,
    *,
    timeout: float,
    poll: float = POLL_SECONDS,
    on_wait: Callable[[str], None] | None = None,
    journal: Journal | None = None,
) -> None:
    """Return once ``environment`` may apply its configuration; ``PromotionError`` (exit 4) when anything
    upstream is unstable, or when ``timeout`` seconds pass first (naming what it waited for)."""
    modules = module_digests(local_sources(environment.directory), environment.project.root)
    deadline = time.monotonic() + timeout
    said = ""
    while True:
        why = blocked(environment, ledger, modules, journal=journal)
        if why is None:
            return
        if why.final:
            raise PromotionError(why.message)
        if time.monotonic() >= deadline:
            raise PromotionError(
                f"refusing to apply '{environment.name}' after waiting {timeout:g}s: {why.message}"
            )
        if on_wait is not None and why.message != said:
            said = why.message
            on_wait(said)
        time.sleep(min(poll, max(deadline - time.monotonic(), 0.0)))
