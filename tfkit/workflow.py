"""The operations on an environment: validate, plan, apply, rollback, promote, output, destroy.

Every front door (CLI, pytest plugin, CI scripts) calls these, so they behave the same everywhere.
A ``Session`` holds one engine on one working directory for the duration of an operation, so the
plan that was gated and shown is the plan file that gets applied.

Apply is gated (policies and scanners), confirmed, verified by a follow-up plan that goes through the
same gate (a verdict that does not hold is reported at once), and recorded: a snapshot, a ledger entry
and the environment's health. ``preview`` is ``tfkit plan``: the plan, Terraform's warnings, and the
rules (health, promotion order) that would refuse its apply, checked by the same functions apply uses.
Rollback and promotion apply a configuration materialized in a temporary directory that is wired to
the environment's real state.

This module decides; others know: what a snapshot holds and its encryption (``tfkit.recording``),
how two plans differ (``Plan.compare_planned_values``), promotion order (``tfkit.promotion``),
the ledger and health (``tfkit.ledger``). tfkit's memory (snapshots, ledger, health, locks) is reached
only through the ``Store`` protocol (``tfkit.store``: local ``.tfkit/`` or PostgreSQL), opened once per
operation, and Terraform only through the ``Engine`` protocol, opened by ``RunOptions.engine_factory``.
``ApplyFailedError``, ``LineageMismatchError``, ``PlanDifference``, ``encryption_key`` and ``open_store``
are re-exported from where they live.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from tfkit.backend_change import check_backend_change, local_state_file
from tfkit.bundle import environment_files, local_modules, materialize, module_digests
from tfkit.engine_setup import EngineSetup, engine_setup
from tfkit.errors import (
    ApplyFailedError,
    ApplyRefusedError,
    Diagnostic,
    GateFailedError,
    LineageMismatchError,
    ProtectedEnvironmentError,
    RefusedError,
    SnapshotError,
    StoreError,
    TerraformError,
    TfkitError,
    UnstableEnvironmentError,
    VerdictChangedError,
)
from tfkit.fsutil import private_temp
from tfkit.integrity import check_contents, check_recorded, signing_key
from tfkit.journal import JournalEntry, UnfinishedApplyWarning, journal_entry, plan_digest
from tfkit.ledger import Override, new_health
from tfkit.locks import current_holder
from tfkit.pausepoints import pause_point
from tfkit.plan import PlanDifference, load_plan
from tfkit.promotion import check_promotion, promotion_refusal
from tfkit.provider_schema import SET_PATHS, cached_set_paths
from tfkit.recording import encryption_key, record_success, recorded_plan
from tfkit.redact import mask, register_plan_secrets
from tfkit.snapshots import Snapshot
from tfkit.store import Store, open_store
from tfkit.store.terraform_state import (
    BACKEND_OVERRIDE,
    PgState,
    check_no_local_state,
    remove_stale_overrides,
    write_override,
)
from tfkit.terraform import ApplyResult, ChangeCounts, Engine, OutputValue, ValidateResult, open_engine
from tfkit.terraform.engine import EngineFactory
from tfkit.terraform.init_cache import InitCache
from tfkit.terraform.init_inputs import init_fingerprint
from tfkit.terraform.runner import EventCallback

if TYPE_CHECKING:
    from tfkit.gate import GateResult
    from tfkit.plan import Plan
    from tfkit.project import Environment, Project
    from tfkit.store.settings import StoreSettings

__all__ = [
    "ApplyFailedError",
    "ApplyOutcome",
    "LineageMismatchError",
    "PlanDifference",
    "PlanOutcome",
    "PlanPreview",
    "Review",
    "RollbackOutcome",
    "RunOptions",
    "Session",
    "apply",
    "apply_refusals",
    "destroy",
    "encryption_key",
    "open_store",
    "output",
    "plan",
    "preview",
    "promote",
    "recorded_snapshot",
    "rollback",
    "snapshot_session",
    "status",
    "terraform_warnings",
    "validate",
    "verdict_changed",
]

#: Called with a short step name ("init", "plan", ...) as an operation proceeds.
StepCallback = Callable[[str], None]

SNAPSHOT_VARS = "tfkit-snapshot.tfvars.json"


def _no_step(step: str) -> None:
    """The default progress callback: say nothing."""


@dataclass(frozen=True, slots=True)
class PlanOutcome:
    """A saved, decoded plan of one environment, with the warnings Terraform gave while planning."""

    environment: str
    plan: Plan
    plan_file: Path
    has_changes: bool
    counts: ChangeCounts | None
    warnings: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanPreview:
    """What ``tfkit plan`` shows: the plan, Terraform's warnings, and why its apply would be refused."""

    plan: Plan
    warnings: tuple[Diagnostic, ...]
    #: One line per rule that would refuse the apply (health, promotion order); empty when none would.
    refusals: tuple[str, ...]
    #: The rules that were checked (none with ``--no-gate``).
    checked: tuple[str, ...] = ()

    def apply_note(self) -> str | None:
        """One line on the apply when no checked rule refuses it (``None`` when refused or unchecked)."""
        if self.refusals or not self.checked:
            return None
        return f"not refused by {' or '.join(self.checked)} (the gate's verdict decides the rest)"


@dataclass(frozen=True, slots=True)
class Review:
    """What is about to be applied, shown before confirmation."""

    environment: str
    operation: str
    plan: Plan
    gate: GateResult | None = None
    differences: tuple[PlanDifference, ...] | None = None
    snapshot: str | None = None


