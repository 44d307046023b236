"""Safe files: outputs never replace a device, pipe or symlink; the run's private directory and its sweep.

Device nodes are made with ``mknod`` (the suite runs as root, as issue 19's probes did) in the test's own
directory, so the machine's ``/dev`` is never touched.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from testsupport import PLANS, invoke_tfkit

from tfkit import fsutil
from tfkit.errors import FileError, SecretError
from tfkit.fsutil import private_temp, run_directory, sweep_dead_runs, write_output
from tfkit.locks import environment_lock

PLAN = PLANS / "terraform-json" / "basic-v0.1-modules-data-count.json"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


def null_device(where: Path) -> Path:
    """A character device equal to /dev/null (major 1, minor 3), made in ``where``."""
    os.mknod(where, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return where


@needs_root
def test_an_output_to_a_device_is_written_in_place(tmp_path: Path) -> None:
    device = null_device(tmp_path / "null")
    link = tmp_path / "stdout"
    link.symlink_to(device)
    write_output(device, "report")
    write_output(link, "report")
    assert stat.S_ISCHR(device.lstat().st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "stdout"], "no temporary file left"


@needs_root
def test_the_cli_reports_and_plan_json_to_a_device_leave_it_a_device(tmp_path: Path) -> None:
    device = null_device(tmp_path / "null")
    done = invoke_tfkit("check", str(PLAN), "-o", f"json={device}", "-o", f"sarif={device}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_an_output_to_a_pipe_is_written_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, "through the pipe")
    reader.join(timeout=30)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(fifo.lstat().st_mode)


def test_an_output_through_a_symlink_to_a_file_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_output(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


@pytest.mark.parametrize("where", ["directory", "proc"])
def test_an_output_that_cannot_be_a_file_is_one_line_and_leaves_nothing(tmp_path: Path, where: str) -> None:
    path = tmp_path / "out" if where == "directory" else Path("/proc/tfkit-no-such-file")
    if where == "directory":
        path.mkdir()
    with pytest.raises(FileError, match=f"cannot write {path}") as failed:
        write_output(path, "x")
    assert "\n" not in str(failed.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out"] if where == "directory" else [])
    if where == "directory":
        assert list(path.iterdir()) == []


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "dev.lock").symlink_to(target)
    with (
        pytest.raises(FileError, match="a symlink, which tfkit does not follow"),
        environment_lock(locks, "dev", "apply"),
    ):
        pass
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("shape", ["lock-is-directory", "locks-is-file"])
def test_a_lock_that_cannot_be_a_file_is_a_file_error(tmp_path: Path, shape: str) -> None:
    locks = tmp_path / "locks"
    if shape == "lock-is-directory":
        (locks / "dev.lock").mkdir(parents=True)
    else:
        locks.write_text("")
    with (
        pytest.raises(FileError, match="cannot open the lock file of 'dev'"),
        environment_lock(locks, "dev", "apply"),
    ):
        pass


def test_the_run_directory_is_private_and_per_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(fsutil.tempfile, "tempdir", None)
    monkeypatch.setattr(fsutil, "_run", None)
    run = run_directory()
    assert run.parent == tmp_path / f"tfkit-{os.getuid()}"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700 and stat.S_IMODE(run.parent.stat().st_mode) == 0o700
    assert run.name.startswith(f"run-{os.getpid()}-") and run_directory() == run
    with private_temp("work-") as work:
        assert work.parent == run and stat.S_IMODE(work.stat().st_mode) == 0o700
    assert not work.exists()


def test_the_sweep_removes_dead_runs_only(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer runs
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        dead = tmp_path / f"run-{child.pid}-abc"
        live = tmp_path / f"run-{alive.pid}-def"
        other = tmp_path / "not-a-run"
        for directory in (dead, live, other):
            (directory / "plan").mkdir(parents=True)
        assert sweep_dead_runs(tmp_path) == [dead]
        assert not dead.exists() and live.exists() and other.exists()
    finally:
        alive.communicate(b"")


def test_a_killed_run_leaves_its_directory_to_the_next_run(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = (
        "from tfkit.fsutil import run_directory; d = run_directory(); "
        "(d / 'secret').write_text('x'); print(d, flush=True)"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code + "; import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -9
    left = Path(killed.stdout.strip())
    assert (left / "secret").exists(), "a SIGKILLed run cannot clean up"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert not left.exists()
    assert list((tmp_path / f"tfkit-{os.getuid()}").iterdir()) == [], "the next run removes its own too"


def test_a_readable_secret_file_warns_and_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfkit.config import SecretSource
    from tfkit.secrets import ALLOW_READABLE_ENV, SecretFileWarning, read_secret

    secret = tmp_path / "db_password"
    secret.write_text("s3cr3t-value\n")
    secret.chmod(0o644)
    source = SecretSource(kind="file", file=str(secret))
    monkeypatch.delenv("CI", raising=False)
    with pytest.warns(SecretFileWarning, match=r"readable by others \(mode 0644\); chmod 600 it"):
        assert read_secret("db_password", source, base=tmp_path) == "s3cr3t-value"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(SecretError, match=f"or set {ALLOW_READABLE_ENV}=1"):
        read_secret("db_password", source, base=tmp_path)
    monkeypatch.setenv(ALLOW_READABLE_ENV, "1")
    with pytest.warns(SecretFileWarning):
        assert read_secret("db_password", source, base=tmp_path) == "s3cr3t-value"
    secret.chmod(0o600)
    monkeypatch.delenv(ALLOW_READABLE_ENV)
    assert read_secret("db_password", source, base=tmp_path) == "s3cr3t-value"
