"""An engine that serves plan JSON recorded from real runs of the example repository, and its recorder.

Workflow decisions (gate refusal, health, promotion order, ledger entries, rollback on failure, lineage)
are tested through the engine seam (``RunOptions.engine_factory``) with ``RecordedTerraform``: each
``plan`` returns the next recorded plan queued for that environment, ``apply`` moves a small fake
state on (or fails, when told to), ``state_pull`` returns that state. Everything else is tfkit's own
code, so such a test takes milliseconds and still decides on real Terraform plans.

The recordings in ``tests/fixtures/recorded/`` come from the real embedded engine. To record them
again (after a change to the example repository or to Terraform), run from the repository root::

    PYTHONPATH=$PWD python tests/recorded.py

Plans are stored redacted (``Plan.redacted()``): sensitive values never reach the fixtures.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from testsupport import REPO, copy_example

from tfkit.errors import Diagnostic, TerraformError
from tfkit.plan import load_plan
from tfkit.terraform import (
    ApplyResult,
    CommandResult,
    OutputValue,
    PlanResult,
    ValidateResult,
    VersionInfo,
)
from tfkit.terraform.runner import EventCallback

RECORDED = REPO / "tests" / "fixtures" / "recorded"

#: The service module's v2: a changed input of the primary (as the end-to-end journeys change it).
V1_ROLE = 'role          = "primary"'
V2_ROLE = 'role          = "primary-v2"'


def change_service_module(repo: Path) -> None:
    """Edit the copy's service module to v2 (a changed input of ``terraform_data.primary``)."""
    main = repo / "modules" / "service" / "main.tf"
    main.write_text(main.read_text().replace(V1_ROLE, V2_ROLE, 1))


#: A resource whose creation fails part-way through an apply (after the primary changed).
FAILING_RESOURCE = """
resource "terraform_data" "migration" {
  input = "v2"
  depends_on = [terraform_data.primary]
  provisioner "local-exec" {
    command = "echo migration failed >&2; exit 1"
  }
}
"""


def add_failing_migration(repo: Path) -> None:
    """v2 of the service module, plus a resource whose creation fails part-way through the apply."""
    change_service_module(repo)
    main = repo / "modules" / "service" / "main.tf"
    main.write_text(main.read_text() + FAILING_RESOURCE)


def plan_bytes(name: str) -> bytes:
    """A recorded plan by name (``dev-create``, ``staging-noop``, ...)."""
    return (RECORDED / f"{name}.json").read_bytes()


class RecordedTerraform:
    """The Terraform that recorded-plan engines share: queued plans and a fake state per environment.

    ``serve(env, *names)`` queues recorded plans for ``env``; ``fail(env)`` makes its next apply fail
    part-way (it still moves the state on, as a real failed apply does). Pass ``factory`` as
    ``RunOptions(engine_factory=...)``.
    """

    def __init__(self) -> None:
        self.queued: dict[str, deque[str]] = defaultdict(deque)
        self.states: dict[str, dict[str, Any]] = {}
        self.failing: set[str] = set()
        self.applied: list[tuple[str, str]] = []

    def serve(self, env: str, *names: str) -> None:
        """Queue recorded plans for ``env``, served in order by its engines' ``plan``."""
        self.queued[env].extend(names)

    def fail(self, env: str) -> None:
        """Make the next apply of ``env`` fail (a TerraformError, as a failed provisioner gives)."""
        self.failing.add(env)

    def new_lineage(self, env: str) -> None:
        """Replace ``env``'s state by one with another lineage (as after deleting the state file)."""
        self.states[env] = {"version": 4, "lineage": str(uuid.uuid4()), "serial": 1, "resources": []}

    def factory(
        self,
        kind: str,
        workdir: Path,
        *,
        binary: str,
        env: Mapping[str, str] | None,
        on_event: EventCallback | None,
    ) -> RecordedEngine:
        """An ``EngineFactory``: a recorded-plan engine on ``workdir``."""
        return RecordedEngine(self, Path(workdir))


