"""Checkov's own command line, started by Checkov's interpreter before tfkit knows what to scan.

tfkit never imports Checkov (it pins its own ``hcl2``); it runs this file with the Python interpreter of
the Checkov installation, ``python _checkov_main.py HELLO_FD [--catalog]``, as soon as a scan may be
needed, so that Checkov's start-up (importing ``checkov.main``: most of a small scan's time) overlaps
tfkit's own preparation of the plan. Then:

1. it writes ``{"version": ..., "catalog": ...}`` to the file descriptor HELLO_FD and closes it; the
   catalog (with ``--catalog`` only) is the built-in checks, ``{id: {"types": [...], "kind": ...}}``,
   so tfkit leaves out of a first scan the resources no enabled check looks at;
2. it reads one JSON request from stdin: ``null`` (nothing to scan: exit 0 without scanning), or
   ``{"argv": [...], "catalog": PATH or null}``;
3. it runs exactly ``checkov ARGV``: ``Checkov(argv=ARGV).run()`` under the warnings filter of Checkov's
   console script, which does nothing else; and, when PATH is given, writes afterwards the catalog of
   the checks that run loaded (built-in and external) to PATH.

``--catalog`` loads the built-in graph checks before the scan, which the scan then finds loaded (it
loads each directory once); it is not asked when external checks directories are given, because the
scan loads those first and an external check whose id a built-in one repeats must win as in the CLI.
This file must import only the standard library and Checkov.
"""

from __future__ import annotations

import json
import os
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
    graph.load_checks()  # a no-op once the built-in directory is loaded
    for check in graph.checks:
        add(check.id, "graph", _types(check) or {"*"})
    return {"version": version, "checks": checks}


def _hello(fd: int, with_catalog: bool) -> None:
    from checkov.version import version

    hello: dict[str, Any] = {"version": version}
    if with_catalog:
        try:
            hello["catalog"] = _catalog()
        except Exception as exc:  # tfkit then scans without leaving anything out
            hello["catalog_error"] = f"{type(exc).__name__}: {exc}"
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(hello))


def main() -> int:
    hello_fd = int(sys.argv[1])
    from checkov.main import Checkov

    _hello(hello_fd, "--catalog" in sys.argv[2:])
    request = json.loads(sys.stdin.read() or "null")
    if not request:
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        code = Checkov(argv=list(request["argv"])).run()
    sys.stdout.flush()
    if request.get("catalog"):
        try:
            doc = _catalog()
        except Exception as exc:  # the scan stands; only the catalog is lost
            doc = {"error": f"{type(exc).__name__}: {exc}"}
        Path(request["catalog"]).write_text(json.dumps(doc), encoding="utf-8")
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
