"""The managed Checkov (``tfkit scanners install|status``): a real venv and a real pip, offline.

The suite cannot download Checkov, so pip installs a wheel the test builds: a package named
``checkov``, at the pinned version, whose console script answers ``--version`` (or lies about it).
Everything tfkit does around it is real: the venv under ``XDG_CACHE_HOME``, pip with ``--find-links
--no-index``, the version check, the marker, reuse without the index, and which executable wins.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest
from testsupport import invoke_tfkit

from tfkit.errors import ScanConfigError
from tfkit.project import Project
from tfkit.scan.managed import CHECKOV_VERSION, managed_checkov, scanners_dir, user_cache_dir
from tfkit.scan.settings import CheckovSettings, find_checkov, load_settings


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(directory: Path, *, says: str = CHECKOV_VERSION) -> Path:
    """A wheel of a tiny ``checkov`` at the pinned version whose ``checkov --version`` prints ``says``."""
    directory.mkdir(parents=True, exist_ok=True)
    info = f"checkov-{CHECKOV_VERSION}.dist-info"
    files = {
        "fakecheckov/__init__.py": f"def main():\n    print({says!r})\n".encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: checkov\nVersion: {CHECKOV_VERSION}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": b"[console_scripts]\ncheckov = fakecheckov:main\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    wheel = directory / f"checkov-{CHECKOV_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user cache directory; no TFKIT_CHECKOV, and no checkov on PATH."""
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("TFKIT_CHECKOV", raising=False)
    return home


def test_the_cache_directory_follows_xdg_and_is_keyed_by_version(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert user_cache_dir(env) == tmp_path
    assert scanners_dir(env) == tmp_path / "tfkit" / "scanners"
    assert managed_checkov("1.2.3", env).directory == tmp_path / "tfkit" / "scanners" / "checkov-1.2.3"
    assert managed_checkov(environ=env).version == CHECKOV_VERSION


def test_install_then_reuse_offline_and_the_gate_runs_it(
    cache_home: Path, tmp_path: Path, example_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels)
    env = {"PATH": str(tmp_path / "empty"), "XDG_CACHE_HOME": str(cache_home)}
    before = invoke_tfkit("scanners", "status", cwd=tmp_path, env=env)
    assert before.returncode == 2
    assert f"managed Checkov {CHECKOV_VERSION}: not installed" in before.stdout
    assert before.stderr.strip().startswith("error: checkov not found: run `tfkit scanners install`")

    first = invoke_tfkit("scanners", "install", "--find-links", str(wheels), "--no-index", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    managed = managed_checkov()
    assert first.stdout.startswith(f"Checkov {CHECKOV_VERSION} installed in {managed.directory}")
    assert managed.installed and managed.directory.parent == cache_home / "tfkit" / "scanners"

    # Installed: no index, no wheels, nothing to download, and it is reused as it is.
    (wheels / f"checkov-{CHECKOV_VERSION}-py3-none-any.whl").unlink()
    again = invoke_tfkit("scanners", "install", "--no-index", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"Checkov {CHECKOV_VERSION} is already installed in {managed.directory}"

    status = invoke_tfkit("scanners", "status", cwd=tmp_path, env=env)
    assert status.returncode == 0, status.stderr
    assert f"checkov: {managed.executable} (from the managed environment)" in status.stdout

    # The gate's settings find it when nothing else is configured; [checkov] command and TFKIT_CHECKOV win.
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    settings = load_settings(Project.load(example_repo), "dev")
    assert find_checkov(settings, {}) == str(managed.executable)
    other = _script(tmp_path / "other" / "checkov")
    assert find_checkov(settings, {"TFKIT_CHECKOV": str(other)}) == str(other)
    commanded = CheckovSettings(command=str(other), managed=managed)
    assert find_checkov(commanded, {}) == str(other)


def test_a_failed_install_leaves_nothing_usable(cache_home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    failed = invoke_tfkit("scanners", "install", "--find-links", str(empty), "--no-index", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        f"error: installing Checkov: pip install checkov=={CHECKOV_VERSION} failed"
    )
    assert len(failed.stderr.strip().splitlines()) == 1
    managed = managed_checkov()
    assert not managed.installed and not managed.directory.exists()


def test_a_checkov_that_is_not_the_pinned_version_is_refused(cache_home: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, says="1.0.0")
    lying = invoke_tfkit("scanners", "install", "--find-links", str(wheels), "--no-index", cwd=tmp_path)
    assert lying.returncode == 1
    assert f"the installed checkov says '1.0.0', not {CHECKOV_VERSION}" in lying.stderr
    assert not managed_checkov().directory.exists()


def test_a_half_made_environment_is_not_used(
    cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    managed = managed_checkov()
    _script(managed.executable)  # the program is there, the marker is not: an interrupted install
    assert not managed.installed
    settings = CheckovSettings(managed=managed)
    with pytest.raises(ScanConfigError, match="checkov not found"):
        find_checkov(settings, {})


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path
