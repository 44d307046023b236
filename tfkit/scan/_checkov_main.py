"""Checkov's own command line, run by checkov's interpreter, that also writes its check catalog.

tfkit never imports Checkov (it pins its own ``hcl2``); it runs this file with the Python interpreter
of the Checkov installation: ``python _checkov_main.py CATALOG_JSON CHECKOV_ARGS...``. The scan is
exactly ``checkov CHECKOV_ARGS`` (the console script does nothing else); after it, the checks that
Checkov loaded (built-in and external) are written to CATALOG_JSON as
``{"version": ..., "checks": {id: {"types": [resource types or globs], "kind": ...}}}``, so the next
scan knows which resource types no enabled check looks at, without a second Checkov start-up.
This file must import only the standard library and Checkov.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any


def _types(check: Any) -> set[str]:
    """Every resource type a graph check (or one of its sub-checks) looks at; "all" becomes "*"."""
    out: set[str] = set()
    for name in list(getattr(check, "resource_types", []) or []) + list(
        getattr(check, "connected_resources_types", []) or []
    ):
        out.add("*" if str(name).lower() == "all" else str(name))
    for sub in getattr(check, "sub_checks", []) or []:
        out |= _types(sub)
    return out


def _catalog() -> dict[str, Any]:
    from checkov.common.checks_infra.registry import get_graph_checks_registry
    from checkov.terraform.checks.data.registry import data_registry
    from checkov.terraform.checks.provider.registry import provider_registry
    from checkov.terraform.checks.resource.registry import resource_registry
    from checkov.version import version

    checks: dict[str, dict[str, Any]] = {}

    def add(check_id: str, kind: str, types: Any) -> None:
        entry = checks.setdefault(check_id, {"kind": kind, "types": []})
        entry["types"] = sorted(set(entry["types"]) | set(types))

    for kind, registry in (("resource", resource_registry), ("data", data_registry)):
        for entity, check in registry.all_checks():
            add(check.id, kind, [entity])
    for entity, check in provider_registry.all_checks():
        add(check.id, "provider", [f"provider:{entity}"])
    graph = get_graph_checks_registry("terraform")
    if not graph.checks:
        graph.load_checks()
    for check in graph.checks:
        add(check.id, "graph", _types(check) or {"*"})
    return {"version": version, "checks": checks}


def main() -> int:
    catalog_path = sys.argv[1]
    argv = sys.argv[2:]
    from checkov.main import Checkov

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        code = Checkov(argv=argv).run()
    sys.stdout.flush()
    try:
        doc = _catalog()
    except Exception as exc:  # the scan stands; only the catalog is lost
        doc = {"error": f"{type(exc).__name__}: {exc}"}
    Path(catalog_path).write_text(json.dumps(doc), encoding="utf-8")
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
