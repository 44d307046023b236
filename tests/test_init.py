"""``tfkit init``: what it discovers, that it never overwrites, and that its result validates, plans and
passes its own tests (real engine, real Checkov, the generated pytest file run by a real pytest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from testsupport import copy_example, invoke_tfkit, run_tfkit

from tfkit.config import load_config
from tfkit.scaffold import init_repository
from tfkit.scaffold.discover import discover


def _pytest(repo: Path) -> subprocess.CompletedProcess[str]:
    """The generated tests, run as a user runs them: ``python -m pytest tests`` from the repository."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.slow
def test_an_empty_repository_gets_an_environment_that_validates_plans_and_passes_its_tests(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    done = invoke_tfkit("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    for rel in ("envs/dev/main.tf", "tfkit.toml", "policies/example.py", "tests/test_tfkit_plans.py"):
        assert f"created {rel}" in done.stdout
    assert (repo / ".github/workflows/tfkit.yml").is_file() and (repo / ".pre-commit-config.yaml").is_file()
    assert ".tfkit/" in (repo / ".gitignore").read_text().splitlines()

    assert run_tfkit("validate", "--all", cwd=repo).returncode == 0
    plan = run_tfkit("plan", "--all", cwd=repo)
    assert plan.returncode == 0, plan.stderr
    assert "scanner: checkov" in plan.stdout and "gate passed for dev" in plan.stdout
    tests = _pytest(repo)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


@pytest.mark.slow
def test_the_example_layout_is_discovered_and_its_result_plans_and_passes_its_tests(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "repo")
    (repo / "tfkit.toml").unlink()
    shutil.rmtree(repo / "policies")  # a repository without tfkit has no tfkit policies

    done = invoke_tfkit("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == [
        "environment dev: envs/dev, dev.tfvars",
        "environment staging: envs/staging, staging.tfvars",
        "environment production: envs/production, production.tfvars, protected",
        "secret db_password: from file .secrets/db_password",
    ]
    config = load_config(repo / "tfkit.toml")
    assert [e.name for e in config.environments] == ["dev", "staging", "production"]
    assert [e.protected for e in config.environments] == [False, False, True]
    assert config.secrets["db_password"].file == ".secrets/db_password"
    assert config.checkov is not None

    assert run_tfkit("validate", "--all", cwd=repo).returncode == 0
    plan = run_tfkit("plan", "--all", cwd=repo)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert plan.stdout.count("scanner: checkov") == 3
    tests = _pytest(repo)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # three environments' policies, production deletes nothing, modules/access through tfkit_module_plan
    assert "5 passed" in tests.stdout
    assert (
        "def test_module_access_plans_for_valid_inputs(tfkit_module_plan, inputs)"
        in (repo / "tests" / "test_tfkit_plans.py").read_text()
    )


def test_init_never_overwrites_and_only_adds_missing_ignore_lines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _write(repo / "envs/prod/main.tf", 'resource "terraform_data" "x" {}\n')
    _write(repo / "tfkit.toml", "[environments.prod]\n")
    _write(repo / ".gitignore", "node_modules/\n.terraform/")
    _write(repo / "tests/test_tfkit_plans.py", "# mine\n")
    first = init_repository(repo)
    assert "tfkit.toml" in first.kept and "tests/test_tfkit_plans.py" in first.kept
    assert (repo / "tfkit.toml").read_text() == "[environments.prod]\n"
    assert (repo / "tests/test_tfkit_plans.py").read_text() == "# mine\n"
    ignore = (repo / ".gitignore").read_text().splitlines()
    assert ignore[:2] == ["node_modules/", ".terraform/"] and ignore.count(".terraform/") == 1
    assert ".tfkit/" in ignore and ".terraform/" not in first.ignored
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}

    again = invoke_tfkit("init", cwd=repo)
    assert again.returncode == 0 and "created" not in again.stdout
    assert "kept .github/workflows/tfkit.yml (it exists; not changed)" in again.stdout
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_discovery_backends_var_files_order_and_undocumented_variables(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _write(repo / "environments/Prod/main.tf", 'terraform {\n  backend "s3" {}\n}\n')
    _write(repo / "environments/Prod/prod.tfvars", "")
    _write(repo / "environments/Prod/terraform.tfvars", "")
    _write(repo / "environments/Prod/extra.auto.tfvars", "")
    _write(repo / "environments/qa/main.tf", 'variable "token" {\n  sensitive = true\n}\n')
    _write(repo / "environments/dev/main.tf", 'variable "x" {\n  type = string\n  default = "a"\n}\n')
    _write(repo / "modules/net/main.tf", 'variable "cidr" {\n  type = string\n  description = "c"\n}\n')
    layout = discover(repo)
    assert [(e.name, e.directory, e.protected) for e in layout.environments] == [
        ("dev", "environments/dev", False),
        ("qa", "environments/qa", False),
        ("prod", "environments/Prod", True),
    ]
    prod = layout.environments[-1]
    assert prod.var_files == ("prod.tfvars",) and prod.backend == ("s3", "environments/Prod/main.tf:2")
    assert [(s.name, s.kind, s.value) for s in layout.secrets] == [("token", "env", "TOKEN")]
    assert layout.undocumented == ("environments/dev: x", "environments/qa: token")
    assert [m.name for m in layout.modules] == ["net"]

    result = init_repository(repo, ci="gitlab")
    assert ".gitlab-ci.yml" in result.created and not (repo / ".github").exists()
    text = (repo / "tfkit.toml").read_text()
    assert '# backend "s3" at environments/Prod/main.tf:2' in text
    config = load_config(repo / "tfkit.toml")
    dirs = ["environments/dev", "environments/qa", "environments/Prod"]
    assert [e.dir for e in config.environments] == dirs
    assert config.secrets["token"].env == "TOKEN"
    assert config.policies.tables["TFK103"]["severity"] == "advisory"
    pipeline = yaml.safe_load((repo / ".gitlab-ci.yml").read_text())
    assert pipeline["apply"]["script"][1:] == [
        f"tfkit apply --env {e} --auto-approve --rollback-on-failure" for e in ("dev", "qa", "prod")
    ]
    assert "tests-junit.xml" in pipeline["plan"]["artifacts"]["reports"]["junit"]


def test_the_github_workflow_uploads_junit_and_applies_in_promotion_order(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for env in ("dev", "production"):
        _write(repo / f"envs/{env}/main.tf", 'resource "terraform_data" "x" {}\n')
    init_repository(repo)
    workflow = yaml.safe_load((repo / ".github/workflows/tfkit.yml").read_text())
    steps = workflow["jobs"]["plan"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "*-junit.xml"
    assert any("--output junit=tfkit-junit.xml" in s.get("run", "") for s in steps)
    runs = [s["run"] for s in workflow["jobs"]["apply"]["steps"] if "apply --env" in s.get("run", "")]
    expected = [f"tfkit apply --env {e} --auto-approve --rollback-on-failure" for e in ("dev", "production")]
    assert runs == expected
    hooks = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert [h["entry"] for h in hooks] == ["tfkit check-secrets", "tfkit validate --all"]


@pytest.mark.parametrize("bad", ["main.tf"])
def test_an_unreadable_terraform_file_is_a_one_line_error(tmp_path: Path, bad: str) -> None:
    _write(tmp_path / "envs/dev" / bad, 'resource "x" {\n')
    done = invoke_tfkit("init", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "tfkit.toml").exists()
