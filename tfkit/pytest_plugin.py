"""tfkit's pytest plugin (registered under the ``pytest11`` entry point): test an infrastructure repository.

Fixtures:

* ``tfkit_project``: the repository under test (``--tfkit-root``, else found from pytest's rootdir).
* ``tfkit_plan``: a factory, ``tfkit_plan("staging", vars={...}) -> Plan``. Plans are made in a private copy
  of the repository with the real engine, cached for the session per environment and inputs. Under
  pytest-xdist each worker has its own copy, engine processes and cache. A test never takes the real state
  lock nor writes real state: it plans from empty state (``--tfkit-state empty``, the default: a backend is
  replaced by local state in the copy), or against a read-only copy of each environment's state
  (``--tfkit-state copy``: pulled from its backend or store without a lock); pytest's header says which.
* ``tfkit_module_plan``: a factory, ``tfkit_module_plan("modules/network", {"cidr": ...}) -> Plan``: one
  module planned from a generated root module with no backend (path relative to the repository root), so a
  Hypothesis test of ``tfkit.testing.strategies.module_inputs`` reaches every input of the module.
* ``tfkit_env``: the environment a test runs for. A test using it runs once per environment: those of its
  ``@pytest.mark.tfkit(env=...)`` marker (a name or a list), else every environment of the project, in
  both cases narrowed by ``--tfkit-env``.

Options: ``--tfkit-root``, ``--tfkit-env`` (repeatable), ``--tfkit-engine embedded|binary``, and
``--tfkit-replay record|replay`` with ``--tfkit-fixtures DIR`` (default ``tests/plans`` under the root):
record saves each plan's redacted JSON, replay reads it back without running Terraform. Replaying needs the
same inputs as recording, so under ``--tfkit-replay`` the plugin loads a Hypothesis profile deriving from the
current one with ``derandomize=True`` and ``database=None``. Even so Hypothesis may draw other examples in a
fast replay than in a slow recording run, so a replayed example whose inputs were never recorded is
rejected (and the filter health check is off while replaying): a replay checks the recorded examples.
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
    "pytest_report_header",
    "tfkit_env",
    "tfkit_module_plan",
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
        "--tfkit-state",
        choices=("empty", "copy"),
        default="empty",
        help="Plan from empty state (default) or against a read-only copy of each environment's state.",
    )
    group.addoption(
        "--tfkit-fixtures",
        default=None,
        help="Directory of recorded plans for --tfkit-replay (default: tests/plans under the root).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``tfkit`` marker; under record/replay, make Hypothesis draw the same examples each run."""
    config.addinivalue_line(
        "markers",
        "tfkit(env=NAME_OR_NAMES): run this test for these environments (tfkit_env is parametrized by them)",
    )
    if config.getoption("tfkit_replay", None):
        try:
            from hypothesis import HealthCheck, settings
        except ImportError:  # Hypothesis is optional (the [testing] extra brings it)
            return
        # Replaying, examples whose inputs were never recorded are rejected (``tfkit.testing.planner``):
        # that filtering is expected, not a badly written strategy.
        quiet = (HealthCheck.filter_too_much,) if config.getoption("tfkit_replay") == "replay" else ()
        base = settings()
        settings.register_profile(
            "tfkit-replay",
            parent=base,
            derandomize=True,
            database=None,
            suppress_health_check=(*base.suppress_health_check, *quiet),
        )
        settings.load_profile("tfkit-replay")


def pytest_report_header(config: pytest.Config) -> str:
    """Say what the plans start from, so a reader of the output knows whether real state was used."""
    if config.getoption("tfkit_state") == "copy":
        state = "a read-only copy of each environment's state (never locked or written)"
    else:
        state = "empty state (the environments' real state is never read, locked or written)"
    replay = config.getoption("tfkit_replay")
    return f"tfkit: plans from {state}" + (f"; --tfkit-replay {replay}" if replay else "")


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
            state=pytestconfig.getoption("tfkit_state"),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def tfkit_plan(tfkit_planner: Planner) -> PlanFactory:
    """``tfkit_plan(env, vars=None) -> Plan``: plan an environment in a private copy (cached per inputs)."""

    def factory(env: str, vars: Mapping[str, Any] | None = None) -> Plan:
        return tfkit_planner.plan(env, vars)

    return factory


@pytest.fixture(scope="session")
def tfkit_module_plan(tfkit_planner: Planner) -> PlanFactory:
    """``tfkit_module_plan(path, inputs=None) -> Plan``: plan one module by itself (path from the repository
    root), from a generated root module with no backend; cached per inputs, recorded and replayed."""

    def factory(path: Path | str, inputs: Mapping[str, Any] | None = None) -> Plan:
        return tfkit_planner.plan_module(path, inputs)

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
