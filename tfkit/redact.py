"""One redaction mechanism for everything tfkit prints or writes.

Values read from secret sources, and values Terraform marks sensitive in a plan
(``register_plan_secrets``), are registered here; ``mask(text)`` replaces each of them with ``MASK``.
The CLI, reports, logs, snapshots, error messages and the pytest plugin all pass their text through
``mask`` so a secret never reaches a terminal, a CI log or a file, whichever path it took to get there.
The registry is per process and only grows: a value once seen as secret stays masked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "RedactablePlan",
    "json_leaves",
    "mask",
    "mask_bytes",
    "mask_json",
    "register_plan_secrets",
    "register_secret",
    "registered_count",
]

MASK = "(sensitive)"
"""The one text that stands for a secret wherever tfkit shows one (output, reports, attribute changes)."""
REDACTED = "REDACTED_SENSITIVE"
"""The marker ``Plan.redacted()`` puts in place of each sensitive value (as terraform-json's sanitize)."""
#: Values this short are too common to mask without destroying ordinary text.
MIN_SECRET_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: tuple[str, ...] = ()


def _variants(value: str) -> set[str]:
    """The forms a secret takes in output: as is, stripped, per line, and JSON-escaped."""
    parts = {value, value.strip(), *value.splitlines()}
    escaped = {json.dumps(p)[1:-1] for p in parts}
    return {p for p in parts | escaped if len(p) >= MIN_SECRET_LENGTH}


def register_secret(value: str) -> None:
    """Remember ``value`` as secret (with its per-line parts and JSON-escaped form, as tools print them)."""
    global _ordered
    found = _variants(value)
    with _lock:
        if found <= _secrets:
            return
        _secrets.update(found)
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


def mask_json(data: bytes | str) -> bytes:
    """A JSON document with every registered secret masked inside its strings only (keys sorted,
    indented by one space, non-ASCII text as UTF-8).

    Text masking could cut a registered number out of another number and corrupt the document;
    this keeps every number, key and structure intact, so the result always parses. msgspec writes
    it (a tenth of ``json.dumps``'s time with an indent, which is pure Python: 0.09 s on a
    1,000-resource plan); a document that is not strict JSON (``NaN``, a byte order mark) goes
    through ``json`` instead, which keeps such values as they are. The masking itself runs on the
    compact encoding where that is provably the same as masking each string (``_mask_encoded``),
    else string by string.
    """
    import msgspec

    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.dumps(_mask_strings(json.loads(data)), indent=1, sort_keys=True).encode()
    encoded = msgspec.json.encode(doc, order="sorted")
    masked = _mask_encoded(encoded, _ordered)
    if masked is None:
        masked = msgspec.json.encode(_mask_strings(doc), order="sorted")
    return msgspec.json.format(masked, indent=1)


def _mask_strings(value: Any) -> Any:
    """``value`` with ``mask`` applied to every string and key in it."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_mask_strings(v) for v in value]
    if isinstance(value, dict):
        return {mask(k): _mask_strings(v) for k, v in value.items()}
    return value


#: Every character msgspec's compact JSON writes outside strings (structure, numbers, true/false/null).
_OUTSIDE_STRINGS = frozenset(b"{}[],:0123456789-+.eEtrufalsn")


def _mask_encoded(encoded: bytes, secrets: tuple[str, ...]) -> bytes | None:
    """``encoded`` (msgspec's compact JSON, keys sorted) with ``mask`` applied to each of its string
    values, by replacing text; ``None`` where that might differ from masking string by string.

    msgspec escapes a string character by character, and an escape is a backslash and what follows it, so
    a secret's escaped text occurs inside a string's token exactly where the secret occurs in the string,
    unless it starts right after an odd number of backslashes (inside an escape). Outside strings only
    ``_OUTSIDE_STRINGS`` are written, and without an unescaped quote a match cannot leave the token it
    starts in: a match of a secret with another character, at an even number of backslashes, is a match
    in one string. Such secrets are replaced in ``mask``'s order, each through the text, as ``mask``
    replaces each through a string. Any other match gives ``None``, and so does a match in a key (masked,
    it could sort elsewhere).
    """
    import msgspec

    out = encoded
    for secret in secrets:
        try:
            escaped = msgspec.json.encode(secret)[1:-1]  # as msgspec writes it inside a string
        except (msgspec.EncodeError, UnicodeError):  # not valid text (a lone surrogate): string by string
            return None
        if escaped not in out:
            continue
        if set(escaped) <= _OUTSIDE_STRINGS:
            return None
        start = out.find(escaped)
        while start >= 0:
            if _backslashes_before(out, start) % 2:
                return None
            end = out.find(b'"', start + len(escaped))  # the token's closing quote: unescaped
            while end >= 0 and _backslashes_before(out, end) % 2:
                end = out.find(b'"', end + 1)
            if out[end + 1 : end + 2] == b":":
                return None
            start = out.find(escaped, start + len(escaped))
        out = out.replace(escaped, _MASK_BYTES)
    return out


def _backslashes_before(text: bytes, position: int) -> int:
    """How many backslashes stand right before ``position``."""
    start = position
    while start and text[start - 1] == 0x5C:
        start -= 1
    return position - start


_MASK_BYTES = MASK.encode()


def mask_bytes(data: bytes) -> bytes:
    """``mask`` for UTF-8 bytes (files tfkit writes); bytes that are not UTF-8 are masked as Latin-1."""
    if not _ordered:
        return data
    try:
        return mask(data.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return mask(data.decode("latin-1")).encode("latin-1")


class RedactablePlan(Protocol):
    """What ``register_plan_secrets`` needs of a plan (``tfkit.plan.Plan``): the text of its sensitive leaves.

    A protocol, so this module imports nothing of tfkit: errors, plans and every renderer use it.
    """

    @property
    def sensitive_texts(self) -> frozenset[str]:
        """Every leaf ``Plan.redacted()`` replaces, as text (strings, and numbers as Python writes them)."""
        ...


def register_plan_secrets(plan: RedactablePlan) -> int:
    """Register every value the plan marks sensitive; returns how many values were registered.

    The sensitive parts are exactly those ``Plan.redacted()`` replaces (variables declared sensitive,
    changes' before/after by their masks, planned values, prior state, sensitive outputs, configuration
    constants of sensitive attributes, clear copies of sensitive strings): the redaction collects them as it
    replaces them (``Plan.sensitive_texts``), so the two rules can never drift apart, and the plan is
    decoded and walked once. Only text and numbers long enough to be told apart from ordinary text are
    registered.
    """
    values = {v for v in plan.sensitive_texts if len(v) >= MIN_SECRET_LENGTH}
    for value in values:
        register_secret(value)
    return len(values)


def json_leaves(value: Any, *, numbers: bool = True) -> Iterator[str]:
    """Every string (and, with ``numbers``, number as text) inside a JSON value; booleans and null
    are not secrets."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        if numbers:
            yield str(value)
    elif isinstance(value, dict):
        for sub in value.values():
            yield from json_leaves(sub, numbers=numbers)
    elif isinstance(value, list):
        for sub in value:
            yield from json_leaves(sub, numbers=numbers)
