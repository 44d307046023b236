"""The tfkit command as a user meets it: bad input is one line, a documented exit code, no traceback.

Argument and configuration errors run the command in this process (``invoke_tfkit``, click's runner with
tfkit's own ``main``); a few tests start ``python -m tfkit`` where the real process is the point.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from testsupport import invoke_tfkit

from tfkit.cli import EXIT_CODES


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (except tfkit's lock files) with its digest."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "locks" not in p.parts
    }


def assert_user_error(result, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("tfkit: ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]


def test_exit_codes_are_documented() -> None:
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 5, 130}


def test_envs_lists_promotion_order(example_repo: Path) -> None:
    result = invoke_tfkit("envs", cwd=example_repo / "envs")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "1. dev  envs/dev",
        "2. staging  envs/staging",
        "3. production (protected)  envs/production",
    ]


def test_missing_config(tmp_path: Path) -> None:
    assert_user_error(invoke_tfkit("envs", cwd=tmp_path), 2, "no tfkit.toml found")


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[environments.dev\n", "invalid TOML"),
        ("[environments.dev]\nprotected = 1\n", "'environments.dev.protected' must be a boolean"),
        ("[environments.dev]\nvar_filez = []\n", "did you mean 'var_files'?"),
    ],
)
def test_bad_config(example_repo: Path, toml: str, fragment: str) -> None:
    (example_repo / "tfkit.toml").write_text(toml)
    before = tree_digest(example_repo)
    assert_user_error(invoke_tfkit("validate", "--all", cwd=example_repo), 2, "tfkit.toml", fragment)
    assert tree_digest(example_repo) == before


def test_unknown_environment(example_repo: Path) -> None:
    assert_user_error(
        invoke_tfkit("plan", "--env", "prod", cwd=example_repo),
        2,
        "known environments: dev, staging, production",
    )


def test_missing_environment_directory(example_repo: Path) -> None:
    (example_repo / "tfkit.toml").write_text('[environments.qa]\ndir = "envs/qa"\n')
    assert_user_error(invoke_tfkit("validate", "--env", "qa", cwd=example_repo), 2, "envs/qa does not exist")


@pytest.mark.slow
def test_hcl_syntax_error_in_module(example_repo: Path) -> None:
    module = example_repo / "modules" / "network" / "main.tf"
    module.write_text(module.read_text() + '\nresource "terraform_data" "broken" {\n')
    before = tree_digest(example_repo)
    result = invoke_tfkit("validate", "--env", "dev", cwd=example_repo)
    assert_user_error(result, 2, "modules/network/main.tf:", "Unclosed configuration block")
    assert tree_digest(example_repo) == before


@pytest.mark.slow
def test_missing_required_variable(example_repo: Path) -> None:
    tfvars = example_repo / "envs" / "dev" / "dev.tfvars"
    tfvars.write_text("\n".join(ln for ln in tfvars.read_text().splitlines() if not ln.startswith("cidr")))
    before = tree_digest(example_repo)
    assert_user_error(
        invoke_tfkit("plan", "--env", "dev", cwd=example_repo), 2, "no value for required variable cidr"
    )
    assert tree_digest(example_repo) == before


def test_missing_secret_source(example_repo: Path) -> None:
    (example_repo / ".secrets" / "db_password").unlink()
    result = invoke_tfkit("plan", "--env", "dev", cwd=example_repo)
    assert_user_error(result, 2, "secret variable 'db_password'", "file .secrets/db_password")


def test_engine_binary_not_installed(example_repo: Path) -> None:
    result = invoke_tfkit(
        "--engine", "binary", "--binary", "no-such-tofu", "validate", "--env", "dev", cwd=example_repo
    )
    assert_user_error(result, 2, "'no-such-tofu' not found on PATH")


def test_usage_error(example_repo: Path) -> None:
    assert_user_error(invoke_tfkit("plan", cwd=example_repo), 2, "Missing option '--env'")


def test_protected_environment_refuses_destroy(example_repo: Path) -> None:
    result = invoke_tfkit("destroy", "--env", "production", "--auto-approve", cwd=example_repo)
    assert_user_error(result, 4, "'production' is protected", "--allow-protected")


@pytest.mark.slow
def test_validate_all(example_repo: Path, tfkit_cli) -> None:
    """The real ``python -m tfkit`` process, through to Terraform's own processes."""
    result = tfkit_cli("validate", "--all", cwd=example_repo)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    valid = [lines.index(f"{name}: valid") for name in ("dev", "staging", "production")]
    assert valid == sorted(valid), result.stdout
    assert "tfkit: dev: init..." in result.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = invoke_tfkit("--debug", "envs", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "error: no tfkit.toml found" in result.stderr


@pytest.mark.parametrize("debug", [False, True])
def test_python_m_tfkit_exits_with_the_code_and_one_line(tmp_path: Path, tfkit_cli, debug: bool) -> None:
    """The process boundary: the exit status a shell sees, and what reaches its stderr."""
    result = tfkit_cli(*(["--debug"] if debug else []), "envs", cwd=tmp_path)
    if debug:
        assert result.returncode == 2
        assert "Traceback" in result.stderr and "error: no tfkit.toml found" in result.stderr
    else:
        assert_user_error(result, 2, "no tfkit.toml found")
