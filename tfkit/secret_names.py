"""The one rule for names that hold a secret, shared by the plan's secret policies and the repository guard.

A name holds a secret when it contains a credential word (``password``, ``passwd``, ``passphrase``,
``pwd``, ``secret``, ``token``, ``api_key``, ``access_key``, ``private_key``, ``auth_key``,
``credential``; the two-word ones also with ``-`` or nothing between), in any case and with anything
around it: ``db_password``, ``apiToken``, ``clientSecret``, ``MYSQL_PWD``. A name that ends in a word for
the secret's metadata is not one: ``password_length``, ``secret_arn``, ``token_ttl``, ``token_validity``,
``api_key_source``, ``access_key_id``, ``secret_name``. Names are read in ASCII: ``ſecret`` is not
``secret``.
"""

from __future__ import annotations

import functools
import re

__all__ = ["is_secret_name"]

_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "privatekey",
    "private_key",
    "private-key",
    "authkey",
    "auth_key",
    "auth-key",
    "credential",
)

_SECRET_WORD = re.compile("|".join(map(re.escape, _WORDS)), re.IGNORECASE | re.ASCII)
_METADATA_SUFFIX = re.compile(
    # The last word only: "oidc_id_token" and "db_max_password" are secrets, "token_expires_at" is not.
    r"[_-](?:arns?|ids?|names?|length|ttl|age|at|days|version|policy|path|file|enabled|count|type|rotation[A-Za-z0-9]*|"
    r"expir[A-Za-z0-9]*|validity[A-Za-z0-9]*|duration|url|uri|endpoint|kind|format|prefix|suffix|source|"
    r"mode|algorithm|size|bits|min[A-Za-z0-9]*|max[A-Za-z0-9]*|ref|reference)$",
    re.IGNORECASE | re.ASCII,
)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether ``name`` (a key, an argument, a variable) is named like a credential, not like its metadata."""
    return _SECRET_WORD.search(name) is not None and _METADATA_SUFFIX.search(name) is None
