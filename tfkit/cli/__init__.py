"""The ``tfkit`` command. Each sibling module adds the subcommands of one topic to ``cli``."""

from tfkit.cli import run  # noqa: F401 - registers its subcommands
from tfkit.cli._app import EXIT_CODES, cli, main

__all__ = ["EXIT_CODES", "cli", "main"]
