"""The ``tfkit`` command. Each sibling module adds the subcommands of one topic to ``cli``.

DESIGN.md names one ``cli.py``; it is a package so each topic (running Terraform, the gate,
snapshots, the guard, reports) stays a small module, as the rest of the package is.
"""

# Importing a topic module registers its subcommands on ``cli``.
from tfkit.cli import check, drift, graph, guard, init, lifecycle, run, scan, scanners, store  # noqa: F401
from tfkit.cli._app import EXIT_CODES, cli, console_main, main

__all__ = ["EXIT_CODES", "cli", "console_main", "main"]
