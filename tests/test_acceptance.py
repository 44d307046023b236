"""A new user's path, outside tfkit's repository: wheel, fresh venv, ``tfkit init``, the managed Checkov,
validate, plan, apply in order, and the generated tests (with a Hypothesis test through tfkit_module_plan).

Nothing of the checkout is in reach: the commands run from the installed wheel in a fresh venv (its
dependencies from the test environment, offline; no PYTHONPATH, no TFKIT_CHECKOV), in a new git repository
in a temporary directory. ``tfkit scanners install`` installs the pinned Checkov from a copy of the wheels
``make setup`` downloads (``--find-links --no-index``), into a private user cache directory. Each step's
duration is printed (``-s`` shows them); none is asserted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from testsupport import REPO, build_dist, install_wheel

from tfkit.scan.managed import CHECKOV_VERSION

WHEELS = REPO / ".wheels-checkov"

NETWORK = """\
variable "name" {
  type        = string
  description = "The network's name: a DNS label."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "Lower-case letters, digits and -, 3 to 21 characters."
  }
}

variable "cidr" {
  type        = string
  description = "The network's address range."
  validation {
    condition     = can(cidrhost(var.cidr, 0))
    error_message = "A CIDR block."
  }
}

variable "zones" {
  type        = number
  description = "How many zones get a subnet."
  default     = 2
  validation {
    condition     = var.zones >= 1 && var.zones <= 3
    error_message = "1 to 3 zones."
  }
}

resource "terraform_data" "network" {
  input = { name = var.name, cidr = var.cidr }
}

resource "terraform_data" "subnet" {
  count = var.zones
  input = { network = var.name, zone = count.index }
}

output "id" {
  description = "The network's id."
  value       = terraform_data.network.id
}
"""

APP = """\
variable "network_id" {
  type        = string
  description = "The network the app runs in."
}

variable "replicas" {
  type        = number
  description = "How many replicas."
  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "1 to 5 replicas."
  }
}

resource "terraform_data" "app" {
  input = { network = var.network_id, replicas = var.replicas }
}
"""

ENV = """\
variable "replicas" {
  type        = number
  description = "Replicas of the app."
}

module "network" {
  source = "../../modules/network"
  name   = "net-%(name)s"
  cidr   = "%(cidr)s"
}

module "app" {
  source     = "../../modules/app"
  network_id = module.network.id
  replicas   = var.replicas
}
"""


def _user_repo(root: Path) -> Path:
    """An infrastructure repository as a user has it before tfkit: two modules, three environments."""
    (root / "modules" / "network").mkdir(parents=True)
    (root / "modules" / "network" / "main.tf").write_text(NETWORK)
    (root / "modules" / "app").mkdir()
    (root / "modules" / "app" / "main.tf").write_text(APP)
    for index, name in enumerate(("dev", "staging", "prod")):
        env = root / "envs" / name
        env.mkdir(parents=True)
        (env / "main.tf").write_text(ENV % {"name": name, "cidr": f"10.{index}.0.0/16"})
        (env / f"{name}.tfvars").write_text(f"replicas = {index + 1}\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.mark.slow
def test_a_new_user_adopts_tfkit_from_the_wheel(tmp_path: Path) -> None:
    assert WHEELS.is_dir(), "Checkov's wheels are missing: run `make setup` (it downloads them once)"
    makefile = (REPO / "Makefile").read_text()
    assert f"CHECKOV_VERSION := {CHECKOV_VERSION}" in makefile, "one pinned Checkov version"
    timings: list[tuple[str, float]] = []

    def timed(what: str, start: float) -> None:
        timings.append((what, time.perf_counter() - start))

    start = time.perf_counter()
    wheel = build_dist("wheel", tmp_path / "dist")
    bin_dir = install_wheel(wheel, tmp_path / "user" / "venv")
    wheels = shutil.copytree(WHEELS, tmp_path / "wheels")
    timed("build the wheel, install it into a fresh venv", start)
    repo = _user_repo(tmp_path / "infra")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TFKIT_", "PYTEST_", "TF_VAR_", "HYPOTHESIS")) and k != "PYTHONPATH"
    }
    env |= {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}"}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        begin = time.perf_counter()
        done = subprocess.run(
            list(argv), cwd=repo, env=env, capture_output=True, text=True, timeout=1800, check=False
        )
        timed(" ".join(argv), begin)
        assert done.returncode == 0, f"{' '.join(argv)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    init = run("tfkit", "init")
    assert init.stdout.splitlines()[:3] == [
        "environment dev: envs/dev, dev.tfvars",
        "environment staging: envs/staging, staging.tfvars",
        "environment prod: envs/prod, prod.tfvars, protected",
    ]
    installed = run("tfkit", "scanners", "install", "--find-links", str(wheels), "--no-index")
    assert installed.stdout.startswith(f"Checkov {CHECKOV_VERSION} installed in {tmp_path / 'cache'}")
    status = run("tfkit", "scanners", "status")
    assert "(from the managed environment)" in status.stdout
    run("tfkit", "validate", "--all")
    plan = run("tfkit", "plan", "--all")
    assert plan.stdout.count(f"scanner: checkov {CHECKOV_VERSION}") == 3
    for name in ("dev", "staging", "prod"):
        applied = run("tfkit", "apply", "--env", name, "--auto-approve")
        assert f"{name}: apply complete" in applied.stdout + applied.stderr
    tests = run(str(bin_dir / "python"), "-m", "pytest", "tests", "-p", "no:cacheprovider", "-v")
    assert re.search(r"test_module_app_plans_for_valid_inputs PASSED", tests.stdout), tests.stdout
    assert "5 passed" in tests.stdout  # 3 environments' policies, prod deletes nothing, the module
    assert "tfkit: plans from empty state" in tests.stdout
    where = run(str(bin_dir / "python"), "-c", "import tfkit; print(tfkit.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(bin_dir.parent)
    print("\nA new user's path (seconds):")
    for what, seconds in timings:
        print(f"  {seconds:7.1f}  {what}")
