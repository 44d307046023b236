"""The built-in pack's C scanners (``tfkit/policy/_scan.c``) when tfkit was built with them, else ``None``.

One handle for every module that can use them (``_detect``, ``_tags``), read at call time, so a test or a
benchmark switches all of them to their Python forms by setting ``scanner`` to ``None``.
"""

from __future__ import annotations

from types import ModuleType

scanner: ModuleType | None
try:
    from tfkit.policy import _scan as scanner
except ImportError:  # built without a C compiler: the Python forms do the same job, slower
    scanner = None
