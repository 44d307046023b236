"""``tfkit init``: scaffold tfkit into an existing or empty repository, never overwriting a file.

It writes tfkit.toml from what ``tfkit.scaffold.discover`` finds (environments, var files, backends,
sensitive variables), an example policy, plan tests using the pytest plugin, a CI workflow (GitHub
Actions, or GitLab CI) and pre-commit hooks; it adds the missing entries to ``.gitignore``. An empty
repository also gets an example environment, so the result validates and plans at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tfkit.scaffold.discover import Layout, discover
from tfkit.scaffold.templates import (
    EXAMPLE_ENV,
    GITIGNORE,
    POLICY,
    PRE_COMMIT,
    github_workflow,
    gitlab_ci,
    plan_tests,
    tfkit_toml,
)

__all__ = ["InitResult", "init_repository"]

Ci = Literal["github", "gitlab", "none"]


@dataclass(slots=True)
class InitResult:
    """What ``init_repository`` did: files created, files kept as they were, .gitignore lines added."""

    layout: Layout
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _create(root: Path, rel: str, text: str, result: InitResult) -> None:
    """Write ``rel`` unless something is there already (exclusive create: never overwritten)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        result.kept.append(rel)
    else:
        result.created.append(rel)


def _gitignore(root: Path, result: InitResult) -> None:
    """Append the entries ``.gitignore`` lacks (its own lines are left as they are)."""
    path = root / ".gitignore"
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    have = {line.strip() for line in existing.splitlines()}
    missing = [entry for entry in GITIGNORE if entry not in have]
    if not missing:
        return
    lead = "" if not existing or existing.endswith("\n") else "\n"
    block = "\n".join(["# tfkit and Terraform (added by `tfkit init`)", *missing]) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lead + ("\n" if existing else "") + block)
    result.ignored.extend(missing)


def init_repository(root: Path, *, ci: Ci = "github") -> InitResult:
    """Scaffold tfkit into ``root`` (see the module docs); returns what was written and kept."""
    root = root.resolve()
    result = InitResult(layout=discover(root))
    if result.layout.empty:
        _create(root, "envs/dev/main.tf", EXAMPLE_ENV, result)
        result.layout = discover(root)
    layout = result.layout
    _create(root, "tfkit.toml", tfkit_toml(layout), result)
    _gitignore(root, result)
    _create(root, "policies/example.py", POLICY, result)
    _create(root, "tests/test_tfkit_plans.py", plan_tests(layout), result)
    if ci == "github":
        _create(root, ".github/workflows/tfkit.yml", github_workflow(layout), result)
    elif ci == "gitlab":
        _create(root, ".gitlab-ci.yml", gitlab_ci(layout), result)
    _create(root, ".pre-commit-config.yaml", PRE_COMMIT, result)
    return result
