"""Leaving a finished process without Python's teardown of every module and object.

At a normal exit the interpreter frees each loaded module and every object it holds, one by one: 40-120
ms once a plan's modules are loaded (more with a large plan in memory), spent after the last line is
written and before the exit code reaches the caller, and nothing tfkit needs happens in it. ``leave``
does what a normal exit does that matters (the exit handlers run: temporary directories are removed,
logging is flushed; the standard streams are flushed), then ends the process at once. Files tfkit writes
are closed where they are written (``fsutil.atomic_write``), never left for the teardown to flush.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

__all__ = ["exit_code", "leave", "leave_at_exit"]

#: Python's own exit status when the standard streams cannot be flushed at exit (e.g. a closed pipe).
FLUSH_FAILED = 120


def exit_code(code: str | int | None) -> int:
    """The status ``SystemExit(code)`` gives: ``None`` is 0, an int is itself, anything else is printed, 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _flushed() -> bool:
    ok = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            ok = False
    return ok


def leave(code: str | int | None) -> NoReturn:
    """End the process with ``SystemExit(code)``'s status: exit handlers, flushed streams, no teardown.

    While another thread still runs, the normal exit (which waits for it) is kept, and so it is under a
    profiler or tracer (``python -m cProfile`` writes its figures after the program returns).
    """
    if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    status = exit_code(code)
    atexit._run_exitfuncs()
    if not _flushed() and status == 0:
        status = FLUSH_FAILED
    os._exit(status)


def _leave_now() -> None:
    os._exit(0 if _flushed() else FLUSH_FAILED)


def leave_at_exit() -> None:
    """In a pool worker, as it starts: skip the teardown when it exits, after the other exit handlers.

    Exit handlers run in reverse order of registration, so this one runs after every handler registered
    later (a temporary directory's clean-up); only the two registered before it in a spawned pool worker
    are skipped: ``multiprocessing``'s ``_exit_function``, which has already run by then, and logging's
    ``shutdown``, which only closes handlers (each flushes every record as it is written).
    The status is 0 (a pool never reads its workers' statuses; one that dies mid-task breaks the pool).
    """
    atexit.register(_leave_now)
