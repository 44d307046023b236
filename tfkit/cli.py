"""The ``tfkit`` command: parses options, calls ``tfkit.workflow``, renders results.

User errors are one line on stderr with the documented exit code (see ``EXIT_CODES``); ``--debug``
shows the traceback. Everything printed passes through ``tfkit.redact.mask``.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from tfkit import __version__
from tfkit.errors import TfkitError
from tfkit.redact import MASK, mask

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Environment, Project
    from tfkit.workflow import RunOptions

__all__ = ["EXIT_CODES", "cli", "main"]

#: The exit codes of every tfkit command (documented in DESIGN.md and the docs).
EXIT_CODES: dict[int, str] = {
    0: "success (for plan: the plan passed the gate)",
    1: "the gate failed, or Terraform failed",
    2: "usage or configuration error (bad flag, unknown environment, invalid tfkit.toml, malformed input)",
    3: "a lock is held by another run",
    4: "refused by promotion order, environment health or protection",
    130: "interrupted (Ctrl-C); Terraform was stopped gracefully",
}


class _State:
    """Options shared by every subcommand."""

    def __init__(self, root: Path | None, engine: str | None, binary: str | None, debug: bool) -> None:
        self.root = root
        self.engine = engine
        self.binary = binary
        self.debug = debug
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        from tfkit.project import Project

        if self._project is None:
            self._project = Project.load(self.root)
        return self._project

    def options(self, label: str = "") -> RunOptions:
        from tfkit.workflow import RunOptions

        return RunOptions(engine=self.engine, binary=self.binary, on_step=_progress(label))


def _err(text: str) -> None:
    click.echo(mask(text), err=True)


def _out(text: str) -> None:
    click.echo(mask(text))


def _progress(label: str) -> Callable[[str], None]:
    """A step reporter: one dim line per step on stderr (a terminal or a CI log alike)."""

    def report(step: str) -> None:
        prefix = f"{label}: " if label else ""
        click.secho(f"tfkit: {prefix}{step}...", err=True, dim=True)

    return report


pass_state = click.make_pass_decorator(_State)


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
    ctx.obj = _State(root, engine, binary, debug)


def _env_option(required: bool = True) -> Callable[[Any], Any]:
    return click.option(
        "--env", "-e", "env_name", required=required, help="Environment name (see `tfkit envs`)."
    )


@cli.command()
@pass_state
def envs(state: _State) -> None:
    """List the environments in promotion order."""
    for env in state.project.environments:
        flags = " (protected)" if env.protected else ""
        rel = (
            env.directory.relative_to(state.project.root)
            if env.directory.is_relative_to(state.project.root)
            else env.directory
        )
        _out(f"{env.index + 1}. {env.name}{flags}  {rel}")


def _selected(state: _State, env_name: str | None, all_envs: bool) -> list[Environment]:
    if all_envs and env_name:
        raise click.UsageError("use either --env or --all, not both")
    if all_envs:
        return list(state.project.environments)
    if not env_name:
        raise click.UsageError("name an environment with --env, or pass --all")
    return [state.project.environment(env_name)]


@cli.command()
@_env_option(required=False)
@click.option("--all", "all_envs", is_flag=True, help="Validate every environment.")
@pass_state
def validate(state: _State, env_name: str | None, all_envs: bool) -> None:
    """Check that an environment's configuration is valid."""
    from tfkit import workflow

    for env in _selected(state, env_name, all_envs):
        result = workflow.validate(env, options=state.options(env.name))
        for warning in result.warnings:
            _err(f"warning: {env.name}: {warning.one_line()}")
        _out(f"{env.name}: valid")


def _render(plan: Plan) -> str:
    from tfkit.report.plan import render_text

    return render_text(plan)


@cli.command()
@_env_option()
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the plan JSON (sensitive values redacted) to this file.",
)
@pass_state
def plan(state: _State, env_name: str, out_file: Path | None) -> None:
    """Plan an environment and show what would change."""
    from tfkit import workflow

    env = state.project.environment(env_name)
    decoded = workflow.plan(env, options=state.options(env.name))
    _out(_render(decoded))
    if out_file is not None:
        from tfkit.fsutil import atomic_write

        atomic_write(out_file, decoded.redacted())
        _err(f"tfkit: wrote the redacted plan JSON to {out_file}")


def _ask(what: str) -> Callable[[Plan], bool] | None:
    """A terminal confirmation, or None when stdin is not a terminal (the caller then refuses)."""
    if not sys.stdin.isatty():
        return None

    def confirm(decoded: Plan) -> bool:
        _out(_render(decoded))
        return click.confirm(f"Do you want to {what} these changes?", default=False)

    return confirm


