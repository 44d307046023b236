"""Resources that are only deleted (Checkov's blind spot, its issue #5587)."""

from __future__ import annotations

from scanutil import PLANS

from tfkit.findings import Severity
from tfkit.plan import load_plan
from tfkit.scan.deleted import deleted_findings


def test_deleted_data_resource_is_a_finding_and_others_are_reported() -> None:
    plan = load_plan((PLANS / "snyk-cli" / "aws-destroy-v0.1.json").read_bytes())
    findings = deleted_findings(plan.resource_changes, Severity.SOFT)
    by_address = {f.address: f for f in findings}
    assert len(findings) == 8
    bucket = by_address["aws_s3_bucket.terra_ci"]
    assert bucket.check_id == "TFKIT_DEL_1" and bucket.blocking and bucket.source == "checkov"
    others = [f for f in findings if f.address != "aws_s3_bucket.terra_ci"]
    assert {f.check_id for f in others} == {"TFKIT_DEL_2"}
    assert not any(f.blocking for f in others)


def test_severity_follows_the_setting() -> None:
    plan = load_plan((PLANS / "snyk-cli" / "aws-destroy-v0.1.json").read_bytes())
    hard = [f for f in deleted_findings(plan.resource_changes, Severity.HARD) if f.check_id == "TFKIT_DEL_1"]
    assert [f.severity for f in hard] == [Severity.HARD]


def test_replacements_are_not_deletes() -> None:
    plan = load_plan((PLANS / "checkov" / "create-before-destroy-v1.1.json").read_bytes())
    assert plan.replacements
    assert deleted_findings(plan.resource_changes, Severity.SOFT) == []
