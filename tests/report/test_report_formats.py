"""Every report format for a passing and a failing real plan of the example repository, validated.

SARIF is validated against the OASIS SARIF 2.1.0 JSON schema and JUnit against the Jenkins/Surefire
``junit-10.xsd`` (both vendored in ``tests/report/data``, see its README), JSON against tfkit's own
shipped schema. The plans are made by the real embedded engine on a copy of the example repository.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from testsupport import TEST_SECRET, copy_example, run_tfkit

from tfkit import Project, workflow
from tfkit.findings import Finding, Severity, Waiver
from tfkit.gate import GateResult, evaluate
from tfkit.plan import load_plan
from tfkit.report import render, write_reports
from tfkit.report.github import annotations, publish
from tfkit.report.json import report_document, validate_report
from tfkit.report.locations import locate, split_address
from tfkit.report.markdown import render_markdown
from tfkit.report.sarif import sarif_document
from tfkit.results import EnvironmentReport, Report

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
PUBLIC_RULE = """
  {
    name        = "admin-public"
    port        = 8443
    protocol    = "tcp"
    cidr        = "0.0.0.0/0"
    description = "Admin console from anywhere"
  },
"""
PUBLIC_ADDRESS = 'module.access.terraform_data.rule["admin-public"]'


@pytest.fixture(scope="module")
def sarif_schema() -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(json.loads((DATA / "sarif-schema-2.1.0.json").read_text()))


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))


def _add_policies(root: Path) -> None:
    """The example repository's own Python policies (REPO001, REPO002), if the copy lacks them."""
    (root / "policies").mkdir(exist_ok=True)
    for source in (REPO / "policies").glob("*.py"):
        shutil.copy2(source, root / "policies" / source.name)


