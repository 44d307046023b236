"""Secret-looking values: known token formats, secret key names, high-entropy strings.

Used by the built-in secret policies. Every function here returns a *kind* ("AWS access key id"), never the
value, so no caller can print a secret by accident. ``suspicious(raw)`` is a fast pre-filter on JSON bytes:
a value whose bytes match nothing is not decoded at all.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from tfkit.plan import format_path

__all__ = [
    "entropy",
    "is_high_entropy",
    "is_secret_key_name",
    "suspicious",
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

_TOKEN_PREFIXES = (
    b"AKIA",
    b"ASIA",
    b"AGPA",
    b"AIDA",
    b"AROA",
    b"ANPA",
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    b"xoxa-",
    b"xoxb-",
    b"xoxp-",
    b"xoxo-",
    b"xoxs-",
    b"xoxr-",
    b"PRIVATE KEY",
    b"AIza",
    b"_live_",
    b"glpat-",
)
_KEYWORDS = (
    b"passw",
    b"pwd",
    b"secret",
    b"token",
    b"privatekey",
    b"private_key",
    b"apikey",
    b"api_key",
    b"accesskey",
    b"access_key",
    b"credential",
)
_RUN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_"
#: Maps token-like characters to "a" and every other byte to " ": a run of 16 "a" is a token-like run.
_RUN_TABLE = bytes(ord("a") if bytes([b]) in _RUN_CHARS else ord(" ") for b in range(256))
_RUN = b"a" * 16
_PREFIX = re.compile(b"|".join(re.escape(p) for p in _TOKEN_PREFIXES))
_KEYWORD = re.compile(b"|".join(_KEYWORDS))
_STRING_KEY = re.compile(rb'"([^"\\]{1,120})"\s*:\s*"[^"]')
_URL_PASSWORD = re.compile(rb"://[^\"/@\s]+:[^\"/@\s]+@")
_NO_MASK = (b"false", b"{}", b"null", b"[]", b"")
#: An object key with its colon: keys are names, not values, and must not count as token-like runs.
_OBJECT_KEY = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:')

_KEY_NAME = re.compile(
    r"(?:^|[_\-.])(?:password|passwd|pwd|secret|token|private_key|privatekey|api_key|apikey|access_key|"
    r"secret_key|client_secret|credentials?|auth_token|sas_token)(?:$|[_\-.])",
    re.IGNORECASE,
)
_NOT_A_SECRET_SUFFIX = re.compile(
    r"(?:_|-)(?:arn|id|ids|name|names|length|version|path|file|type|count|enabled|ttl|rotation|policy|"
    r"expiry|expires|expiration|url|uri|ref|secret_name|key_id)$",
    re.IGNORECASE,
)
_ENTROPY_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_]{20,}")


@functools.lru_cache(maxsize=4096)
def _keyword_key(key: bytes) -> bool:
    """A JSON key that contains a credential keyword (cached: plans repeat their keys)."""
    return _KEYWORD.search(key.lower()) is not None


def suspicious(raw: bytes, sensitive_raw: bytes = b"false") -> bool:
    """The JSON value ``raw`` may hold a secret-looking clear value (a C-speed test before decoding).

    True when it contains a known token prefix, a URL with a password or a run of 16 token-like characters,
    or a non-empty string under a credential-like key that its mask ``sensitive_raw`` does not mark ``true``.
    Built from ``in`` and ``translate`` (memory-speed in C) rather than regular expressions.
    """
    if _PREFIX.search(raw) or _RUN in _OBJECT_KEY.sub(b":", raw).translate(_RUN_TABLE):
        return True
    if b"://" in raw and _URL_PASSWORD.search(raw):
        return True
    if _KEYWORD.search(raw.lower()) is None:
        return False
    keys = {key for key in _STRING_KEY.findall(raw) if _keyword_key(key)}
    if not keys:
        return False
    if sensitive_raw in _NO_MASK:
        return True
    return any(_marked_sensitive(key).search(sensitive_raw) is None for key in keys)


@functools.lru_cache(maxsize=4096)
def _marked_sensitive(key: bytes) -> re.Pattern[bytes]:
    """``"key": true`` in a sensitivity mask (compiled once per key: plans repeat their keys)."""
    return re.compile(b'"' + re.escape(key) + rb'"\s*:\s*true')


def token_kind(text: str) -> str | None:
    """The kind of known token ``text`` contains (``"AWS access key id"``), else ``None``."""
    if len(text) < 16:
        return None
    for kind, pattern in _TOKEN_FORMATS:
        if pattern.search(text):
            return kind
    return None


@functools.lru_cache(maxsize=4096)
def is_secret_key_name(key: str) -> bool:
    """A key named like a credential (``db_password``, ``api_token``), not like its metadata (``_arn``)."""
    return bool(_KEY_NAME.search(key)) and not _NOT_A_SECRET_SUFFIX.search(key)


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
