"""tfkit's environment lock: one mutating run at a time, holder named, dead holders taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tfkit.errors import LockHeldError
from tfkit.locks import MAX_LOCK_TIMEOUT, StaleLockWarning, environment_lock, parse_timeout

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from tfkit.locks import environment_lock
    with environment_lock(Path(sys.argv[1]), "staging", "apply"):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold(lock_dir: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock_dir), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    holder = hold(tmp_path, 30)
    try:
        with pytest.raises(LockHeldError) as info, environment_lock(tmp_path, "staging", "apply"):
            pass
        message = str(info.value)
        assert f"pid {holder.pid}" in message and "apply by" in message and "--lock-timeout" in message
        assert info.value.exit_code == 3
        with environment_lock(tmp_path, "dev", "apply"):
            pass  # other environments are not affected
    finally:
        holder.kill()
        holder.wait()


def test_waits_with_a_timeout(tmp_path: Path) -> None:
    holder = hold(tmp_path, 1)
    with environment_lock(tmp_path, "staging", "rollback", timeout=30) as me:
        assert me.operation == "rollback" and me.pid == os.getpid()
        assert json.loads((tmp_path / "staging.lock").read_text())["operation"] == "rollback"
    holder.wait()
    assert (tmp_path / "staging.lock").read_text() == ""


def test_lock_of_a_killed_run_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    holder = hold(tmp_path, 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert json.loads((tmp_path / "staging.lock").read_text())["pid"] == holder.pid
    with (
        pytest.warns(StaleLockWarning, match=f"pid {holder.pid}"),
        environment_lock(tmp_path, "staging", "apply"),
    ):
        pass


def test_parse_timeout() -> None:
    assert [parse_timeout(t) for t in (None, "30s", "2m", "1h", "5")] == [0.0, 30.0, 120.0, 3600.0, 5.0]
    with pytest.raises(ValueError, match="invalid lock timeout"):
        parse_timeout("soon")


def test_parse_timeout_takes_finite_non_negative_durations_up_to_the_maximum() -> None:
    assert parse_timeout("24h") == MAX_LOCK_TIMEOUT and parse_timeout("0s") == 0.0
    for text in ("inf", "nan", "-5s", "1e400s", "86401", "25h"):
        with pytest.raises(ValueError, match=f"invalid lock timeout '{text}'"):
            parse_timeout(text)


APPLY = textwrap.dedent(
    """
    import sys
    from tfkit import Project, TfkitError, workflow
    from tfkit.workflow import RunOptions
    env = Project.load(sys.argv[1]).environment("dev")
    try:
        outcome = workflow.apply(env, auto_approve=True, options=RunOptions(gate=False))
        print("applied" if outcome.applied else "nothing", flush=True)
    except TfkitError as exc:
        print(exc, file=sys.stderr, flush=True)
        raise SystemExit(exc.exit_code)
    """
)
SLOW = """
resource "terraform_data" "slow" {
  input = "slow"
  provisioner "local-exec" {
    command = "sleep 4"
  }
}
"""


@pytest.mark.slow
def test_two_applies_started_together(example_repo: Path) -> None:
    (example_repo / "envs" / "dev" / "slow.tf").write_text(SLOW)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", APPLY, str(example_repo)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 3], results
    loser = next(r for r in results if r[0] == 3)
    assert "environment 'dev' is locked by apply by" in loser[2]
    winner = next(r for r in results if r[0] == 0)
    assert winner[1].strip() == "applied"


@pytest.mark.slow
def test_apply_killed_midway_leaves_a_lock_the_next_run_takes_over(example_repo: Path) -> None:
    (example_repo / "envs" / "dev" / "slow.tf").write_text(SLOW.replace("sleep 4", "sleep 60"))
    proc = subprocess.Popen(
        [sys.executable, "-c", APPLY, str(example_repo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = example_repo / ".tfkit" / "locks" / "dev.lock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
        time.sleep(0.1)
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(lock.read_text())["pid"] == proc.pid
    (example_repo / "envs" / "dev" / "slow.tf").unlink()
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", APPLY, str(example_repo)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "took over the lock on 'dev' left by a run that died" in done.stderr, done.stderr
    assert f"pid {proc.pid}" in done.stderr
