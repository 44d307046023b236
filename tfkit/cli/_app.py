"""The ``tfkit`` command group, its shared options, output helpers and error handling.

User errors are one line on stderr with the documented exit code (see ``EXIT_CODES``); ``--debug``
shows the traceback. Everything printed passes through ``tfkit.redact.mask``. Subcommands live in
the sibling modules, one topic each, and register themselves on ``cli``.
"""

from __future__ import annotations

import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from tfkit._version import __version__
from tfkit.errors import ConfigError, TfkitError
from tfkit.redact import mask

if TYPE_CHECKING:
    from tfkit.gate import GateResult
    from tfkit.plan import Plan
    from tfkit.project import Project
    from tfkit.workflow import Review, RunOptions

__all__ = [
    "EXIT_CODES",
    "State",
    "ask",
    "cli",
    "console_main",
    "env_option",
    "err",
    "jobs_option",
    "lock_timeout_option",
    "main",
    "out",
    "pass_state",
    "render_gate",
    "render_plan",
    "show_review",
]

#: The exit codes of every tfkit command (documented in DESIGN.md and the docs).
EXIT_CODES: dict[int, str] = {
    0: "success (for plan: the plan passed the gate and its apply would not be refused)",
    1: "the gate failed, or Terraform failed; for apply and promote also: the apply is done and recorded, "
    "but the plan right after it fails the gate the apply passed (VerdictChangedError)",
    2: "usage or configuration error (bad flag, unknown environment, invalid tfkit.toml, malformed input)",
    3: "a lock is held by another run",
    4: "refused by promotion order, environment health or protection (for plan: its apply would be refused)",
    5: "the shared store (PostgreSQL) cannot be reached or used; nothing was recorded half-way",
    130: "interrupted (Ctrl-C); Terraform was stopped gracefully",
}


class State:
    """Options shared by every subcommand."""

    def __init__(self, root: Path | None, engine: str | None, binary: str | None, debug: bool) -> None:
        self.root = root
        self.engine = engine
        self.binary = binary
        self.debug = debug
        self._project: Project | None = None

    @property
    def loaded_project(self) -> Project | None:
        """The repository if this command has loaded it already (never loads it)."""
        return self._project

    @property
    def project(self) -> Project:
        from tfkit.project import Project

        if self._project is None:
            self._project = Project.load(self.root)
        return self._project

    def optional_project(self, *, needed: bool = False) -> Project | None:
        """The repository, or ``None`` when there is none: no ``--root`` and no tfkit.toml here or above.

        Commands that also work on a bare plan file (``check``, ``scan``, ``policies``) use this. A tfkit.toml
        that exists but is invalid is always an error: treating it as "no repository" would run the gate
        without the repository's policies.
        """
        from tfkit.project import find_root

        if self.root is None and not needed:
            try:
                find_root()
            except ConfigError:
                return None
        return self.project

    def options(
        self,
        label: str = "",
        *,
        show: Callable[[Review], None] | None = None,
        lock_timeout: str | None = None,
    ) -> RunOptions:
        """Run options for one environment: engine overrides, progress lines, review display."""
        from tfkit.locks import parse_timeout
        from tfkit.workflow import RunOptions

        try:
            timeout = parse_timeout(lock_timeout)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--lock-timeout") from None
        return RunOptions(
            engine=self.engine, binary=self.binary, on_step=_progress(label), show=show, lock_timeout=timeout
        )


def err(text: str) -> None:
    click.echo(mask(text), err=True)


def out(text: str) -> None:
    click.echo(mask(text))


def _progress(label: str) -> Callable[[str], None]:
    """A step reporter: one dim line per step on stderr (a terminal or a CI log alike)."""

    def report(step: str) -> None:
        prefix = f"{label}: " if label else ""
        click.secho(f"tfkit: {prefix}{step}...", err=True, dim=True)

    return report