def _make_failing(root: Path) -> None:
    """Staging opens an admin port to the internet (REPO002) and drops its backup group (REPO001)."""
    tfvars = root / "envs/staging/staging.tfvars"
    text = tfvars.read_text().replace("access_rules = [\n", "access_rules = [" + PUBLIC_RULE, 1)
    tfvars.write_text(text.replace("backup_enabled = true", "backup_enabled = false"))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Report]]:
    """``{"passing": ..., "failing": ...}``: staging planned and gated for real, as tfkit plan does."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TF_VAR_db_password", raising=False)
        mp.delenv("TFKIT_ENGINE", raising=False)
        found = {}
        for kind in ("passing", "failing"):
            root = copy_example(tmp_path_factory.mktemp(kind) / "repo")
            _add_policies(root)
            if kind == "failing":
                _make_failing(root)
            project = Project.load(root)
            env = project.environment("staging")
            plan = workflow.plan(env)
            gate = evaluate(plan, env.name, project=project)
            entry = EnvironmentReport("staging", "plan", plan=plan, gate=gate, directory=env.directory)
            found[kind] = Report("plan", (entry,), root=project.root)
        yield found


def test_the_failing_plan_fails_the_gate_and_the_passing_one_passes(reports: dict[str, Report]) -> None:
    assert reports["passing"].exit_code == 0
    failing = reports["failing"]
    assert failing.exit_code == 1
    ids = {(f.check_id, f.address) for f in failing.environments[0].gate.failures}
    assert ("REPO002", PUBLIC_ADDRESS) in ids
    assert any(check == "REPO001" for check, _ in ids)


@pytest.mark.parametrize("kind", ["passing", "failing"])
def test_json_report_follows_the_shipped_schema(reports: dict[str, Report], kind: str) -> None:
    document = json.loads(render(reports[kind], "json"))
    assert validate_report(document) == []
    assert document["report_version"] == "1.0"
    entry = document["environments"][0]
    assert entry["plan"]["summary"]["add"] >= 10
    assert document["passed"] is (kind == "passing")
    assert entry["gate"]["passed"] is (kind == "passing")
    if kind == "failing":
        failing = [f for f in entry["gate"]["findings"] if f["blocking"]]
        assert {"REPO001", "REPO002"} <= {f["check_id"] for f in failing}


def test_json_schema_rejects_a_wrong_document(reports: dict[str, Report]) -> None:
    document = report_document(reports["passing"])
    document["environments"][0]["outcome"] = "fine"
    del document["exit_code"]
    problems = validate_report(document)
    assert any("exit_code" in p for p in problems)
    assert any(p.startswith("environments/0/outcome") for p in problems)


@pytest.mark.parametrize("kind", ["passing", "failing"])
def test_junit_validates_against_the_junit_xsd(
    reports: dict[str, Report], kind: str, junit_schema: xmlschema.XMLSchema
) -> None:
    text = render(reports[kind], "junit")
    junit_schema.validate(text)
    tree = ET.fromstring(text)
    suite = tree.find("testsuite")
    assert suite is not None and suite.get("name") == "staging"
    cases = suite.findall("testcase")
    gate = reports[kind].environments[0].gate
    assert len(cases) == len(gate.findings) + len(gate.errors), "one test case per check and resource"
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures")) == len(failures) == len(gate.failures)
    if kind == "failing":
        names = {(c.get("classname"), c.get("name")) for c in failures}
        assert ("staging.REPO002", f"{PUBLIC_ADDRESS}.input") in names


@pytest.mark.parametrize("kind", ["passing", "failing"])
def test_sarif_validates_and_points_at_the_resource_line(
    reports: dict[str, Report], kind: str, sarif_schema: jsonschema.Draft4Validator
) -> None:
    document = json.loads(render(reports[kind], "sarif"))
    sarif_schema.validate(document)
    assert document["version"] == "2.1.0"
    results = document["runs"][0]["results"]
    if kind == "passing":
        assert results == []
        return
    repo002 = [r for r in results if r["ruleId"] == "REPO002"]
    assert len(repo002) == 1
    location = repo002[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "modules/access/main.tf"
    root = reports[kind].root
    lines = (root / "modules/access/main.tf").read_text().splitlines()
    line = location["region"]["startLine"]
    assert lines[line - 1].startswith('resource "terraform_data" "rule"')
    assert repo002[0]["level"] == "error"
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert rules[repo002[0]["ruleIndex"]]["id"] == "REPO002"


@pytest.mark.parametrize("kind", ["passing", "failing"])
def test_markdown_puts_the_summary_first_and_stays_under_the_limit(
    reports: dict[str, Report], kind: str
) -> None:
    text = render(reports[kind], "markdown")
    assert len(text) < 65000
    assert text.index("| environment |") < text.index("<details>")
    if kind == "failing":
        assert "❌ staging" in text
        assert "REPO002" in text


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "sarif", "markdown"])
def test_no_format_carries_the_secret(reports: dict[str, Report], fmt: str) -> None:
    for report in reports.values():
        assert TEST_SECRET not in render(report, fmt)


def test_write_reports_writes_each_format_once_atomically(reports: dict[str, Report], tmp_path: Path) -> None:
    targets = [("json", tmp_path / "a.json"), ("sarif", tmp_path / "b.sarif"), ("json", tmp_path / "c.json")]
    rendered = write_reports(reports["failing"], targets)
    assert set(rendered) == {"json", "sarif"}
    assert (tmp_path / "a.json").read_text() == (tmp_path / "c.json").read_text() == rendered["json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.sarif", "c.json"]


def test_github_actions_gets_a_step_summary_and_annotations(
    reports: dict[str, Report], tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    environ = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    lines = publish(reports["failing"], environ)
    assert summary.read_text().startswith("earlier step\n## tfkit plan: FAILED")
    repo002 = [line for line in lines if "REPO002" in line]
    assert len(repo002) == 1
    assert re.match(r"^::error file=modules/access/main\.tf,line=\d+,title=REPO002 \(staging\)::", repo002[0])
    assert publish(reports["failing"], {"GITHUB_STEP_SUMMARY": str(summary)}) == []


def test_annotation_messages_are_escaped() -> None:
    finding = Finding("policy", "X1", Severity.SOFT, "50% bad\nsecond line", address="a.b")
    gate = GateResult("dev", (finding,))
    report = Report("check", (EnvironmentReport("dev", "check", gate=gate),))
    (line,) = annotations(report)
    assert line == "::error title=X1 (dev)::50%25 bad%0Asecond line (a.b)"


def test_waived_findings_are_suppressed_in_sarif_and_skipped_in_junit(
    sarif_schema: jsonschema.Draft4Validator, junit_schema: xmlschema.XMLSchema
) -> None:
    waiver = Waiver("X1", "a.*", "accepted until the migration", date(2999, 1, 1))
    waived = Finding("policy", "X1", Severity.SOFT, "soft problem", address="a.b").with_waiver(
        waiver, date(2026, 1, 1)
    )
    advisory = Finding("policy", "X2", Severity.ADVISORY, "just so you know", address="a.c")
    report = Report("check", (EnvironmentReport("dev", "check", gate=GateResult("dev", (waived, advisory))),))
    assert report.exit_code == 0
    document = sarif_document(report)
    sarif_schema.validate(document)
    results = {r["ruleId"]: r for r in document["runs"][0]["results"]}
    assert results["X1"]["suppressions"][0]["justification"].startswith("accepted until the migration")
    assert results["X2"]["level"] == "warning"
    junit = render(report, "junit")
    junit_schema.validate(junit)
    assert '<skipped message="waived: accepted until the migration"' in junit


def test_markdown_of_a_20k_resource_plan_stays_under_the_limit() -> None:
    changes = [
        {
            "address": f'module.m{i % 7}.terraform_data.item["key-{i:05d}"]',
            "module_address": f"module.m{i % 7}",
            "mode": "managed",
            "type": "terraform_data",
            "name": "item",
            "index": f"key-{i:05d}",
            "provider_name": "terraform.io/builtin/terraform",
            "change": {"actions": ["create"], "before": None, "after": {"input": i}, "after_unknown": {}},
        }
        for i in range(20000)
    ]
    plan = load_plan(
        json.dumps({"format_version": "1.2", "terraform_version": "1.15.5", "resource_changes": changes})
    )
    findings = tuple(
        Finding("policy", "BIG1", Severity.SOFT, "item is too big", address=rc["address"]) for rc in changes
    )
    entries = tuple(
        EnvironmentReport(name, "plan", plan=plan, gate=GateResult(name, findings))
        for name in ("dev", "staging", "production")
    )
    text = render_markdown(Report("plan", entries))
    assert len(text) <= 65000
    assert text.startswith("## tfkit plan: FAILED")
    assert text.count("<details><summary><b>") == 3, "every environment keeps its section"
    assert re.search(r"… \d+ more not listed", text)
    assert text.count("<details") == text.count("</details>")


def test_addresses_split_and_locate(tmp_path: Path) -> None:
    assert split_address('module.a["x.y"].module.b[0].terraform_data.c["k"]') == (
        ("a", "b"),
        "managed",
        "terraform_data",
        "c",
    )
    assert split_address("data.t.n[2]") == ((), "data", "t", "n")
    assert split_address("not an address") is None
    root = copy_example(tmp_path / "repo")
    backup = locate("module.service.terraform_data.backup[0]", root / "envs/staging", root)
    assert backup is not None and backup.file == "modules/service/main.tf"
    lines = (root / backup.file).read_text().splitlines()
    assert lines[backup.line - 1] == 'resource "terraform_data" "backup" {'
    assert locate("module.nowhere.terraform_data.x", root / "envs/staging", root) is None


@pytest.mark.slow
def test_cli_writes_several_formats_and_exits_with_the_gate(
    tmp_path: Path, sarif_schema, junit_schema
) -> None:
    root = copy_example(tmp_path / "repo")
    _add_policies(root)
    _make_failing(root)
    done = run_tfkit(
        "plan",
        "--env",
        "staging",
        "--format",
        "json",
        "--output",
        "sarif=out/report.sarif",
        "-o",
        "out/junit.xml",
        "-o",
        "out/summary.md",
        cwd=root,
        env={"GITHUB_ACTIONS": "", "TFKIT_ENGINE": ""},
    )
    # dev was never applied, so applying staging would be refused first (exit 4); the gate still ran.
    assert done.returncode == 4, done.stderr
    assert "error: refusing to apply 'staging': 'dev' has no successful apply yet" in done.stderr
    assert "Traceback" not in done.stderr
    document = json.loads(done.stdout)
    assert validate_report(document) == []
    entry = document["environments"][0]
    assert entry["outcome"] == "refused" and entry["exit_code"] == 4
    assert entry["gate"]["passed"] is False and entry["refusals"]
    sarif_schema.validate(json.loads((root / "out/report.sarif").read_text()))
    junit_schema.validate(str(root / "out/junit.xml"))
    assert (root / "out/summary.md").read_text().startswith("## tfkit plan: FAILED")
    assert TEST_SECRET not in done.stdout + done.stderr


def test_cli_rejects_an_unknown_output_format(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "repo")
    done = run_tfkit("plan", "--env", "dev", "--output", "yaml=x.yaml", cwd=root)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: Invalid value for --output: unknown format 'yaml' in 'yaml=x.yaml'; use one of "
        "text, json, junit, sarif, markdown (see `tfkit plan --help`)"
    ]
    assert not (root / "x.yaml").exists()


def test_single_reports_for_other_commands_render_in_every_format(
    sarif_schema: jsonschema.Draft4Validator, junit_schema: xmlschema.XMLSchema
) -> None:
    status = Report(
        "status",
        tuple(
            EnvironmentReport(name, "status", details={"health": "stable", "snapshot": None})
            for name in ("dev", "staging")
        ),
    )
    failed = Report.single("apply", "dev", error="apply of 'dev' failed", error_code=1)
    for report in (status, failed):
        assert validate_report(json.loads(render(report, "json"))) == []
        sarif_schema.validate(json.loads(render(report, "sarif")))
        junit_schema.validate(render(report, "junit"))
        assert render(report, "markdown").startswith(f"## tfkit {report.command}")
    assert status.exit_code == 0 and "health: stable" in render(status, "text")
    assert failed.exit_code == 1 and failed.environments[0].outcome == "error"
    assert "<error message=\"apply of 'dev' failed\"" in render(failed, "junit")
