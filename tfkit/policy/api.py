"""The policy API: ``@policy`` turns a function into a ``Policy`` that yields ``Violation`` objects.

A policy takes the ``Plan`` (or, with ``resources=``, each matching ``ResourceChange``) and, if its function
accepts a second argument, a ``PolicyContext`` (environment, parameters, project). Severities follow
Sentinel's enforcement levels: advisory (reported), soft (fails the gate unless waived), hard (never waived).
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec

from tfkit.errors import PolicyDefinitionError
from tfkit.findings import Severity

if TYPE_CHECKING:
    from tfkit.plan import Plan, ResourceChange
    from tfkit.project import Environment, Project

__all__ = [
    "Policy",
    "PolicyContext",
    "ResourceSelector",
    "SkipPolicy",
    "Violation",
    "policy",
]

#: Which resource changes a per-resource policy sees: a type glob, several globs, or a predicate.
ResourceSelector = str | Iterable[str] | Callable[["ResourceChange"], bool]


class SkipPolicy(Exception):  # noqa: N818 - raised by a policy to say "not applicable", not an error
    """Raised by a policy that cannot apply here (say, no configuration to read); its result is *skipped*."""


class Violation(msgspec.Struct, frozen=True, gc=False):
    """One breach of a policy: a message, and the resource address and attribute path it is about.

    Messages must not quote attribute values: a value may be a secret. Name the path instead. (A msgspec
    struct, not a dataclass: a plan with 50k untagged resources yields 50k of them, ten times faster.)
    """

    message: str
    address: str | None = None
    path: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What a policy may need besides the plan: the environment, its parameters, the project."""

    environment: str | None
    params: Mapping[str, Any] = field(default_factory=dict)
    project: Project | None = None

    @property
    def env(self) -> Environment | None:
        """The ``Environment`` of the project (``None`` without a project or an unknown name)."""
        if self.project is None or self.environment is None:
            return None
        if self.environment not in self.project.names:
            return None
        return self.project.environment(self.environment)

    @property
    def protected(self) -> bool:
        """The environment is marked ``protected`` in tfkit.toml (or listed in ``protected_envs``)."""
        env = self.env
        if env is not None and env.protected:
            return True
        return self.environment is not None and self.environment in self.params.get("protected_envs", ())


PolicyFunction = Callable[..., Iterable[Violation | str] | None]


@dataclass(frozen=True)
class Policy:
    """A named check of plans: id, severity, environments, optional resource selector, and defaults."""

    id: str
    severity: Severity
    func: PolicyFunction
    title: str
    doc: str
    envs: tuple[str, ...] = ()
    resources: ResourceSelector | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    source: str = "python"
    takes_context: bool = False

    def applies_to(self, environment: str | None) -> bool:
        """Whether this policy runs for ``environment`` (``envs`` empty means every environment)."""
        return not self.envs or environment in self.envs

    def selects(self, rc: ResourceChange) -> bool:
        """Whether a per-resource policy looks at ``rc``."""
        selector = self.resources
        if selector is None:
            return False
        if callable(selector):
            return bool(selector(rc))
        patterns = (selector,) if isinstance(selector, str) else tuple(selector)
        return any(fnmatch.fnmatchcase(rc.type, p) for p in patterns)

    def run(self, subject: Plan | ResourceChange, context: PolicyContext) -> list[Violation]:
        """Call the function on one subject and normalise what it yields into violations."""
        produced = self.func(subject, context) if self.takes_context else self.func(subject)
        if produced is None:
            return []
        default_address = getattr(subject, "address", None) if self.resources is not None else None
        out: list[Violation] = []
        for item in produced:
            if type(item) is Violation and (item.address is not None or default_address is None):
                out.append(item)
            elif isinstance(item, str):
                out.append(Violation(item, address=default_address))
            elif isinstance(item, Violation):
                if item.address is None and default_address is not None:
                    item = Violation(item.message, default_address, item.path, item.file, item.line)
                out.append(item)
            else:
                raise TypeError(f"policy {self.id} yielded {type(item).__name__}, not a Violation or a str")
        return out

    def __call__(
        self, subject: Plan | ResourceChange, context: PolicyContext | None = None
    ) -> list[Violation]:
        """Run the policy directly (as tests do); parameters default to the declared ones."""
        return self.run(subject, context or PolicyContext(None, self.params))


_SEVERITIES = {s.value: s for s in Severity}


def _severity(value: Severity | str) -> Severity:
    if isinstance(value, Severity):
        return value
    found = _SEVERITIES.get(str(value).lower())
    if found is None:
        raise PolicyDefinitionError(f"unknown severity {value!r}; use one of {', '.join(_SEVERITIES)}")
    return found


def _takes_context(func: Callable[..., Any]) -> bool:
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def policy(
    *,
    id: str,
    severity: Severity | str = Severity.SOFT,
    envs: Iterable[str] = (),
    resources: ResourceSelector | None = None,
    title: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Callable[[PolicyFunction], Policy]:
    """Declare a policy. ``id`` is stable (waivers and settings name it); the docstring says why it exists.

    ``resources`` makes the function run once per matching ``ResourceChange`` (a type glob such as
    ``"aws_s3_*"``, several globs, or a predicate) instead of once per plan. ``params`` are the defaults of
    the settings ``[policies.<ID>]`` in tfkit.toml may override; the function reads them from its context.
    """
    if not id or not id.strip() or any(c.isspace() for c in id):
        raise PolicyDefinitionError(f"invalid policy id {id!r}: use a short word such as ORG001")
    level = _severity(severity)

    def decorate(func: PolicyFunction) -> Policy:
        doc = inspect.cleandoc(func.__doc__ or "")
        first = doc.splitlines()[0].replace("``", "") if doc else func.__name__.replace("_", " ")
        return Policy(
            id=id,
            severity=level,
            func=func,
            title=title or first,
            doc=doc,
            envs=tuple(envs),
            resources=resources,
            params=MappingProxyType(dict(params or {})),
            source=getattr(func, "__module__", "python") or "python",
            takes_context=_takes_context(func),
        )

    return decorate
