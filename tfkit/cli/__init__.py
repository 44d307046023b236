"""The ``tfkit`` command. Each sibling module adds the subcommands of one topic to ``cli``."""

from tfkit.cli import lifecycle, run  # noqa: F401 - register their subcommands
from tfkit.cli import guard  # noqa: F401 - registers check-secrets, check-changes, describe
from tfkit.cli import check  # noqa: F401 - registers check, policies
from tfkit.cli._app import EXIT_CODES, cli, main

__all__ = ["EXIT_CODES", "cli", "main"]
