"""Init is skipped when nothing it depends on changed, and runs again when anything did.

Real engines on copies of the example repository. Whether init ran is seen through the engine (its
``init`` calls are counted), never through timing; every plan is checked for what it must contain.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tfkit.project import Project
from tfkit.terraform import open_engine
from tfkit.terraform.init_cache import InitCache
from tfkit.terraform.runner import EventCallback
from tfkit.workflow import RunOptions, Session

pytestmark = pytest.mark.slow

#: The dev environment's plan from no state creates resources of these addresses (without keys).
DEV_ADDRESSES = {
    "module.network.terraform_data.vpc",
    "module.network.terraform_data.subnet",
    "module.access.terraform_data.rule",
    "module.service.terraform_data.primary",
    "module.service.terraform_data.database",
}


def bases(addresses: set[str]) -> set[str]:
    """The addresses without their instance keys."""
    return {a.split("[")[0] for a in addresses}


@dataclasses.dataclass
class Run:
    """One planning session: how many real inits its engine ran, its steps, the plan's addresses."""

    inits: int
    steps: list[str]
    addresses: set[str]
    backend: dict[str, Any]


def plan_dev(
    project: Project,
    *,
    engine: str = "embedded",
    binary: str = "terraform",
    backend: Mapping[str, str] | None = None,
    reuse_init: bool = True,
) -> Run:
    """Plan dev in its own directory (a fresh engine, so a fresh data directory) and observe init."""
    inits: list[Path] = []

    def factory(
        kind: str,
        workdir: Path,
        *,
        binary: str,
        env: Mapping[str, str] | None,
        on_event: EventCallback | None,
    ) -> Any:
        engine = open_engine(kind, workdir, binary=binary, env=env, on_event=on_event)
        real: Callable[..., Any] = engine.init

        def counted(**kwargs: Any) -> Any:
            inits.append(workdir)
            return real(**kwargs)

        engine.init = counted  # type: ignore[method-assign]
        return engine

    steps: list[str] = []
    options = RunOptions(
        engine=engine,
        binary=binary,
        gate=False,
        on_step=steps.append,
        engine_factory=factory,
        reuse_init=reuse_init,
    )
    environment = project.environment("dev")
    if backend is not None:
        environment = dataclasses.replace(environment, backend=dict(backend))
    with Session(environment, options) as session:
        planned = session.plan()
        record = session._backend_record()
    return Run(len(inits), steps, {rc.address for rc in planned.plan.resource_changes}, record)


@pytest.fixture
def project(example_repo: Path) -> Project:
    return Project.load(example_repo)


def test_unchanged_configuration_restores_init_and_plans_the_same(project: Project) -> None:
    first = plan_dev(project)
    assert first.inits == 1 and "init" in first.steps
    again = plan_dev(project)
    assert again.inits == 0, "nothing init depends on changed: no init runs"
    assert "init (cached)" in again.steps and "init" not in again.steps
    assert again.addresses == first.addresses and bases(again.addresses) >= DEV_ADDRESSES
    # A change init does not depend on (a resource's arguments) keeps the record, and the plan follows it.
    main = project.root / "modules" / "service" / "main.tf"
    main.write_text(main.read_text() + '\nresource "terraform_data" "extra" {\n  input = "x"\n}\n')
    edited = plan_dev(project)
    assert edited.inits == 0
    assert edited.addresses == first.addresses | {"module.service.terraform_data.extra"}


def _module_source(repo: Path) -> None:
    shutil.copytree(repo / "modules" / "network", repo / "modules" / "network2")
    main = repo / "envs" / "dev" / "main.tf"
    main.write_text(main.read_text().replace('"../../modules/network"', '"../../modules/network2"'))


def _nested_module(repo: Path) -> None:
    (repo / "modules" / "tagger").mkdir()
    (repo / "modules" / "tagger" / "main.tf").write_text(
        'resource "terraform_data" "tag" {\n  input = "t"\n}\n'
    )
    main = repo / "modules" / "service" / "main.tf"
    main.write_text(main.read_text() + '\nmodule "tagger" {\n  source = "../tagger"\n}\n')


def _required_providers(repo: Path) -> None:
    (repo / "envs" / "dev" / "providers.tf").write_text(
        "terraform {\n  required_providers {\n"
        '    terraform = {\n      source = "terraform.io/builtin/terraform"\n    }\n  }\n}\n'
    )


def _lock_file(repo: Path) -> None:
    (repo / "envs" / "dev" / ".terraform.lock.hcl").write_text("# This file is maintained automatically.\n")


