"""An engine started before its session (``tfkit.engine_setup``): read once, handed over once, not leaked."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from testsupport import invoke_tfkit

from tfkit.engine_setup import StartedEngine, engine_setup
from tfkit.project import Project
from tfkit.terraform import open_engine
from tfkit.terraform.runner import WorkerRunner


def test_the_engine_is_handed_over_once_and_only_when_it_is_the_one_asked_for(
    example_repo: Path, terraform_binary: str
) -> None:
    env = Project.load(example_repo).environment("dev")
    setup = engine_setup(env, engine="binary", binary=terraform_binary)
    assert setup.env["TF_VAR_db_password"] and setup.pg_state is None and setup.store is not None
    with StartedEngine(setup, env.directory) as started:
        ask = {"binary": setup.binary, "env": setup.env, "on_event": None}
        other = started.factory("binary", env.directory.parent, **ask)
        taken = started.factory(setup.kind, env.directory, **ask)
        again = started.factory(setup.kind, env.directory, **ask)
        assert other is not taken and again is not taken
        assert taken.workdir == env.directory.resolve()
        for engine in (other, again):
            engine.close()
    assert taken.run_dir.is_dir()  # the session that took it closes it, not the block
    taken.close()
    with StartedEngine(setup, env.directory) as unused:
        never_taken = unused._engine
        assert never_taken is not None and never_taken.run_dir.is_dir()
    assert not never_taken.run_dir.exists()  # no session took it: the block closed it


def test_a_worker_started_ahead_and_never_used_is_stopped_on_close(tmp_path: Path) -> None:
    engine = open_engine("embedded", tmp_path)
    engine.start()
    runner = engine._runner
    assert isinstance(runner, WorkerRunner)
    proc = runner._proc
    assert proc is not None
    engine.close()
    assert proc.poll() is not None and not engine.run_dir.exists()


def test_tfkit_plan_starts_one_worker_and_reads_a_command_secret_once(
    example_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker started before the workflow is imported is the session's; the setup is not read twice."""
    calls = example_repo.parent / "secret-calls"
    script = f"open({str(calls)!r}, 'a').write('x'); print(open('.secrets/db_password').read().strip())"
    toml = example_repo / "tfkit.toml"
    table = f"[secrets.db_password]\ncommand = {json.dumps([sys.executable, '-c', script])}\n"
    toml.write_text(re.sub(r"\[secrets\.db_password\]\n[^\n]*\n", table, toml.read_text()))
    started: list[int] = []
    original = WorkerRunner._start

    def counting(self: WorkerRunner, env, cwd):  # type: ignore[no-untyped-def]
        proc = original(self, env, cwd)
        if proc.pid not in started:
            started.append(proc.pid)
        return proc

    monkeypatch.setattr(WorkerRunner, "_start", counting)
    result = invoke_tfkit("plan", "--env", "dev", cwd=example_repo)
    assert result.returncode == 0, result.stderr
    assert "Plan: 7 to add" in result.stdout
    assert len(started) == 1
    assert calls.read_text() == "x"
