"""Ctrl-C during an apply: Terraform stops gracefully, the state lock is released, exit 130."""

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

from tfkit.ledger import Ledger

pytestmark = pytest.mark.slow

SLOW_CONFIG = """
resource "terraform_data" "slow" {
  input = "x"
  provisioner "local-exec" {
    command = "sleep 60"
  }
}
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


def _interrupt_while_locked(
    proc: subprocess.Popen[str], lock: Path, *, wait: float, settle: float
) -> tuple[str, str]:
    """Wait until the apply holds Terraform's state lock, press Ctrl-C, and collect what it printed."""
    deadline = time.monotonic() + wait
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lock.exists(), "the apply holds Terraform's state lock while it runs"
    time.sleep(settle)  # let Terraform get into the provisioner
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=wait)


def test_interrupt_stops_terraform_and_releases_the_lock(
    tmp_path: Path, engine_kind: str, terraform_binary: str
) -> None:
    (tmp_path / "main.tf").write_text(SLOW_CONFIG)
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
    out, err = _interrupt_while_locked(proc, lock, wait=30, settle=0.5)
    assert proc.returncode == 130, (out, err)
    assert "interrupted: terraform apply was stopped gracefully" in out
    assert "Traceback" not in err
    assert not lock.exists(), "Terraform released its state lock"
    state = json.loads((tmp_path / "terraform.tfstate").read_text())
    assert [r["name"] for r in state["resources"]] == ["slow"]  # recorded (tainted), not lost


SLOW_RESOURCE = """
resource "terraform_data" "slow" {
  input = { tags = { owner = "platform-team", env = "dev", cost_center = "cc-1234", managed_by = "tfkit" } }
  provisioner "local-exec" {
    command = "sleep 60"
  }
}
"""


def test_ctrl_c_during_tfkit_apply_exits_130_and_marks_the_environment_unstable(example_repo: Path) -> None:
    (example_repo / "envs" / "dev" / "slow.tf").write_text(SLOW_RESOURCE)
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
    out, err = _interrupt_while_locked(proc, lock, wait=60, settle=1)
    assert proc.returncode == 130, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: interrupted: terraform apply was stopped gracefully; "
        "Terraform released its state lock if it held one"
    ]
    assert "Traceback" not in err
    assert not lock.exists()
    health = Ledger(example_repo / ".tfkit").health("dev")
    assert not health.stable and "apply failed" in health.reason
