"""Plans for tests: made in a temporary copy of the repository, cached by inputs, recorded or replayed.

``Planner.plan("staging", vars={...})`` copies what the environment needs (tfkit.toml, the environment's
directory, every local module it reaches, secret files, the repository's policies) into a private
directory once, writes ``vars`` to an extra var file there (it comes last, so it wins over the
environment's own var files), and plans with the real engine. The repository itself is never written to,
and the copy carries no local state it did not create: state files, Terraform's working directories and
tfkit's own data (left by ``make demo`` or a local apply) are not copied, so every plan starts from the
configuration alone, as in a fresh clone.

State: a test never takes an environment's state lock and never writes its state. By default it plans from
empty state (``state="empty"``): a backend block is replaced in the copy by a local one (an override file), so
the verdict is the same before and after an apply. ``state="copy"`` plans against a read-only copy of the
environment's state instead: its local state file, or what ``terraform state pull`` (which takes no lock)
reads from its backend or from the PostgreSQL store, written into the copy beside the local override.

Modules: ``Planner.plan_module(path, inputs)`` plans one module called from a generated root module with no
backend (``plan_module``), ``path`` relative to the repository root, so a test of a module's inputs reaches
every input whatever directory pytest runs from.

Record/replay: with ``mode="record"`` every plan's redacted JSON is also saved to ``fixtures_dir`` under a
key of the environment, the inputs and a digest of the configuration; with ``mode="replay"`` plans are read
from there and Terraform never runs (a missing or stale recording is a one-line error). Sensitive values are
redacted in recordings, so they can be committed. Inside a Hypothesis example, inputs with no recording
are rejected (``hypothesis.reject``) instead: Hypothesis, even derandomized, does not promise the same
examples in a slow recording run and a fast replay (measured: the third example differed), so a replay
checks the recorded examples it draws again, and Hypothesis says so if it finds too few.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.bundle import files_digest, ignore_local_data, is_local_data
from tfkit.errors import ReplayError, TfkitError
from tfkit.fsutil import atomic_write

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Environment, Project

__all__ = ["Planner", "module_root", "plan_module"]

MODES = ("record", "replay")
STATES = ("empty", "copy")
#: The override file that puts a copied environment on local state (Terraform merges ``*_override.tf``).
TEST_BACKEND_OVERRIDE = "tfkit_test_backend_override.tf"
TEST_STATE = "tfkit-test.tfstate"


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _config_files(project: Project, environment: Environment) -> list[Path]:
    """The configuration files of the environment's directory and of every local module it reaches."""
    from tfkit.hcl import module_graph

    graph = module_graph(environment.directory)
    files: list[Path] = []
    for directory in graph.modules:
        files.extend(p for p in sorted(directory.iterdir()) if p.is_file() and not is_local_data(p.name))
    return files


