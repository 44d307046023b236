"""``tfkit report merge``: the JSON reports of a fan-out's runners combined into one summary.

Each CI job writes its own report (``--output report.json``); the merged document follows the same
schema (``report.schema.json``): every environment once (a later report of an environment replaces an
earlier one), the worst exit code, and ``passed`` only when every environment passed. It renders as
JSON, as a Markdown summary for the pull request, or as text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tfkit.report.json import REPORT_VERSION, validate_report
from tfkit.report.markdown import _ICON, _code, _md_text

__all__ = ["MERGED_FORMATS", "MergeError", "load_reports", "merge_reports", "render_merged"]

#: What a merged report renders as.
MERGED_FORMATS = ("json", "markdown", "text")


class MergeError(ValueError):
    """A report file that cannot be merged: unreadable, not JSON, or not a tfkit report."""


def load_reports(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Each file's report document, checked against the report schema (``MergeError``: one line)."""
    documents = []
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise MergeError(f"{path}: cannot read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise MergeError(f"{path}: not JSON: {exc}") from None
        problems = validate_report(document)
        if problems:
            raise MergeError(f"{path}: not a tfkit JSON report: {problems[0]}")
        documents.append(document)
    return documents


def merge_reports(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One report document holding every environment of ``documents`` (oldest report first)."""
    ordered = sorted(documents, key=lambda d: str(d["created"]))
    environments: dict[str, dict[str, Any]] = {}
    for document in ordered:
        for entry in document["environments"]:
            environments.pop(entry["environment"], None)  # a later report of it wins, in its place
            environments[entry["environment"]] = dict(entry)
    commands = sorted({str(d["command"]) for d in ordered})
    exit_code = max((int(e["exit_code"]) for e in environments.values()), default=0)
    return {
        "report_version": REPORT_VERSION,
        "tfkit_version": ordered[-1]["tfkit_version"] if ordered else "",
        "command": commands[0] if len(commands) == 1 else "+".join(commands),
        "created": ordered[-1]["created"] if ordered else "",
        "passed": exit_code == 0,
        "exit_code": exit_code,
        "environments": list(environments.values()),
    }


def _row(entry: Mapping[str, Any]) -> str:
    plan = entry.get("plan") or {}
    summary = plan.get("summary") or {}
    counts = [str(summary[k]) if k in summary else "" for k in ("add", "change", "destroy")]
    gate = entry.get("gate")
    verdict = "" if gate is None else ("passed" if gate["passed"] else "FAILED")
    outcome = str(entry["outcome"])
    cells = [f"{_ICON.get(outcome, '')} {_md_text(str(entry['environment']))}", outcome, *counts, verdict]
    return "| " + " | ".join(cells) + " |"


def render_merged(document: Mapping[str, Any], fmt: str) -> str:
    """``document`` as ``json``, ``markdown`` (a pull-request summary) or ``text``."""
    if fmt == "json":
        return json.dumps(document, indent=2, sort_keys=True) + "\n"
    entries = list(document["environments"])
    verdict = "passed" if document["passed"] else f"FAILED (exit {document['exit_code']})"
    if fmt == "text":
        lines = [f"=== {document['command']}: {verdict} ==="]
        lines += [f"  {e['environment']}: {e['outcome']} (exit {e['exit_code']})" for e in entries]
        return "\n".join(lines) + "\n"
    lines = [
        f"## tfkit {_md_text(str(document['command']))}: {verdict}",
        "",
        f"{len(entries)} environment(s) from the runners' reports.",
        "",
        "| environment | outcome | add | change | destroy | gate |",
        "|---|---|---:|---:|---:|---|",
        *(_row(e) for e in entries),
        "",
    ]
    for entry in entries:
        name = _md_text(str(entry["environment"]))
        if entry.get("error"):
            lines.append(f"- **{name}**: {_code(str(entry['error']))}")
        skipped = (entry.get("details") or {}).get("skipped")
        if skipped:
            lines.append(f"- **{name}**: skipped: {_md_text(str(skipped))}")
    return "\n".join(lines).rstrip("\n") + "\n"
