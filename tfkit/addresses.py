"""Address patterns: the one matcher for every place a user names Terraform addresses.

Waivers (``[[waivers]] address``), TFK001's ``allow`` and ``tfkit.testing.assert_no_deletes(allow=...)``
all match a resource address against patterns with this module, so a pattern means the same everywhere:

* An exact address matches itself, instance keys included: ``aws_db_instance.main[0]``,
  ``module.db["eu"].aws_db_instance.main``. Brackets and quotes are literal (not character classes).
* ``*`` matches any run of characters, dots and brackets included: ``module.db.*`` is everything in
  module ``db`` (nested modules too), ``aws_db_instance.main[*]`` every instance of one resource,
  ``module.access.terraform_data.rule["dns-*"]`` the ``rule`` instances whose key starts ``dns-``, and
  ``*`` alone every address.
* ``?`` matches exactly one character.

Matching is case-sensitive and covers the whole address (``aws_s3_bucket.logs`` does not match
``aws_s3_bucket.logs_archive``; write ``aws_s3_bucket.logs*`` for that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["compile_pattern", "matches", "matches_any"]


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of an address pattern (``*`` any run, ``?`` one character, the rest literal)."""
    wild = {"*": ".*", "?": "."}
    body = "".join(wild.get(part, re.escape(part)) for part in re.split(r"([*?])", pattern))
    return re.compile(body, re.DOTALL)


def matches(pattern: str, address: str) -> bool:
    """Whether the whole of ``address`` matches ``pattern``."""
    return compile_pattern(pattern).fullmatch(address) is not None


def matches_any(patterns: Iterable[str], address: str) -> bool:
    """Whether ``address`` matches at least one of ``patterns`` (none: ``False``)."""
    return any(matches(p, address) for p in patterns)
