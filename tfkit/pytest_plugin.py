"""tfkit's pytest plugin (registered under the ``pytest11`` entry point).

This slice registers the command-line options; fixtures, markers and helpers build on them.
"""

from __future__ import annotations

import pytest

__all__ = ["pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register tfkit's options: which repository, environments and engine tests run against."""
    group = parser.getgroup("tfkit", "tfkit: infrastructure repository tests")
    group.addoption(
        "--tfkit-root", default=None, help="Repository root holding tfkit.toml (default: rootdir)."
    )
    group.addoption("--tfkit-env", action="append", default=[], help="Only run tests for this environment.")
    group.addoption(
        "--tfkit-engine", choices=("embedded", "binary"), default=None, help="Terraform engine for the tests."
    )