class Planner:
    """Plans environments of ``project`` in copies under ``workdir``; one cache per planner."""

    def __init__(
        self,
        project: Project,
        workdir: Path,
        *,
        engine: str | None = None,
        mode: str | None = None,
        fixtures_dir: Path | None = None,
        state: str = "empty",
    ) -> None:
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        if mode is not None and mode not in MODES:
            raise ValueError(f"replay mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode is not None and fixtures_dir is None:
            raise ValueError("record/replay needs a fixtures directory")
        self.project = project
        self.workdir = Path(workdir)
        self.engine = engine
        self.mode = mode
        self.fixtures_dir = fixtures_dir
        self.state = state
        self._prepared: set[str] = set()
        self._copy: Project | None = None
        self._cache: dict[str, Plan] = {}

    # ---- the private copy

    def copy(self) -> Project:
        """The private copy of the repository (made on first use)."""
        if self._copy is None:
            self._copy = self._make_copy()
        return self._copy

    def _make_copy(self) -> Project:
        from tfkit.hcl import module_graph
        from tfkit.project import Project

        root = self.project.root
        dest = self.workdir / "repo"
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.project.config.path, dest / self.project.config.path.name)
        directories: set[Path] = set()
        for env in self.project.environments:
            if env.directory.is_dir():
                directories.update(module_graph(env.directory).modules)
        for entry in self.project.config.policies.paths:
            if (root / entry).is_dir():
                directories.add((root / entry).resolve())
        for directory in sorted(directories):
            if not directory.is_relative_to(root):
                raise TfkitError(
                    f"{directory} is outside the repository {root}; tfkit_plan cannot copy it for a test"
                )
            shutil.copytree(
                directory, dest / directory.relative_to(root), ignore=ignore_local_data, dirs_exist_ok=True
            )
        sources = [*self.project.config.secrets.values()]
        for env in self.project.environments:
            sources.extend(env.secrets.values())
        for source in sources:
            if source.file and not Path(source.file).expanduser().is_absolute():
                src = root / source.file
                if src.is_file():
                    (dest / source.file).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    shutil.copy2(src, dest / source.file)
        return Project.load(dest)

    # ---- planning

    def key(self, env_name: str, vars: Mapping[str, Any] | None) -> str:
        """The cache and recording key: environment, inputs, and a digest of the configuration's files."""
        environment = self.project.environment(env_name)
        files = _config_files(self.project, environment) + list(environment.var_files)
        content = files_digest({f.relative_to(self.project.root).as_posix(): f.read_bytes() for f in files})
        parts: list[Any] = [env_name, dict(vars or {}), content]
        if self.state == "copy":
            parts.append("state-copy")
        return _digest(parts)[:16]

    def recording(self, env_name: str, key: str) -> Path:
        """Where the plan of ``env_name`` with ``key`` is recorded."""
        assert self.fixtures_dir is not None
        return self.fixtures_dir / f"{env_name}-{key}.json"

    def plan(self, env_name: str, vars: Mapping[str, Any] | None = None) -> Plan:
        """The plan of ``env_name`` with extra variable values ``vars`` (cached per inputs)."""
        from tfkit.plan import load_plan

        key = self.key(env_name, vars)
        if key in self._cache:
            return self._cache[key]
        if self.mode == "replay":
            path = self.recording(env_name, key)
            if not path.is_file():
                _not_recorded()
                raise ReplayError(
                    f"no recorded plan for {env_name} with these inputs at {path}; "
                    "run the tests once with --tfkit-replay record"
                )
            plan = load_plan(path)
        else:
            plan = self._plan_for_real(env_name, vars)
            if self.mode == "record":
                from tfkit.recording import recorded_plan  # what a snapshot stores: one writer form

                atomic_write(self.recording(env_name, key), recorded_plan(plan))
        self._cache[key] = plan
        return plan

    def _plan_for_real(self, env_name: str, vars: Mapping[str, Any] | None) -> Plan:
        from tfkit.workflow import RunOptions, Session

        environment = self._on_local_state(self.copy().environment(env_name))
        var_files = environment.var_files
        if vars:
            extra = environment.directory / f"zz-tfkit-test-{_digest(dict(vars))[:12]}.tfvars.json"
            atomic_write(extra, json.dumps(dict(vars), sort_keys=True), mode=0o600)
            var_files = (*var_files, extra)
        # A test plans the configuration, never the real state a PostgreSQL store may hold.
        options = RunOptions(engine=self.engine, store_state=False)
        with Session(environment, options, var_files=var_files) as session:
            return session.plan().plan

    # ---- state

    def _on_local_state(self, environment: Environment) -> Environment:
        """Put the copied ``environment`` on local state in the copy: empty, or a copy of the real state."""
        import dataclasses

        from tfkit.hcl import load_module

        has_backend = bool(load_module(environment.directory).backends)
        # Beside a backend block, the copy's local state has a name of its own: a terraform.tfstate there
        # would read as state left behind by a backend change (tfkit.backend_change refuses that).
        state_file = TEST_STATE if has_backend else "terraform.tfstate"
        if environment.name not in self._prepared:
            if self.state == "copy":
                data = self._real_state(self.project.environment(environment.name), environment.directory)
                if data:
                    atomic_write(environment.directory / state_file, data, mode=0o600)
            if has_backend:
                text = f'terraform {{\n  backend "local" {{\n    path = "{state_file}"\n  }}\n}}\n'
                atomic_write(environment.directory / TEST_BACKEND_OVERRIDE, text)
            self._prepared.add(environment.name)
        return dataclasses.replace(environment, backend={}) if has_backend else environment

    def _real_state(self, real: Environment, copied: Path) -> bytes:
        """The real environment's state, read without a lock and without writing the repository."""
        from tfkit.hcl import load_module
        from tfkit.workflow import RunOptions, Session

        options = RunOptions(engine=self.engine)
        with Session(real, options, workdir=copied) as session:
            if session.pg_state is None and not load_module(real.directory).backends:
                local = real.directory / real.backend.get("path", "terraform.tfstate")
                return local.read_bytes() if local.is_file() else b""
            session.init()
            return session.engine.state_pull()

    # ---- modules

    def plan_module(self, module: Path | str, inputs: Mapping[str, Any] | None = None) -> Plan:
        """The plan of the module at ``module`` (relative to the repository root) called with ``inputs``."""
        from tfkit.plan import load_plan

        path = (self.project.root / module).resolve()
        files = sorted(p for p in path.iterdir() if p.is_file() and not is_local_data(p.name))
        content = files_digest({f.name: f.read_bytes() for f in files})
        name = (
            path.relative_to(self.project.root).as_posix()
            if path.is_relative_to(self.project.root)
            else path.name
        )
        key = _digest(["module", name, dict(inputs or {}), content])[:16]
        if key in self._cache:
            return self._cache[key]
        recording = self.fixtures_dir / f"module-{path.name}-{key}.json" if self.fixtures_dir else None
        if self.mode == "replay":
            assert recording is not None
            if not recording.is_file():
                _not_recorded()
                raise ReplayError(
                    f"no recorded plan for module {name} with these inputs at {recording}; "
                    "run the tests once with --tfkit-replay record"
                )
            plan = load_plan(recording)
        else:
            config = self.project.config.engine
            engine = self.engine or os.environ.get("TFKIT_ENGINE") or config.kind
            binary = os.environ.get("TFKIT_BINARY") or config.binary
            dest = self.workdir / "modules" / key
            plan = plan_module(path, dict(inputs or {}), dest, engine=engine, binary=binary)
            if self.mode == "record":
                assert recording is not None
                atomic_write(recording, plan.redacted())
        self._cache[key] = plan
        return plan


