"""Secret-looking values: known token formats, secret key names, high-entropy strings.

Used by the built-in secret policies. Every function here returns a *kind* ("AWS access key id"), never the
value, so no caller can print a secret by accident. ``suspects(Packed(values), masks)`` is a fast pre-filter
on the JSON text of many values at once: a value whose text matches nothing is not decoded at all. It runs in
C (``tfkit/policy/_scan.c``, one pass over each value, no copies) when tfkit was built with a C compiler, and
in Python (``re`` over all values joined) otherwise; both pick at least what the policies would report.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import msgspec

from tfkit.plan import format_path
from tfkit.policy import _native
from tfkit.secret_names import KEYWORDS
from tfkit.secret_names import is_secret_name as is_secret_key_name

#: JSON text as the plan model keeps it: ``msgspec.Raw`` views, or bytes.
JsonText = bytes | bytearray | memoryview | msgspec.Raw

__all__ = [
    "Packed",
    "entropy",
    "is_high_entropy",
    "is_secret_key_name",
    "suspects",
    "token_kind",
    "walk_strings",
]

_TOKEN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "AWS access key id",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ),
    (
        "GitHub token",
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}"),
    ),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Stripe secret key", re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b")),
    ("GitLab token", re.compile(r"\bglpat-[0-9A-Za-z_-]{20,}\b")),
    ("URL with a password", re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
)

#: Literals of the token formats a token-like run (below) does not always reveal: Slack and GitLab tokens
#: and Google keys may be cut by ``-`` into runs shorter than 16, and a PEM private key's header has no run.
#: (AWS, GitHub and Stripe tokens are runs of 20 or more token characters.)
_NEEDLES = (b"xox", b"AIza", b"glpat-", b"PRIVATE KEY")
_KEYWORDS = KEYWORDS  # literals of the one secret-name rule (tfkit.secret_names)
_RUN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_"
_WHITESPACE = b" \t\r\n"
#: The shape of JSON text: token characters -> "a", whitespace -> " ", quote and colon kept, the rest -> ".".
_SHAPE = bytes(
    ord("a") if b in _RUN_CHARS else ord(" ") if b in _WHITESPACE else b if b in b'":' else ord(".")
    for b in range(256)
)
#: The shortest token run that makes a value a suspect (TFK005's ``min_length`` cannot go below it).
MIN_RUN = 16
#: A run of 16+ token characters that does not end an object key (keys are names, not values).
_VALUE_RUN = re.compile(b"a" * MIN_RUN + rb'(?!a*+ *" *:)a*+')  # a literal prefix: the fast search of re
#: ``://user:password@``, with the slashes as JSON may write them (``:\/\/``) and escapes (``\"``) inside.
_URL_SCHEME_ENDS = (b"://", b":\\/\\/")
_URL_PASSWORD = re.compile(rb':(?://|\\/\\/)(?:[^"/@\s\\]|\\[^/])+:(?:[^"/@\s\\]|\\[^/])+@')
#: The bytes whose ``\u00XX`` escape makes a string a suspect: what runs, needles, URLs and keywords are made
#: of. JSON may spell any character so (Terraform only escapes ``<>&``), and a plain search would not see it.
_ESCAPED_CHARS = bytes(sorted(set(_RUN_CHARS + b"".join(_NEEDLES) + b"".join(_KEYWORDS) + b"-:@/")))
_ESCAPE = re.compile(rb"\\u00([0-7][0-9a-fA-F])")


#: The rest of a key after a credential keyword: the keyword's literal anchors the search (fast in ``re``).
@functools.lru_cache(maxsize=64)
def _key_after(keyword: bytes) -> re.Pattern[bytes]:
    return re.compile(re.escape(keyword) + rb'(?:[^"\\\x00]|\\.)*"\s*:')  # escapes (\") may follow it


_MASKED_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*true')
_ALL_MASKED: Mapping[bytes, int] = MappingProxyType({b"*": 1})

_ENTROPY_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_]{20,}")


class Packed:
    """JSON values joined into one JSON array, so that a scan runs once over all of them at C speed.

    A plan of 50k changes has 50k small ``after`` values; a regular expression or ``bytes.find`` over one
    buffer costs a few milliseconds where a call per value costs tens, and the buffer decodes in one call
    too. The buffer is joined on first use (the C scanner reads ``values`` as they are). ``records_of``
    maps offsets back to value indices; ``distinct`` is the text's distinct pieces.
    """

    __slots__ = ("_buffer", "_distinct", "_lengths", "_starts", "values")

    def __init__(self, values: Sequence[JsonText]) -> None:
        self.values = values
        self._buffer: bytes | None = None
        self._lengths: list[int] | None = None
        self._starts: list[int] | None = None
        self._distinct: bytes | None = None

    def __len__(self) -> int:
        return len(self.values)

    @property
    def buffer(self) -> bytes:
        """The values as one JSON array (joined on first use)."""
        if self._buffer is None:
            parts: list[JsonText] = list(self.values)
            if parts:  # brackets on the end values: one copy of the text, not two
                parts[0] = b"[" + bytes(parts[0])
                parts[-1] = bytes(parts[-1]) + b"]"
            self._buffer = b",".join(parts) if parts else b"[]"
        return self._buffer

    @property
    def starts(self) -> list[int]:
        """The buffer offset of each value (computed on first use: most scans of a clean plan need none)."""
        if self._starts is None:
            lengths = self.lengths
            self._starts = list(itertools.accumulate(map((1).__add__, lengths[:-1]), initial=1))
            del self._starts[len(lengths) :]
        return self._starts

    @property
    def lengths(self) -> list[int]:
        """The length of each value's text."""
        if self._lengths is None:
            self._lengths = list(map(len, self.values))
        return self._lengths

    def end(self, index: int) -> int:
        """The buffer offset just after value ``index``."""
        return self.starts[index] + self.lengths[index]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The buffer offsets of values ``first`` up to ``last`` (excluded)."""
        return self.starts[first], self.end(last - 1)

    @property
    def distinct(self) -> bytes:
        """The distinct pieces of the text, split before each quote that follows a comma, joined by NUL.

        Big plans repeat themselves (instances of one block share most of their key/value pairs), so this is
        a small fraction of the text. Each piece keeps its opening quote (a key, or a string in a list), so
        every key is whole in one piece; no check looks across ',"' or NUL.
        """
        if self._distinct is None:
            self._distinct = b'\x00"' + b'\x00"'.join(set(self.buffer.split(b',"')))
        return self._distinct

    def __contains__(self, needle: bytes) -> bool:
        """Whether some value's text contains ``needle`` (read from the distinct pieces once they exist).

        Not for needles that hold ',"' (pieces are split there).
        """
        return needle in (self.buffer if self._distinct is None else self._distinct)

    def find_all(self, needle: bytes, start: int = 0, stop: int | None = None) -> list[int]:
        """Every offset of ``needle`` in the buffer (between ``start`` and ``stop``)."""
        buffer = self.buffer
        stop = len(buffer) if stop is None else stop
        offsets: list[int] = []
        at = buffer.find(needle, start, stop)
        while at != -1:
            offsets.append(at)
            at = buffer.find(needle, at + 1, stop)
        return offsets

    def records_of(self, offsets: Iterable[int], more_than: int = 0) -> set[int]:
        """The indices of the values the buffer offsets fall in (those holding more than ``more_than``)."""
        records = map(functools.partial(bisect.bisect_right, self.starts), offsets)
        if not more_than:
            return {i - 1 for i in records}
        return {i - 1 for i, times in Counter(records).items() if times > more_than}


def suspects(
    values: Packed, masks: Sequence[JsonText], unknowns: Sequence[JsonText] | None = None
) -> list[int]:
    """Indices of the JSON values that may hold a secret-looking clear string (only these need decoding).

    A value is a suspect if a clear string in it has a run of 16+ token characters (every known token
    format but four, and every high-entropy candidate), one of those four formats' literals, a URL with a
    password, or a ``\\u00XX`` escape of a character these are made of; or if a key named like a credential
    appears in it more often than its sensitivity mask (``masks[i]``, Terraform's ``after_sensitive``)
    marks that key ``true``, less the times ``unknowns[i]`` (``after_unknown``) marks it: Terraform marks
    every sensitive attribute, and leaves only the unknown ones out of ``after``, so one of them is then in
    the clear. A superset of what the secret policies report. Runs in C when tfkit's extension is built
    (``_native.scanner``), else in Python.
    """
    if _native.scanner is not None:
        rules = (_NEEDLES, _KEYWORDS, _RUN_CHARS, _ESCAPED_CHARS, MIN_RUN)
        return _native.scanner.suspects(values.values, masks, unknowns, *rules)
    return _suspects_in_text(values, masks, unknowns)


def _suspects_in_text(
    values: Packed, masks: Sequence[JsonText], unknowns: Sequence[JsonText] | None = None
) -> list[int]:
    """``suspects`` in Python, on the text of all values joined (a superset of the C scanner's picks).

    The checks first run on the distinct pieces of all values (``Packed.distinct``), a small fraction of
    the text; only what they find there is looked up in the whole buffer. Runs are looked for in keys'
    neighbours and numbers too, and needles anywhere, so it may pick a few more values than the C scanner.
    """
    if not len(values):
        return []
    buffer = values.buffer
    distinct = values.distinct
    found: set[int] = set()
    if _VALUE_RUN.search(_shape(distinct)):
        found |= values.records_of(m.start() for m in _VALUE_RUN.finditer(_shape(buffer)))
    for needle in _NEEDLES:
        if needle in distinct:
            found |= values.records_of(values.find_all(needle))
    if any(end in distinct for end in _URL_SCHEME_ENDS):
        found |= values.records_of(m.start() for m in _URL_PASSWORD.finditer(buffer))
    if b"\\u00" in distinct:
        escapes = _ESCAPE.finditer(buffer)
        found |= values.records_of(m.start() for m in escapes if int(m[1], 16) in _ESCAPED_CHARS)
    keys, tails, cut = _keyword_keys(distinct)
    if cut:  # a key split between two pieces (pieces start at keys, so not expected): read the whole text
        keys, tails, _ = _keyword_keys(buffer)
    if keys or tails:
        found |= _unmasked(values, masks, keys, tails, unknowns)
    return sorted(found)


def _shape(text: bytes) -> bytes:
    """The shape of ``text`` (``_SHAPE``); JSON may escape "/" as "\\/", which must not cut a token run."""
    return (text.replace(b"\\/", b"//") if b"\\/" in text else text).translate(_SHAPE)


def _keyword_keys(text: bytes) -> tuple[set[bytes], set[bytes], bool]:
    """The raw keys in ``text`` named like a credential, as spelled there (escapes included).

    Returns the whole keys; the tails of keys with an escaped quote in them (their start is unknown, so no
    mask may vouch for them); and whether a key was cut at a NUL (the caller must read the whole text).
    Each keyword the text holds is searched for as a literal, and only keys are kept: a keyword inside a
    value is not followed by a quote and a colon.
    """
    lower = text.lower()
    keys: set[bytes] = set()
    tails: set[bytes] = set()
    cut = False
    for keyword in _KEYWORDS:
        if keyword not in lower:
            continue
        for match in _key_after(keyword).finditer(lower):
            close = lower.rindex(b'"', match.start(), match.end())
            opening = max(lower.rfind(b'"', 0, match.start()), lower.rfind(b"\x00", 0, match.start()))
            key = text[opening + 1 : close]
            if opening < 0 or lower[opening] == 0:
                cut = True
            elif lower[opening - 1 : opening] == b"\\":  # an escaped quote: the key goes on before it
                tails.add(key)
            else:
                keys.add(key)
    return keys, tails, cut


def _unmasked(
    values: Packed,
    masks: Sequence[JsonText],
    keys: set[bytes],
    tails: set[bytes],
    unknowns: Sequence[JsonText] | None,
) -> set[int]:
    """Values holding one of ``keys`` more often than their mask marks it sensitive, or one of the ``tails``.

    Masks are read once per run of consecutive values with the same mask (the instances of one resource
    block share theirs); a value is picked if a key appears in it more often than its mask marks the key
    ``true`` (at any path), since one of them is then in the clear. Where the run's ``after_unknown``
    names the key, some marks may be for attributes ``after`` leaves out: none is counted for the run.
    """
    found: set[int] = set()
    for tail in tails:
        found |= values.records_of(values.find_all(tail + b'"'))
    for first, last, mask in _equal_runs(masks):
        masked = _masked_keys(mask)
        if masked is _ALL_MASKED:
            continue
        lo, hi = values.span(first, last)
        unknown: bytes | None = None  # the run's after_unknown texts, joined when first needed
        for key in keys:
            needle = b'"' + key + b'"'
            times = masked.get(key, 0)
            if times and unknowns is not None:
                if unknown is None:
                    unknown = b"\x00".join(unknowns[first:last])
                if needle in unknown:
                    times = 0
            # A value holds a known key at least as often as its mask marks it, as spelled there (the same
            # encoder wrote both), so unless the run holds it more often in all, no value holds it more often.
            shortcut = times and values.buffer.find(b"\\", lo, hi) < 0
            if not shortcut or values.buffer.count(needle, lo, hi) > times * (last - first):
                found |= values.records_of(values.find_all(needle, lo, hi), more_than=times)
    return found


def _equal_runs(texts: Sequence[JsonText]) -> list[tuple[int, int, bytes]]:
    """(first, last, text) for each run of consecutive equal texts, ``last`` excluded.

    Gallops over the texts joined by NUL: a run of n equal texts costs a few comparisons of its own
    length in C, not n comparisons in Python.
    """
    joined = b"\x00".join(texts) + b"\x00"
    runs: list[tuple[int, int, bytes]] = []
    count, first, at = len(texts), 0, 0
    while first < count:
        end = joined.index(b"\x00", at) + 1
        chunks = [joined[at:end]]  # chunks[k]: the text (and its NUL) 2**k times
        size, last, at, level = end - at, first + 1, end, 0
        while last < count:
            if last + (1 << level) <= count and joined.startswith(chunks[level], at):
                last, at = last + (1 << level), at + size * (1 << level)
                level += 1
                if level == len(chunks):
                    chunks.append(chunks[-1] * 2)
            elif level:
                level -= 1
            else:
                break
        runs.append((first, last, chunks[0][:-1]))
        first = last
    return runs


@functools.lru_cache(maxsize=1024)
def _masked_keys(mask: bytes) -> Mapping[bytes, int]:
    """How many times a sensitivity mask marks each raw key name ``true`` (``_ALL_MASKED`` for ``true``)."""
    if mask.strip() == b"true":
        return _ALL_MASKED
    return MappingProxyType(Counter(_MASKED_KEY.findall(mask)))


def token_kind(text: str) -> str | None:
    """The kind of known token ``text`` contains (``"AWS access key id"``), else ``None``."""
    if len(text) < 16:
        return None
    for kind, pattern in _TOKEN_FORMATS:
        if pattern.search(text):
            return kind
    return None


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def is_high_entropy(text: str, *, min_length: int = 20, threshold: float = 4.0) -> bool:
    """A random-looking token: long, mixed case and digits, no spaces, and high Shannon entropy.

    Pure hex (digests, commit ids) and UUIDs are left alone: they are rarely secrets and very common.
    """
    for candidate in _ENTROPY_CANDIDATE.findall(text):
        if len(candidate) < min_length:
            continue
        has_lower = any(c.islower() for c in candidate)
        has_upper = any(c.isupper() for c in candidate)
        has_digit = any(c.isdigit() for c in candidate)
        if has_lower and has_upper and has_digit and entropy(candidate) >= threshold:
            return True
    return False


def walk_strings(
    value: Any, sensitive: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str, str, str]]:
    """Every non-sensitive string in ``value`` as (formatted path, last key name, text).

    ``sensitive`` is Terraform's mask (``true`` or a structure like ``value``); masked parts are skipped.
    """
    if sensitive is True:
        return
    if isinstance(value, str):
        key = next((str(p) for p in reversed(path) if isinstance(p, str)), "")
        yield format_path(path), key, value
    elif isinstance(value, dict):
        masks = sensitive if isinstance(sensitive, dict) else {}
        for key, item in value.items():
            yield from walk_strings(item, masks.get(key), (*path, key))
    elif isinstance(value, list):
        masks_list = sensitive if isinstance(sensitive, list) else []
        for i, item in enumerate(value):
            yield from walk_strings(item, masks_list[i] if i < len(masks_list) else None, (*path, i))
