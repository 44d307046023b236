"""The gate and the review text tell the truth on every kind of real plan (issue 14, items 1-4).

Each kind of plan is made with the real embedded engine in a temporary directory: an errored plan (a
failing precondition, saved anyway), a refresh-only plan with failing check blocks, moved objects (a
normal and a refresh-only plan), a deposed object (create_before_destroy and a failing provisioner), a
targeted (incomplete) plan and a plan with nothing to do. Action invocations and deferred changes need a
provider with actions or an experimental Terraform: they are fixtures written from HashiCorp's JSON
format (tests/fixtures/plan_truth/README.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import recorded
from recorded import RecordedTerraform, plan_bytes
from testsupport import REPO, core_config, run_tfkit

from tfkit import gate
from tfkit.errors import GateFailedError, TerraformError
from tfkit.findings import Severity
from tfkit.plan import Action, EmptyReason, Plan, load_plan, validate_plan_schema
from tfkit.plan_findings import SOURCE, plan_findings
from tfkit.policy import PolicyContext, Violation, evaluate, policy
from tfkit.project import Project
from tfkit.report.junit import render_junit
from tfkit.report.markdown import render_plan_markdown
from tfkit.report.sarif import render_sarif
from tfkit.report.text import render_gate_text, render_plan_text
from tfkit.report.vocabulary import summary_line
from tfkit.results import Report
from tfkit.terraform import ChangeCounts, open_engine
from tfkit.workflow import RunOptions, apply

pytestmark = pytest.mark.slow

FIXTURES = REPO / "tests" / "fixtures" / "plan_truth"
MATCHES = "Your infrastructure matches the configuration"

CHECKS_TF = """
resource "terraform_data" "x" { input = "a" }
resource "terraform_data" "y" { input = "y" }
check "x_is_b" {
  assert {
    condition     = terraform_data.x.output == "b"
    error_message = "x must be b"
  }
}
check "y_is_z" {
  assert {
    condition     = terraform_data.y.output == "z"
    error_message = "y must be z"
  }
}
"""

ERRORED_TF = """
resource "terraform_data" "a" { input = "a" }
resource "terraform_data" "b" {
  input = "b"
  lifecycle {
    precondition {
      condition     = terraform_data.a.input == "nope"
      error_message = "a must be nope"
    }
  }
}
"""

MOVED_BEFORE_TF = 'resource "terraform_data" "old" { input = "v1" }\n'
MOVED_AFTER_TF = """
resource "terraform_data" "new" { input = "v1" }
moved {
  from = terraform_data.old
  to   = terraform_data.new
}
"""

DEPOSED_TF = """
variable "v" { default = "1" }
variable "fail" { default = false }
resource "terraform_data" "x" {
  triggers_replace = var.v
  provisioner "local-exec" { command = var.fail ? "exit 1" : "true" }
  lifecycle { create_before_destroy = true }
}
resource "terraform_data" "other" { input = var.v }
"""


class Made:
    """The plans one scenario made: JSON bytes and Terraform's own change counts, by name."""

    def __init__(self) -> None:
        self.plans: dict[str, bytes] = {}
        self.counts: dict[str, ChangeCounts | None] = {}

    def plan(self, name: str) -> Plan:
        return load_plan(self.plans[name])


def _engine(directory: Path, source: str):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "main.tf").write_text(source)
    return open_engine("embedded", directory)


def _vars(directory: Path, name: str, text: str) -> list[Path]:
    path = directory / f"{name}.tfvars"
    path.write_text(text)
    return [path]


def _save(made: Made, name: str, eng, *, var_files=(), failing: bool = False, **options) -> None:
    out = eng.run_dir / f"{name}.tfplan"
    if failing:
        with pytest.raises(TerraformError):
            eng.plan(out=out, var_files=var_files, **options)
        made.counts[name] = None
    else:
        made.counts[name] = eng.plan(out=out, var_files=var_files, **options).counts
    made.plans[name] = eng.show_plan(out)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    """Every kind of plan, made once with the real embedded engine."""
    root = tmp_path_factory.mktemp("plan-truth")
    made = Made()
    with _engine(root / "errored", ERRORED_TF) as eng:
        eng.init()
        _save(made, "errored", eng, failing=True)
    with _engine(root / "checks", CHECKS_TF) as eng:
        eng.init()
        eng.apply(eng.plan(out=eng.run_dir / "first").plan_file)
        _save(made, "refresh-checks", eng, refresh_only=True)
    with _engine(root / "moved", MOVED_BEFORE_TF) as eng:
        eng.init()
        eng.apply(eng.plan(out=eng.run_dir / "first").plan_file)
        (root / "moved" / "main.tf").write_text(MOVED_AFTER_TF)
        _save(made, "moved", eng)
        _save(made, "refresh-moved", eng, refresh_only=True)
    directory = root / "deposed"
    with _engine(directory, DEPOSED_TF) as eng:
        eng.init()
        eng.apply(eng.plan(out=eng.run_dir / "first").plan_file)
        failing = eng.plan(
            out=eng.run_dir / "failing", var_files=_vars(directory, "f", 'v = "2"\nfail = true')
        )
        with pytest.raises(TerraformError):
            eng.apply(failing.plan_file)
        v2 = _vars(directory, "v2", 'v = "2"')
        _save(made, "deposed", eng, var_files=v2)
        eng.apply(eng.plan(out=eng.run_dir / "fix", var_files=v2).plan_file)
        _save(made, "noop", eng, var_files=v2)
        v3 = _vars(directory, "v3", 'v = "3"')
        _save(made, "targeted", eng, var_files=v3, targets=["terraform_data.other"])
    yield made