CHANGES = {
    "module source": (_module_source, set()),
    "new nested module": (_nested_module, {"module.service.module.tagger.terraform_data.tag"}),
    "required_providers": (_required_providers, set()),
    "lock file": (_lock_file, set()),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_changed_dependency_runs_init_again(project: Project, change: str) -> None:
    edit, added = CHANGES[change]
    first = plan_dev(project)
    assert first.inits == 1
    edit(project.root)
    changed = plan_dev(project)
    assert changed.inits == 1 and "init (cached)" not in changed.steps, f"{change} changed: init must run"
    assert changed.addresses == first.addresses | added
    assert plan_dev(project).inits == 0, "the new init was recorded"


def test_backend_settings_are_part_of_the_fingerprint(project: Project) -> None:
    (project.root / "envs" / "dev" / "backend.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    first = plan_dev(project, backend={"path": "a.tfstate"})
    assert first.inits == 1 and first.backend["config"]["path"] == "a.tfstate"
    assert plan_dev(project, backend={"path": "a.tfstate"}).inits == 0
    other = plan_dev(project, backend={"path": "b.tfstate"})
    assert other.inits == 1 and other.backend["config"]["path"] == "b.tfstate"
    restored = plan_dev(project, backend={"path": "b.tfstate"})
    assert restored.inits == 0 and restored.backend["config"]["path"] == "b.tfstate"
    assert bases(restored.addresses) >= DEV_ADDRESSES


def test_another_engine_inits_for_itself(project: Project, terraform_binary: str) -> None:
    assert plan_dev(project).inits == 1
    binary = plan_dev(project, engine="binary", binary=terraform_binary)
    assert binary.inits == 1 and bases(binary.addresses) >= DEV_ADDRESSES
    assert plan_dev(project, engine="binary", binary=terraform_binary).inits == 0
    assert plan_dev(project).inits == 0, "each engine keeps its own record"


def _entries(project: Project) -> list[Path]:
    slot = InitCache(project.cache_dir, project.environment("dev").directory).slot
    return sorted(slot.glob("[0-9a-f]*"))


@pytest.mark.parametrize("damage", ["changed file", "missing file", "no manifest", "torn manifest"])
def test_a_damaged_record_means_a_real_init(project: Project, damage: str) -> None:
    first = plan_dev(project)
    [entry] = _entries(project)
    modules_json = entry / "data" / "modules" / "modules.json"
    if damage == "changed file":
        modules_json.write_text(modules_json.read_text().replace("modules/network", "modules/nowhere"))
    elif damage == "missing file":
        modules_json.unlink()
    elif damage == "no manifest":
        (entry / "manifest.json").unlink()
    else:
        text = (entry / "manifest.json").read_text()
        (entry / "manifest.json").write_text(text[: len(text) // 2])
    again = plan_dev(project)
    assert again.inits == 1 and again.addresses == first.addresses
    assert plan_dev(project).inits == 0, "the real init was recorded again"


def test_turned_off_always_inits(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    plan_dev(project)
    assert plan_dev(project, reuse_init=False).inits == 1
    monkeypatch.setenv("TFKIT_REINIT", "1")
    assert plan_dev(project).inits == 1
    monkeypatch.delenv("TFKIT_REINIT")
    assert plan_dev(project).inits == 0


def test_records_are_private(project: Project) -> None:
    plan_dev(project)
    [entry] = _entries(project)
    for path in [entry, *entry.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


#: A filesystem mirror holding hashicorp/aws (no network here); the test needs a real provider package.
MIRROR = Path(os.environ.get("TFKIT_TEST_PROVIDER_MIRROR", "/opt/tf-plugins"))
AWS = "registry.terraform.io/hashicorp/aws"


@pytest.mark.skipif(not (MIRROR / AWS).is_dir(), reason=f"no provider mirror with {AWS} at {MIRROR}")
def test_providers_are_restored_and_the_lock_file_init_writes_is_fingerprinted(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = sorted(p.name for p in (MIRROR / AWS).iterdir())[-1]
    rc = tmp_path / "terraform.rc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(rc))
    (project.root / "envs" / "dev" / "providers.tf").write_text(
        f'terraform {{\n  required_providers {{\n    aws = {{\n      source = "hashicorp/aws"\n'
        f'      version = "{version}"\n    }}\n  }}\n}}\n'
    )
    first = plan_dev(project)
    assert first.inits == 1
    assert (project.root / "envs" / "dev" / ".terraform.lock.hcl").is_file(), "init wrote the lock file"
    again = plan_dev(project)
    assert again.inits == 0, "recorded with the lock file init wrote: the next run matches"
    assert again.addresses == first.addresses
    [entry] = _entries(project)
    assert list((entry / "data" / "providers").rglob("*")), "the providers are part of the record"


def test_a_remote_module_installed_in_the_data_directory_is_found_after_a_restore(
    project: Project, tmp_path: Path
) -> None:
    """Terraform records a downloaded module's directory as an absolute path into the data directory; a
    restored record points it at the new run's data directory, or the plan fails "Module not installed"."""
    origin = tmp_path / "remote-module"
    origin.mkdir()
    (origin / "main.tf").write_text('resource "terraform_data" "fetched" {\n  input = "remote"\n}\n')
    for args in (("init", "-q"), ("add", "."), ("commit", "-qm", "module")):
        subprocess.run(
            ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=origin, check=True
        )
    (project.root / "envs" / "dev" / "remote.tf").write_text(
        f'module "remote" {{\n  source = "git::file://{origin}"\n}}\n'
    )
    first = plan_dev(project)
    assert first.inits == 1 and "module.remote.terraform_data.fetched" in first.addresses
    again = plan_dev(project)
    assert again.inits == 0, "the record is restored"
    assert "module.remote.terraform_data.fetched" in again.addresses
