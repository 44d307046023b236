"""Secret sources end to end: a planted secret never appears in output, in .tfkit/ or in temporary files.

Also the sources' bad input: a missing environment variable, a failing command, a missing file, an
unknown source kind: one line naming the variable and the source, exit code 2, never the value.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tfkit import workflow
from tfkit.config import SecretSource
from tfkit.errors import SecretError, TerraformError
from tfkit.project import Project
from tfkit.redact import mask
from tfkit.secrets import read_secret, secret_environment

_SECRET_TABLE = re.compile(r"\[secrets\.db_password\]\n[^\n]*\n")

_FAILING_RESOURCE = """
resource "terraform_data" "boom" {
  input = {
    tags = { owner = "platform-team", env = "dev", cost_center = "cc-1234", managed_by = "tfkit" }
  }
  triggers_replace = [var.db_password]

  provisioner "local-exec" {
    command     = "echo \\"leaking $PW\\" 1>&2; echo \\"leaking $PW\\"; exit 3"
    environment = { PW = var.db_password }
  }
}
"""


def _planted() -> str:
    return f"planted-{secrets.token_hex(12)}"


def _set_source(repo: Path, table: str) -> None:
    """Replace the example's db_password source in tfkit.toml."""
    toml = repo / "tfkit.toml"
    text, count = _SECRET_TABLE.subn(f"[secrets.db_password]\n{table}\n", toml.read_text())
    assert count == 1
    toml.write_text(text)


def _vault(tmp_path: Path, value: str) -> list[str]:
    """A stand-in for a vault CLI: a script outside the repository that prints the value."""
    store = tmp_path / "vault"
    store.mkdir()
    (store / "value").write_text(value + "\n")
    script = store / "vault.py"
    script.write_text(f"print(open({str(store / 'value')!r}).read().strip())\n")
    return [sys.executable, str(script)]


def _toml_list(argv: list[str]) -> str:
    return "[" + ", ".join(f'"{a}"' for a in argv) + "]"


def _files_under(*roots: Path) -> list[Path]:
    return [
        p for root in roots if root.exists() for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    ]


_PLUGIN_TEST = """
from tfkit.testing import assert_resource


def test_wrong_password(tfkit_plan):
    plan = tfkit_plan("dev")
    assert_resource(plan, "module.service.terraform_data.database").with_attributes(
        {"triggers_replace.password": "a-wrong-guess-123"}
    )
"""


def _failing_pytest_assertion(repo: Path, env: dict[str, str]) -> tuple[str, str]:
    """Run a user's failing plugin test on the repository; its whole output is returned."""
    test_file = repo.parent / "test_user_infra.py"
    test_file.write_text(_PLUGIN_TEST)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-p",
            "no:cacheprovider",
            f"--tfkit-root={repo}",
            "-vv",
        ],
        cwd=repo.parent,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "triggers_replace.password: (sensitive) does not match" in done.stdout
    return done.stdout, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("source", ["env", "command"])