@pytest.fixture
def project(example_repo: Path) -> Project:
    """The example repository's environments (production protected), without Checkov."""
    (example_repo / "tfkit.toml").write_text(core_config())
    return Project.load(example_repo)


def fixture(name: str) -> Plan:
    return load_plan((FIXTURES / name).read_bytes())


def plan_ids(result: gate.GateResult) -> list[tuple[str, Severity, str | None]]:
    return [
        (f.check_id, f.severity, f.address) for f in result.findings if f.source == SOURCE and not f.passed
    ]


# ------------------------------------------------------------------------------------ 1. errored


def test_an_errored_plan_fails_the_gate_first_in_every_format(made: Made, project: Project) -> None:
    plan = made.plan("errored")
    assert (plan.errored, plan.applyable, plan.complete) == (True, False, False)
    result = gate.evaluate(plan, "staging", project=project, scanners=False)
    assert not result.passed
    assert result.failures[0].check_id == "TFP001" and result.failures[0].severity is Severity.HARD
    assert ("TFP010", Severity.SOFT, "terraform_data.b") in plan_ids(result)
    text = render_gate_text(result)
    assert text.index("TFP001") < text.index("TFP010") and "condition failed: a must be nope" in text
    report = Report.single("check", "staging", plan=plan, gate=result)
    junit, sarif = render_junit(report), json.loads(render_sarif(report))
    assert "TFP001" in junit and "a must be nope" in junit
    results = sarif["runs"][0]["results"]
    assert results[0]["ruleId"] == "TFP001" and any(r["ruleId"] == "TFP010" for r in results)
    review = render_plan_text(plan)
    assert "do not apply it" in review and "FAIL    terraform_data.b: a must be nope" in review
    assert review.rstrip().endswith("The partial plan above cannot be applied.")
    assert "[!CAUTION]" in render_plan_markdown(plan)


def test_tfkit_check_fails_an_errored_plan_with_its_finding_first(made: Made, project: Project) -> None:
    path = project.root / "errored.json"
    path.write_bytes(made.plans["errored"])
    done = run_tfkit("check", str(path), "--env", "production", "--no-scanners", cwd=project.root)
    assert done.returncode == 1, done.stderr
    findings = [line.strip() for line in done.stdout.splitlines() if line.startswith("  ")]
    assert findings[0].startswith("HARD     TFP001 (plan): Terraform reported an error while planning")
    assert "HARD     TFP010 terraform_data.b: condition failed: a must be nope" in findings[1]
    assert "gate FAILED for production" in done.stdout