class RecordedEngine:
    """An ``Engine`` on one working directory that serves the recorded plans queued for its environment."""

    def __init__(self, world: RecordedTerraform, workdir: Path) -> None:
        self.name = "recorded"
        self.workdir = workdir.resolve()
        self.world = world
        self.environment = self.workdir.name  # envs/<name>, also in a materialized copy
        self._run_dir = Path(tempfile.mkdtemp(prefix="tfkit-recorded-"))
        self._plans: dict[Path, str] = {}

    @property
    def run_dir(self) -> Path:
        """The engine's private directory (plan files go here)."""
        return self._run_dir

    @property
    def data_dir(self) -> Path:
        """Terraform's data directory: ``modules/modules.json`` is the recorded module tree."""
        return self._run_dir / "data"

    def _done(self, command: str) -> CommandResult:
        return CommandResult(command=command, argv=(command,), stdout="", stderr="", duration=0.0)

    def version(self) -> VersionInfo:
        """The recorded plans' Terraform."""
        return VersionInfo("recorded", "1.15.0", "linux_amd64", {})

    def init(
        self,
        *,
        backend_config: Mapping[str, str] | None = None,
        upgrade: bool = False,
        reconfigure: bool = False,
    ) -> CommandResult:
        """Write the recorded module tree where ``terraform init`` would."""
        modules = self.data_dir / "modules" / "modules.json"
        modules.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RECORDED / f"modules-{self.environment}.json", modules)
        return self._done("init")

    def validate(self) -> ValidateResult:
        """Recorded configurations are valid."""
        return ValidateResult(command="validate", argv=("validate",), stdout="", stderr="", duration=0.0)

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
        """Save the next recorded plan of this environment to ``out``."""
        queue = self.world.queued[self.environment]
        if not queue:
            raise AssertionError(f"the test queued no more recorded plans for {self.environment}")
        name = queue.popleft()
        data = plan_bytes(name)
        Path(out).write_bytes(data)
        self._plans[Path(out)] = name
        return PlanResult(
            command="plan",
            argv=("plan",),
            stdout="",
            stderr="",
            duration=0.0,
            plan_file=Path(out),
            has_changes=load_plan(data).has_changes,
        )

    def show_plan(self, plan_file: Path) -> bytes:
        """The saved plan's JSON."""
        return Path(plan_file).read_bytes()

    def apply(self, plan_file: Path, *, lock_timeout: str | None = None) -> ApplyResult:
        """Move the fake state on; fail part-way when the test said so."""
        world, env = self.world, self.environment
        state = world.states.setdefault(
            env, {"version": 4, "lineage": str(uuid.uuid4()), "serial": 0, "resources": []}
        )
        state["serial"] += 1
        world.applied.append((env, self._plans[Path(plan_file)]))
        if env in world.failing:
            world.failing.discard(env)
            failure = Diagnostic("error", "local-exec provisioner error", "migration failed")
            raise TerraformError(
                f"terraform apply failed in {self.workdir}: migration failed",
                command="apply",
                diagnostics=[failure],
                returncode=1,
            )
        return ApplyResult(command="apply", argv=("apply",), stdout="", stderr="", duration=0.0)

    def output(self) -> dict[str, OutputValue]:
        """No outputs are recorded."""
        return {}

    def state_pull(self) -> bytes:
        """The fake state of this environment (empty before its first apply)."""
        state = self.world.states.get(self.environment)
        return json.dumps(state).encode() if state is not None else b""

    def destroy(self, *, var_files: Sequence[Path] = (), lock_timeout: str | None = None) -> CommandResult:
        """Forget the fake state."""
        self.world.states.pop(self.environment, None)
        return self._done("destroy")

    def close(self) -> None:
        """Remove the run directory."""
        shutil.rmtree(self._run_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------ recorder


def record(destination: Path = RECORDED) -> list[str]:
    """Run the example repository for real (embedded engine) and save each plan it makes, redacted."""
    from tfkit.project import Project
    from tfkit.workflow import RunOptions, Session

    written: list[str] = []
    options = RunOptions(gate=False, engine="embedded")

    def save(name: str, data: bytes) -> None:
        (destination / f"{name}.json").write_bytes(data)
        written.append(name)

    def plan_apply(project: Project, env: str, label: str) -> None:
        with Session(project.environment(env), options) as session:
            planned = session.plan()
            save(f"{env}-{label}", planned.plan.redacted())
            if label == "create":
                modules = json.loads((session.engine.data_dir / "modules" / "modules.json").read_text())
                save(f"modules-{env}", json.dumps(modules, indent=1, sort_keys=True).encode())
            session.apply(planned)
            after = f"{env}-noop" if label == "create" else f"{env}-{label}-noop"
            save(after, session.plan().plan.redacted())

    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_example(Path(tmp) / "repo")
        project = Project.load(repo)
        for env in ("dev", "staging", "production"):
            plan_apply(project, env, "create")
        service = repo / "modules" / "service" / "main.tf"
        v1 = service.read_text()
        change_service_module(repo)
        for env in ("dev", "staging", "production"):
            plan_apply(project, env, "v2")
        service.write_text(v1)
        with Session(project.environment("dev"), options) as session:  # what a rollback to v1 plans
            save("dev-back-to-v1", session.plan().plan.redacted())
        tfvars = repo / "envs" / "dev" / "dev.tfvars"
        text = tfvars.read_text().replace("port        = 22", "port        = 8080")
        tfvars.write_text(text.replace('"10.250.0.0/24"', '"0.0.0.0/0"'))  # REPO002: only 443 is public
        with Session(project.environment("dev"), options) as session:
            save("dev-public-http", session.plan().plan.redacted())
    return written


if __name__ == "__main__":
    for name in record():
        print(f"recorded {RECORDED / name}.json")
