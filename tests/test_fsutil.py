"""tfkit's temporary directories: owner-only, named by their run's pid, and swept once that run is dead."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tfkit.fsutil import private_tempdir, sweep_tempdirs, temporary_dir


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_private_tempdir_is_owner_only_named_by_pid_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with private_tempdir("work") as made:
        assert made.parent == tmp_path and made.name.startswith(f"tfkit-work-{os.getpid()}-")
        assert stat.S_IMODE(made.stat().st_mode) == 0o700
    assert not made.exists()
    kept = temporary_dir("run")
    assert kept.is_dir() and kept.name.startswith(f"tfkit-run-{os.getpid()}-")


def test_the_sweep_removes_only_dead_runs_directories(tmp_path: Path) -> None:
    dead = tmp_path / f"tfkit-run-{_dead_pid()}-abc"
    (dead / "data").mkdir(parents=True)
    (dead / "plan-1.tfplan").write_bytes(b"secret")
    alive = tmp_path / f"tfkit-work-{os.getpid()}-def"
    alive.mkdir()
    other = tmp_path / "tfkit-run-notapid"
    other.mkdir()
    unrelated = tmp_path / f"other-{_dead_pid()}-x"
    unrelated.mkdir()
    link = tmp_path / f"tfkit-run-{_dead_pid()}-link"
    link.symlink_to(unrelated)
    assert sweep_tempdirs(tmp_path) == [dead]
    assert (
        not dead.exists() and alive.is_dir() and other.is_dir() and unrelated.is_dir() and link.is_symlink()
    )
