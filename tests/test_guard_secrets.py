"""check-secrets: a corpus of real secret shapes is found without printing a value; the example is clean."""

from __future__ import annotations

import json
import secrets
import string
import subprocess
from pathlib import Path

import pytest
from testsupport import REPO, copy_example

from tfkit.guard import files_to_scan, load_baseline, scan_files, scan_history
from tfkit.guard.tfrules import scan_terraform


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _corpus() -> dict[str, tuple[str, str]]:
    """Secret shapes built at run time (never committed literally): name -> (file text, the value)."""
    aws_id = "AK" + "IA" + _rand(16, string.ascii_uppercase + "234567")
    aws_secret = _rand(40, string.ascii_letters + string.digits + "/+")
    github = "gh" + "p_" + _rand(36)
    slack = "xo" + "xb-" + _rand(12, string.digits) + "-" + _rand(12, string.digits) + "-" + _rand(24)
    pem_body = _rand(64, string.ascii_letters + string.digits + "+/")
    pem = "-----BEGIN " + "RSA PRIVATE" + " KEY-----\n" + pem_body + "\n-----END " + "RSA PRIVATE KEY-----\n"
    password = "Pw-" + _rand(14)
    provider_token = _rand(32)
    return {
        "provider": (
            f'provider "aws" {{\n  region     = "eu-west-1"\n  access_key = "{aws_id}"\n'
            f'  secret_key = "{aws_secret}"\n}}\n',
            aws_secret,
        ),
        "github": (f"env:\n  GITHUB_TOKEN: {github}\n", github),
        "slack": (json.dumps({"webhook": {"slack_token": slack}}, indent=2) + "\n", slack),
        "pem": (pem, pem_body),
        "tfvars": (f'instance_type = "t3.small"\ndb_password   = "{password}"\n', password),
        "tf-literal": (
            f'resource "db" "x" {{\n  name     = "app"\n  password = "{password}x"\n}}\n'
            f'provider "vault" {{\n  token = "{provider_token}"\n}}\n',
            provider_token,
        ),
    }


_FILES = {
    "provider": "envs/prod/providers.tf",
    "github": ".github/workflows/ci.yml",
    "slack": "config/notify.json",
    "pem": "keys/deploy.txt",
    "tfvars": "envs/prod/prod.tfvars",
    "tf-literal": "modules/db/main.tf",
}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout


