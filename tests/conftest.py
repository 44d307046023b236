"""Shared fixtures: copies of the example repository in temporary directories, both engines, and PostgreSQL.

Also the Hypothesis profiles: ``fixed`` (the default, used by ``make test`` and CI) derandomizes every
property test, so a run's outcome depends on the code alone; ``random`` (``HYPOTHESIS_PROFILE=random``)
draws new examples on every run, more of them, for developers hunting bugs. Both print the blob that
reproduces a failure. Tests keep their own ``max_examples`` where a real engine makes examples costly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from testsupport import REPO, copy_example, make_terraform_shim, run_tfkit

#: The suite's own PostgreSQL server: fixtures pg_server, pg_url and pg_fresh_url (tests/pg_server.py).
pytest_plugins = ["pg_server"]

settings.register_profile("fixed", derandomize=True, deadline=None, print_blob=True, database=None)
settings.register_profile("random", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))


@pytest.fixture(scope="session", autouse=True)
def shared_scan_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One Checkov result cache for the whole run (content-keyed, so sharing is exact), as CI would.

    Also points TFKIT_CHECKOV at the project's Checkov environment when `make` did not export it.
    """
    cache = tmp_path_factory.mktemp("tfkit-cache")
    saved = {k: os.environ.get(k) for k in ("TFKIT_CACHE_DIR", "TFKIT_CHECKOV")}
    os.environ["TFKIT_CACHE_DIR"] = str(cache)
    checkov = REPO / ".venv-checkov" / "bin" / "checkov"
    if not saved["TFKIT_CHECKOV"] and checkov.exists():
        os.environ["TFKIT_CHECKOV"] = str(checkov)
    yield cache
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def example_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the example repository; TF_VAR_db_password unset so the file source is used."""
    monkeypatch.delenv("TF_VAR_db_password", raising=False)
    monkeypatch.delenv("TFKIT_ENGINE", raising=False)
    monkeypatch.delenv("TFKIT_BINARY", raising=False)
    return copy_example(tmp_path / "repo")


@pytest.fixture(scope="session")
def terraform_binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The binary engine's executable: the ``terraform`` on PATH, else a shim to the embedded one."""
    found = shutil.which("terraform")
    if found:
        return found
    return str(make_terraform_shim(tmp_path_factory.mktemp("shim")))


@pytest.fixture(params=["embedded", "binary"])
def engine_kind(
    request: pytest.FixtureRequest, terraform_binary: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Each test using this runs once per engine; the binary one via TFKIT_BINARY."""
    if request.param == "binary":
        monkeypatch.setenv("TFKIT_BINARY", terraform_binary)
    return str(request.param)


@pytest.fixture
def tfkit_cli():
    """The ``run_tfkit`` helper as a fixture."""
    return run_tfkit