def test_planted_secret_never_leaks(source: str, example_repo: Path, tmp_path: Path, tfkit_cli) -> None:
    value = _planted()
    env = {"TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    if source == "env":
        _set_source(example_repo, 'env = "TFKIT_TEST_DB_PASSWORD"')
        env["TFKIT_TEST_DB_PASSWORD"] = value
    else:
        _set_source(example_repo, f"command = {_toml_list(_vault(tmp_path, value))}")
    outputs: list[str] = []

    def run(*args: str, expect: int) -> None:
        done = tfkit_cli(*args, cwd=example_repo, env=env)
        outputs.extend((done.stdout, done.stderr))
        assert done.returncode == expect, done.stderr

    out_json = tmp_path / "out" / "plan.json"
    run("plan", "--env", "dev", "--out", str(out_json), expect=0)
    run("apply", "--env", "dev", "--auto-approve", expect=0)
    run("output", "--env", "dev", expect=0)
    run("output", "--env", "dev", "--json", expect=0)
    run("describe", "--env", "dev", "--env", "staging", expect=0)
    described = outputs[-2]
    assert "### dev" in described and "### staging" in described and "## Why" in described
    (example_repo / "envs/dev/boom.tf").write_text(_FAILING_RESOURCE)
    run("apply", "--env", "dev", "--auto-approve", expect=1)
    assert "leaking (sensitive)" in outputs[-1]  # Terraform echoed the secret; tfkit masked it
    (example_repo / "envs/dev/boom.tf").unlink()
    run("rollback", "--env", "dev", "--auto-approve", expect=0)
    reports = tmp_path / "out"
    formats = ("json", "junit", "sarif", "markdown", "text")
    run(
        "plan",
        "--env",
        "dev",
        "--format",
        "markdown",
        *(f"--output={fmt}={reports / ('report.' + fmt)}" for fmt in formats),
        expect=0,
    )
    assert all((reports / f"report.{fmt}").stat().st_size > 0 for fmt in formats)
    run("drift", "--env", "dev", "--format", "json", expect=0)
    run("status", "--format", "junit", expect=0)
    run("snapshots", "list", "--env", "dev", expect=0)
    outputs.extend(_failing_pytest_assertion(example_repo, env))

    for text in outputs:
        assert value not in text
    assert out_json.is_file() and b"REDACTED_SENSITIVE" in out_json.read_bytes()
    searched = _files_under(example_repo / ".tfkit", tmp_path / "tmp", tmp_path / "out")
    assert any(p.is_relative_to(example_repo / ".tfkit") for p in searched)
    for path in searched:
        assert value.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_workflow_in_process_keeps_the_secret_out_of_results_and_errors(
    example_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import tempfile

    value = _planted()
    _set_source(example_repo, 'env = "TFKIT_TEST_DB_PASSWORD"')
    monkeypatch.setenv("TFKIT_TEST_DB_PASSWORD", value)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    env = Project.load(example_repo).environment("dev")
    outcome = workflow.apply(env, auto_approve=True)
    assert outcome.applied and outcome.converged
    assert value not in repr(outcome.plan) and value.encode() not in outcome.plan.redacted()
    (example_repo / "envs/dev/boom.tf").write_text(_FAILING_RESOURCE)
    with pytest.raises(TerraformError) as failed:
        workflow.apply(Project.load(example_repo).environment("dev"), auto_approve=True)
    # Terraform puts the provisioner's output (the secret) in its diagnostic; everything tfkit prints
    # passes through mask, which knows the value from its source.
    assert value not in mask(str(failed.value))
    captured = capfd.readouterr()
    assert value not in captured.out and value not in captured.err
    for path in _files_under(example_repo / ".tfkit", scratch):
        assert value.encode() not in path.read_bytes(), path


# ------------------------------------------------------------------------------------- the sources


def test_each_source_kind_reads_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = _planted()
    monkeypatch.setenv("TFKIT_TEST_SRC", value)
    (tmp_path / "pw").write_text(value + "\n")
    (tmp_path / "pw").chmod(0o600)  # a secret file others may read is an error in CI
    command = tuple(_vault(tmp_path, value))
    assert read_secret("v", SecretSource("env", env="TFKIT_TEST_SRC"), base=tmp_path) == value
    assert read_secret("v", SecretSource("file", file="pw"), base=tmp_path) == value
    assert read_secret("v", SecretSource("command", command=command), base=tmp_path) == value
    assert mask(f"value={value}") == "value=(sensitive)"


def test_a_preset_tf_var_wins_and_is_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = _planted()
    monkeypatch.setenv("TF_VAR_db_password", value)
    env = secret_environment({"db_password": SecretSource("env", env="TFKIT_UNSET_X")}, base=tmp_path)
    assert env == {}
    assert value not in mask(value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            SecretSource("env", env="TFKIT_TEST_MISSING_VAR"),
            "environment variable TFKIT_TEST_MISSING_VAR is not set",
        ),
        (SecretSource("file", file="nowhere/pw"), "cannot read file nowhere/pw"),
        (SecretSource("command", command=("tfkit-no-such-vault-cli",)), "not found"),
        (SecretSource("command", command=(sys.executable, "-c", "raise SystemExit(4)")), "exit code 4"),
    ],
)
def test_bad_sources_name_variable_and_source(
    source: SecretSource, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TFKIT_TEST_MISSING_VAR", raising=False)
    with pytest.raises(SecretError) as failed:
        read_secret("db_password", source, base=tmp_path)
    message = str(failed.value)
    assert "db_password" in message and expected in message and "\n" not in message
    assert failed.value.exit_code == 2


def test_a_failing_command_does_not_show_its_output(tmp_path: Path) -> None:
    value = _planted()
    script = f"import sys; print({value!r}); print({value!r}, file=sys.stderr); sys.exit(1)"
    with pytest.raises(SecretError) as failed:
        read_secret(
            "db_password", SecretSource("command", command=(sys.executable, "-c", script)), base=tmp_path
        )
    assert value not in str(failed.value)


def test_a_binary_secret_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pw").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "pw").chmod(0o600)
    with pytest.raises(SecretError, match="is not UTF-8 text"):
        read_secret("db_password", SecretSource("file", file="pw"), base=tmp_path)


@pytest.mark.parametrize(
    ("table", "env", "expected"),
    [
        ('env = "TFKIT_TEST_MISSING_VAR"', {}, "environment variable TFKIT_TEST_MISSING_VAR is not set"),
        ('command = ["sh", "-c", "echo half-a-secret >&2; exit 5"]', {}, "failed with exit code 5"),
        ('file = ".secrets/missing"', {}, "cannot read file .secrets/missing"),
        ('vault = "kv/db"', {}, "unknown key 'secrets.db_password.vault'"),
    ],
)
def test_cli_bad_secret_sources_are_one_line_exit_2(
    table: str, env: dict[str, str], expected: str, example_repo: Path, tfkit_cli
) -> None:
    _set_source(example_repo, table)
    clean = {k: v for k, v in os.environ.items() if k != "TFKIT_TEST_MISSING_VAR"}
    done = subprocess.run(
        [sys.executable, "-m", "tfkit", "plan", "--env", "dev"],
        cwd=example_repo,
        env={k: v for k, v in clean.items() if k != "TF_VAR_db_password"} | env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "half-a-secret" not in done.stderr + done.stdout


def test_error_messages_are_masked_for_library_callers() -> None:
    from tfkit.errors import TfkitError
    from tfkit.redact import register_secret

    value = _planted()
    register_secret(value)
    assert value not in str(TfkitError(f"Output: leaking {value}"))