def _init(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "test@example.invalid")
    _git(repo, "config", "user.name", "tfkit test")
    _git(repo, "config", "commit.gpgsign", "false")


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def corpus_repo(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
    repo = tmp_path / "infra"
    _init(repo)
    (repo / "README.md").write_text("# infra\n")
    _commit(repo, "start")
    corpus = _corpus()
    for name, (text, _) in corpus.items():
        path = repo / _FILES[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return repo, corpus


def test_cli_finds_every_shape_and_prints_no_value(corpus_repo, tfkit_cli) -> None:
    repo, corpus = corpus_repo
    done = tfkit_cli("check-secrets", cwd=repo)
    assert done.returncode == 1, done.stderr
    for name, (_, value) in corpus.items():
        assert f"{_FILES[name]}:" in done.stdout, name
        assert value not in done.stdout + done.stderr
    assert "revoke and replace" in done.stderr
    for line in done.stdout.splitlines():
        assert line.count(":") >= 2 and "[" in line  # file:line: kind [detector]
    kinds = done.stdout
    assert "AWS Access Key" in kinds and "GitHub Token" in kinds and "Private Key" in kinds
    assert "credentials written in a provider block" in kinds
    assert "secret-looking value in a var file" in kinds
    assert "hard-coded secret in a secret-like argument" in kinds


def test_named_paths_only_are_scanned(corpus_repo, tfkit_cli) -> None:
    repo, _ = corpus_repo
    done = tfkit_cli("check-secrets", "README.md", "envs/prod/prod.tfvars", cwd=repo)
    assert done.returncode == 1
    assert {line.split(":")[0] for line in done.stdout.splitlines()} == {"envs/prod/prod.tfvars"}
    missing = tfkit_cli("check-secrets", "nowhere.tf", cwd=repo)
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert "nowhere.tf: no such file" in missing.stderr


def test_baseline_marks_reviewed_findings_without_values(corpus_repo, tfkit_cli) -> None:
    repo, corpus = corpus_repo
    updated = tfkit_cli("check-secrets", "--update-baseline", cwd=repo)
    assert updated.returncode == 0, updated.stderr
    baseline = (repo / ".tfkit-secrets-baseline.json").read_text()
    for _, value in corpus.values():
        assert value not in baseline
    assert len(load_baseline(repo / ".tfkit-secrets-baseline.json").entries) >= len(corpus)
    again = tfkit_cli("check-secrets", cwd=repo)
    assert again.returncode == 0, again.stdout
    assert "reviewed in the baseline" in again.stderr
    # a new secret is still found
    (repo / "envs/prod/extra.tfvars").write_text(f'api_token = "{_rand(30)}"\n')
    assert tfkit_cli("check-secrets", cwd=repo).returncode == 1


def test_history_finds_a_secret_deleted_later(tmp_path: Path, tfkit_cli) -> None:
    repo = tmp_path / "infra"
    _init(repo)
    (repo / "main.tf").write_text('resource "terraform_data" "x" {}\n')
    _commit(repo, "start")
    base = _git(repo, "rev-parse", "HEAD").strip()
    value = "Pw-" + _rand(16)
    (repo / "prod.tfvars").write_text(f'db_password = "{value}"\n')
    _commit(repo, "add var file")
    (repo / "prod.tfvars").unlink()
    _commit(repo, "remove it again")
    assert tfkit_cli("check-secrets", cwd=repo).returncode == 0
    done = tfkit_cli("check-secrets", "--history", "--base", base, cwd=repo)
    assert done.returncode == 1, done.stderr
    assert "prod.tfvars:1: secret-looking value in a var file" in done.stdout
    assert "added in commit" in done.stdout and value not in done.stdout + done.stderr
    assert "2 commit(s)" in done.stderr
    limited = tfkit_cli("check-secrets", "--history", "--base", base, "main.tf", cwd=repo)
    assert limited.returncode == 0, limited.stdout  # named paths limit the history scan too
    scan = scan_history(repo)
    assert scan.commits == 3 and scan.findings
    bad = tfkit_cli("check-secrets", "--history", "--base", "no-such-ref", cwd=repo)
    assert bad.returncode == 2 and "base ref 'no-such-ref' does not exist" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0
    usage = tfkit_cli("check-secrets", "--base", base, cwd=repo)
    assert usage.returncode == 2 and "--base needs --history" in usage.stderr


def test_tfkit_rules_ignore_references_and_non_secret_names() -> None:
    text = (
        'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n'
        'resource "x" "y" {\n  password        = var.db_password\n  password_length = "16"\n'
        '  token           = "${var.token}"\n  # secret = "in a comment"\n  secret_arn = "arn:aws:x"\n}\n'
        'provider "aws" {\n  region = "eu-west-1"\n}\n'
    )
    assert scan_terraform("main.tf", text) == []
    hits = scan_terraform("v.tf", 'variable "api_token" {\n  default = "abc123def456"\n}\n')
    assert [(h.line, h.kind) for h in hits] == [(2, "sensitive variable with a hard-coded default")]
    assert "abc123def456" not in repr(hits)


def test_the_example_repository_scans_clean(tmp_path: Path) -> None:
    example = copy_example(tmp_path / "example")
    (example / ".secrets").rename(tmp_path / "outside-secrets")  # git-ignored in the real repository
    scan = scan_files(example, files_to_scan(example))
    assert scan.files >= 15
    assert scan.findings == ()
    parts = [REPO / "tfkit.toml", REPO / "modules", REPO / "envs"]
    real = scan_files(REPO, files_to_scan(REPO, parts))
    assert real.findings == ()


def test_the_example_repository_history_is_clean() -> None:
    if not (REPO / ".git").exists():
        pytest.fail("tfkit's repository has no git history to scan")
    example = ("/tfkit.toml", "/modules/", "/envs/")
    scan = scan_history(REPO, only=example)
    assert scan.commits >= 1 and scan.files >= 10
    assert [f.one_line() for f in scan.findings] == []


def test_tfkit_rules_read_hcl_with_lines_at_any_depth() -> None:
    text = (
        "# a comment\n"
        'provider "aws" {\n'
        '  region = "eu-west-1"\n'
        "  assume_role {\n"
        '    session_token = "tok-1"\n'
        "  }\n"
        "}\n"
        "terraform {\n"
        '  backend "s3" {\n'
        '    secret_key = "sk-2"\n'
        "  }\n"
        "}\n"
        'resource "x" "y" {\n'
        '  settings = { dbPassword = "pw-3", name = "app" }\n'
        "  password = <<EOT\n"
        "pw-4\n"
        "EOT\n"
        "}\n"
    )
    hits = [(h.line, h.kind) for h in scan_terraform("main.tf", text)]
    assert hits == [
        (5, "credentials written in a provider block"),
        (10, "hard-coded secret in a secret-like argument"),
        (14, "hard-coded secret in a secret-like argument"),
        (15, "hard-coded secret in a secret-like argument"),
    ]
    var_file = 'region = "eu"\ndb = {\n  engine   = "pg"\n  password = "pw-5"\n}\n'
    assert [(h.line, h.kind) for h in scan_terraform("prod.tfvars", var_file)] == [
        (4, "secret-looking value in a var file")
    ]
    assert scan_terraform("broken.tf", 'provider "aws" {\n  token = "x"\n') == []  # left to detect-secrets


def test_scan_cache_returns_the_same_findings_without_scanning_and_rescans_an_edit(
    corpus_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file scanned before (same name and content) comes from the cache: no value stored, no detector."""
    from tfkit.guard import scan as scan_module

    repo, corpus = corpus_repo
    files = sorted(_FILES.values())
    cache = tmp_path / "cache"
    fresh = scan_files(repo, files)
    assert scan_files(repo, files, cache_dir=cache) == fresh
    stored = "".join(p.read_text() for p in (cache / "secret-scan").rglob("*.json"))
    assert stored and not any(value in stored for _, value in corpus.values())

    def no_scanning(*args: object) -> None:
        raise AssertionError("scanned although the file is cached")

    with monkeypatch.context() as patched:
        patched.setattr(scan_module, "_detector", no_scanning)
        patched.setattr(scan_module, "_scan_disk_file", no_scanning)
        assert scan_files(repo, files, cache_dir=cache) == fresh
    (repo / _FILES["tfvars"]).write_text('instance_type = "t3.small"\n')
    edited = scan_files(repo, files, cache_dir=cache)
    assert {f.file for f in fresh.findings} - {f.file for f in edited.findings} == {_FILES["tfvars"]}
    assert edited == scan_files(repo, files)
