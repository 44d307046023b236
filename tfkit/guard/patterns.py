"""Path patterns in the style of ``.gitignore``: ``*.tf``, ``modules/``, ``.github/**``, ``envs/*/main.tf``.

A pattern without a ``/`` matches a file's name in any directory; one with a ``/`` matches the path from
the repository root; a trailing ``/`` means everything under that directory (of the root). ``*`` and ``?``
stay within one path segment, ``**`` crosses directories.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["matches"]


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern
    body = pattern.lstrip("/")
    if body.endswith("/"):
        body += "**"
    out: list[str] = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(out) + r"\Z")


def matches(pattern: str, path: str) -> bool:
    """Whether ``path`` (relative, with ``/``) matches ``pattern``."""
    return _compile(pattern).match(path) is not None