def module_root(module: Path, inputs: Mapping[str, Any], dest: Path) -> Path:
    """Write a root module under ``dest`` that calls ``module`` with ``inputs`` (as a tfvars.json file)."""
    from tfkit.hcl import load_module

    declared = load_module(module).variables
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise TfkitError(f"{module} declares no variable {unknown[0]}; it has: {', '.join(sorted(declared))}")
    dest.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in sorted(inputs):
        decl = declared[name]
        type_line = f"  type = {decl.type}\n" if decl.type else ""
        sensitive = "  sensitive = true\n" if decl.sensitive else ""
        lines.append(f'variable "{name}" {{\n{type_line}{sensitive}}}\n')
    arguments = "".join(f"  {name} = var.{name}\n" for name in sorted(inputs))
    source = Path(os.path.relpath(module.resolve(), dest.resolve())).as_posix()
    lines.append(f'module "under_test" {{\n  source = "./{source}"\n{arguments}}}\n')
    atomic_write(dest / "main.tf", "\n".join(lines))
    atomic_write(dest / "inputs.auto.tfvars.json", json.dumps(dict(inputs), sort_keys=True), mode=0o600)
    return dest


def plan_module(
    module: Path | str,
    inputs: Mapping[str, Any],
    dest: Path,
    *,
    engine: str = "embedded",
    binary: str = "terraform",
) -> Plan:
    """Plan ``module`` called with ``inputs`` from a root module generated in ``dest`` (real engine)."""
    from tfkit.plan import load_plan
    from tfkit.terraform import open_engine

    root = module_root(Path(module), inputs, Path(dest))
    with open_engine(engine, root, binary=binary) as tf:
        tf.init()
        plan_file = tf.run_dir / "module.tfplan"
        tf.plan(out=plan_file)
        return load_plan(tf.show_plan(plan_file))


def _not_recorded() -> None:
    """Inside a Hypothesis example, reject inputs that were never recorded (see the module's note)."""
    try:
        from hypothesis import currently_in_test_context, reject
    except ImportError:  # Hypothesis is optional (the [testing] extra brings it)
        return
    if currently_in_test_context():
        reject()
