"""Secret-looking values: known token formats, secret key names, high-entropy strings.

Used by the built-in secret policies. Every function here returns a *kind* ("AWS Access Key"), never the
value, so no caller can print a secret by accident. Token formats are detect-secrets' detectors (the same
ones ``tfkit guard`` runs), plus the two formats it has none for. ``suspects(Packed(values), masks)`` is a
fast pre-filter on the JSON text of many values at once: a value whose text matches nothing is not decoded.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec

from tfkit.secret_names import is_secret_name as is_secret_key_name

if TYPE_CHECKING:
    from detect_secrets.plugins.base import BasePlugin

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

#: Token formats detect-secrets has no detector for (its kinds name the others).
_OWN_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GitHub Token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}")),  # fine-grained personal access tokens
    ("Google API Key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
)


@functools.cache
def _detectors() -> tuple[BasePlugin, ...]:
    """detect-secrets' detectors of credential formats (imported on first use: it pulls in ``requests``).

    Its entropy and keyword plugins are left out (TFK005 and TFK004 are tfkit's own rules on values), and
    so are the formats too loose for plan values (public IPs, Artifactory, Twilio, Mailchimp...).
    """
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector

    return (
        AWSKeyDetector(),
        GitHubTokenDetector(),
        GitLabTokenDetector(),
        SlackDetector(),
        StripeDetector(),
        PrivateKeyDetector(),
        JwtTokenDetector(),
        BasicAuthDetector(),
    )


#: What every token format above holds, found in decoded text: a run of 16 token characters (AWS, GitHub,
#: Stripe, the Slack webhook, fine-grained tokens), one of the literals of the formats a ``-`` or a space
#: may cut into shorter runs, or a URL (Basic Auth). A string with none of these is no known token.
#: Non-ASCII characters count as token characters: detect-secrets matches some formats in any case, and
#: then ``ſ`` is an ``s`` and the Kelvin sign a ``k``.
MIN_RUN = 16
_RUN_CHARS = "A-Za-z0-9+/=_"
#: In lower case: detect-secrets matches Slack tokens in any case (and no other character folds to x or o).
_LITERALS = (
    "xox",  # Slack
    *("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-", "glptt-", "glagent-", "gloas-"),
    "gr1348941",  # GitLab
    "private key",
    "putty-user-key-file-",
    "eyj",  # JSON Web Tokens: the base64 of '{"'
    "aiza",  # Google API keys
)
_TOKEN_HINT = re.compile(
    rf"[{_RUN_CHARS}\x80-\U0010ffff]{{{MIN_RUN}}}|://|{'|'.join(map(re.escape, _LITERALS))}", re.IGNORECASE
)

# The same in JSON text. Runs are looked for in its shape: token characters and non-ASCII bytes -> "a",
# whitespace -> " ", quote and colon kept, the rest -> "." (a run ending an object key is a name).
_SHAPE = bytes(
    ord("a")
    if b >= 0x80 or re.fullmatch(f"[{_RUN_CHARS}]", chr(b))
    else ord(" ")
    if chr(b) in " \t\r\n"
    else b
    if chr(b) in '":'
    else ord(".")
    for b in range(256)
)
_VALUE_RUN = re.compile(b"a" * MIN_RUN + rb'(?!a*+ *" *:)a*+')  # a literal prefix: the fast search of re
#: ``://user:password@``, with the slashes as JSON may write them (``:\/\/``) and escapes (``\"``) inside.
_URL_PASSWORD = re.compile(rb':(?://|\\/\\/)(?:[^"/@\s\\]|\\[^/])+:(?:[^"/@\s\\]|\\[^/])+@')
#: A ``\uXXXX`` escape: JSON may spell any character so, and a search of the text would not see it.
#: Terraform itself only escapes ``<``, ``>``, ``&``, U+2028 and U+2029 (and control characters).
_ESCAPE = re.compile(rb"\\u(?!00(?:3[cCeE]|26|[01][0-9a-fA-F])|202[89])")
#: An object key in JSON text (escapes included), within one of ``Packed.distinct``'s pieces.
_KEY = re.compile(rb'"([^"\\\x00]*+(?:\\.[^"\\\x00]*+)*+)"\s*+:')
#: A piece of ``Packed.distinct`` that starts with a key's closing quote: a key ending in a comma was cut.
_CUT_KEY = re.compile(rb'\x00"\s*:')
#: Each check of ``suspects``: a pattern, and the view of the JSON text it looks at.
_CHECKS: tuple[tuple[re.Pattern[bytes], Callable[[bytes], bytes]], ...] = (
    (_VALUE_RUN, lambda text: _shape(text)),  # (a lambda: _shape is defined below)
    (_URL_PASSWORD, bytes),
    (_ESCAPE, bytes),
    *((re.compile(re.escape(literal.encode())), bytes.lower) for literal in _LITERALS),
)
_MASKED_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*true')
_ALL_MASKED: Mapping[bytes, int] = MappingProxyType({b"*": 1})
_ENTROPY_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_]{20,}")


class Packed:
    """JSON values joined into one JSON array, so that a scan runs once over all of them.

    A plan of 50k changes has 50k small ``after`` values; a regular expression or ``bytes.find`` over one
    buffer costs a few milliseconds where a call per value costs tens, and the buffer decodes in one call
    too. ``records_of`` maps offsets back to value indices; ``distinct`` is the text's distinct pieces.
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
        a small fraction of the text. A ',"' comes before a key or a string in a list, and also where a
        string ends in a comma (``"DB_PASSWORD,":``, a quote inside a string is escaped but its end is not):
        then a key is cut, and a piece starts with that key's closing quote and its colon (``_CUT_KEY``).
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

    A value is a suspect if its text has what every token format and every high-entropy candidate holds
    (``_TOKEN_HINT``: a run of 16+ token characters, a format's literal, a URL with a password), or a
    ``\\uXXXX`` escape other than Terraform's own; or if a key named like a credential appears in it more
    often than its sensitivity mask (``masks[i]``, Terraform's ``after_sensitive``) marks that key
    ``true``, less the times ``unknowns[i]`` (``after_unknown``) marks it: Terraform marks every sensitive
    attribute, and leaves only the unknown ones out of ``after``, so one of them is then in the clear.
    A superset of what the secret policies report.

    Each check runs first on the distinct pieces of all values (``Packed.distinct``), a small fraction of
    the text; only what it finds there is looked up in the whole buffer.
    """
    if not len(values):
        return []
    distinct = values.distinct
    found: set[int] = set()
    for pattern, view in _CHECKS:
        if pattern.search(view(distinct)):
            found |= values.records_of(m.start() for m in pattern.finditer(view(values.buffer)))
    # Keys are read from the distinct pieces unless one was cut there (a key ending in a comma).
    key_text = values.buffer if _CUT_KEY.search(distinct) else distinct
    keys = {key for key in set(_KEY.findall(key_text)) if _is_secret_raw_key(key)}
    if keys:
        found |= _unmasked(values, masks, keys, unknowns)
    return sorted(found)


def _shape(text: bytes) -> bytes:
    """The shape of ``text`` (``_SHAPE``); JSON may escape "/" as "\\/", which must not cut a token run."""
    return (text.replace(b"\\/", b"//") if b"\\/" in text else text).translate(_SHAPE)


@functools.lru_cache(maxsize=4096)
def _is_secret_raw_key(raw: bytes) -> bool:
    """Whether a key as spelled in JSON (escapes included) names a credential (``is_secret_key_name``)."""
    try:
        key = msgspec.json.decode(b'"' + raw + b'"', type=str)
    except msgspec.DecodeError:  # not valid JSON text: look at its values anyway
        return True
    return is_secret_key_name(key)


def _unmasked(
    values: Packed, masks: Sequence[JsonText], keys: set[bytes], unknowns: Sequence[JsonText] | None
) -> set[int]:
    """Values holding one of ``keys`` (as spelled in JSON) more often than their mask marks it sensitive.

    Masks are read once per run of consecutive values with the same mask (the instances of one resource
    block share theirs); a value is picked if a key appears in it more often than its mask marks the key
    ``true`` (at any path), since one of them is then in the clear. A mark at or under a path that an
    ``after_unknown`` of the run marks unknown is for an attribute ``after`` leaves out (Terraform marks
    sensitive attributes known only after apply), so it is not counted (``_uncovered_marks``).
    """
    found: set[int] = set()
    first = 0
    for mask, run in itertools.groupby(masks):
        last = first + len(list(run))
        masked = _masked_keys(bytes(mask))
        if masked is not _ALL_MASKED:
            found |= _clear_in_run(values, first, last, bytes(mask), masked, keys, unknowns)
        first = last
    return found


def _clear_in_run(
    values: Packed,
    first: int,
    last: int,
    mask: bytes,
    masked: Mapping[bytes, int],
    keys: set[bytes],
    unknowns: Sequence[JsonText] | None,
) -> set[int]:
    """The values ``first`` to ``last`` (one mask, marking ``masked``) holding one of ``keys`` in clear."""
    found: set[int] = set()
    lo, hi = values.span(first, last)
    unknown: frozenset[bytes] | None = None  # the run's distinct after_unknown texts, read when first needed
    for key in keys:
        needle = b'"' + key + b'"'
        times = masked.get(key, 0)
        if times and unknowns is not None:
            if unknown is None:
                unknown = frozenset(map(bytes, unknowns[first:last])) - _NOTHING_UNKNOWN
            if unknown:
                times = _uncovered_marks(mask, unknown, key)
        # A value holds a known key at least as often as its mask marks it, as spelled there (the same
        # encoder wrote both), so unless the run holds it more often in all, no value holds it more often.
        shortcut = times and values.buffer.find(b"\\", lo, hi) < 0
        if not shortcut or values.buffer.count(needle, lo, hi) > times * (last - first):
            found |= values.records_of(values.find_all(needle, lo, hi), more_than=times)
    return found


_NOTHING_UNKNOWN = frozenset({b"false", b"{}", b"[]", b"null"})


@functools.lru_cache(maxsize=1024)
def _uncovered_marks(mask: bytes, unknowns: frozenset[bytes], key: bytes) -> int:
    """How many ``true`` marks of ``key`` (raw) in ``mask`` no ``after_unknown`` of ``unknowns`` covers.

    The mask and the distinct unknown texts of a run are decoded (they are small, and the instances of a
    block share theirs); a mark is covered when an unknown text is ``true`` at its path or an ancestor.
    Text that does not decode counts no mark, so the values are looked at closely.
    """
    try:
        name = msgspec.json.decode(b'"' + key + b'"', type=str)
        tree = msgspec.json.decode(mask)
        covers = [msgspec.json.decode(text) for text in unknowns]
    except msgspec.DecodeError:
        return 0

    def count(node: Any, cover: list[Any]) -> int:
        if any(c is True for c in cover):
            return 0
        if isinstance(node, dict):
            total = 0
            for k, v in node.items():
                below = [c[k] for c in cover if isinstance(c, dict) and k in c]
                total += (1 if k == name and not any(c is True for c in below) else 0) if v is True else 0
                total += count(v, below) if isinstance(v, dict | list) else 0
            return total
        if isinstance(node, list):
            return sum(
                count(v, [c[i] for c in cover if isinstance(c, list) and i < len(c)])
                for i, v in enumerate(node)
                if isinstance(v, dict | list)
            )
        return 0

    return count(tree, covers)


@functools.lru_cache(maxsize=1024)
def _masked_keys(mask: bytes) -> Mapping[bytes, int]:
    """How many times a sensitivity mask marks each raw key name ``true`` (``_ALL_MASKED`` for ``true``)."""
    if mask.strip() == b"true":
        return _ALL_MASKED
    return MappingProxyType(Counter(_MASKED_KEY.findall(mask)))


def token_kind(text: str) -> str | None:
    """The kind of known token ``text`` holds (detect-secrets' name: ``"AWS Access Key"``), else ``None``."""
    if not _TOKEN_HINT.search(text):
        return None
    for detector in _detectors():
        if next(iter(detector.analyze_string(text)), None) is not None:
            return str(detector.secret_type)
    return next((kind for kind, pattern in _OWN_FORMATS if pattern.search(text)), None)


@functools.lru_cache(maxsize=4096)
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
) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """Every non-sensitive string in ``value`` as (path, last key name, text), depth first.

    ``sensitive`` is Terraform's mask (``true`` or a structure like ``value``); masked parts are skipped.
    Paths are tuples (``tfkit.plan.format_path`` writes one): most strings are no secret, and their path
    is never shown. A loop over a stack, not nested generators: the scan walks every suspect value.
    """
    key = next((step for step in reversed(path) if isinstance(step, str)), "")
    pending: list[tuple[Any, Any, tuple[str | int, ...], str]] = [(value, sensitive, path, key)]
    while pending:
        value, sensitive, path, key = pending.pop()
        if sensitive is True:
            continue
        if isinstance(value, str):
            yield path, key, value
        elif isinstance(value, dict):
            masks = sensitive if isinstance(sensitive, dict) else {}
            pending += [(item, masks.get(k), (*path, k), k) for k, item in reversed(value.items())]
        elif isinstance(value, list):
            marks = sensitive if isinstance(sensitive, list) else []
            pending += [
                (item, marks[i] if i < len(marks) else None, (*path, i), key)
                for i, item in reversed(list(enumerate(value)))
            ]