@cli.command()
@_env_option()
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@pass_state
def apply(state: _State, env_name: str, auto_approve: bool) -> None:
    """Plan an environment, confirm, and apply exactly that plan."""
    from tfkit import workflow

    env = state.project.environment(env_name)
    outcome = workflow.apply(
        env, auto_approve=auto_approve, confirm=_ask("apply"), options=state.options(env.name)
    )
    if auto_approve:
        _out(_render(outcome.plan))
    if not outcome.applied:
        _out(
            f"{env.name}: no changes; nothing to apply"
            if outcome.converged
            else f"{env.name}: apply cancelled"
        )
        return
    counts = outcome.result.counts if outcome.result else None
    done = f"{counts.add} added, {counts.change} changed, {counts.remove} destroyed" if counts else "done"
    _out(f"{env.name}: apply complete: {done}")
    for warning in outcome.warnings:
        _err(f"warning: {env.name}: {warning}")


@cli.command()
@_env_option()
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as JSON (sensitive values masked).")
@click.option("--show-sensitive", is_flag=True, help="Print sensitive values in the clear.")
@pass_state
def output(state: _State, env_name: str, as_json: bool, show_sensitive: bool) -> None:
    """Show an environment's outputs; sensitive values are masked unless asked for."""
    from tfkit import workflow

    env = state.project.environment(env_name)
    values = workflow.output(env, options=state.options(env.name))

    def shown(o: Any) -> Any:
        return MASK if o.sensitive and not show_sensitive else o.value

    if as_json:
        doc = {n: {"value": shown(o), "sensitive": o.sensitive} for n, o in values.items()}
        text = json.dumps(doc, indent=2, sort_keys=True)
        click.echo(text if show_sensitive else mask(text))
        return
    for name, o in values.items():
        value = shown(o)
        rendered = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        line = f"{name} = {rendered}"
        click.echo(line if show_sensitive else mask(line))


@cli.command()
@_env_option()
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for confirmation.")
@click.option("--allow-protected", is_flag=True, help="Allow destroying a protected environment.")
@pass_state
def destroy(state: _State, env_name: str, auto_approve: bool, allow_protected: bool) -> None:
    """Destroy every resource of an environment (protected environments need --allow-protected)."""
    from tfkit import workflow

    env = state.project.environment(env_name)
    outcome = workflow.destroy(
        env,
        auto_approve=auto_approve,
        confirm=_ask("destroy"),
        allow_protected=allow_protected,
        options=state.options(env.name),
    )
    if not outcome.applied:
        _out(f"{env.name}: nothing to destroy" if outcome.converged else f"{env.name}: destroy cancelled")
        return
    counts = outcome.result.counts if outcome.result else None
    _out(f"{env.name}: destroy complete: {counts.remove if counts else '?'} destroyed")


@cli.command()
@click.argument("plan_json", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
@click.option("--markdown", is_flag=True, help="Print Markdown for a pull-request comment.")
@click.option(
    "--validate", "check_schema", is_flag=True, help="Also validate the file against the plan JSON Schema."
)
def show(plan_json: Path, as_json: bool, markdown: bool, check_schema: bool) -> None:
    """Summarise a plan JSON file (from `terraform show -json`)."""
    from tfkit.errors import PlanError
    from tfkit.plan import load_plan, validate_plan_schema
    from tfkit.report.plan import render_markdown, summary_json

    try:
        data = plan_json.read_bytes()
    except OSError as exc:
        raise PlanError(f"{plan_json}: cannot read: {exc.strerror or exc}") from None
    decoded = load_plan(data)
    if check_schema:
        problems = validate_plan_schema(data)
        if problems:
            raise PlanError(f"{plan_json}: not valid plan JSON: {problems[0]} ({len(problems)} problem(s))")
    if as_json:
        _out(json.dumps(summary_json(decoded), indent=2, sort_keys=True))
    elif markdown:
        _out(render_markdown(decoded))
    else:
        _out(_render(decoded))


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    try:
        yield
    except TfkitError as exc:
        if debug:
            _err(traceback.format_exc())
        _err(f"error: {exc}")
        _exit(exc.exit_code)
    except click.exceptions.Abort:
        _err("aborted")
        _exit(130)
    except KeyboardInterrupt:
        _err("interrupted")
        _exit(130)


def _exit(code: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    with _errors(debug):
        try:
            cli.main(args=args, prog_name="tfkit", standalone_mode=False)
        except (TfkitError, KeyboardInterrupt, click.exceptions.Abort):
            raise
        except click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "tfkit"
            _err(f"error: {exc.format_message()} (see `{where} --help`)")
            _exit(2)
        except click.exceptions.ClickException as exc:
            _err(f"error: {exc.format_message()}")
            _exit(exc.exit_code)
        except Exception as exc:
            if debug:
                raise
            _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            _exit(1)
