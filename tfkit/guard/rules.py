"""The repository's rules on what may change, and the guard's settings from ``[guard]`` in ``tfkit.toml``.

A changed file is classified by the first rule that matches, in this order:

1. ``[guard] refuse`` patterns of the repository;
2. the default refusals of files that hold secrets or Terraform's working data (state, plans, private keys,
   ``.env`` files, other secret files), which no allow pattern overrides (switch one off with
   ``[guard] disable = ["<rule id>"]`` if a repository really needs to);
3. ``[guard] allow`` patterns of the repository;
4. the default allow rules: Terraform files, infrastructure directories (modules, environments, policies,
   tests of the infrastructure), tfkit's files, CI/CD files, docs, repository housekeeping;
5. the default refusal of application source code;
6. anything else is refused as ``unlisted``: only infrastructure belongs here, so a new kind of file
   needs a rule that says it does.

Patterns mean what they mean in a ``.gitignore`` file (``tfkit.guard.patterns``): ``/docs/`` is the root's
``docs`` directory, ``docs/`` one at any depth; in ``[guard] allow`` or ``refuse``, ``!pattern`` takes
back what an earlier pattern of the same list matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfkit.config import CONFIG_FILE, DEFAULT_BASELINE, GuardConfig, load_config
from tfkit.guard.patterns import deciding, matches, matches_any

__all__ = [
    "DEFAULT_ALLOW",
    "DEFAULT_BASELINE",
    "DEFAULT_REFUSE_CODE",
    "DEFAULT_REFUSE_SECRETS",
    "GuardSettings",
    "Rule",
    "Verdict",
    "classify",
    "guard_settings",
]


@dataclass(frozen=True, slots=True)
class Rule:
    """A named rule: the patterns it matches (``tfkit.guard.patterns``), those it leaves out, and why."""

    id: str
    patterns: tuple[str, ...]
    reason: str
    unless: tuple[str, ...] = ()

    def match(self, path: str) -> str | None:
        """The first pattern matching ``path`` (unless an exception matches), else None."""
        if matches_any(self.unless, path):
            return None
        return next((p for p in self.patterns if matches(p, path)), None)


DEFAULT_REFUSE_SECRETS: tuple[Rule, ...] = (
    Rule(
        "state-file",
        ("*.tfstate", "*.tfstate.*", ".terraform.tfstate.lock.info"),
        "Terraform state holds every secret in the clear; it belongs in a remote backend",
    ),
    Rule(
        "plan-file",
        ("*.tfplan", "tfplan", "*.tfplan.json", "tfplan.json", "plan.json", "*.plan"),
        "a saved plan holds the variables' values, secrets included; plan in CI instead",
    ),
    Rule(
        "terraform-data",
        (".terraform/", "crash.log", "crash.*.log"),
        "Terraform's working data and crash logs (providers, local state, secrets) are never committed",
    ),
    Rule(
        "private-key",
        (
            "*.pem",
            "*.key",
            "id_rsa*",
            "id_dsa*",
            "id_ecdsa*",
            "id_ed25519*",
            "*.p12",
            "*.pfx",
            "*.jks",
            "*.keystore",
            "*.ppk",
        ),
        "private keys and certificates' keys belong in a secret store",
        unless=("*.pub",),
    ),
    Rule(
        "dotenv",
        (".env", ".env.*", "*.env"),
        ".env files hold credentials; inject them from a secret store",
        unless=(".env.example", ".env.sample", ".env.template", "*.env.example"),
    ),
    Rule(
        "secret-file",
        (
            ".secrets/",
            "*.secret",
            "*.secrets",
            "secrets.tfvars",
            "*.secrets.tfvars",
            "credentials",
            "credentials.json",
            "*.credentials",
            ".netrc",
            ".pgpass",
            ".terraformrc",
            "terraform.rc",
            "kubeconfig",
            "*.kubeconfig",
            ".vault-token",
        ),
        "files that hold credentials belong in a secret store, read by tfkit's secret sources",
    ),
)

DEFAULT_ALLOW: tuple[Rule, ...] = (
    Rule(
        "terraform",
        ("*.tf", "*.tf.json", "*.tfvars", "*.tfvars.json", "*.hcl", ".terraform-version", ".tflint.hcl"),
        "Terraform configuration",
    ),
    Rule(
        "infrastructure",
        ("/modules/", "/envs/", "/environments/", "/policies/", "/tests/"),
        "modules, environments, policies and the infrastructure's tests",
    ),
    Rule("tfkit", ("tfkit.toml", DEFAULT_BASELINE), "tfkit's configuration and secrets baseline"),
    Rule(
        "ci",
        (
            "/.github/",
            "/.gitlab/",
            ".gitlab-ci.yml",
            "/.ci/",
            "/.circleci/",
            "/.buildkite/",
            "Jenkinsfile",
            "azure-pipelines.yml",
            "bitbucket-pipelines.yml",
            "atlantis.yaml",
            ".pre-commit-config.yaml",
            ".pre-commit-hooks.yaml",
        ),
        "CI/CD and automation",
    ),
    Rule(
        "docs",
        ("*.md", "*.rst", "/docs/", "LICENSE", "LICENSE.*", "CODEOWNERS", "CHANGELOG*"),
        "documentation",
    ),
    Rule(
        "repository",
        (
            "Makefile",
            ".gitignore",
            ".gitattributes",
            ".editorconfig",
            ".tool-versions",
            ".env.example",
            ".env.sample",
            ".env.template",
            "*.pub",
        ),
        "repository housekeeping, templates without values, public keys",
    ),
)

DEFAULT_REFUSE_CODE = Rule(
    "application-code",
    (
        "*.py",
        "*.js",
        "*.mjs",
        "*.cjs",
        "*.jsx",
        "*.ts",
        "*.tsx",
        "*.go",
        "*.java",
        "*.kt",
        "*.scala",
        "*.rb",
        "*.php",
        "*.cs",
        "*.c",
        "*.cc",
        "*.cpp",
        "*.h",
        "*.hpp",
        "*.rs",
        "*.swift",
        "*.sql",
        "package.json",
        "go.mod",
        "pom.xml",
        "Cargo.toml",
        "requirements*.txt",
        "pyproject.toml",
    ),
    "application code belongs in the application's repository, not the infrastructure's",
)

_UNLISTED_REASON = (
    "no rule allows this kind of file; add a pattern to [guard] allow in tfkit.toml if it belongs"
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one changed file was classified: allowed or refused, by which rule and pattern."""

    path: str
    allowed: bool
    rule: str
    reason: str
    pattern: str | None = None

    def one_line(self) -> str:
        """``path: refused by rule 'id' (pattern): reason`` (or allowed)."""
        verdict = "allowed" if self.allowed else "refused"
        pattern = f" ({self.pattern})" if self.pattern else ""
        return f"{self.path}: {verdict} by rule '{self.rule}'{pattern}: {self.reason}"


