"""tfkit's pytest plugin (registered under the ``pytest11`` entry point): test an infrastructure repository.

Fixtures:

* ``tfkit_project``: the repository under test (``--tfkit-root``, else found from pytest's rootdir).
* ``tfkit_plan``: a factory, ``tfkit_plan("staging", vars={...}) -> Plan``. Plans are made in a private copy
  of the repository (tests never touch real state) with the real engine, cached for the session per
  environment and inputs. Under pytest-xdist each worker has its own copy, engine processes and cache.
* ``tfkit_env``: the environment a test runs for. A test using it runs once per environment: those of its
  ``@pytest.mark.tfkit(env=...)`` marker (a name or a list), else every environment of the project, in
  both cases narrowed by ``--tfkit-env``.

Options: ``--tfkit-root``, ``--tfkit-env`` (repeatable), ``--tfkit-engine embedded|binary``, and
``--tfkit-replay record|replay`` with ``--tfkit-fixtures DIR`` (default ``tests/plans`` under the root):
record saves each plan's redacted JSON, replay reads it back without running Terraform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tfkit.plan import Plan
    from tfkit.project import Project
    from tfkit.testing.planner import Planner

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_generate_tests",
    "tfkit_env",
    "tfkit_plan",
    "tfkit_planner",
    "tfkit_project",
]

PlanFactory = Callable[..., "Plan"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register tfkit's options: which repository, environments and engine tests run against."""
    group = parser.getgroup("tfkit", "tfkit: infrastructure repository tests")
    group.addoption(
        "--tfkit-root", default=None, help="Repository root holding tfkit.toml (default: rootdir)."
    )
    group.addoption("--tfkit-env", action="append", default=[], help="Only run tests for this environment.")
    group.addoption(
        "--tfkit-engine", choices=("embedded", "binary"), default=None, help="Terraform engine for the tests."
    )
    group.addoption(
        "--tfkit-replay",
        choices=("record", "replay"),
        default=None,
        help="record: save each plan's JSON to the fixtures directory; replay: read plans from it.",
    )
    group.addoption(
        "--tfkit-fixtures",
        default=None,
        help="Directory of recorded plans for --tfkit-replay (default: tests/plans under the root).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``tfkit`` marker."""
    config.addinivalue_line(
        "markers",
        "tfkit(env=NAME_OR_NAMES): run this test for these environments (tfkit_env is parametrized by them)",
    )


def _root(config: pytest.Config) -> Path:
    option = config.getoption("tfkit_root")
    return Path(option).resolve() if option else Path(config.rootpath)


def _marker_envs(node: Any) -> list[str] | None:
    marker = node.get_closest_marker("tfkit")
    if marker is None:
        return None
    value = marker.kwargs.get("env", marker.kwargs.get("envs", marker.args[0] if marker.args else None))
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests that use ``tfkit_env`` once per selected environment."""
    if "tfkit_env" not in metafunc.fixturenames:
        return
    envs = _marker_envs(metafunc.definition)
    if envs is None:
        from tfkit.project import Project

        envs = list(Project.load(_root(metafunc.config)).names)
    only = metafunc.config.getoption("tfkit_env")
    selected = [e for e in envs if not only or e in only]
    if not selected:
        metafunc.parametrize(
            "tfkit_env",
            [
                pytest.param(
                    None, marks=pytest.mark.skip(reason=f"not selected by --tfkit-env {' '.join(only)}")
                )
            ],
            indirect=True,
            ids=["no-env-selected"],
        )
        return
    metafunc.parametrize("tfkit_env", selected, indirect=True)


@pytest.fixture(scope="session")
def tfkit_project(pytestconfig: pytest.Config) -> Project:
    """The repository under test (``--tfkit-root``, else the nearest tfkit.toml at or above the rootdir)."""
    from tfkit.project import Project

    return Project.load(_root(pytestconfig))


@pytest.fixture(scope="session")
def tfkit_planner(
    pytestconfig: pytest.Config, tfkit_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Planner]:
    """The session's ``Planner``: a private copy per worker, the engine and the record/replay mode.

    The copy holds copies of file secret sources (never local state: see ``tfkit.testing.planner``), so
    it lives in an owner-only directory that is removed when the session ends.
    """
    import shutil

    from tfkit.testing.planner import Planner

    mode = pytestconfig.getoption("tfkit_replay")
    fixtures = pytestconfig.getoption("tfkit_fixtures")
    fixtures_dir = Path(fixtures).resolve() if fixtures else tfkit_project.root / "tests" / "plans"
    workdir = tmp_path_factory.mktemp("tfkit")
    workdir.chmod(0o700)
    try:
        yield Planner(
            tfkit_project,
            workdir,
            engine=pytestconfig.getoption("tfkit_engine"),
            mode=mode,
            fixtures_dir=fixtures_dir if mode else None,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def tfkit_plan(tfkit_planner: Planner) -> PlanFactory:
    """``tfkit_plan(env, vars=None) -> Plan``: plan an environment in a private copy (cached per inputs)."""

    def factory(env: str, vars: Mapping[str, Any] | None = None) -> Plan:
        return tfkit_planner.plan(env, vars)

    return factory


@pytest.fixture
def tfkit_env(request: pytest.FixtureRequest) -> str:
    """The environment this test runs for (see the module docstring for how it is chosen)."""
    param = getattr(request, "param", None)
    if param is not None:
        return str(param)
    envs = _marker_envs(request.node) or request.config.getoption("tfkit_env")
    if not envs:
        pytest.fail("tfkit_env needs an environment: mark the test with @pytest.mark.tfkit(env=...)")
    return str(envs[0])
