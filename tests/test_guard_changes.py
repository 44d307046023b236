"""check-changes on temporary git repositories, and the change description rule."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tfkit.guard import GuardSettings, check_changes, check_description, classify
from tfkit.guard.description import WHY_PLACEHOLDER


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    """A git repository with one module on main, and a feature branch checked out."""
    repo = tmp_path / "infra"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "test@example.invalid")
    _git(repo, "config", "user.name", "tfkit test")
    _git(repo, "config", "commit.gpgsign", "false")
    (repo / "modules/network").mkdir(parents=True)
    (repo / "modules/network/main.tf").write_text('resource "terraform_data" "vpc" {}\n')
    (repo / ".gitignore").write_text("*.tfstate\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "start")
    _git(repo, "checkout", "-q", "-b", "feature")
    return repo


def _commit_all(repo: Path) -> None:
    _git(repo, "add", "-A", "--force")
    _git(repo, "commit", "-q", "-m", "change")


def test_a_module_change_passes(infra: Path, tfkit_cli) -> None:
    (infra / "modules/network/main.tf").write_text('resource "terraform_data" "vpc" {\n  input = 1\n}\n')
    (infra / "docs").mkdir()
    (infra / "docs/network.md").write_text("# Network\n")
    _commit_all(infra)
    done = tfkit_cli("check-changes", "--base", "main", "-v", cwd=infra)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "modules/network/main.tf: allowed by rule 'terraform'" in done.stdout
    assert "docs/network.md: allowed" in done.stdout


def test_application_code_state_keys_and_env_files_are_refused(infra: Path, tfkit_cli) -> None:
    (infra / "app").mkdir()
    (infra / "app/server.py").write_text("print('hello')\n")
    (infra / "envs/dev").mkdir(parents=True)
    (infra / "envs/dev/terraform.tfstate").write_text("{}\n")
    (infra / "deploy.pem").write_text("not really a key\n")
    (infra / ".env").write_text("MODE=dev\n")
    (infra / "modules/network/variables.tf").write_text('variable "cidr" {}\n')
    _commit_all(infra)
    done = tfkit_cli("check-changes", "--base", "main", cwd=infra)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    expected = {
        "app/server.py": "'application-code' (*.py)",
        "envs/dev/terraform.tfstate": "'state-file' (*.tfstate)",
        "deploy.pem": "'private-key' (*.pem)",
        ".env": "'dotenv' (.env)",
    }
    for path, rule in expected.items():
        assert any(line.startswith(f"{path}: refused by rule {rule}") for line in lines), (path, lines)
    assert not any("variables.tf" in line for line in lines)
    assert "4 of 5 changed file(s) refused since main" in done.stderr


def test_uncommitted_and_untracked_files_count_unless_committed_only(infra: Path, tfkit_cli) -> None:
    (infra / "notes.txt").write_text("scratch\n")
    (infra / "local.tfstate").write_text("{}\n")  # git-ignored: not a change
    done = tfkit_cli("check-changes", cwd=infra)
    assert done.returncode == 1
    assert "notes.txt: refused by rule 'unlisted'" in done.stdout
    assert "local.tfstate" not in done.stdout
    assert tfkit_cli("check-changes", "--committed-only", cwd=infra).returncode == 0


def test_a_var_file_with_a_secret_is_refused(infra: Path) -> None:
    (infra / "envs").mkdir()
    (infra / "envs/prod.tfvars").write_text('db_password = "' + "Pw-" + "k2J9xQ7mZ4" + '"\n')
    result = check_changes(infra, "main")
    [verdict] = result.refused
    assert verdict.path == "envs/prod.tfvars" and verdict.rule == "contains-secret"
    assert "k2J9xQ7mZ4" not in verdict.one_line()


def test_repository_rules_from_tfkit_toml(infra: Path) -> None:
    (infra / "tfkit.toml").write_text(
        '[environments.dev]\n[guard]\nallow = ["tools/**"]\nrefuse = ["modules/legacy/"]\n'
        'disable = ["plan-file"]\n'
    )
    for rel in ("tools/lint.py", "modules/legacy/main.tf", "saved.tfplan", "envs/dev/main.tf"):
        (infra / rel).parent.mkdir(parents=True, exist_ok=True)
        (infra / rel).write_text("x = 1\n")
    verdicts = {v.path: v for v in check_changes(infra).verdicts}
    assert verdicts["tools/lint.py"].allowed and verdicts["tools/lint.py"].rule == "allow"
    assert (
        not verdicts["modules/legacy/main.tf"].allowed and verdicts["modules/legacy/main.tf"].rule == "refuse"
    )
    assert verdicts["saved.tfplan"].rule == "unlisted"  # plan-file disabled: no longer refused by that rule
    assert verdicts["envs/dev/main.tf"].allowed


def test_an_unknown_guard_key_is_a_config_error(infra: Path, tfkit_cli) -> None:
    (infra / "tfkit.toml").write_text('[environments.dev]\n[guard]\nalow = ["x"]\n')
    done = tfkit_cli("check-changes", cwd=infra)
    assert done.returncode == 2 and "did you mean 'allow'" in done.stderr


def test_default_rules() -> None:
    allowed = [
        "main.tf",
        "envs/prod/prod.tfvars",
        "modules/x/README.md",
        "policies/tags.py",
        "tests/test_network.py",
        ".github/workflows/plan.yml",
        ".gitlab-ci.yml",
        "tfkit.toml",
        "Makefile",
        ".terraform.lock.hcl",
        ".env.example",
        "keys/deploy.pub",
    ]
    refused = {
        "src/app.js": "application-code",
        "cmd/main.go": "application-code",
        "terraform.tfstate.backup": "state-file",
        "tfplan": "plan-file",
        "id_rsa": "private-key",
        "envs/prod/.env.production": "dotenv",
        ".secrets/db_password": "secret-file",
        "envs/dev/.terraform/terraform.tfstate": "state-file",
        "random.bin": "unlisted",
    }
    settings = GuardSettings()
    for path in allowed:
        assert classify(path, settings).allowed, path
    for path, rule in refused.items():
        verdict = classify(path, settings)
        assert not verdict.allowed and verdict.rule == rule, (path, verdict)
    # an allow pattern does not let a private key in
    assert classify("tools/x.key", GuardSettings(allow=("tools/",))).rule == "private-key"


def test_bad_refs_and_no_repository_are_one_line_exit_2(infra: Path, tmp_path: Path, tfkit_cli) -> None:
    done = tfkit_cli("check-changes", "--base", "does-not-exist", cwd=infra)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"error: base ref 'does-not-exist' does not exist in {infra}; fetch it or name "
        "an existing branch or commit"
    )
    outside = tmp_path / "plain"
    outside.mkdir()
    done = tfkit_cli("check-changes", cwd=outside)
    assert done.returncode == 2 and "not in a git repository" in done.stderr
    missing = tfkit_cli("check-changes", "--description", "nope.md", cwd=infra)
    assert missing.returncode == 2 and "nope.md: cannot read the description" in missing.stderr


# ------------------------------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    "text",
    [
        "Widen the staging subnets to /23\n\nWhy: the autoscaler ran out of addresses last week.\n",
        "# Add a backup group in production\n\n## Motivation\n\nThe SLA needs a failover pair.\n",
        "Raise max_size of the service to 12\n\nWe raise it because peak traffic doubled in March.\n",
    ],
)
def test_good_descriptions_pass(text: str) -> None:
    assert check_description(text).ok, check_description(text).problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("WIP\n\nWhy: the autoscaler ran out of addresses.\n", "does not say what changes"),
        ("Widen the staging subnets to /23\n\nMore addresses for the pods.\n", "does not say why"),
        (f"# Infrastructure change in staging\n\n## Why\n\n{WHY_PLACEHOLDER}\n", "does not say why"),
        ("Widen the staging subnets\n\n## Why\n\nTBD\n", "does not say why"),
    ],
)
def test_bad_descriptions_fail(text: str, problem: str) -> None:
    check = check_description(text)
    assert not check.ok and any(problem in p for p in check.problems), check.problems


def test_cli_checks_the_description(infra: Path, tfkit_cli) -> None:
    (infra / "good.md").write_text("Widen the subnets to /23\n\nWhy: we ran out of addresses.\n")
    (infra / "bad.md").write_text("update\n")
    good = tfkit_cli("check-changes", "--committed-only", "--description", str(infra / "good.md"), cwd=infra)
    assert good.returncode == 0, good.stdout
    bad = tfkit_cli("check-changes", "--committed-only", "--description", str(infra / "bad.md"), cwd=infra)
    assert bad.returncode == 1 and "does not say why" in bad.stdout
