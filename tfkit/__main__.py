"""``python -m tfkit``: the same as the ``tfkit`` command."""

from tfkit.cli import main

main()
