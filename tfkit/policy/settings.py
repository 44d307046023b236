"""Per-policy settings from tfkit.toml: enabled, severity and parameters, globally and per environment.

::

    [policies]
    disabled = ["TFK005"]                 # off everywhere
    [policies.TFK006]
    keys = ["owner", "cost_center"]       # parameters of one policy
    [environments.production.policies.TFK002]
    max_destructive = 0                   # stricter in production
    severity = "hard"

An environment's table wins over the top-level one. Unknown policy ids and unknown parameters are
configuration errors (exit code 2) with a "did you mean"; so is a parameter whose value does not have
its default's type, is not a finite number, or is negative where the default is not.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfkit.config import RESERVED_POLICY_KEYS, PoliciesConfig
from tfkit.errors import ConfigError
from tfkit.findings import Severity

if TYPE_CHECKING:
    from tfkit.policy.api import Policy
    from tfkit.project import Project

__all__ = ["PolicySettings", "check_settings", "resolve"]

#: Keys of a ``[policies.<ID>]`` table that are not parameters.
_POLICY_KEYS = frozenset({"enabled", "severity"})


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """What one policy does in one environment."""

    enabled: bool
    severity: Severity
    params: Mapping[str, Any]


def _tables(project: Project | None, environment: str | None) -> list[tuple[str, PoliciesConfig]]:
    """The ``[policies]`` tables that apply, weakest first, each with its name for messages."""
    if project is None:
        return []
    tables: list[tuple[str, PoliciesConfig]] = [("policies", project.config.policies)]
    env = project.config.environment(environment) if environment else None
    if env is not None:
        tables.append((f"environments.{environment}.policies", env.policies))
    return tables


def resolve(policy: Policy, project: Project | None, environment: str | None) -> PolicySettings:
    """The settings of ``policy`` in ``environment``: its defaults, then tfkit.toml, then the env's table."""
    enabled = True
    severity = policy.severity
    params = dict(policy.params)
    for _name, table in _tables(project, environment):
        if policy.id in table.disabled:
            enabled = False
        if policy.id in table.enabled:
            enabled = True
        own = table.tables.get(policy.id)
        if isinstance(own, Mapping):
            if "enabled" in own:
                enabled = bool(own["enabled"])
            if "severity" in own:
                severity = Severity(own["severity"])
            params.update({k: v for k, v in own.items() if k not in _POLICY_KEYS})
    return PolicySettings(enabled, severity, params)


def check_settings(project: Project | None, policies: Iterable[Policy]) -> None:
    """Raise ``ConfigError`` for a setting that names no loaded policy or no parameter of it."""
    if project is None:
        return
    by_id = {p.id: p for p in policies}
    path = str(project.config.path)
    tables = [("policies", project.config.policies)] + [
        (f"environments.{e.name}.policies", e.policies) for e in project.config.environments
    ]
    for where, table in tables:
        for key, ids in (("disabled", table.disabled), ("enabled", table.enabled)):
            for pid in ids:
                if pid not in by_id:
                    raise _unknown(path, f"{where}.{key}", pid, by_id)
        for key, value in table.tables.items():
            if key not in by_id:
                raise _unknown(path, where, key, by_id, extra=RESERVED_POLICY_KEYS)
            known = set(by_id[key].params) | _POLICY_KEYS
            for param, setting in value.items():
                if param not in known:
                    close = difflib.get_close_matches(param, sorted(known), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise ConfigError(
                        f"{path}: unknown parameter '{where}.{key}.{param}'{hint}; "
                        f"{key} takes: {', '.join(sorted(known))}",
                        file=path,
                        key=f"{where}.{key}.{param}",
                    )
                problem = _param_problem(by_id[key], param, setting)
                if problem:
                    name = f"{where}.{key}.{param}"
                    raise ConfigError(f"{path}: key '{name}' {problem}", file=path, key=name)


def _param_problem(policy: Policy, param: str, value: Any) -> str | None:
    """Why ``value`` cannot be ``param`` of ``policy``, or None; a parameter's type is its default's.

    A number must be finite, and not negative when its default is not (counts, lengths, thresholds);
    a list takes a list of its default's element type (strings for an empty default). A default of
    another type (or None) is not checked; ``enabled`` and ``severity`` are checked by the schema.
    """
    default = policy.params.get(param)
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if isinstance(default, int | float):
        allowed = (int,) if isinstance(default, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            kind = "an integer" if isinstance(default, int) else "a number"
            return f"must be {kind}, got {type(value).__name__} {value!r}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if default >= 0 and value < 0:
            return f"must not be negative, got {value!r}"
        return None
    if isinstance(default, str):
        return None if isinstance(value, str) else f"must be a string, got {type(value).__name__} {value!r}"
    if isinstance(default, list | tuple):
        item = type(default[0]) if default else str
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            return f"must be a list of {item.__name__} values, got {value!r}"
    return None


def _unknown(
    path: str, where: str, name: str, by_id: Mapping[str, Policy], extra: Iterable[str] = ()
) -> ConfigError:
    candidates = sorted([*by_id, *extra])
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(
        f"{path}: '{where}' names unknown policy '{name}'{hint}; see `tfkit policies` for the ids",
        file=path,
        key=f"{where}.{name}",
    )
