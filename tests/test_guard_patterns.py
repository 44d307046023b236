"""The guard's path patterns mean what they mean in a .gitignore file (pathspec decides, as git would)."""

from __future__ import annotations

import pytest

from tfkit.guard import GuardSettings, classify
from tfkit.guard.patterns import deciding, literal, matches, matches_any


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.tf", "main.tf", True),
        ("*.tf", "modules/net/main.tf", True),  # no slash: the name at any depth
        ("modules/", "modules/net/main.tf", True),
        ("modules/", "vendor/modules/x.tf", True),  # a trailing slash alone does not anchor
        ("/modules/", "vendor/modules/x.tf", False),  # a leading one does
        ("/modules/", "modules/net/main.tf", True),
        ("envs/*/main.tf", "envs/dev/main.tf", True),  # a slash inside anchors; * stays in a segment
        ("envs/*/main.tf", "envs/dev/x/main.tf", False),
        ("envs/*/main.tf", "x/envs/dev/main.tf", False),
        ("envs/**/main.tf", "envs/dev/x/main.tf", True),
        ("tools/**", "tools/lint/run.py", True),
        ("id_rsa?", "id_rsa2", True),
        ("*.[ch]", "src/a.c", True),  # a character class, as in git
        ("!x.tf", "x.tf", False),  # a negation alone matches nothing
        ("\\!x.tf", "!x.tf", True),
    ],
)
def test_patterns_mean_what_git_means(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_in_a_list_the_last_matching_pattern_decides() -> None:
    patterns = ["/docs/", "!/docs/drafts/", "/docs/drafts/keep.md"]
    assert deciding(patterns, "docs/guide.md") == "/docs/"
    assert deciding(patterns, "docs/drafts/wip.md") is None
    assert deciding(patterns, "docs/drafts/keep.md") == "/docs/drafts/keep.md"
    assert matches_any(["*.md", "!README.md"], "guide.md")
    assert not matches_any(["*.md", "!README.md"], "README.md")
    assert not matches_any([], "README.md")


@pytest.mark.parametrize("path", ["main.tf", "a[1]/b*.tf", "!odd #name?.tf", "modules/net"])
def test_a_literal_matches_exactly_that_path_from_the_root(path: str) -> None:
    assert matches(literal(path), path)
    assert not matches(literal(path), "sub/" + path)
    assert matches(literal("modules"), "modules/net/main.tf")  # a directory: everything under it


def test_negations_in_guard_settings_take_back_an_allow() -> None:
    settings = GuardSettings(allow=("/scripts/", "!/scripts/deploy.sh"))
    assert classify("scripts/lint.sh", settings).allowed
    verdict = classify("scripts/deploy.sh", settings)
    assert not verdict.allowed and verdict.rule == "unlisted"
    # the default rules' directories are the root's: a nested tests/ directory is not infrastructure
    assert classify("app/tests/test_app.py", GuardSettings()).rule == "application-code"
    assert classify("app/.terraform/terraform.tfstate", GuardSettings()).rule == "state-file"
    assert classify("app/.terraform/providers/x", GuardSettings()).rule == "terraform-data"
