"""The built-in pack on real plans of the example repository (made with the real engine) and real fixtures.

Each policy is shown failing and passing. Settings and waivers come from tfkit.toml variants written next
to copies of the example repository.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import date
from pathlib import Path

import pytest
from testsupport import PLANS, REPO, TEST_SECRET, copy_example, core_config

from tfkit import gate, workflow
from tfkit.findings import Severity
from tfkit.plan import Plan, load_plan
from tfkit.policy import Status, evaluate
from tfkit.project import Project
from tfkit.report.text import render_gate_text
from tfkit.testing.planner import Planner

pytestmark = pytest.mark.slow
PROD_RULES = [
    {"name": "https-public", "port": 443, "protocol": "tcp", "cidr": "0.0.0.0/0", "description": "HTTPS"},
    {"name": "ssh-vpn", "port": 22, "protocol": "tcp", "cidr": "10.250.0.0/24", "description": "SSH"},
    {
        "name": "postgres-internal",
        "port": 5432,
        "protocol": "tcp",
        "cidr": "10.30.0.0/16",
        "description": "DB",
    },
]  # production.tfvars without "dns-internal": the plan deletes that rule
DELETED = 'module.access.terraform_data.rule["dns-internal"]'


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Planner:
    root = copy_example(tmp_path_factory.mktemp("example") / "repo")
    return Planner(Project.load(root), tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="module")
def staging_plan(planner: Planner) -> Plan:
    return planner.plan("staging")


@pytest.fixture(scope="module")
def production_delete(planner: Planner) -> Plan:
    """Production applied for real in the planner's copy, then a plan that deletes one access rule."""
    with workflow.Session(planner.copy().environment("production")) as session:
        session.apply(session.plan())
    plan = planner.plan("production", vars={"access_rules": PROD_RULES})
    assert [rc.address for rc in plan.deletes] == [DELETED]
    return plan


def variant(planner: Planner, dest: Path, toml: str = "", files: dict[str, str] | None = None) -> Project:
    """A copy of the example (no repository policies) with extra tfkit.toml text and extra .tf files."""
    source = planner.copy().root
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan", "*.tfvars.json")
    for part in ("envs", "modules"):
        shutil.copytree(source / part, dest / part, ignore=ignore)
    (dest / "tfkit.toml").write_text(core_config() + textwrap.dedent(toml))
    for name, text in (files or {}).items():
        (dest / name).write_text(textwrap.dedent(text))
    return Project.load(dest)


def result(plan: Plan, policy_id: str, env: str, project: Project | None):
    found = evaluate(plan, env=env, project=project).result(policy_id)
    assert found is not None
    return found


# ------------------------------------------------------------------------ TFK001 protected, waivers


def test_delete_in_production_fails_the_gate_naming_the_address(
    planner: Planner, production_delete: Plan, tmp_path
):
    project = variant(planner, tmp_path)
    verdict = gate.evaluate(production_delete, "production", project=project, scanners=False)
    assert not verdict.passed
    (failure,) = verdict.failures
    assert failure.check_id == "TFK001" and failure.address == DELETED
    assert DELETED in render_gate_text(verdict) and "gate FAILED for production" in render_gate_text(verdict)


def test_same_delete_passes_outside_protected_environments(
    planner: Planner, production_delete: Plan, tmp_path
):
    project = variant(planner, tmp_path)
    assert result(production_delete, "TFK001", "staging", project).status is Status.PASSED


def test_unexpired_waiver_passes_and_expired_waiver_fails(
    planner: Planner, production_delete: Plan, tmp_path
):
    waiver = """
        [[waivers]]
        policy = "TFK001"
        address = 'module.access.terraform_data.rule["dns-*"]'
        reason = "CHG-42 DNS moves to the resolver service"
        expires = {expires}
        environments = ["production"]
    """
    valid = variant(planner, tmp_path / "valid", waiver.format(expires="2026-12-31"))
    verdict = gate.evaluate(
        production_delete, "production", project=valid, scanners=False, today=date(2026, 12, 31)
    )
    assert verdict.passed, render_gate_text(verdict)
    assert "[waived until 2026-12-31: CHG-42" in render_gate_text(verdict)

    expired = variant(planner, tmp_path / "expired", waiver.format(expires="2026-01-31"))
    verdict = gate.evaluate(
        production_delete, "production", project=expired, scanners=False, today=date(2026, 2, 1)
    )
    assert not verdict.passed
    assert verdict.errors == (
        f"waiver for TFK001 on {DELETED} expired on 2026-01-31 (CHG-42 DNS moves to the resolver service); "
        "renew it with a new expiry date or remove it from tfkit.toml",
    )