#: The ``[guard]`` table of tfkit.toml (defaults in ``tfkit.config.GuardConfig``, the one place).
GuardSettings = GuardConfig


def guard_settings(root: Path) -> GuardSettings:
    """The settings of the repository at ``root``: its tfkit.toml's ``[guard]`` table, or the defaults."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return GuardSettings()
    return load_config(path).guard


def classify(path: str, settings: GuardSettings | None = None) -> Verdict:
    """The verdict of the first rule matching ``path`` (see the module's docstring for the order)."""
    settings = settings or GuardSettings()
    pattern = deciding(settings.refuse, path)
    if pattern:
        return Verdict(path, False, "refuse", "refused by [guard] refuse in tfkit.toml", pattern)
    for rule in DEFAULT_REFUSE_SECRETS:
        hit = rule.match(path) if rule.id not in settings.disable else None
        if hit:
            return Verdict(path, False, rule.id, rule.reason, hit)
    pattern = deciding(settings.allow, path)
    if pattern:
        return Verdict(path, True, "allow", "allowed by [guard] allow in tfkit.toml", pattern)
    for rule in DEFAULT_ALLOW:
        hit = rule.match(path) if rule.id not in settings.disable else None
        if hit:
            return Verdict(path, True, rule.id, rule.reason, hit)
    hit = DEFAULT_REFUSE_CODE.match(path) if DEFAULT_REFUSE_CODE.id not in settings.disable else None
    if hit:
        return Verdict(path, False, DEFAULT_REFUSE_CODE.id, DEFAULT_REFUSE_CODE.reason, hit)
    return Verdict(path, False, "unlisted", _UNLISTED_REASON)
