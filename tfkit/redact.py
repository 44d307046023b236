"""One redaction mechanism for everything tfkit prints or writes.

Values read from secret sources are registered here; ``mask(text)`` replaces each of them with
``MASK``. The CLI, reports, logs and error messages all pass their text through ``mask`` so a
secret never reaches a terminal, a CI log or a file, whichever path it took to get there.
"""

from __future__ import annotations

import threading

__all__ = ["MASK", "mask", "register_secret", "registered_count"]

MASK = "(sensitive)"
#: Values this short are too common to mask without destroying ordinary text.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()


def register_secret(value: str) -> None:
    """Remember ``value`` as secret (and its per-line parts, should a tool print it wrapped)."""
    global _ordered
    parts = {value, value.strip(), *value.splitlines()}
    with _lock:
        _secrets.update(p for p in parts if len(p) >= MIN_SECRET_LENGTH)
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def registered_count() -> int:
    """How many secret values are registered (for diagnostics; never the values)."""
    return len(_ordered)


def mask(text: str) -> str:
    """``text`` with every registered secret value replaced by ``MASK``."""
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