def test_allowed_addresses_pass_in_protected_environments(
    planner: Planner, production_delete: Plan, tmp_path
):
    project = variant(
        planner, tmp_path, "[environments.production.policies.TFK001]\nallow = ['module.access.*']\n"
    )
    assert result(production_delete, "TFK001", "production", project).status is Status.PASSED


def test_an_exact_bracketed_address_can_be_allowed(planner: Planner, production_delete: Plan, tmp_path):
    exact = variant(
        planner, tmp_path / "exact", f"[environments.production.policies.TFK001]\nallow = ['{DELETED}']\n"
    )
    assert result(production_delete, "TFK001", "production", exact).status is Status.PASSED
    other = DELETED.replace("dns-internal", "dns-externa?")  # ? is one character, so not this key
    near = variant(
        planner, tmp_path / "near", f"[environments.production.policies.TFK001]\nallow = ['{other}']\n"
    )
    assert result(production_delete, "TFK001", "production", near).status is Status.FAILED


# ------------------------------------------------------------------------------------ TFK002 blast radius


def test_blast_radius_limit_is_configurable_per_environment(
    planner: Planner, production_delete: Plan, tmp_path
):
    project = variant(
        planner,
        tmp_path,
        """
        [policies.TFK002]
        max_destructive = 0
        [environments.staging.policies.TFK002]
        max_destructive = 1
        """,
    )
    failed = result(production_delete, "TFK002", "production", project)
    assert failed.status is Status.FAILED
    assert failed.violations[0].message.startswith(
        "the plan destroys or replaces 1 objects, more than the limit of 0"
    )
    assert DELETED in failed.violations[0].message
    assert result(production_delete, "TFK002", "staging", project).status is Status.PASSED


def test_blast_radius_default_limit_on_a_real_destroy_plan() -> None:
    plan = load_plan(PLANS / "snyk-cli" / "aws-destroy-v0.1.json")
    assert result(plan, "TFK002", "dev", None).status is Status.PASSED  # 8 deletes <= 10
    report = evaluate(plan, env="dev")
    assert report.result("TFK001").status is Status.PASSED  # type: ignore[union-attr] - dev is not protected


# ----------------------------------------------------------------------------------------- secrets

AWS_KEY = "AKIA" + "Q3EGXMPLE7TFKITZ"  # split so the repository's own secret scan does not trip on it
CLEAR_PASSWORD = "correct-horse-battery-staple-42"
RANDOM_TOKEN = "q8Zt3LmN0xVb7RkW2yHc5JdP9sFa"


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Plan, Path]:
    """Staging with secrets planted in non-sensitive outputs, planned for real; also saved as plan JSON."""
    root = copy_example(tmp_path_factory.mktemp("leaky") / "repo")
    (root / "envs" / "staging" / "leak.tf").write_text(
        f'output "debug_key" {{\n  value = "{AWS_KEY}"\n}}\n\n'
        f'output "admin" {{\n  value = {{ user = "admin", password = "{CLEAR_PASSWORD}" }}\n}}\n\n'
        f'output "build_id" {{\n  value = "{RANDOM_TOKEN}"\n}}\n'
    )
    project = Project.load(root)
    with workflow.Session(project.environment("staging")) as session:
        plan = session.plan().plan
    saved = root / "staging-plan.json"
    saved.write_bytes(plan.raw)
    return project, plan, saved


def test_planted_secrets_in_non_sensitive_outputs_are_caught(leaky) -> None:
    project, plan, _ = leaky
    report = evaluate(plan, env="staging", project=project)
    token = report.result("TFK003")
    assert token.status is Status.FAILED and token.severity is Severity.HARD  # type: ignore[union-attr]
    assert [(v.address, v.path) for v in token.violations] == [("output.debug_key", None)]  # type: ignore[union-attr]
    assert "(AWS Access Key)" in token.violations[0].message  # type: ignore[union-attr]
    named = report.result("TFK004")
    assert [(v.address, v.path) for v in named.violations] == [("output.admin", "password")]  # type: ignore[union-attr]
    entropy = report.result("TFK005")
    assert [v.address for v in entropy.violations] == ["output.build_id"]  # type: ignore[union-attr]
    everything = "\n".join(f.one_line() for f in report.findings) + render_gate_text(
        gate.evaluate(plan, "staging", project=project, scanners=False)
    )
    for value in (AWS_KEY, CLEAR_PASSWORD, RANDOM_TOKEN, TEST_SECRET):
        assert value not in everything


def test_tfkit_check_reports_the_leak_without_printing_it(leaky, tfkit_cli) -> None:
    project, _, saved = leaky
    done = tfkit_cli("check", str(saved), "--env", "staging", cwd=project.root)
    assert done.returncode == 1, done.stderr
    assert (
        "HARD     TFK003 output.debug_key: a non-sensitive value is in a credential format (AWS Access Key)"
        in done.stdout
    )
    assert "gate FAILED for staging" in done.stdout
    for value in (AWS_KEY, CLEAR_PASSWORD, RANDOM_TOKEN, TEST_SECRET):
        assert value not in done.stdout + done.stderr


