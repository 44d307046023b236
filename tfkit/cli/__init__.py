"""The ``tfkit`` command. Each sibling module adds the subcommands of one topic to ``cli``."""

# Importing a topic module registers its subcommands on ``cli``.
from tfkit.cli import check, drift, guard, lifecycle, run, scan  # noqa: F401
from tfkit.cli._app import EXIT_CODES, cli, main

__all__ = ["EXIT_CODES", "cli", "main"]
