"""Path patterns with the meaning they have in a ``.gitignore`` file, matched by ``pathspec``.

``pathspec.GitIgnoreSpec`` follows git's own rules, so a pattern means here what it means to git:

* ``*.tf``: no ``/`` but a trailing one, so the name at any depth;
* ``/docs/``, ``envs/*/main.tf``, ``tools/**``: a ``/`` at the start or in the middle anchors the pattern
  at the repository root;
* ``modules/``, ``.terraform/``: a trailing ``/`` means that directory and everything under it, at any
  depth (``/modules/`` for the root's only);
* ``*`` and ``?`` stay within one path segment, ``**`` crosses directories, ``[abc]`` is a character class,
  ``\\`` escapes the next character (``literal`` escapes a whole path);
* ``!pattern`` re-includes what an earlier pattern of the same list matched: in a list, the last matching
  pattern decides (``deciding``). A ``!pattern`` alone matches nothing.

Paths are relative to the repository root, with ``/``. ``pathspec`` is imported on the first match: the
gate's var-file scan imports this module and matches nothing, so a plan does not load it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

__all__ = ["deciding", "literal", "matches", "matches_any"]

_SPECIAL = re.compile(r"([\\\[\]*?!#])")


@lru_cache(maxsize=512)
def _spec(patterns: tuple[str, ...]) -> GitIgnoreSpec:
    from pathspec import GitIgnoreSpec

    return GitIgnoreSpec.from_lines(patterns)


def deciding(patterns: Iterable[str], path: str) -> str | None:
    """The pattern of the list that decides ``path`` is matched (the last one, as in git), else ``None``."""
    listed = tuple(p for p in patterns if p)
    if not listed:
        return None
    result = _spec(listed).check_file(path)
    return listed[result.index] if result.include and result.index is not None else None


def matches_any(patterns: Iterable[str], path: str) -> bool:
    """Whether the list of patterns matches ``path`` (``!`` patterns re-include, the last match decides)."""
    return deciding(patterns, path) is not None


def matches(pattern: str, path: str) -> bool:
    """Whether ``path`` (relative, with ``/``) matches ``pattern``."""
    return deciding((pattern,), path) is not None


def literal(path: str) -> str:
    """A pattern matching exactly ``path`` from the repository root (its special characters escaped)."""
    return "/" + _SPECIAL.sub(r"\\\1", path.strip("/"))
