"""``python -m tfkit``: the same as the ``tfkit`` command."""

from tfkit.cli import console_main

console_main()
