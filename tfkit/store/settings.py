"""Which store a project uses, under which project id, and how to connect without showing the password.

``TFKIT_STORE_URL`` overrides ``[store] url``; neither means the local ``.tfkit/`` store. The password
of a URL (only ever from the environment or libpq's own password file) is registered with
``tfkit.redact`` so no message can show it, and is kept out of argv and files: Terraform gets the
connection string in ``PG_CONN_STR`` in its environment only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from tfkit.config import Config
from tfkit.errors import ConfigError
from tfkit.git import GitError, run_git
from tfkit.redact import register_secret

__all__ = ["STORE_URL_ENV", "StoreSettings", "display_url", "project_id", "store_settings"]

STORE_URL_ENV = "TFKIT_STORE_URL"
SCHEMES = ("postgresql", "postgres")

#: libpq's TCP keepalives, on the runner's side: a server that vanished is noticed within about
#: idle + interval * count seconds (60 s) instead of hanging.
KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
#: The server's TCP keepalives for tfkit's sessions (settable by any role): a runner that vanished (lost
#: VM, cut network) is dropped by the server after about 60 s, and its advisory locks with it. The
#: server's own default follows the OS (often two hours).
SERVER_KEEPALIVES = {
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


#: The URL parameters Terraform's pg backend driver (lib/pq) understands; others are left out of PG_CONN_STR.
LIB_PQ_PARAMETERS = frozenset(
    {
        "dbname",
        "user",
        "password",
        "host",
        "port",
        "sslmode",
        "sslcert",
        "sslkey",
        "sslrootcert",
        "sslinline",
        "sslsni",
        "connect_timeout",
        "application_name",
        "fallback_application_name",
        "passfile",
    }
)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where tfkit's memory lives: ``url`` is ``None`` for the local store."""

    url: str | None
    project: str
    terraform_state: bool = True
    terraform_lock_timeout: str = "60s"
    connect_timeout: int = 10

    @property
    def kind(self) -> str:
        """``local`` or ``postgresql``."""
        return "local" if self.url is None else "postgresql"

    def describe(self) -> str:
        """The store for messages: the URL without its password, or the local directory."""
        return "local .tfkit/" if self.url is None else display_url(self.url)

    def conninfo(self, application: str = "tfkit") -> str:
        """The URL psycopg connects with: keepalives, a connect timeout and an application name added."""
        assert self.url is not None
        server = " ".join(f"-c {k}={v}" for k, v in SERVER_KEEPALIVES.items())
        given = dict(parse_qsl(urlsplit(self.url).query)).get("options")
        extra = {
            **KEEPALIVES,
            "connect_timeout": str(self.connect_timeout),
            "application_name": application,
        }
        url = _with_query(self.url, extra)
        return _with_query(_without(url, "options"), {"options": f"{given} {server}" if given else server})

    def terraform_conn_str(self) -> str:
        """The connection string for Terraform's pg backend, passed only in ``PG_CONN_STR``.

        Terraform's driver (lib/pq) sends every parameter it does not know to the server, which refuses
        libpq-only ones such as ``keepalives``: only the parameters lib/pq understands are kept.
        """
        assert self.url is not None
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k in LIB_PQ_PARAMETERS]
        url = _unsplit(parts._replace(query=urlencode(query, quote_via=quote)))
        # lib/pq sends the server's own settings as start-up parameters, so its sessions (and Terraform's
        # state lock) are dropped after about 60 s when the runner vanishes, as tfkit's are.
        return _with_query(url, {"connect_timeout": str(self.connect_timeout), **SERVER_KEEPALIVES})


def _without(url: str, key: str) -> str:
    """``url`` without the query parameter ``key``."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != key]
    return _unsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    """``url`` with query parameters added where the URL does not set them already."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for key, value in extra.items():
        query.setdefault(key, value)
    return _unsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _unsplit(parts: SplitResult) -> str:
    """``urlunsplit`` that keeps the ``//`` of an empty host (``postgresql:///db?host=/socket``).

    The standard library drops it for schemes it does not know, and libpq does not read the result.
    """
    text = urlunsplit(parts)
    if not parts.netloc:
        text = f"{parts.scheme}://{text.removeprefix(parts.scheme + ':')}"
    return text


def display_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (in the netloc and in a ``password=`` parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}"
    query = [(k, "***" if k == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return _unsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/*", quote_via=quote)))


def _checked_url(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"{source} must be a postgresql:// URL (e.g. postgresql://tfkit@db:5432/tfkit); "
            "unset it for the local .tfkit/ store",
            key="store.url",
        )
    password = parts.password
    for key, value in parse_qsl(parts.query):
        if key == "password":
            password = value
    if password:
        register_secret(password)
        if "%" in password:
            from urllib.parse import unquote

            register_secret(unquote(password))
    return url


_SAFE = re.compile(r"[^a-z0-9_.-]+")


def project_id(root: Path, configured: str | None) -> str:
    """The id keying this repository's records: ``[store] project``, else git origin, else the dir name.

    The git remote is used without scheme, credentials, port and ``.git``, so an HTTPS and an SSH clone
    of one repository agree (``github.com/acme/infra`` becomes ``github.com-acme-infra``).
    """
    if configured:
        return configured
    try:
        result = run_git(root, "config", "--get", "remote.origin.url")
    except GitError:
        result = None
    ok = result is not None and result.returncode == 0
    remote = result.stdout.decode("utf-8", "replace").strip() if result is not None and ok else ""
    if remote:
        if "://" in remote:
            parts = urlsplit(remote)
            text = f"{parts.hostname or ''}{parts.path}"
        elif re.match(r"^[\w.-]+@[\w.-]+:", remote):  # scp-like: git@github.com:acme/infra.git
            host, _, path = remote.partition("@")[2].partition(":")
            text = f"{host}/{path}"
        else:  # a local path: its last two components
            text = "/".join(Path(remote).parts[-2:])
        text = text.removesuffix(".git").strip("/")
    else:
        text = root.name
    slug = _SAFE.sub("-", text.lower().replace("/", "-")).strip("-.")
    return (slug or "default")[:63]


def store_settings(config: Config, root: Path, environ: Mapping[str, str] | None = None) -> StoreSettings:
    """The store of the project at ``root``: ``TFKIT_STORE_URL``, else ``[store] url``, else local."""
    env = os.environ if environ is None else environ
    table = config.store
    from_env = env.get(STORE_URL_ENV, "").strip()
    if from_env:
        url: str | None = _checked_url(from_env, STORE_URL_ENV)
    elif table.url:
        url = _checked_url(table.url, f"{config.path}: store.url")
    else:
        url = None
    return StoreSettings(
        url=url,
        project=project_id(root, table.project),
        terraform_state=table.terraform_state,
        terraform_lock_timeout=table.terraform_lock_timeout,
        connect_timeout=table.connect_timeout,
    )
