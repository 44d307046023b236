"""A verdict that holds (issue 14, item 8): the real engine on small repositories in temporary directories.

* ``tfkit plan --env E`` states whether ``tfkit apply --env E`` would be refused (health, promotion order)
  and exits 4 when it would;
* ``tfkit apply`` gates the plan it makes right after applying and exits 1 when that verdict differs;
* Terraform's warnings are in the output and every report;
* a scanner that is off says so, and why, in one line;
* the var files an environment reads are secret-scanned as part of its gate (hard findings).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from testsupport import invoke_tfkit

from tfkit.project import Project
from tfkit.var_file_scan import read_var_files

#: Shared by both environments: promotion order applies to it.
MODULE = """
variable "size" {
  type        = number
  description = "how many"
}

resource "terraform_data" "app" {
  input = { size = var.size }
}
"""

ENV = """
variable "size" {
  type        = number
  description = "how many"
}

module "app" {
  source = "../../modules/app"
  size   = var.size
}

resource "terraform_data" "rule" {
  input = "0.0.0.0/0"
}
"""

#: A rule on a value Terraform only knows after the apply (terraform_data's ``output``).
POLICY = """
from tfkit.policy import Violation, policy


@policy(id="REPO100", title="no rule open to the world", severity="hard")
def no_open_rule(plan):
    for rc in plan.resource_changes:
        if rc.type == "terraform_data" and (rc.change.after or {}).get("output") == "0.0.0.0/0":
            yield Violation("open to 0.0.0.0/0", rc.address)
