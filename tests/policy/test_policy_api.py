"""The policy API: @policy, evaluate, tfkit.toml settings, loading from policies/ and entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from testsupport import PLANS

from tfkit.errors import ConfigError
from tfkit.findings import Severity
from tfkit.plan import Plan, ResourceChange, load_plan
from tfkit.policy import (
    Policy,
    PolicyContext,
    PolicyDefinitionError,
    SkipPolicy,
    Status,
    Violation,
    evaluate,
    load_policies,
    policy,
)
from tfkit.project import Project


@pytest.fixture(scope="module")
def destroy_plan() -> Plan:
    """A real plan (snyk-cli fixture) that deletes 8 AWS resources."""
    return load_plan(PLANS / "snyk-cli" / "aws-destroy-v0.1.json")


def _project(root: Path, toml: str = "", policies: dict[str, str] | None = None) -> Project:
    (root / "envs" / "dev").mkdir(parents=True, exist_ok=True)
    (root / "envs" / "production").mkdir(parents=True, exist_ok=True)
    base = "[environments.dev]\n[environments.production]\nprotected = true\n"
    (root / "tfkit.toml").write_text(base + textwrap.dedent(toml))
    for name, text in (policies or {}).items():
        (root / "policies").mkdir(exist_ok=True)
        (root / "policies" / name).write_text(textwrap.dedent(text))
    return Project.load(root)


@policy(id="T-DELETES", severity="hard")
def no_deletes(plan: Plan):
    """Nothing is deleted."""
    for rc in plan.deletes:
        yield Violation("deleted", address=rc.address)


@policy(id="T-PER-RESOURCE", resources="aws_s3_bucket*")
def bucket_policy(rc: ResourceChange):
    """Every bucket change is reported."""
    yield f"bucket {rc.name}"


def test_decorator_builds_a_policy_with_title_from_the_docstring() -> None:
    assert isinstance(no_deletes, Policy)
    assert (no_deletes.id, no_deletes.severity, no_deletes.title) == (
        "T-DELETES",
        Severity.HARD,
        "Nothing is deleted.",
    )
    assert not no_deletes.takes_context
    with pytest.raises(PolicyDefinitionError, match="unknown severity"):
        policy(id="X", severity="fatal")
    with pytest.raises(PolicyDefinitionError, match="invalid policy id"):
        policy(id="has space")


def test_evaluate_returns_typed_results_with_timings_and_findings(destroy_plan: Plan) -> None:
    report = evaluate(destroy_plan, [no_deletes, bucket_policy], env="dev")
    deletes = report.result("T-DELETES")
    assert deletes is not None and deletes.status is Status.FAILED
    assert len(deletes.violations) == len(destroy_plan.deletes) == 8
    assert deletes.duration >= 0 and report.duration >= deletes.duration
    assert not report.passed
    first = report.findings[0]
    assert (first.source, first.check_id, first.severity, first.blocking) == (
        "policy",
        "T-DELETES",
        Severity.HARD,
        True,
    )
    assert first.address == destroy_plan.deletes[0].address


def test_per_resource_policy_sees_only_selected_changes_and_defaults_the_address(destroy_plan: Plan) -> None:
    report = evaluate(destroy_plan, [bucket_policy])
    violations = report.result("T-PER-RESOURCE").violations  # type: ignore[union-attr]
    buckets = [rc for rc in destroy_plan.resource_changes if rc.type.startswith("aws_s3_bucket")]
    assert buckets and [v.address for v in violations] == [rc.address for rc in buckets]
    assert violations[0].message == f"bucket {buckets[0].name}"


def test_policy_restricted_to_envs_is_disabled_elsewhere(destroy_plan: Plan) -> None:
    only_prod = policy(id="T-PROD", envs=["production"])(lambda plan: ["always"])
    assert evaluate(destroy_plan, [only_prod], env="dev").results[0].status is Status.DISABLED
    assert evaluate(destroy_plan, [only_prod], env="production").results[0].status is Status.FAILED


def test_a_raising_policy_is_an_error_finding_that_fails_closed(destroy_plan: Plan) -> None:
    @policy(id="T-BROKEN", severity="soft")
    def broken(plan: Plan):
        """Crashes."""
        raise KeyError("boom")

    @policy(id="T-SKIP")
    def skipping(plan: Plan):
        """Not applicable."""
        raise SkipPolicy("nothing to read")

    report = evaluate(destroy_plan, [broken, skipping])
    error, skipped = report.results
    assert error.status is Status.ERROR and "KeyError" in (error.detail or "")
    assert error.findings[0].blocking and not report.passed
    assert skipped.status is Status.SKIPPED and skipped.findings == ()


def test_context_carries_parameters_from_tfkit_toml_per_environment(
    tmp_path: Path, destroy_plan: Plan
) -> None:
    seen: dict[str, object] = {}

    @policy(id="T-PARAMS", params={"limit": 1})
    def with_params(plan: Plan, ctx: PolicyContext):
        """Reads its parameters."""
        seen[ctx.environment or ""] = (ctx.params["limit"], ctx.protected)
        return []

    project = _project(
        tmp_path,
        """
        [policies.T-PARAMS]
        limit = 5
        [environments.production.policies.T-PARAMS]
        limit = 0
        severity = "hard"
        """,
    )
    evaluate(destroy_plan, [with_params], env="dev", project=project)
    report = evaluate(destroy_plan, [with_params], env="production", project=project)
    assert seen == {"dev": (5, False), "production": (0, True)}
    assert report.results[0].severity is Severity.HARD


def test_disabled_globally_and_enabled_again_in_one_environment(tmp_path: Path, destroy_plan: Plan) -> None:
    project = _project(
        tmp_path,
        """
        [policies]
        disabled = ["T-DELETES"]
        [environments.production.policies]
        enabled = ["T-DELETES"]
        """,
    )
    assert (
        evaluate(destroy_plan, [no_deletes], env="dev", project=project).results[0].status is Status.DISABLED
    )
    assert (
        evaluate(destroy_plan, [no_deletes], env="production", project=project).results[0].status
        is Status.FAILED
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[policies]\ndisabled = ['T-DELETE']\n", "unknown policy 'T-DELETE' (did you mean 'T-DELETES'?)"),
        ("[policies.T-DELETS]\nenabled = false\n", "unknown policy 'T-DELETS' (did you mean 'T-DELETES'?)"),
        ("[policies.T-DELETES]\nlimit = 3\n", "unknown parameter 'policies.T-DELETES.limit'"),
        ("[policies.T-DELETES]\nseverity = 'fatal'\n", "must be one of 'advisory', 'soft', 'hard'"),
    ],
)
def test_bad_settings_are_one_line_config_errors(
    tmp_path: Path, destroy_plan: Plan, toml: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        evaluate(destroy_plan, [no_deletes], env="dev", project=_project(tmp_path, toml))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_repository_policies_load_from_policies_dir_and_checkov_checks_are_skipped(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        policies={
            "rules.py": """
                from tfkit.policy import policy

                @policy(id="ORG001")
                def everything_fine(plan):
                    '''Nothing to report.'''
                    return []
            """,
            "ckv_custom.py": "from checkov.common.models.enums import CheckResult\n",
            "_helpers.py": "raise RuntimeError('never imported')\n",
        },
    )
    loaded = {p.id: p for p in load_policies(project, packages=False)}
    assert "TFK001" in loaded and loaded["TFK001"].source == "builtin"
    assert loaded["ORG001"].source == "repository:rules.py"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def broken(:\n", "rules.py:1: syntax error in policy file"),
        (
            "x = 1\nraise ValueError('bad config')\n",
            "rules.py:2: policy file failed to import: ValueError: bad config",
        ),
        (
            "from tfkit.policy import policy\n@policy(id='TFK001')\ndef dup(plan):\n    return []\n",
            "policy id TFK001 is defined twice",
        ),
    ],
)
def test_broken_policy_files_are_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    project = _project(tmp_path, policies={"rules.py": text})
    with pytest.raises(PolicyDefinitionError) as info:
        load_policies(project, packages=False)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_installed_packages_register_policies_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "acme_policies").mkdir(parents=True)
    (site / "acme_policies" / "__init__.py").write_text(
        "from tfkit.policy import policy\n\n"
        "@policy(id='ACME001', severity='advisory')\n"
        "def acme(plan):\n    '''Acme's rule.'''\n    yield 'acme says no'\n"
    )
    dist = site / "acme_policies-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-policies\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tfkit.policies]\nacme = acme_policies\n")
    monkeypatch.syspath_prepend(str(site))
    loaded = {p.id: p for p in load_policies(None)}
    assert loaded["ACME001"].source == "package:acme"
    assert loaded["ACME001"].severity is Severity.ADVISORY
    assert "ACME001" not in {p.id for p in load_policies(None, packages=False)}


def test_without_packages_the_installed_distributions_are_not_read() -> None:
    """``[policies] entry_points = false`` costs nothing: importlib.metadata is not even imported."""
    code = (
        "import sys; from tfkit.policy.loader import load_policies; load_policies(None, packages=False); "
        "print('importlib.metadata' in sys.modules); load_policies(None); "
        "print('importlib.metadata' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