pass_state = click.make_pass_decorator(State)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfkit")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    help="Repository root (default: search upwards).",
)
@click.option(
    "--engine", type=click.Choice(["embedded", "binary"]), help="Terraform engine (overrides tfkit.toml)."
)
@click.option("--binary", help="Terraform binary for the binary engine: terraform, tofu, or a path.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, engine: str | None, binary: str | None, debug: bool) -> None:
    """tfkit: run an infrastructure repository safely."""
    ctx.obj = State(root, engine, binary, debug)


def env_option(required: bool = True) -> Callable[[Any], Any]:
    return click.option(
        "--env", "-e", "env_name", required=required, help="Environment name (see `tfkit envs`)."
    )


def jobs_option() -> Callable[[Any], Any]:
    """``--jobs/-j``: how many environments an ``--all`` run works on at once."""
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=2,
        show_default=True,
        help="With --all: how many environments run at once, each in its own worker process.",
    )


def render_plan(plan: Plan, *, values: bool = True) -> str:
    """The compact text rendering of a plan; ``values=False`` lists changed paths without values."""
    from tfkit.report.text import render_plan_text

    return render_plan_text(plan, values=values)


def render_gate(result: GateResult) -> str:
    """The gate's findings grouped by severity, one greppable line each."""
    from tfkit.report.text import render_gate_text

    return render_gate_text(result)


def show_review(review: Review) -> None:
    """Print what is about to be applied: the plan, the gate's verdict, a rollback's differences.

    A rollback's plan gets a heading (after a failed apply it is the second plan on the screen), and its
    comparison speaks of what the environment looks like afterwards: the planned values, not the changes.
    """
    if review.operation == "rollback":
        out(f"Rollback plan for '{review.environment}' (restoring snapshot {review.snapshot}):")
    out(render_plan(review.plan))
    if review.differences is not None:
        recorded = f"the recorded good plan of snapshot {review.snapshot}"
        if review.differences:
            out(f"After this plan, these resources differ from {recorded}:")
            for difference in review.differences:
                out(f"  {difference.one_line()}")
        elif review.plan.has_changes:
            out(f"After this plan, the resources match {recorded}; the changes above get them there.")
        else:
            out(f"No changes: the resources already match {recorded}.")
    if review.gate is not None:
        out(render_gate(review.gate))


def lock_timeout_option() -> Callable[[Any], Any]:
    """``--lock-timeout``: how long to wait for another run's lock (default: fail at once)."""
    return click.option(
        "--lock-timeout", default=None, help="Wait this long for a held lock (e.g. 30s, 5m; at most 24h)."
    )


def ask(what: str) -> Callable[[Review], bool] | None:
    """A terminal confirmation, or None when stdin is not a terminal (the operation then refuses)."""
    if not sys.stdin.isatty():
        return None

    def confirm(review: Review) -> bool:
        return click.confirm(f"Do you want to {what} these changes to '{review.environment}'?", default=False)

    return confirm


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    try:
        yield
    except TfkitError as exc:
        if debug:
            err(traceback.format_exc())
        err(f"error: {exc}")
        _exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        # click turns a Ctrl-C outside Terraform (while planning, gating, asking) into Abort.
        err("error: interrupted; any running Terraform command was stopped gracefully")
        _exit(130)


def _exit(code: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(code)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    *args: object,
    **kwargs: object,
) -> None:
    """Warnings (a stale lock taken over, a newer plan format) as one masked line each."""
    err(f"warning: {message}")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def console_main() -> NoReturn:
    """The ``tfkit`` command and ``python -m tfkit``: ``main()``, then leave without Python's teardown.

    ``tfkit.fastexit.leave`` runs the exit handlers and flushes the streams as a normal exit does, with
    the same status; only the freeing of every module and object (40-120 ms) is skipped.
    """
    from tfkit.fastexit import leave

    code: str | int | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    leave(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point (in-process callers, tests): errors become a ``SystemExit`` with the exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    if not debug:
        warnings.showwarning = _show_warning
    # CI cancels a job with SIGTERM: stop Terraform gracefully and clean up as for Ctrl-C.
    signal.signal(signal.SIGTERM, _terminate)
    with _errors(debug):
        try:
            cli.main(args=args, prog_name="tfkit", standalone_mode=False)
        except (TfkitError, KeyboardInterrupt, click.exceptions.Abort):
            raise
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "tfkit"
            err(f"error: {exc.format_message()} (see `{where} --help`)")
            _exit(2)
        except click.exceptions.ClickException as exc:
            err(f"error: {exc.format_message()}")
            _exit(exc.exit_code)
        except Exception as exc:
            if debug:
                raise
            err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            _exit(1)