"""

#: AWS's documented example key pair: detect-secrets flags both lines.
AWS_KEYS = (
    'aws_access_key_id     = "AKIAIOSFODNN7EXAMPLE"\n'
    'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
)

#: Terraform's warning for ``ghost = 1`` in a var file, as tfkit reports it.
UNDECLARED = (
    'terraform: Value for undeclared variable: The root module does not declare a variable named "ghost"'
)


def _repository(root: Path, *, policy: bool = False, toml: str = "") -> Path:
    (root / "modules" / "app").mkdir(parents=True)
    (root / "modules" / "app" / "main.tf").write_text(MODULE)
    for name in ("dev", "staging"):
        directory = root / "envs" / name
        directory.mkdir(parents=True)
        (directory / "main.tf").write_text(ENV)
        (directory / f"{name}.tfvars").write_text("size = 2\n")
    (root / "policies").mkdir()
    if policy:
        (root / "policies" / "open.py").write_text(POLICY)
    (root / "tfkit.toml").write_text(
        '[engine]\nkind = "embedded"\n\n'
        '[environments.dev]\nvar_files = ["dev.tfvars"]\n\n'
        '[environments.staging]\nvar_files = ["staging.tfvars"]\n' + toml
    )
    return root


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TFKIT_ENGINE", raising=False)
    monkeypatch.delenv("TFKIT_STORE_URL", raising=False)
    return _repository(tmp_path / "repo")


def _json(root: Path, name: str) -> dict:
    document: dict = json.loads((root / name).read_text())
    return document["environments"][0]


# ------------------------------------------------------------------------ plan states the apply's refusal


def test_plan_says_promotion_order_would_refuse_the_apply_and_exits_4(repo: Path) -> None:
    refused = invoke_tfkit("plan", "--env", "staging", "-o", "plan.json", cwd=repo)
    assert refused.returncode == 4, refused.stderr
    expected = "refusing to apply 'staging': 'dev' has no successful apply yet; apply 'dev' before 'staging'"
    assert f"apply would be refused (exit 4): {expected}" in refused.stdout
    assert refused.stderr.splitlines()[-1].startswith(f"error: {expected}")
    entry = _json(repo, "plan.json")
    assert (entry["outcome"], entry["exit_code"]) == ("refused", 4)
    assert entry["refusals"][0].startswith(expected) and entry["gate"]["passed"] is True

    # the apply refuses for the same reason, with the same exit code
    apply = invoke_tfkit("apply", "--env", "staging", "--auto-approve", cwd=repo)
    assert apply.returncode == 4 and expected in apply.stderr

    assert invoke_tfkit("apply", "--env", "dev", "--auto-approve", cwd=repo).returncode == 0
    allowed = invoke_tfkit("plan", "--env", "staging", cwd=repo)
    assert allowed.returncode == 0, allowed.stderr
    assert "apply: not refused by health or promotion order" in allowed.stdout
    assert "apply would be refused" not in allowed.stdout


def test_plan_says_an_unstable_environment_would_refuse_the_apply(repo: Path) -> None:
    from tfkit.ledger import new_health
    from tfkit.store import open_store

    with open_store(Project.load(repo)) as store:
        store.ledger.set_health(new_health("dev", stable=False, reason="apply failed: boom"))
    refused = invoke_tfkit("plan", "--env", "dev", "--format", "json", cwd=repo)
    assert refused.returncode == 4, refused.stderr
    entry = json.loads(refused.stdout)["environments"][0]
    assert "environment 'dev' is unstable since" in entry["refusals"][0]
    assert "apply failed: boom" in entry["refusals"][0]
    # --no-gate only plans: nothing is checked, nothing is refused
    assert invoke_tfkit("plan", "--env", "dev", "--no-gate", cwd=repo).returncode == 0


# ------------------------------------------------------------------------- the verdict after the apply


def test_apply_reports_at_once_when_the_plan_after_it_fails_the_gate(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo", policy=True)
    done = invoke_tfkit("apply", "--env", "dev", "--auto-approve", "-o", "apply.json", cwd=root)
    assert done.returncode == 1, done.stderr
    assert "dev: apply complete: 2 added" in done.stdout
    assert "the plan after the apply:" in done.stdout
    assert "HARD     REPO100 terraform_data.rule: open to 0.0.0.0/0" in done.stdout
    last = done.stderr.splitlines()[-1]
    assert last.startswith("error: apply of 'dev' is complete and recorded (snapshot ")
    assert "but the plan right after it fails the gate the apply passed: HARD REPO100" in last
    entry = _json(root, "apply.json")
    assert entry["gate"]["passed"] is True
    follow_up = entry["details"]["follow_up_gate"]
    assert follow_up["passed"] is False and follow_up["failures"][0].startswith("HARD     REPO100")
    assert (entry["outcome"], entry["exit_code"]) == ("error", 1)

    # the apply is recorded and the environment stable; the next plan gets the follow-up's verdict
    assert "dev: stable" in invoke_tfkit("status", cwd=root).stdout
    again = invoke_tfkit("plan", "--env", "dev", cwd=root)
    assert again.returncode == 1 and "REPO100 terraform_data.rule" in again.stdout


def test_a_verdict_that_holds_exits_0_and_records_it(repo: Path) -> None:
    done = invoke_tfkit("apply", "--env", "dev", "--auto-approve", "-o", "apply.json", cwd=repo)
    assert done.returncode == 0, done.stderr
    follow_up = _json(repo, "apply.json")["details"]["follow_up_gate"]
    assert follow_up["passed"] is True and follow_up["failures"] == []


# ------------------------------------------------------------------------------ Terraform's warnings


def test_terraform_warnings_are_in_the_output_and_every_report(repo: Path) -> None:
    (repo / "envs" / "dev" / "dev.tfvars").write_text("size = 2\nghost = 1\n")
    done = invoke_tfkit(
        "plan", "--env", "dev", "-o", "p.json", "-o", "p.md", "-o", "p.xml", "-o", "p.sarif", cwd=repo
    )
    assert done.returncode == 0, done.stderr
    warning = (
        'terraform: Value for undeclared variable: The root module does not declare a variable named "ghost"'
    )
    assert f"warning: dev: {warning}" in done.stdout
    assert any(w.startswith(warning) for w in _json(repo, "p.json")["warnings"])
    assert f"warning: {warning}" in (repo / "p.md").read_text()
    outs = [e.text or "" for e in ET.parse(repo / "p.xml").iter("system-out")]
    assert any(o.startswith(warning) for o in outs)
    notes = json.loads((repo / "p.sarif").read_text())["runs"][0]["invocations"][0][
        "toolExecutionNotifications"
    ]
    assert any(n["level"] == "warning" and n["message"]["text"].startswith(f"dev: {warning}") for n in notes)


def test_apply_shows_terraform_warnings_too(repo: Path) -> None:
    (repo / "envs" / "dev" / "dev.tfvars").write_text("size = 2\nghost = 1\n")
    done = invoke_tfkit("apply", "--env", "dev", "--auto-approve", "-o", "apply.json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert f"warning: dev: {UNDECLARED}" in done.stderr
    assert any("ghost" in w for w in _json(repo, "apply.json")["warnings"])


# --------------------------------------------------------------------------------- scanners that are off


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("", "scanner: checkov off: tfkit.toml has no [checkov] table (add one to scan plans with Checkov)"),
        ("\n[checkov]\nenabled = false\n", "scanner: checkov off: [checkov] enabled = false in tfkit.toml"),
        (
            "\n[checkov]\n\n[environments.dev.checkov]\nenabled = false\n",
            "scanner: checkov off: [environments.dev.checkov] enabled = false in tfkit.toml",
        ),
    ],
    ids=["no-table", "disabled", "disabled-for-dev"],
)
def test_a_scanner_that_is_off_says_so_in_one_line(tmp_path: Path, toml: str, line: str) -> None:
    root = _repository(tmp_path / "repo", toml=toml)
    done = invoke_tfkit("plan", "--env", "dev", "-o", "p.json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("scanner: checkov off") == 1
    assert line in done.stdout.splitlines()
    assert _json(root, "p.json")["gate"]["off"] == {"checkov": line.removeprefix("scanner: checkov off: ")}


def test_a_scanner_that_runs_is_not_reported_off(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo", toml="\n[checkov]\n")
    done = invoke_tfkit("plan", "--env", "dev", "-o", "p.json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "checkov off" not in done.stdout and "scanner: checkov " in done.stdout
    assert _json(root, "p.json")["gate"]["off"] == {}


# ------------------------------------------------------------------------------ secrets in var files


def test_a_committed_aws_key_in_an_auto_tfvars_fails_the_plan(repo: Path) -> None:
    (repo / "envs" / "dev" / "aws.auto.tfvars").write_text(AWS_KEYS)
    done = invoke_tfkit("plan", "--env", "dev", "-o", "p.json", "-o", "p.sarif", cwd=repo)
    assert done.returncode == 1, done.stderr
    lines = [ln.strip() for ln in done.stdout.splitlines() if "TFK201" in ln]
    assert len(lines) == 2, lines
    assert lines[0].startswith("HARD     TFK201 envs/dev/aws.auto.tfvars: possible secret on line 1 ")
    assert "AWS Access Key [detect-secrets]" in lines[0]
    assert "AKIAIOSFODNN7EXAMPLE" not in done.stdout + done.stderr
    assert "wJalrXUtnFEMI" not in done.stdout + done.stderr + (repo / "p.json").read_text()
    findings = [f for f in _json(repo, "p.json")["gate"]["findings"] if f["check_id"] == "TFK201"]
    assert {(f["severity"], f["file"], f["line"]) for f in findings} == {
        ("hard", "envs/dev/aws.auto.tfvars", 1),
        ("hard", "envs/dev/aws.auto.tfvars", 2),
    }
    results = json.loads((repo / "p.sarif").read_text())["runs"][0]["results"]
    located = {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in results
        if r["ruleId"] == "TFK201"
    }
    assert located == {1, 2}
    # staging reads its own directory only: dev's file does not concern it (it is refused for order, exit 4)
    staging = invoke_tfkit("plan", "--env", "staging", "--format", "json", cwd=repo)
    assert not [
        f
        for f in json.loads(staging.stdout)["environments"][0]["gate"]["findings"]
        if f["check_id"] == "TFK201"
    ]


def test_a_reviewed_false_positive_in_the_guard_baseline_passes(repo: Path) -> None:
    (repo / "envs" / "dev" / "aws.auto.tfvars").write_text(AWS_KEYS)
    reviewed = invoke_tfkit("check-secrets", "envs/dev/aws.auto.tfvars", "--update-baseline", cwd=repo)
    assert reviewed.returncode == 0, reviewed.stderr
    done = invoke_tfkit("plan", "--env", "dev", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert "TFK201" not in done.stdout


def test_a_secret_in_a_configured_var_file_fails_the_plan_too(repo: Path) -> None:
    (repo / "envs" / "dev" / "dev.tfvars").write_text('size = 2\ndb_password = "hunter2-but-longer-9f8e7d"\n')
    done = invoke_tfkit("plan", "--env", "dev", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert "HARD     TFK201 envs/dev/dev.tfvars: possible secret on line 2 " in done.stdout
    assert "hunter2" not in done.stdout + done.stderr


def test_the_var_files_an_environment_reads(repo: Path) -> None:
    directory = repo / "envs" / "dev"
    for name in (
        "terraform.tfvars",
        "terraform.tfvars.json",
        "a.auto.tfvars",
        "b.auto.tfvars.json",
        "other.tfvars",
    ):
        (directory / name).write_text("{}\n" if name.endswith(".json") else "\n")
    read = [p.name for p in read_var_files(Project.load(repo).environment("dev"))]
    # Terraform loads these by itself, then the configured ones; other.tfvars is read by nobody
    assert read == [
        "terraform.tfvars",
        "terraform.tfvars.json",
        "a.auto.tfvars",
        "b.auto.tfvars.json",
        "dev.tfvars",
    ]