def test_sensitive_values_of_a_real_plan_are_not_reported(staging_plan: Plan) -> None:
    """The example's db_password is in the plan (sensitive): no secret policy reports it."""
    assert TEST_SECRET.encode() in staging_plan.raw
    report = evaluate(staging_plan, env="staging")
    for policy_id in ("TFK003", "TFK004", "TFK005"):
        assert report.result(policy_id).status is Status.PASSED  # type: ignore[union-attr]


def test_secret_policies_on_a_real_fixture_plan_name_paths_not_values() -> None:
    plan = load_plan(PLANS / "checkov" / "aws-55-resources-v0.1.json")
    report = evaluate(plan)
    token = report.result("TFK003").violations  # type: ignore[union-attr]
    assert [(v.address, v.path) for v in token] == [
        ("aws_lambda_function.analysis_lambda", "environment[0].variables.access_key")
    ]
    named = {(v.address, v.path) for v in report.result("TFK004").violations}  # type: ignore[union-attr]
    assert ("aws_db_instance.default", "password") in named


# -------------------------------------------------------------------------------- tags, types, providers


def test_required_tags(planner: Planner, staging_plan: Plan, tmp_path) -> None:
    ok = variant(planner, tmp_path / "ok", "[policies.TFK006]\nkeys = ['owner', 'cost_center', 'env']\n")
    assert result(staging_plan, "TFK006", "staging", ok).status is Status.PASSED
    strict = variant(planner, tmp_path / "strict", "[policies.TFK006]\nkeys = ['team', 'owner']\n")
    failed = result(staging_plan, "TFK006", "staging", strict)
    created = [rc.address for rc in staging_plan.creates]
    assert failed.status is Status.FAILED
    assert sorted(v.address for v in failed.violations) == sorted(created)
    assert {(v.path, v.message) for v in failed.violations} == {
        ("input.tags", "missing required tag(s): team")
    }


def test_allowed_and_denied_resource_types(planner: Planner, staging_plan: Plan, tmp_path) -> None:
    denied = variant(planner, tmp_path / "d", "[policies.TFK007]\ndenied = ['terraform_data']\n")
    failed = result(staging_plan, "TFK007", "staging", denied)
    assert len(failed.violations) == len(staging_plan.creates)
    assert failed.violations[0].message == "resource type terraform_data is denied ([policies.TFK007] denied)"
    allowed = variant(planner, tmp_path / "a", "[policies.TFK007]\nallowed = ['terraform_*']\n")
    assert result(staging_plan, "TFK007", "staging", allowed).status is Status.PASSED


def test_allowed_providers(planner: Planner, staging_plan: Plan, tmp_path) -> None:
    aws_plan = load_plan(PLANS / "checkov" / "aws-55-resources-v0.1.json")
    only_aws = variant(planner, tmp_path / "aws", "[policies.TFK008]\nallowed = ['aws', 'null']\n")
    assert result(aws_plan, "TFK008", "dev", only_aws).status is Status.PASSED
    assert result(staging_plan, "TFK008", "staging", only_aws).status is Status.PASSED  # builtin terraform
    only_google = variant(
        planner, tmp_path / "g", "[policies.TFK008]\nallowed = ['registry.terraform.io/hashicorp/google']\n"
    )
    failed = result(aws_plan, "TFK008", "dev", only_google)
    assert sorted(v.message.split()[1] for v in failed.violations) == ["aws", "null"]


# ------------------------------------------------------------------------------------- configuration


def test_module_sources_pinned(planner: Planner, staging_plan: Plan, tmp_path) -> None:
    assert (
        result(staging_plan, "TFK101", "staging", variant(planner, tmp_path / "ok")).status is Status.PASSED
    )
    unpinned = variant(
        planner,
        tmp_path / "bad",
        files={
            "envs/staging/extra.tf": """
                module "vpc" {
                  source = "terraform-aws-modules/vpc/aws"
                }

                module "pinned" {
                  source  = "terraform-aws-modules/vpc/aws"
                  version = "5.1.2"
                }

                module "git" {
                  source = "git::https://example.com/mods.git//vpc"
                }
            """
        },
    )
    failed = result(staging_plan, "TFK101", "staging", unpinned)
    assert [(v.address, v.file, v.line) for v in failed.violations] == [
        ("module.vpc", "envs/staging/extra.tf", 2),
        ("module.git", "envs/staging/extra.tf", 11),
    ]
    assert "registry module without a version" in failed.violations[0].message


