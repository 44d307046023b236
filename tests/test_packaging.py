"""tfkit builds as a pure-Python wheel and sdist, and the wheel works installed outside the repository.

The wheel goes into a fresh virtual environment in a temporary directory. Its dependencies come from the
test environment's site-packages through a path file, so nothing is downloaded and the check stays offline,
while ``pip check`` still proves that every dependency the wheel declares is satisfied.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from testsupport import PLANS, build_dist, install_wheel

import tfkit


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run outside the checkout: without PYTHONPATH, which may point at it (a developer's shell)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dist")


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    return build_dist("wheel", dist)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the repository with the wheel installed; returns its ``bin`` directory."""
    return install_wheel(wheel, tmp_path_factory.mktemp("user") / "venv")


def test_the_wheel_is_pure_python_with_the_package_data(wheel: Path) -> None:
    assert wheel.name == f"tfkit-{tfkit.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "tfkit/py.typed" in names and "tfkit/schemas/tfkit.schema.json" in names
    assert any(n.startswith("tfkit/schemas/config/") and n.endswith(".json") for n in names)
    assert not [n for n in names if n.endswith((".so", ".c", ".pyd")) or "__pycache__" in n]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "tfkit = tfkit.cli:console_main" in text and "tfkit = tfkit.pytest_plugin" in text


def test_the_sdist_holds_the_sources_and_no_local_data(dist: Path) -> None:
    sdist = build_dist("sdist", dist)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    root = sdist.name.removesuffix(".tar.gz")
    assert f"{root}/pyproject.toml" in names and f"{root}/tfkit/__init__.py" in names
    assert not [n for n in names if "/.venv" in n or "/.tfkit/" in n or n.endswith(".tfstate")]


def test_the_installed_wheel_runs_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    where = _run(installed / "python", "-c", "import tfkit; print(tfkit.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where.stdout
    version = _run(installed / "tfkit", "--version", cwd=tmp_path)
    assert version.returncode == 0 and tfkit.__version__ in version.stdout
    check = _run(installed / "tfkit", "check", PLANS / "snyk-cli" / "aws-destroy-v0.1.json", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines()[-1].startswith("gate passed")
    deps = _run(installed / "python", "-m", "pip", "check", cwd=tmp_path)
    assert "No broken requirements found" in deps.stdout, deps.stdout + deps.stderr


def test_the_installed_wheel_loads_the_pytest_plugin(installed: Path, tmp_path: Path) -> None:
    done = _run(installed / "python", "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode in (0, 5), done.stdout + done.stderr
    assert "tfkit_plan" in done.stdout and "tfkit_project" in done.stdout
