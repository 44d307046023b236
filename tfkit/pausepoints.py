"""Named points where a test may stop tfkit, to kill it exactly there; a no-op unless asked.

Some windows of a crash-safe recording last microseconds (between a snapshot and its ledger entry), so
the SIGKILL tests cannot hit them by timing. With ``TFKIT_PAUSE_AT=<point>`` and ``TFKIT_PAUSE_FILE=
<path>`` in its environment, tfkit writes its pid to that file at that point and waits there to be
killed. Points: ``journal`` (the journal entry is written, Terraform not started), ``record`` (Terraform
applied, nothing recorded), and inside a store's recording ``record:committing``, ``record:snapshot``,
``record:ledger``, ``record:health``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["pause_point"]


def pause_point(name: str) -> None:
    """Wait forever here when ``TFKIT_PAUSE_AT`` names this point (a test then kills the process)."""
    if os.environ.get("TFKIT_PAUSE_AT") != name:
        return
    marker = os.environ.get("TFKIT_PAUSE_FILE")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(60)