def test_configuration_policies_find_the_same_from_the_hcl_cache(
    planner: Planner, staging_plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TFK101-103 read .tf files through the parse cache: a warm gate parses nothing and finds the same."""
    from tfkit import hcl

    monkeypatch.setenv("TFKIT_CACHE_DIR", str(tmp_path / "cache"))
    project = variant(
        planner,
        tmp_path / "repo",
        files={
            "envs/staging/extra.tf": """
                variable "bare" {}

                module "vpc" {
                  source = "terraform-aws-modules/vpc/aws"
                }

                provider "aws" {
                  access_key = "AKIAIOSFODNN7EXAMPLE"
                }
            """
        },
    )
    ids = ("TFK101", "TFK102", "TFK103")

    def found() -> list[tuple[str, str, str | None, int | None, str]]:
        hcl._load_cached.cache_clear()  # the in-process memo aside: read through the cache directory
        report = evaluate(staging_plan, env="staging", project=project)
        return [
            (r.policy.id, v.address, v.file, v.line, v.message)
            for r in report.results
            if r.policy.id in ids
            for v in r.violations
        ]

    cold = found()
    assert {policy_id for policy_id, *_ in cold} == set(ids)
    assert list((tmp_path / "cache" / "hcl").rglob("*.json"))

    def no_parsing(text: str) -> None:
        raise AssertionError("parsed although every file is cached")

    monkeypatch.setattr(hcl, "_parse", no_parsing)
    assert found() == cold


def test_module_sources_pinned_from_the_plan_configuration_without_a_repository() -> None:
    unpinned = load_plan(PLANS / "checkov" / "nested-modules-connections-v1.1.json")
    assert [v.address for v in result(unpinned, "TFK101", "dev", None).violations] == ["module.s3_bucket"]
    pinned = load_plan(PLANS / "infracost" / "aws-modules-tf0.14-v0.1.json")
    assert result(pinned, "TFK101", "dev", None).status is Status.PASSED


def test_no_credentials_in_provider_or_backend_blocks(planner: Planner, staging_plan: Plan, tmp_path) -> None:
    assert (
        result(staging_plan, "TFK102", "staging", variant(planner, tmp_path / "ok")).status is Status.PASSED
    )
    leaky = variant(
        planner,
        tmp_path / "bad",
        files={
            "envs/staging/providers.tf": f"""
                terraform {{
                  backend "pg" {{
                    conn_str = "postgres://tf:{CLEAR_PASSWORD}@db.internal/tfstate"
                  }}
                }}

                provider "aws" {{
                  region     = "eu-west-1"
                  access_key = "{AWS_KEY}"
                  secret_key = var.aws_secret_key
                }}
            """
        },
    )
    failed = result(staging_plan, "TFK102", "staging", leaky)
    assert failed.severity is Severity.HARD
    assert [(v.address, v.path, v.line) for v in failed.violations] == [
        ("provider.aws", "access_key", 10),
        ("backend.pg", "conn_str", 4),
    ]
    text = "\n".join(v.message for v in failed.violations)
    assert AWS_KEY not in text and CLEAR_PASSWORD not in text


def test_no_credentials_check_is_skipped_without_a_configuration(staging_plan: Plan) -> None:
    assert result(staging_plan, "TFK102", "staging", None).status is Status.SKIPPED


def test_every_variable_typed_and_described(planner: Planner, staging_plan: Plan, tmp_path) -> None:
    assert (
        result(staging_plan, "TFK103", "staging", variant(planner, tmp_path / "ok")).status is Status.PASSED
    )
    sloppy = variant(
        planner,
        tmp_path / "bad",
        files={
            "modules/network/extra.tf": 'variable "untyped" {\n  description = "x"\n}\n\nvariable "bare" {}\n'
        },
    )
    failed = result(staging_plan, "TFK103", "staging", sloppy)
    assert [(v.address, v.line, v.message) for v in failed.violations] == [
        ("modules/network/variable.untyped", 1, "variable 'untyped' has no type"),
        ("modules/network/variable.bare", 5, "variable 'bare' has no type and no description"),
    ]


def test_the_example_repository_passes_every_policy_in_every_environment(planner: Planner) -> None:
    project = planner.copy()
    shutil.copytree(REPO / "policies", project.root / "policies", dirs_exist_ok=True)
    for env, repository_policies in (("dev", {"REPO002"}), ("staging", {"REPO001", "REPO002"})):
        verdict = gate.evaluate(planner.plan(env), env, project=project, scanners=False)
        assert verdict.passed, render_gate_text(verdict)
        ran = {f.check_id for f in verdict.findings if f.passed}
        assert ran >= {"TFK001", "TFK102", "TFK103"} and ran & {"REPO001", "REPO002"} == repository_policies
