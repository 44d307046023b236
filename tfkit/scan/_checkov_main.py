"""Checkov's own command line, started by Checkov's interpreter before tfkit knows what to scan.

tfkit never imports Checkov (it pins its own ``hcl2``); it runs this file with the Python interpreter of
the Checkov installation, ``python _checkov_main.py HELLO_FD [--catalog]``, as soon as a scan may be
needed, so that Checkov's start-up (importing ``checkov.main``: most of a small scan's time) overlaps
tfkit's own preparation of the plan. Then:

1. it writes ``{"version": ..., "catalog": ...}`` to the file descriptor HELLO_FD and closes it; the
   catalog (with ``--catalog`` only) is the built-in checks, ``{id: {"types": [...], "kind": ...}}``,
   so tfkit leaves out of a first scan the resources no enabled check looks at;
2. it reads one JSON request from stdin: ``null`` (nothing to scan: exit 0 without scanning), or
   ``{"argv": [...], "catalog": PATH or null, "report": PATH or null}``;
3. it runs exactly ``checkov ARGV``: ``Checkov(argv=ARGV).run()`` under the warnings filter of Checkov's
   console script, which does nothing else; and, when the catalog PATH is given, writes afterwards the
   catalog of the checks that run loaded (built-in and external) to PATH.

With a report PATH, the run prints nothing (``CHECKOV_NO_OUTPUT``) and the helper writes the reports
of the run to PATH instead: the same documents ``-o json`` prints (one report, or a list), holding
only the fields tfkit reads of each result. Checkov's own printing serialises every result twice,
once with an indent (pure-Python JSON; 0.35 s CPU of a 261-resource run), and tfkit then read it all
back. If the reports cannot be written (another Checkov), PATH is left absent and the reason goes to
stderr; a Checkov that ignores the variable has printed its report as usual.

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


#: The fields of a result tfkit reads (``tfkit.scan._runner._normalise``), as ``-o json`` names them.
_KEPT = ("check_id", "check_name", "resource", "resource_address", "severity", "guideline")
_STATUSES = ("passed_checks", "failed_checks", "skipped_checks")


def _record(record: Any) -> dict[str, Any]:
    out = {name: getattr(record, name, None) for name in _KEPT}
    result = getattr(record, "check_result", None) or {}
    out["check_result"] = {k: result.get(k) for k in ("evaluated_keys", "suppress_comment") if k in result}
    return out


def _reports(scan_reports: list[Any]) -> Any:
    """What ``-o json`` prints for ``scan_reports`` (non-empty reports only), results cut to ``_KEPT``."""
    from checkov.common.output.report import Report

    docs = [
        {
            "check_type": report.check_type,
            "results": {
                **{key: [_record(r) for r in getattr(report, key)] for key in _STATUSES},
                "parsing_errors": list(report.parsing_errors),
            },
            "summary": report.get_summary(),
        }
        for report in scan_reports
        if not report.is_empty()
    ]
    if not docs:
        return Report("").get_summary()
    return docs[0] if len(docs) == 1 else docs


def _write_reports(checkov: Any, path: str) -> None:
    """Write the run's reports to ``path`` (see the module docs); on failure, say why on stderr."""
    from checkov.common.util.json_utils import CustomJSONEncoder

    try:
        text = json.dumps(_reports(list(checkov.scan_reports)), cls=CustomJSONEncoder)
    except Exception as exc:  # tfkit then reads stdout, which holds the report or nothing
        print(f"tfkit: cannot write Checkov's reports: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        out.write(text)


def main() -> int:
    hello_fd = int(sys.argv[1])
    from checkov.main import Checkov

    _hello(hello_fd, "--catalog" in sys.argv[2:])
    request = json.loads(sys.stdin.read() or "null")
    if not request:
        return 0
    report = request.get("report")
    if report:
        os.environ["CHECKOV_NO_OUTPUT"] = "True"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=SyntaxWarning)
        checkov = Checkov(argv=list(request["argv"]))
        code = checkov.run()
    if report:
        _write_reports(checkov, report)
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
