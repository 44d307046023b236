"""Ctrl-C during an apply: Terraform stops gracefully, the state lock is released, exit 130.

No timing decides an outcome: Ctrl-C is pressed once the apply's provisioner has signalled that it runs
(it creates a file, then sleeps), which is after Terraform took its state lock. The only time limit is a
generous guard against a hung run.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from testsupport import core_config

from tfkit.ledger import LocalLedger

pytestmark = pytest.mark.slow

#: Only stops a hung run; normal operation never comes near it.
HANG_GUARD = 300


def slow_resource(started: Path, input_hcl: str = '"x"') -> str:
    """A resource whose provisioner creates ``started``, then sleeps until it is interrupted."""
    command = json.dumps(f"touch {shlex.quote(str(started))} && exec sleep 120")
    return f"""
resource "terraform_data" "slow" {{
  input = {input_hcl}
  provisioner "local-exec" {{
    command = {command}
  }}
}}
"""


DRIVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tfkit.errors import TfkitError
    from tfkit.terraform import open_engine

    with open_engine(sys.argv[1], Path(sys.argv[2]), binary=sys.argv[3]) as eng:
        eng.init()
        planned = eng.plan(out=eng.run_dir / "p")
        print("applying", flush=True)
        try:
            eng.apply(planned.plan_file)
        except TfkitError as exc:
            print(exc, flush=True)
            raise SystemExit(exc.exit_code)
    """
)


def _interrupt_while_applying(proc: subprocess.Popen[str], started: Path, lock: Path) -> tuple[str, str]:
    """Wait until the apply's provisioner runs (the state lock is held then), press Ctrl-C, collect output."""
    deadline = time.monotonic() + HANG_GUARD
    while not started.exists():
        assert proc.poll() is None, ("the run ended before its provisioner started", proc.communicate())
        assert time.monotonic() < deadline, f"hang guard: no provisioner after {HANG_GUARD}s"
        time.sleep(0.05)
    assert lock.exists(), "the apply holds Terraform's state lock while it runs"
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=HANG_GUARD)


def test_interrupt_stops_terraform_and_releases_the_lock(
    tmp_path: Path, engine_kind: str, terraform_binary: str
) -> None:
    started = tmp_path.parent / f"{tmp_path.name}-started"
    (tmp_path / "main.tf").write_text(slow_resource(started))
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(driver), engine_kind, str(tmp_path), terraform_binary],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "applying"
    lock = tmp_path / ".terraform.tfstate.lock.info"
    out, err = _interrupt_while_applying(proc, started, lock)
    assert proc.returncode == 130, (out, err)
    assert "interrupted: terraform apply was stopped gracefully" in out
    assert "Traceback" not in err
    assert not lock.exists(), "Terraform released its state lock"
    state = json.loads((tmp_path / "terraform.tfstate").read_text())
    assert [r["name"] for r in state["resources"]] == ["slow"]  # recorded (tainted), not lost


TAGS_HCL = (
    '{ tags = { owner = "platform-team", env = "dev", cost_center = "cc-1234", managed_by = "tfkit" } }'
)


def test_ctrl_c_during_tfkit_apply_exits_130_and_marks_the_environment_unstable(example_repo: Path) -> None:
    (example_repo / "tfkit.toml").write_text(core_config())  # the gate without Checkov: not what is tested
    started = example_repo.parent / "provisioner-started"
    (example_repo / "envs" / "dev" / "slow.tf").write_text(slow_resource(started, TAGS_HCL))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfkit", "apply", "--env", "dev", "--auto-approve"],
        cwd=example_repo,
        env={**os.environ, "TFKIT_ENGINE": "embedded"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = example_repo / "envs" / "dev" / ".terraform.tfstate.lock.info"
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # progress lines: wait until Terraform is applying
        seen.append(line)
        if line.startswith("tfkit: dev: apply..."):
            break
    assert seen and seen[-1].startswith("tfkit: dev: apply..."), seen
    out, err = _interrupt_while_applying(proc, started, lock)
    assert proc.returncode == 130, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: interrupted: terraform apply was stopped gracefully; "
        "Terraform released its state lock if it held one"
    ]
    assert "Traceback" not in err
    assert not lock.exists()
    health = LocalLedger(example_repo / ".tfkit").health("dev")
    assert not health.stable and "apply failed" in health.reason
