"""``tfkit.fastexit``: a process ends with a normal exit's status, exit handlers and flushed output."""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tfkit.fastexit import FLUSH_FAILED, exit_code, leave_at_exit


def _child(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # output stays buffered
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_exit_code_is_systemexits() -> None:
    assert exit_code(None) == 0
    assert exit_code(3) == 3


def test_leave_keeps_the_status_runs_exit_handlers_and_flushes(tmp_path: Path) -> None:
    done = _child(
        """
        import atexit, pathlib, tempfile, sys
        from tfkit.fastexit import leave
        kept = tempfile.TemporaryDirectory(dir=".")  # removed by its finalizer, an exit handler
        pathlib.Path("dir.txt").write_text(kept.name)
        atexit.register(pathlib.Path("handler-ran").touch)
        sys.stdout.write("x" * 200_000)  # buffered, not yet flushed
        sys.stderr.write("last words")
        leave(3)
        """,
        tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 200_000
    assert done.stderr == "last words"
    assert (tmp_path / "handler-ran").exists()
    assert not Path((tmp_path / "dir.txt").read_text()).exists()


def test_leave_with_a_message_or_none(tmp_path: Path) -> None:
    said = _child("from tfkit.fastexit import leave\nleave('error: bad input')\n", tmp_path)
    assert (said.returncode, said.stderr.strip()) == (1, "error: bad input")
    assert _child("from tfkit.fastexit import leave\nleave(None)\n", tmp_path).returncode == 0


def test_leave_waits_for_another_running_thread(tmp_path: Path) -> None:
    done = _child(
        """
        import pathlib, threading, time
        from tfkit.fastexit import leave
        def work():
            time.sleep(0.3)
            pathlib.Path("thread-finished").touch()
        threading.Thread(target=work).start()
        leave(0)
        """,
        tmp_path,
    )
    assert done.returncode == 0
    assert (tmp_path / "thread-finished").exists()


def test_output_that_cannot_be_flushed_is_pythons_status(tmp_path: Path) -> None:
    done = _child(
        """
        import os, sys
        from tfkit.fastexit import leave
        sys.stdout.write("never written")
        os.close(1)
        leave(0)
        """,
        tmp_path,
    )
    assert done.returncode == FLUSH_FAILED


def test_a_pool_worker_runs_the_exit_handlers_registered_after_it(tmp_path: Path) -> None:
    marker = tmp_path / "worker-handler-ran"
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=leave_at_exit
    ) as pool:
        pool.submit(atexit.register, marker.touch).result(timeout=60)
    assert marker.exists()


def test_the_command_exits_with_its_documented_codes(tmp_path: Path) -> None:
    usage = subprocess.run(
        [sys.executable, "-m", "tfkit", "plan", "--no-such-flag"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert usage.returncode == 2
    assert "no such option" in usage.stderr.lower()
    assert len(usage.stderr.strip().splitlines()) == 1
    shown = subprocess.run(
        [sys.executable, "-m", "tfkit", "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert shown.returncode == 0
    normal_exit = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from tfkit.cli import main; sys.argv[0] = 'tfkit'; main(['--help'])",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert shown.stdout == normal_exit.stdout  # all of it, as with Python's own exit


def test_a_profiled_command_still_writes_its_profile(tmp_path: Path) -> None:
    profile = tmp_path / "tfkit.prof"
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "tfkit", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert profile.stat().st_size > 0