#: Shows a review (always called before an apply, also with --auto-approve).
ShowCallback = Callable[[Review], None]
#: Asked before an apply; returns whether to go ahead.
ConfirmCallback = Callable[[Review], bool]


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    """What a rollback restored."""

    environment: str
    restored: str
    snapshot: str | None
    plan: Plan
    differences: tuple[PlanDifference, ...]
    applied: bool
    converged: bool | None


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """The result of an apply: what was planned and gated, whether it ran, what it recorded.

    ``follow_up_gate`` is the gate's verdict on the plan made right after the apply; ``verdict_held``
    says whether it agrees with ``gate`` (the next apply would otherwise be refused). ``warnings`` holds
    Terraform's warnings (``terraform: ...``) and tfkit's own about the apply.
    """

    environment: str
    plan: Plan
    applied: bool
    result: ApplyResult | None = None
    converged: bool | None = None
    warnings: tuple[str, ...] = ()
    gate: GateResult | None = None
    snapshot: str | None = None
    follow_up_gate: GateResult | None = None

    @property
    def verdict_held(self) -> bool:
        """The plan after the apply got the apply's verdict (true when either gate did not run)."""
        if self.gate is None or self.follow_up_gate is None:
            return True
        return self.follow_up_gate.passed == self.gate.passed


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: the engine (overriding tfkit.toml and ``TFKIT_ENGINE``) and progress callbacks.

    ``engine_factory`` opens the engine of each session (``open_engine``, unless a test gives one that
    serves recorded plans): workflow code reaches Terraform only through the ``Engine`` protocol.
    """

    engine: str | None = None
    binary: str | None = None
    on_event: EventCallback | None = None
    on_step: StepCallback | None = None
    show: ShowCallback | None = None
    gate: bool = True
    lock_timeout: float = 0.0
    today: date | None = None
    engine_factory: EngineFactory = open_engine
    #: Whether an environment without a backend of its own keeps its state in a PostgreSQL store; the
    #: pytest plugin's private copies plan without it, from no state, as with the local store.
    store_state: bool = True
    #: Whether an unchanged environment restores its recorded init instead of running init
    #: (``tfkit.terraform.init_cache``); ``TFKIT_REINIT=1`` in the environment turns it off too.
    reuse_init: bool = True
    #: The engine's setup already read for this environment (``tfkit.engine_setup``, by a caller that
    #: started its engine ahead with ``engine_factory``); a session reads it itself when it is None.
    engine_setup: EngineSetup | None = None


class Session:
    """One engine on one environment, initialised once; close it to remove plan files.

    ``workdir`` and ``var_files`` default to the environment's own; a materialized configuration
    (rollback, promotion) passes its temporary directory and sets ``state_of_environment`` so the
    session is wired to the environment's real state.

    With a PostgreSQL store, an environment whose own directory declares no backend keeps its state
    through Terraform's pg backend in the store's database (``tfkit.store.terraform_state``): the
    session writes tfkit's override file into its working directory before ``init`` and removes it on
    close, puts the connection string and the environment's schema in the engine's environment only,
    and gives Terraform at least ``[store] terraform_lock_timeout`` to wait for state locks. A
    materialized session of the same environment uses the same schema, hence the same state.
    ``store`` names the store whose state location to use instead of the project's own (``tfkit store
    migrate`` reads and verifies a state where the target store keeps it). On the environment's own
    directory, a non-empty local state beside the pg backend is refused before ``init`` (``ConfigError``):
    Terraform would stop there asking to migrate it, which tfkit does with ``tfkit store migrate``.
    """

    def __init__(
        self,
        environment: Environment,
        options: RunOptions | None = None,
        *,
        workdir: Path | None = None,
        var_files: Sequence[Path] | None = None,
        state_of_environment: bool = False,
        store: StoreSettings | None = None,
    ) -> None:
        options = options or RunOptions()
        environment.check()
        self.environment = environment
        self.options = options
        self.on_step = options.on_step or _no_step
        self.workdir = Path(workdir) if workdir is not None else environment.directory
        self.var_files = tuple(var_files) if var_files is not None else environment.var_files
        self._wire_state = state_of_environment
        self._own_directory = self.workdir.resolve() == environment.directory.resolve()
        # Where the state is follows the environment's own directory, also for a materialized copy.
        setup = options.engine_setup
        if setup is None or not setup.serves(environment, store_state=options.store_state, store=store):
            setup = engine_setup(
                environment,
                engine=options.engine,
                binary=options.binary,
                store_state=options.store_state,
                store=store,
            )
        self.pg_state: PgState | None = setup.pg_state
        self._store: StoreSettings | None = setup.store
        self.engine: Engine = options.engine_factory(
            setup.kind, self.workdir, binary=setup.binary, env=setup.env, on_event=options.on_event
        )
        self._override: Path | None = None
        self._initialised = False
        self._plans = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def store_settings(self) -> StoreSettings | None:
        """The store settings this session read (``None`` without ``store_state``), to open that store."""
        return self._store

    def close(self) -> None:
        """Stop the engine (its worker's connections go with it), remove its run directory and the
        plan files in it, and tfkit's backend override file."""
        try:
            self.engine.close()
        finally:
            if self._override is not None:
                self._override.unlink(missing_ok=True)
                self._override = None

    def init(self) -> None:
        """``terraform init`` with the environment's backend settings (once per session)."""
        if self._initialised:
            return
        if self.pg_state is not None and self._store is not None and self._own_directory:
            check_no_local_state(self.environment, self._store)
        elif self._own_directory:
            check_backend_change(self.environment)
        if self._own_directory:
            remove_stale_overrides(self.workdir)
        if self.pg_state is not None and self._override is None:
            self._override = write_override(self.workdir, session=self._own_directory)
        records = self._init_records()
        before = self._init_fingerprint() if records is not None else None
        if records is not None and before is not None and records.restore(before, self.engine.data_dir):
            self.on_step("init (cached)")
        else:
            self.on_step("init")
            self.engine.init(backend_config=self.environment.backend)
            # Init may have written the lock file: the record is of the configuration as it is now.
            after = self._init_fingerprint() if records is not None and before is not None else None
            if records is not None and after is not None:
                records.record(after, self.engine.data_dir)
        if self._wire_state and self._uses_local_state():
            real = self._write_backend_override()
            self.engine.init(backend_config=self._local_backend_config(), reconfigure=True)
            self._check_real_state(real)
        self._initialised = True

    def _init_records(self) -> InitCache | None:
        """Where this session's init is recorded, or None when init always runs.

        Only the environment's own directory: a materialized copy (rollback, promotion) is new each time
        and always runs init. Off with ``RunOptions.reuse_init`` or ``TFKIT_REINIT=1``, and for an engine
        that cannot name its Terraform (``init_identity``).
        """
        if (
            not self._own_directory
            or self._wire_state
            or not self.options.reuse_init
            or os.environ.get("TFKIT_REINIT", "") not in ("", "0")
            or not hasattr(self.engine, "init_identity")
        ):
            return None
        return InitCache(self.environment.project.cache_dir, self.workdir)

    def _init_fingerprint(self) -> str | None:
        """What init depends on here, now (``tfkit.terraform.init_inputs``); None if it cannot be told."""
        identity = getattr(self.engine, "init_identity", None)
        if not isinstance(identity, str):
            return None
        return init_fingerprint(
            self.workdir,
            engine=identity,
            backend_config=self.environment.backend,
            environment=self.pg_state.environment() if self.pg_state is not None else {},
            cache_dir=self.environment.project.cache_dir,
        )

    def _backend_record(self) -> dict[str, Any]:
        """Terraform's record of the initialised backend (``type``, ``config``), or ``{}``."""
        try:
            record = json.loads((self.engine.data_dir / "terraform.tfstate").read_text()).get("backend")
        except (OSError, ValueError, AttributeError):
            return {}
        return record if isinstance(record, dict) else {}

    def _uses_local_state(self) -> bool:
        return bool(self._backend_record().get("type", "local") == "local")

    def _local_backend_config(self) -> dict[str, str]:
        config = dict(self.environment.backend)
        config.pop("path", None)
        return config

    def _check_real_state(self, real: Path) -> None:
        """A materialized configuration runs against the environment's real state file, whatever its
        files say: another override naming another state file would make a rollback run on empty state."""
        used = (self._backend_record().get("config") or {}).get("path")
        if self._backend_record().get("type", "local") != "local" or (
            used and (self.workdir / used).resolve() != real
        ):
            raise SnapshotError(
                f"refusing to run '{self.environment.name}' on a copied configuration: its files point "
                f"Terraform at another state than {real}"
            )

    def _write_backend_override(self) -> Path:
        """Point a materialized configuration at the environment's real local state file (returned)."""
        real = local_state_file(self.environment)
        text = 'terraform {\n  backend "local" {\n    path = ' + json.dumps(str(real)) + "\n  }\n}\n"
        (self.workdir / BACKEND_OVERRIDE).write_text(text)
        return real

    def validate(self) -> ValidateResult:
        """Initialise, then validate."""
        self.init()
        self.on_step("validate")
        return self.engine.validate()

    def plan(self, *, destroy: bool = False, refresh_only: bool = False) -> PlanOutcome:
        """Plan to a saved file in the session's private directory and decode it."""
        self.init()
        self._plans += 1
        plan_file = self.engine.run_dir / f"plan-{self._plans}.tfplan"
        self.on_step("plan")
        result = self.engine.plan(
            out=plan_file,
            var_files=self.var_files,
            destroy=destroy,
            refresh_only=refresh_only,
            lock_timeout=self._terraform_lock_timeout(),
        )
        decoded = load_plan(self.engine.show_plan(plan_file))
        register_plan_secrets(decoded)
        self._learn_set_paths(decoded)
        return PlanOutcome(
            self.environment.name, decoded, plan_file, result.has_changes, result.counts, result.warnings
        )

    def _learn_set_paths(self, plan: Plan) -> None:
        """Keep with the plan which attributes are sets (``plan.derived(SET_PATHS)``), for the review.

        From the providers' schemas, cached per provider versions; only for plans that update or replace
        something. Without them (an engine that cannot tell, a failing command) the review compares sets
        by position, as the plan writes them.
        """
        schemas = getattr(self.engine, "providers_schema", None)
        if schemas is None or not (plan.updates or plan.replacements):
            return
        project = self.environment.project
        try:
            found = cached_set_paths(
                self.workdir, project.cache_dir, schemas, terraform_version=plan.terraform_version or ""
            )
        except (TfkitError, OSError, ValueError):
            return
        plan.derived(SET_PATHS, lambda _plan: found)

    def apply(self, planned: PlanOutcome) -> ApplyResult:
        """Apply exactly the saved plan file of ``planned``."""
        self.on_step("apply")
        return self.engine.apply(planned.plan_file, lock_timeout=self._terraform_lock_timeout())

    def _terraform_lock_timeout(self) -> str | None:
        """``--lock-timeout`` also waits for Terraform's own state lock; with the pg backend at least
        ``[store] terraform_lock_timeout`` (its database-wide creation lock makes unrelated runs meet)."""
        seconds = self.options.lock_timeout
        if self.pg_state is not None:
            seconds = max(seconds, self.pg_state.lock_timeout)
        if not seconds:
            return None
        return f"{int(seconds)}s" if seconds == int(seconds) else f"{int(seconds * 1000)}ms"

    def output(self) -> dict[str, OutputValue]:
        """The environment's outputs (sensitive ones flagged)."""
        self.init()
        self.on_step("output")
        return self.engine.output()

    def modules(self) -> list[Path]:
        """The local modules the configuration uses (known after init)."""
        self.init()
        return local_modules(self.workdir, self.engine.data_dir)

    def state(self) -> dict[str, Any] | None:
        """The current state document (holds secrets: never print it), or None when there is none."""
        self.init()
        raw = self.engine.state_pull().strip()
        document = json.loads(raw) if raw else None
        return document if isinstance(document, dict) else None


# ------------------------------------------------------------------------------------ simple ops


def validate(environment: Environment, *, options: RunOptions | None = None) -> ValidateResult:
    """Validate one environment's configuration."""
    with Session(environment, options) as s:
        return s.validate()


def plan(environment: Environment, *, options: RunOptions | None = None) -> Plan:
    """Plan one environment and return the decoded plan (the plan file is discarded)."""
    with Session(environment, options) as s:
        return s.plan().plan


def preview(
    environment: Environment,
    *,
    options: RunOptions | None = None,
    check_apply: bool = True,
    promotion: bool = True,
) -> PlanPreview:
    """Plan one environment and say whether applying it would be refused, as ``apply`` would decide.

    Reads the store (health, the ledger) without taking the environment's lock; module digests are
    computed only when the plan has changes, since apply checks promotion order only then. Without
    ``check_apply`` (``tfkit plan --no-gate``) the store is not read and no refusal is stated; without
    ``promotion`` (``tfkit plan --all``: the environments are planned as the sequence they are applied
    in, each after the one before) only health is checked.
    """
    options = options or RunOptions()
    project = environment.project
    promotion = promotion and check_apply
    with Session(environment, options) as s:
        planned = s.plan()
        modules = module_digests(s.modules(), project.root) if planned.has_changes and promotion else {}
    if not check_apply:
        return PlanPreview(planned.plan, planned.warnings, ())
    with open_store(project, s.store_settings) as store:  # settings read once: project_id runs git
        refusals = apply_refusals(environment, store, modules, has_changes=planned.has_changes and promotion)
    checked = ("health", "promotion order") if promotion else ("health",)
    return PlanPreview(planned.plan, planned.warnings, refusals, checked)


def apply_refusals(
    environment: Environment, store: Store, modules: Mapping[str, str], *, has_changes: bool
) -> tuple[str, ...]:
    """The one-line refusals ``apply`` would raise, in its order: health, then promotion order (checked
    when ``has_changes``, as apply does).

    Protection refuses ``destroy`` only; for an apply it acts through the gate (TFK001 refuses deletes
    and replacements in a protected environment), whose verdict ``tfkit plan`` shows beside these.
    """
    refusals = [r for r in (_health_refusal(environment, store),) if r is not None]
    if has_changes:
        refusals += [r for r in (promotion_refusal(environment, modules, store.ledger),) if r is not None]
    return tuple(refusals)


def terraform_warnings(diagnostics: Sequence[Diagnostic]) -> tuple[str, ...]:
    """Terraform's warnings as report lines (``terraform: summary: detail``), each once."""
    return tuple(dict.fromkeys(f"terraform: {d.one_line()}" for d in diagnostics if d.severity == "warning"))


def output(environment: Environment, *, options: RunOptions | None = None) -> dict[str, OutputValue]:
    """The outputs of one environment."""
    with Session(environment, options) as s:
        return s.output()


def _confirmed(
    review: Review, auto_approve: bool, confirm: ConfirmCallback | None, options: RunOptions
) -> bool:
    if options.show is not None:
        options.show(review)
    if auto_approve:
        return True
    if confirm is None:
        raise ApplyRefusedError(
            f"{review.operation} of '{review.environment}' needs confirmation and there is no terminal "
            "to ask on; pass --auto-approve to go ahead without asking"
        )
    return confirm(review)


def destroy(
    environment: Environment,
    *,
    auto_approve: bool = False,
    confirm: ConfirmCallback | None = None,
    allow_protected: bool = False,
    options: RunOptions | None = None,
) -> ApplyOutcome:
    """Plan a destroy, confirm it, and apply that plan; protected environments need a flag."""
    options = options or RunOptions()
    if environment.protected and not allow_protected:
        raise ProtectedEnvironmentError(
            f"environment '{environment.name}' is protected; destroying it needs --allow-protected"
        )
    with (
        open_store(environment.project) as store,
        store.locks.hold(environment.name, "destroy", timeout=options.lock_timeout),
        Session(environment, options) as s,
    ):
        _warn_unfinished(environment, store, "destroy")
        planned = s.plan(destroy=True)
        if not planned.has_changes:
            return ApplyOutcome(environment.name, planned.plan, applied=False, converged=True)
        gate_result = _gate(planned, environment, options)
        if gate_result is not None and not gate_result.passed:
            raise _gate_failed(gate_result, environment.name)
        review = Review(environment.name, "destroy", planned.plan, gate_result)
        if not _confirmed(review, auto_approve, confirm, options):
            return ApplyOutcome(environment.name, planned.plan, applied=False, gate=gate_result)
        result = _apply_or_mark_unstable(s, planned, store, "destroy")
        try:
            store.journal.finish(new_health(environment.name, stable=True, reason="destroy succeeded"))
        except StoreError as exc:
            raise _not_recorded(
                environment.name,
                "destroy",
                "was applied",
                exc,
                then="apply it again with --allow-unstable --reason '...' when you want it back",
            ) from exc
        return ApplyOutcome(environment.name, planned.plan, True, result, gate=gate_result)


# ------------------------------------------------------------------------------- gated applies


def _gate(planned: PlanOutcome, environment: Environment, options: RunOptions) -> GateResult | None:
    """The gate's result on the plan about to be applied; without the gate, still refuse a plan
    Terraform itself marks errored or not applyable (``tfkit.plan_findings``): no door applies one."""
    from tfkit import gate

    if not options.gate:
        from tfkit.plan_findings import blocking_state

        hard = [f for f in blocking_state(planned.plan) if f.severity.value == "hard"]
        if hard:
            raise _gate_failed(gate.combine(hard, environment.name), environment.name)
        return None

    environment_name = environment.name
    result = gate.evaluate(planned.plan, environment_name, project=environment.project, today=options.today)
    return result


def _gate_failed(result: GateResult, environment: str) -> GateFailedError:
    failures = result.failures
    first = failures[0].one_line() if failures else (result.errors[0] if result.errors else "")
    count = len(failures) + len(result.errors)
    more = f" (and {count - 1} more)" if count > 1 else ""
    return GateFailedError(
        mask(f"the plan of '{environment}' failed the gate, nothing was applied: {first}{more}"),
        result=result,
    )


def _record(
    session: Session,
    planned: PlanOutcome,
    gate_result: GateResult | None,
    *,
    store: Store,
    kind: str,
    bundle: Mapping[str, bytes],
    modules: Mapping[str, str],
    overrides: Sequence[Override] = (),
    restored_from: str | None = None,
    applied: bool = True,
) -> Snapshot:
    """Record a successful apply (``tfkit.recording``): snapshot, ledger entry, stable health.

    When the store fails after Terraform ``applied``, the error says so: the environment keeps the
    unstable mark written before Terraform started, and a rollback brings it back to a recorded state.
    """
    state = session.state() or {}
    session.on_step("snapshot")
    pause_point("record")
    try:
        return record_success(
            session.environment,
            planned.plan,
            gate_result,
            store=store,
            state=state,
            engine=session.engine.name,
            kind=kind,
            bundle=bundle,
            modules=modules,
            overrides=overrides,
            restored_from=restored_from,
        )
    except StoreError as exc:
        if not applied:
            raise
        raise _not_recorded(session.environment.name, kind, "was applied", exc) from exc


def _not_recorded(name: str, what: str, outcome: str, exc: StoreError, *, then: str = "") -> StoreError:
    """The one-line error of an apply the store could not record (``outcome``: what Terraform did);
    ``then`` is what to do once the store is back (by default, roll back to the last recorded snapshot)."""
    then = then or f"when the store is back, run `tfkit rollback --env {name}`"
    return StoreError(
        f"{what} of '{name}' {outcome} but could not be recorded: {exc.reason}; '{name}' stays marked "
        f"unstable (marked before Terraform started); {then}",
        reason=exc.reason,
    )


def _verify(session: Session) -> tuple[bool, tuple[str, ...], PlanOutcome]:
    """Plan again right after an apply: whether it converged, warnings, and that follow-up plan."""
    session.on_step("verify")
    follow_up = session.plan()
    converged = not follow_up.has_changes
    warnings: tuple[str, ...] = ()
    if not converged:
        warnings = (
            "a plan made right after the apply still has changes: the configuration does not converge",
        )
    return converged, warnings, follow_up


def _apply_or_mark_unstable(session: Session, planned: PlanOutcome, store: Store, what: str) -> ApplyResult:
    """Apply; any failure, interruption or death part-way leaves the environment marked unstable.

    A journal entry (``tfkit.journal``: who, when, the plan's digest, the CI job) and the unstable mark
    are written durably before Terraform starts, so a run that is killed (SIGKILL, a lost CI runner)
    leaves the unfinished apply visible in the store for the next runner; recording the apply clears
    both at once, and a failure that tells more keeps the entry with its reason.
    """
    name = session.environment.name
    store.journal.begin(journal_entry(name, current_holder(what), plan_digest(planned.plan.raw)))
    pause_point("journal")
    try:
        return session.apply(planned)
    except BaseException as exc:
        summary = exc.errors[0].summary if isinstance(exc, TerraformError) and exc.errors else str(exc)
        reason = f"{what} failed: {summary}"
        try:
            store.journal.fail(name, reason)
            store.ledger.set_health(new_health(name, stable=False, reason=reason))
        except StoreError as lost:
            if not isinstance(exc, Exception):  # an interrupt stays one; the mark above is still there
                raise exc from None
            raise _not_recorded(name, what, f"failed part-way ({summary})", lost) from exc
        raise


def _rolled_back(
    environment: Environment, cause: TerraformError, options: RunOptions, store: Store
) -> TfkitError:
    """Roll back after a failed apply; the error to raise says what happened to both."""
    name = environment.name
    try:
        rolled = _rollback_locked(environment, None, True, None, options, store, after_failure=True)
    except TfkitError as failed:
        return ApplyFailedError(
            f"apply of '{name}' failed ({cause}); the rollback failed too: {failed}",
            cause=cause,
            rollback=None,
        )
    after = "is stable again" if rolled.converged is not False else "still has changes after the rollback"
    return ApplyFailedError(
        f"apply of '{name}' failed ({cause}); rolled back to snapshot {rolled.restored}: '{name}' {after}",
        cause=cause,
        rollback=rolled,
    )


def _warn_unfinished(environment: Environment, store: Store, operation: str) -> None:
    """Say that ``operation`` (which may proceed on an unstable environment) replaces an unfinished apply."""
    unfinished = store.journal.settle(environment.name)
    if unfinished is not None:
        warnings.warn(
            f"'{environment.name}' has an unfinished {unfinished.describe()}; this {operation} replaces it",
            UnfinishedApplyWarning,
            stacklevel=4,
        )


def _health_refusal(
    environment: Environment, store: Store, unfinished: JournalEntry | None = None
) -> str | None:
    """Why an unstable environment refuses an apply (one line), naming an unfinished apply found in the
    journal first; ``None`` when it is stable. Reads only (``_check_health`` settles, under the lock)."""
    name = environment.name
    fix = f"run `tfkit rollback --env {name}`, or apply a fix with --allow-unstable --reason '...'"
    unfinished = unfinished or store.journal.pending(name)
    if unfinished is not None:
        return f"environment '{name}' has an unfinished {unfinished.describe()}; it is unstable: {fix}"
    health = store.journal.health(name)
    if health.stable:
        return None
    return f"environment '{name}' is unstable since {health.since} ({health.reason}); {fix}"


def _check_health(environment: Environment, store: Store, allow_unstable: str | None) -> list[Override]:
    """Refuse an unstable environment (exit 4), first naming an unfinished apply found in the journal."""
    unfinished = store.journal.settle(environment.name)
    refusal = _health_refusal(environment, store, unfinished)
    if refusal is None:
        return []
    if not allow_unstable:
        raise UnstableEnvironmentError(refusal)
    if unfinished is not None:
        warnings.warn(
            f"'{environment.name}' has an unfinished {unfinished.describe()}; this apply replaces it "
            "(--allow-unstable)",
            UnfinishedApplyWarning,
            stacklevel=3,
        )
        return []
    if not allow_unstable:
        raise UnstableEnvironmentError(refusal)
    return [Override("allow-unstable", allow_unstable)]


@contextlib.contextmanager
def _materialized(environment: Environment, files: Mapping[str, bytes]) -> Iterator[tuple[Path, Path]]:
    """A private temporary copy of a bundle: yields its root and the environment's directory in it."""
    root = environment.project.root
    with private_temp("work-") as tmp:
        tree = tmp.resolve()
        materialize(files, tree)
        yield tree, tree / environment.directory.relative_to(root)


@dataclass(frozen=True, slots=True)
class _Recording:
    """What a successful apply records: the configuration bundle, module digests, overrides."""

    bundle: Mapping[str, bytes]
    modules: Mapping[str, str]
    overrides: Sequence[Override] = ()


def _gate_confirm_apply(
    session: Session,
    planned: PlanOutcome,
    operation: str,
    *,
    store: Store,
    auto_approve: bool,
    confirm: ConfirmCallback | None,
    options: RunOptions,
    record: _Recording,
    verify: bool = True,
    on_failure: Callable[[TerraformError], TfkitError] | None = None,
) -> ApplyOutcome:
    """The common end of apply and promote: gate, show and confirm, apply, verify, record.

    A failed gate is shown and raised (nothing applied); a failed apply marks the environment
    unstable and raises (``on_failure`` may turn it into another error, e.g. after a rollback).
    """
    name = session.environment.name
    gate_result = _gate(planned, session.environment, options)
    planned_warnings = terraform_warnings(planned.warnings)
    if gate_result is not None and not gate_result.passed:
        if options.show is not None:
            options.show(Review(name, operation, planned.plan, gate_result))
        raise _gate_failed(gate_result, name)
    if not planned.has_changes:
        return ApplyOutcome(
            name, planned.plan, False, converged=True, warnings=planned_warnings, gate=gate_result
        )
    if not _confirmed(Review(name, operation, planned.plan, gate_result), auto_approve, confirm, options):
        return ApplyOutcome(name, planned.plan, applied=False, warnings=planned_warnings, gate=gate_result)
    try:
        result = _apply_or_mark_unstable(session, planned, store, operation)
    except TerraformError as exc:
        if on_failure is None:
            raise
        raise on_failure(exc) from exc
    converged: bool | None = None
    warnings = (*planned_warnings, *terraform_warnings(result.diagnostics))
    follow_up: PlanOutcome | None = None
    if verify:
        converged, verified, follow_up = _verify(session)
        warnings = (*warnings, *verified)
    snapshot = _record(
        session,
        planned,
        gate_result,
        store=store,
        kind=operation,
        bundle=record.bundle,
        modules=record.modules,
        overrides=record.overrides,
    )
    # The follow-up plan goes through the same gate once the apply is recorded: its verdict is news
    # about the next apply, not a reason to leave this one unrecorded.
    follow_up_gate: GateResult | None = None
    if follow_up is not None and gate_result is not None:
        session.on_step("gate")
        follow_up_gate = _gate(follow_up, session.environment, options)
    return ApplyOutcome(
        name,
        planned.plan,
        True,
        result,
        converged,
        tuple(dict.fromkeys(warnings)),
        gate_result,
        snapshot.id,
        follow_up_gate,
    )


def verdict_changed(outcome: ApplyOutcome) -> VerdictChangedError | None:
    """The error to report when the plan after ``outcome``'s apply fails the gate the apply passed."""
    follow_up = outcome.follow_up_gate
    if outcome.verdict_held or follow_up is None:
        return None
    failures = follow_up.failures
    first = failures[0].one_line() if failures else (follow_up.errors[0] if follow_up.errors else "")
    count = len(failures) + len(follow_up.errors)
    more = f" (and {count - 1} more)" if count > 1 else ""
    name = outcome.environment
    return VerdictChangedError(
        mask(
            f"apply of '{name}' is complete and recorded (snapshot {outcome.snapshot}), but the plan right "
            f"after it fails the gate the apply passed: {' '.join(first.split())}{more}; the next apply of "
            f"'{name}' will be refused until this is fixed"
        ),
        result=follow_up,
    )


def apply(
    environment: Environment,
    *,
    auto_approve: bool = False,
    confirm: ConfirmCallback | None = None,
    verify: bool = True,
    rollback_on_failure: bool = False,
    allow_unstable: str | None = None,
    skip_promotion_check: str | None = None,
    options: RunOptions | None = None,
) -> ApplyOutcome:
    """Plan, gate, confirm, apply that same plan file, verify, and record a snapshot.

    ``allow_unstable`` and ``skip_promotion_check`` are reasons: giving one overrides that rule and
    is recorded in the ledger. With ``rollback_on_failure`` a failed apply rolls back to the last
    snapshot at once (under the same lock).
    """
    options = options or RunOptions()
    project = environment.project
    encryption_key(project)  # a bad key is a config error now, not after Terraform has applied
    signing_key()
    with (
        open_store(project) as store,
        store.locks.hold(environment.name, "apply", timeout=options.lock_timeout),
    ):
        ledger = store.ledger
        overrides = _check_health(environment, store, allow_unstable)
        with Session(environment, options) as s:
            planned = s.plan()
            module_dirs = s.modules()
            # What is planned is what gets recorded: the bundle is read once, before anything applies.
            bundle = environment_files(environment.directory, module_dirs, project.root)
            modules = module_digests(module_dirs, project.root)
            if skip_promotion_check:
                overrides.append(Override("skip-promotion-check", skip_promotion_check))
            elif planned.has_changes:
                check_promotion(environment, modules, ledger)
            failure = (
                (lambda exc: _rolled_back(environment, exc, options, store)) if rollback_on_failure else None
            )
            return _gate_confirm_apply(
                s,
                planned,
                "apply",
                store=store,
                auto_approve=auto_approve,
                confirm=confirm,
                options=options,
                record=_Recording(bundle, modules, overrides),
                verify=verify,
                on_failure=failure,
            )


# ------------------------------------------------------------------------------------ rollback


def recorded_snapshot(environment: Environment, store: Store, to: str | None = None) -> Snapshot:
    """The snapshot to restore: ``to``, else the one of ``environment``'s newest ledger entry, once it
    is checked against the ledger and holds only a configuration (``tfkit.integrity``).

    The newest is the newest *recorded*: a snapshot without a ledger entry was never an apply. A newest
    snapshot that cannot be read stops here with one line naming it, rather than an older one being used.
    """
    name = environment.name
    entries = store.ledger.entries(name)
    if to is None:
        if not entries:
            raise SnapshotError(
                f"no snapshot of '{name}' to roll back to; tfkit writes one after each successful apply"
            )
        to = entries[-1].snapshot
        try:
            snapshot = store.snapshots.get(to)
        except SnapshotError as exc:
            raise SnapshotError(
                f"the newest snapshot of '{name}', {to}, cannot be used ({exc}); pick another with --to ID "
                f"(see `tfkit snapshots list --env {name}`)"
            ) from None
    else:
        snapshot = store.snapshots.get(to)
    check_recorded(snapshot, name, entries, signing_key())
    check_contents(snapshot, environment.directory.relative_to(environment.project.root).as_posix())
    return snapshot


@contextlib.contextmanager
def snapshot_session(environment: Environment, snapshot: Snapshot, options: RunOptions) -> Iterator[Session]:
    """A session on the snapshot's configuration and inputs, wired to the environment's real state.

    The bundle is materialized in a private temporary directory, the snapshot's non-sensitive
    variable values are passed as the last var file (sensitive ones are read again from their
    sources), and the state's lineage must be the snapshot's. Rollback and drift both plan here.
    """
    with _materialized(environment, snapshot.bundle()) as (_, workdir):
        values_file = workdir.parent / SNAPSHOT_VARS
        values_file.write_text(snapshot.read("variables.json").decode())
        var_files = [workdir / p.relative_to(environment.directory) for p in environment.var_files]
        with Session(
            environment,
            options,
            workdir=workdir,
            var_files=[*var_files, values_file],
            state_of_environment=True,
        ) as session:
            state = session.state() or {}
            lineage = snapshot.manifest.lineage
            if lineage and state.get("lineage") and state["lineage"] != lineage:
                raise LineageMismatchError(
                    f"refusing to use snapshot {snapshot.id} on '{environment.name}': its state has lineage "
                    f"{state['lineage']}, the snapshot was taken from {lineage} (a different state)"
                )
            yield session


def _rollback_locked(
    environment: Environment,
    to: str | None,
    auto_approve: bool,
    confirm: ConfirmCallback | None,
    options: RunOptions,
    store: Store,
    *,
    after_failure: bool = False,
) -> RollbackOutcome:
    """Rollback under the environment's lock; ``after_failure``: the apply that just failed is replaced
    (``--rollback-on-failure``), so its unfinished entry is not warned about."""
    encryption_key(environment.project)
    signing_key()
    if not after_failure:
        _warn_unfinished(environment, store, "rollback")
    snapshot = recorded_snapshot(environment, store, to)
    with snapshot_session(environment, snapshot, options) as s:
        planned = s.plan()
        recorded = load_plan(snapshot.read("plan.json"))
        differences = load_plan(recorded_plan(planned.plan)).compare_planned_values(recorded)
        gate_result = _gate(planned, environment, options)
        if gate_result is not None and not gate_result.passed:
            raise _gate_failed(gate_result, environment.name)
        review = Review(environment.name, "rollback", planned.plan, gate_result, differences, snapshot.id)
        applied = False
        converged: bool | None = True
        if planned.has_changes:
            if not _confirmed(review, auto_approve, confirm, options):
                return RollbackOutcome(
                    environment.name, snapshot.id, None, planned.plan, differences, False, None
                )
            _apply_or_mark_unstable(s, planned, store, "rollback")
            applied = True
            converged, _, _ = _verify(s)
        elif options.show is not None:
            options.show(review)
        new = _record(
            s,
            planned,
            gate_result,
            store=store,
            kind="rollback",
            bundle=snapshot.bundle(),
            modules=snapshot.manifest.modules,
            restored_from=snapshot.id,
            applied=applied,
        )
    return RollbackOutcome(
        environment.name, snapshot.id, new.id, planned.plan, differences, applied, converged
    )


def rollback(
    environment: Environment,
    *,
    to: str | None = None,
    auto_approve: bool = False,
    confirm: ConfirmCallback | None = None,
    options: RunOptions | None = None,
) -> RollbackOutcome:
    """Re-apply the last passing snapshot (or ``to``) through the same gate, and verify it.

    The snapshot's configuration bundle and non-sensitive variables are planned against the
    environment's current state (sensitive values are read again from their sources), so the
    infrastructure, not only the state file, returns to the recorded good configuration.
    """
    options = options or RunOptions()
    with (
        open_store(environment.project) as store,
        store.locks.hold(environment.name, "rollback", timeout=options.lock_timeout),
    ):
        return _rollback_locked(environment, to, auto_approve, confirm, options, store)


# ----------------------------------------------------------------------------------- promotion


def promote(
    environment: Environment,
    *,
    auto_approve: bool = False,
    confirm: ConfirmCallback | None = None,
    options: RunOptions | None = None,
) -> ApplyOutcome:
    """Apply ``environment`` with its shared modules exactly as the previous one last applied them."""
    options = options or RunOptions()
    previous = environment.previous
    if previous is None:
        raise RefusedError(f"'{environment.name}' is the first environment; there is nothing to promote from")
    project = environment.project
    encryption_key(project)
    with open_store(project) as store:
        return _promote(environment, previous, store, auto_approve, confirm, options)


def _promote(
    environment: Environment,
    previous: Environment,
    store: Store,
    auto_approve: bool,
    confirm: ConfirmCallback | None,
    options: RunOptions,
) -> ApplyOutcome:
    project = environment.project
    ledger = store.ledger
    if not ledger.entries(previous.name):
        raise SnapshotError(
            f"'{previous.name}' has no snapshot to promote from; apply '{previous.name}' first"
        )
    source = recorded_snapshot(previous, store)
    with store.locks.hold(environment.name, "promote", timeout=options.lock_timeout):
        overrides = _check_health(environment, store, None)
        with Session(environment, options) as probe:
            own_modules = probe.modules()
        source_bundle = source.bundle()
        files = environment_files(environment.directory, own_modules, project.root)
        for module in own_modules:
            rel = module.relative_to(project.root).as_posix()
            if rel in source.manifest.modules:
                files = {k: v for k, v in files.items() if not k.startswith(f"{rel}/")}
                files.update({k: v for k, v in source_bundle.items() if k.startswith(f"{rel}/")})
        with _materialized(environment, files) as (tree, workdir):
            var_files = [workdir / p.relative_to(environment.directory) for p in environment.var_files]
            with Session(
                environment, options, workdir=workdir, var_files=var_files, state_of_environment=True
            ) as s:
                planned = s.plan()
                module_dirs = s.modules()
                modules = module_digests(module_dirs, tree)
                check_promotion(environment, modules, ledger)
                return _gate_confirm_apply(
                    s,
                    planned,
                    "promote",
                    store=store,
                    auto_approve=auto_approve,
                    confirm=confirm,
                    options=options,
                    record=_Recording(files, modules, overrides),
                )


# ------------------------------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class EnvironmentStatus:
    """One row of ``tfkit status``."""

    environment: str
    health: str
    health_reason: str
    last_apply: str | None
    last_kind: str | None
    snapshot: str | None
    behind: tuple[str, ...] = field(default_factory=tuple)
    #: The unfinished operation found in the journal (``JournalEntry.describe()``), or None.
    unfinished: str | None = None


def status(project: Project) -> list[EnvironmentStatus]:
    """Each environment: last apply, its snapshot, health, modules it is behind the previous on, and an
    unfinished apply (what, when, by whom) when the journal has one."""
    with open_store(project) as store:
        return _status(project, store)


def _status(project: Project, store: Store) -> list[EnvironmentStatus]:
    ledger = store.ledger
    rows = []
    for environment in project.environments:
        last = ledger.last(environment.name)
        health = store.journal.health(environment.name)
        unfinished = store.journal.pending(environment.name)
        behind: tuple[str, ...] = ()
        previous = environment.previous
        if previous is not None:
            before = ledger.last(previous.name)
            if before is not None:
                mine = last.modules if last else {}
                behind = (
                    tuple(m for m, d in sorted(before.modules.items()) if m in mine and mine[m] != d)
                    if last
                    else tuple(sorted(before.modules))
                )
        rows.append(
            EnvironmentStatus(
                environment.name,
                "unstable" if unfinished else health.status,
                health.reason,
                last.time if last else None,
                last.kind if last else None,
                last.snapshot if last else None,
                behind,
                unfinished.describe() if unfinished else None,
            )
        )
    return rows
