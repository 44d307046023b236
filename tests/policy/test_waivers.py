"""Waivers: read from [[waivers]] in tfkit.toml, matched by id, address glob and environment, with expiry."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from tfkit.errors import ConfigError
from tfkit.findings import Finding, Severity, Waiver
from tfkit.policy.waivers import apply_waivers, load_waivers
from tfkit.project import Project

TODAY = date(2026, 6, 1)


def _finding(
    check_id: str = "TFK001", address: str = "module.db.aws_db_instance.main", severity=Severity.SOFT
):
    return Finding("policy", check_id, severity, "delete in protected environment", address=address)


def _waiver(expires: date, address: str = "module.db.*", environments: tuple[str, ...] = ()) -> Waiver:
    return Waiver("TFK001", address, "CHG-1 planned migration", expires, environments)


def test_unexpired_waiver_covers_matching_findings_only() -> None:
    other = _finding(address="module.web.aws_instance.a")
    findings, errors = apply_waivers(
        [_finding(), other], [_waiver(date(2026, 6, 1))], environment="production", today=TODAY
    )
    assert errors == []
    assert findings[0].waived and not findings[0].blocking
    assert "[waived until 2026-06-01: CHG-1 planned migration]" in findings[0].one_line()
    assert findings[1].waiver is None and findings[1].blocking


def test_expired_waiver_fails_the_gate_and_says_so() -> None:
    findings, errors = apply_waivers(
        [_finding()], [_waiver(date(2026, 5, 31))], environment=None, today=TODAY
    )
    assert findings[0].blocking and findings[0].waiver_expired
    assert errors == [
        "waiver for TFK001 on module.db.aws_db_instance.main expired on 2026-05-31 "
        "(CHG-1 planned migration); "
        "renew it with a new expiry date or remove it from tfkit.toml"
    ]
    assert "[waiver EXPIRED 2026-05-31" in findings[0].one_line()


def test_an_unexpired_waiver_wins_over_an_expired_one() -> None:
    waivers = [_waiver(date(2020, 1, 1)), _waiver(date(2027, 1, 1))]
    findings, errors = apply_waivers([_finding()], waivers, environment=None, today=TODAY)
    assert errors == [] and findings[0].waived


def test_waiver_limited_to_environments() -> None:
    waiver = _waiver(date(2027, 1, 1), environments=("staging",))
    findings, _ = apply_waivers([_finding()], [waiver], environment="production", today=TODAY)
    assert findings[0].blocking


def test_hard_findings_cannot_be_waived() -> None:
    waiver = Waiver("TFK003", "*", "testing", date(2027, 1, 1))
    hard = _finding("TFK003", "output.key", Severity.HARD)
    findings, errors = apply_waivers([hard], [waiver], environment=None, today=TODAY)
    assert findings[0].blocking and findings[0].waiver is None
    assert errors and "hard findings cannot be waived" in errors[0]


def _project(root: Path, toml: str) -> Project:
    (root / "envs" / "production").mkdir(parents=True)
    (root / "tfkit.toml").write_text("[environments.production]\n" + textwrap.dedent(toml))
    return Project.load(root)


def test_load_waivers_reads_toml_dates_and_defaults(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        """
        [[waivers]]
        policy = "TFK001"
        reason = "CHG-1"
        expires = 2026-12-31
        [[waivers]]
        policy = "CKV_AWS_20"
        address = "aws_s3_bucket.logs"
        reason = "public website"
        expires = "2027-01-31"
        environments = ["production"]
        """,
    )
    assert load_waivers(project) == [
        Waiver("TFK001", "*", "CHG-1", date(2026, 12, 31)),
        Waiver("CKV_AWS_20", "aws_s3_bucket.logs", "public website", date(2027, 1, 31), ("production",)),
    ]


def test_brackets_in_waiver_addresses_are_literal(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        """
        [[waivers]]
        policy = "TFK001"
        address = 'module.db.aws_db_instance.main["a-*"]'
        reason = "CHG-1"
        expires = 2026-12-31
        """,
    )
    (waiver,) = load_waivers(project)
    assert waiver.matches(_finding(address='module.db.aws_db_instance.main["a-1"]'))
    assert not waiver.matches(_finding(address="module.db.aws_db_instance.maina"))


@pytest.mark.parametrize("address", ["module.x.aws_db[0]", 'module.m["k"].aws_x.y', 'aws_x.y["a.b"]'])
def test_an_exact_instance_address_waives_that_instance_only(address: str) -> None:
    waiver = _waiver(date(2027, 1, 1), address=address)
    findings, errors = apply_waivers(
        [_finding(address=address), _finding(address=address.replace('"', "'").replace("0", "1"))],
        [waiver],
        environment=None,
        today=TODAY,
    )
    assert errors == [] and findings[0].waived and not findings[1].waived


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[waivers]]\npolicy = "TFK001"\nexpires = 2026-01-01\n', "missing required key 'waivers.0.reason'"),
        (
            '[[waivers]]\npolicy = "TFK001"\nreason = "x y z"\nexpires = "soon"\n',
            "waivers[0].expires must be a date",
        ),
        (
            (
                '[[waivers]]\npolicy = "TFK001"\nreason = "x y z"\n'
                'expires = 2026-01-01\nenvironments = ["prod"]\n'
            ),
            "unknown environment 'prod'",
        ),
        (
            '[[waivers]]\npolicy = "TFK001"\nreason = "x y z"\nexpires = 2026-01-01\nadress = "x"\n',
            "did you mean",
        ),
    ],
)
def test_bad_waivers_are_one_line_config_errors(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_waivers(_project(tmp_path, toml))
    assert message in str(info.value) and "\n" not in str(info.value)