def test_apply_never_proceeds_with_an_errored_or_unapplyable_plan(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.loads(plan_bytes("dev-create"))
    variants = {
        "errored": dict(doc, errored=True, applyable=False),
        "unapplyable": dict(doc, errored=False, applyable=False),
    }
    monkeypatch.setattr(
        recorded, "plan_bytes", lambda name: json.dumps(variants[name]).encode() if name in variants else b""
    )
    for name, code in (("errored", "TFP001"), ("unapplyable", "TFP002")):
        for gated in (True, False):
            world = RecordedTerraform()
            world.serve("dev", name)
            options = RunOptions(gate=gated, engine_factory=world.factory)
            with pytest.raises(GateFailedError, match=code):
                apply(project.environment("dev"), auto_approve=True, options=options)
            assert world.applied == []


# ------------------------------------------------------------------ 2. checks and conditions


def test_failed_checks_of_a_refresh_only_plan_are_findings_hard_where_protected(
    made: Made, project: Project
) -> None:
    plan = made.plan("refresh-checks")
    assert plan.is_refresh_only and plan.empty_reason is EmptyReason.REFRESH_ONLY
    assert [(o.status, o.address, o.message) for o in plan.check_outcomes] == [
        ("fail", "check.x_is_b", "x must be b"),
        ("fail", "check.y_is_z", "y must be z"),
    ]
    production = gate.evaluate(plan, "production", project=project, scanners=False)
    staging = gate.evaluate(plan, "staging", project=project, scanners=False)
    assert [i[:2] for i in plan_ids(production)] == [("TFP010", Severity.HARD)] * 2
    assert [i[:2] for i in plan_ids(staging)] == [("TFP010", Severity.SOFT)] * 2
    assert not production.passed and not staging.passed
    review = render_plan_text(plan)
    assert "Checks not passed (2):" in review and "FAIL    check.x_is_b: x must be b" in review
    assert "- **fail** `check.y_is_z`: y must be z" in render_plan_markdown(plan)


def test_check_severities_are_configurable(made: Made, project: Project) -> None:
    toml = project.root / "tfkit.toml"
    toml.write_text(toml.read_text() + '\n[plan_checks]\nfailed_checks_protected = "advisory"\n')
    result = gate.evaluate(made.plan("refresh-checks"), "production", project=Project.load(project.root))
    assert result.passed and [i[1] for i in plan_ids(result)] == [Severity.ADVISORY] * 2


def test_unknown_and_errored_check_results_are_reported() -> None:
    doc = json.loads((FIXTURES / "actions-lifecycle.json").read_text())
    doc["checks"] = [
        {"address": {"kind": "output_value", "name": "url", "to_display": "output.url"}, "status": "unknown"},
        {
            "address": {"kind": "resource", "to_display": "aws_instance.web", "mode": "managed"},
            "status": "error",
            "instances": [
                {
                    "address": {"to_display": "aws_instance.web"},
                    "status": "error",
                    "problems": [{"message": "boom"}],
                }
            ],
        },
    ]
    findings = [f for f in plan_findings(load_plan(json.dumps(doc))) if not f.passed]
    assert [(f.check_id, f.severity, f.address, f.message) for f in findings] == [
        ("TFP010", Severity.SOFT, "aws_instance.web", "condition errored: boom"),
        ("TFP011", Severity.ADVISORY, "output.url", "result not known until apply"),
    ]


# ----------------------------------------------------------- 3. action invocations and deferrals


def test_a_plan_of_only_actions_has_changes_and_says_so() -> None:
    plan = fixture("actions-invoke-only.json")
    (action,) = plan.action_invocations
    assert (action.type, action.trigger, action.provider_name) == (
        "aws_lambda_invoke",
        "-invoke",
        "registry.terraform.io/hashicorp/aws",
    )
    assert action.config_value("payload").is_sensitive and action.config_value("function_name").value == (
        "nightly-report"
    )
    assert plan.has_changes and plan.summary().invoke == 1
    text = render_plan_text(plan)
    assert MATCHES not in text and "Actions to invoke (1):" in text
    assert "Plan: 0 to add, 0 to change, 0 to destroy. Actions: 1 to invoke." in text
    assert b"tfkit-fixture-action-token" not in plan.redacted()
    assert "tfkit-fixture-action-token" not in render_plan_markdown(plan)


def test_actions_triggered_by_a_change_are_counted_and_listed() -> None:
    plan = fixture("actions-lifecycle.json")
    assert summary_line(plan.summary()) == "Plan: 0 to add, 1 to change, 0 to destroy. Actions: 2 to invoke."
    assert [a.trigger for a in plan.action_invocations] == [
        "AfterUpdate of aws_instance.web",
        "BeforeUpdate of aws_instance.web",
    ]
    assert plan.action_invocations[1].config_value("instance_id").is_unknown
    text = render_plan_text(plan)
    assert "! action.aws_lambda_invoke.notify  (AfterUpdate of aws_instance.web)" in text


def test_a_policy_can_forbid_an_action_type(project: Project) -> None:
    @policy(id="ORG_ACTIONS", severity="hard")
    def no_lambda_actions(plan: Plan, ctx: PolicyContext) -> Iterator[Violation]:
        """No Lambda is invoked by an apply."""
        for action in plan.action_invocations:
            if action.type == "aws_lambda_invoke":
                yield Violation(f"action type {action.type} is forbidden", action.address)

    report = evaluate(fixture("actions-lifecycle.json"), [no_lambda_actions], env="staging")
    assert [(v.address, v.message) for r in report.results for v in r.violations] == [
        ("action.aws_lambda_invoke.notify", "action type aws_lambda_invoke is forbidden")
    ]


def test_deferred_changes_make_an_incomplete_plan(project: Project) -> None:
    plan = fixture("deferred-actions.json")
    assert plan.summary().deferred == 2 and plan.deferred_action_invocations[0].reason == "deferred_prereq"
    result = gate.evaluate(plan, "staging", project=project, scanners=False)
    assert plan_ids(result) == [("TFP003", Severity.SOFT, None)]
    assert "2 change(s) deferred" in result.failures[0].message
    text = render_plan_text(plan)
    assert "Deferred to a later plan (2):" in text and "action.aws_lambda_invoke.index" in text
    assert "the plan is incomplete" in text


def test_a_targeted_plan_is_incomplete_and_its_severity_configurable(made: Made, project: Project) -> None:
    plan = made.plan("targeted")
    assert plan.complete is False and plan.applyable is True
    assert plan_ids(gate.evaluate(plan, "staging", project=project, scanners=False)) == [
        ("TFP003", Severity.SOFT, None)
    ]
    toml = project.root / "tfkit.toml"
    toml.write_text(toml.read_text() + '\n[plan_checks]\nincomplete = "hard"\n')
    hard = gate.evaluate(plan, "staging", project=Project.load(project.root), scanners=False)
    assert plan_ids(hard) == [("TFP003", Severity.HARD, None)]


def test_a_plan_with_nothing_to_do_is_not_applyable_and_that_is_no_finding(made: Made) -> None:
    plan = made.plan("noop")
    assert plan.applyable is False and not plan.has_changes and not plan.is_refresh_only
    assert [f for f in plan_findings(plan) if not f.passed] == []
    assert render_plan_text(plan).rstrip().endswith(f"No changes. {MATCHES}.")


# ------------------------------------------------------------------------------------- 4. drift


def test_a_refresh_only_plan_reports_moved_objects_as_terraform_does(made: Made) -> None:
    plan = made.plan("refresh-moved")
    assert plan.is_refresh_only and not plan.resource_changes
    (moved,) = plan.drift
    assert (moved.address, moved.previous_address, moved.action) == (
        "terraform_data.new",
        "terraform_data.old",
        Action.NOOP,
    )
    text = render_plan_text(plan)
    assert "terraform_data.new has moved from terraform_data.old" in text
    assert MATCHES not in text and "records their current values in the Terraform state" in text
    markdown = render_plan_markdown(plan)
    assert MATCHES not in markdown and "has moved from terraform\\_data.old" in markdown


def test_applying_a_refresh_only_plan_with_drift_records_it(made: Made) -> None:
    moved_only = made.plan("refresh-moved")
    assert moved_only.applyable is False and not moved_only.has_changes  # as Terraform: nothing to record
    doc = json.loads(made.plans["refresh-moved"])
    change = doc["resource_drift"][0]["change"]
    change["actions"], change["before"] = ["update"], dict(change["before"], input="changed by hand")
    changed = load_plan(json.dumps(dict(doc, applyable=True)))
    assert changed.is_refresh_only and changed.has_changes
    text = render_plan_text(changed)
    assert "~ terraform_data.new has changed, moved from terraform_data.old" in text and MATCHES not in text


def test_a_normal_plan_lists_the_move_as_a_change(made: Made) -> None:
    plan = made.plan("moved")
    assert not plan.is_refresh_only and plan.has_changes and plan.summary().move == 1
    assert "terraform_data.new  (moved from terraform_data.old)" in render_plan_text(plan)


def test_a_deposed_object_is_destroyed_and_counted_as_terraform_does(made: Made) -> None:
    plan = made.plan("deposed")
    deposed = [rc for rc in plan.resource_changes if rc.deposed]
    assert [(rc.address, rc.action) for rc in deposed] == [("terraform_data.x", Action.DELETE)]
    summary, counts = plan.summary(), made.counts["deposed"]
    assert counts is not None and (summary.add, summary.change, summary.destroy) == (
        counts.add,
        counts.change,
        counts.remove,
    )
    assert "left over from a partially-failed replacement" in render_plan_text(plan)


@pytest.mark.parametrize("name", ["moved", "deposed", "noop", "targeted"])
def test_summaries_equal_terraforms_own_counts(made: Made, name: str) -> None:
    summary, counts = made.plan(name).summary(), made.counts[name]
    assert counts is not None
    assert (summary.add, summary.change, summary.destroy) == (counts.add, counts.change, counts.remove)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_the_hand_written_fixtures_follow_the_plan_schema(name: str) -> None:
    assert validate_plan_schema((FIXTURES / name).read_bytes()) == []
