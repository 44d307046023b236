"""The Markdown report for a pull-request comment or a CI step summary, under 65,000 characters.

A per-environment summary table comes first (outcome, counts, gate verdict, drift), then each
environment's details folded in ``<details>``: failing findings, drift, and the plan itself
(``tfkit.report.plan.render_markdown`` with its share of the budget). What does not fit is left out
with a line saying how much, so the comment is never refused for its size (GitHub's limit is 65,536).
"""

from __future__ import annotations

from tfkit.report.model import EnvironmentReport, Report
from tfkit.report.plan import DEFAULT_MARKDOWN_BUDGET
from tfkit.report.plan import render_markdown as render_plan_markdown

__all__ = ["DEFAULT_MARKDOWN_BUDGET", "render_markdown"]

_ICON = {"ok": "✅", "passed": "✅", "failed": "❌", "drift": "⚠️", "error": "💥"}
_MIN_PLAN_BUDGET = 400


def _cell(text: str) -> str:
    """Text safe inside a table cell: one line, no pipe, no HTML."""
    text = text.replace("\r", " ").replace("\n", " ")
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(char, escaped)
    return text


def _code(text: str) -> str:
    """A code span that survives backticks and newlines in ``text`` (HTML is literal inside it)."""
    text = text.replace("\r", " ").replace("\n", " ")
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _row(entry: EnvironmentReport) -> str:
    summary = entry.plan.summary() if entry.plan is not None else None
    counts = [str(summary.add), str(summary.change), str(summary.destroy)] if summary else ["", "", ""]
    if entry.gate is None:
        gate = ""
    else:
        gate = "passed" if entry.gate.passed else f"FAILED ({len(entry.gate.failures)} blocking)"
    drift = ""
    if entry.drift is not None:
        drift = f"{len(entry.drift.addresses)} resource(s)" if entry.drift.has_drift else "none"
    cells = [f"{_ICON[entry.outcome]} {_cell(entry.environment)}", entry.outcome, *counts, gate, drift]
    return "| " + " | ".join(cells) + " |"


def _head(report: Report) -> str:
    verdict = "passed" if report.passed else f"FAILED (exit {report.exit_code})"
    lines = [
        f"## tfkit {_cell(report.command)}: {verdict}",
        "",
        "| environment | outcome | add | change | destroy | gate | drift |",
        "|---|---|---:|---:|---:|---|---|",
        *(_row(e) for e in report.environments),
        "",
    ]
    for entry in report.environments:
        if entry.error is not None:
            lines.append(f"- **{_cell(entry.environment)}**: {_code(entry.error)}")
        if entry.drift is not None and entry.drift.fix:
            lines.append(f"- **{_cell(entry.environment)}**: drift; to return, run `{entry.drift.fix}`")
    return "\n".join(lines).rstrip("\n") + "\n\n"


def _items(entry: EnvironmentReport) -> list[str]:
    """List items about findings and drift, most important first."""
    items: list[str] = []
    if entry.gate is not None:
        for finding in entry.gate.failures:
            items.append(f"❌ {_code(finding.one_line())}")
        items += [f"❌ gate error: {_cell(e)}" for e in entry.gate.errors]
        for finding in entry.gate.findings:
            if not finding.passed and not finding.blocking:
                items.append(f"ℹ️ {_code(finding.one_line())}")
    if entry.drift is not None:
        items += [f"⚠️ changed outside Terraform: {_code(i.one_line())}" for i in entry.drift.outside]
        items += [f"⚠️ to return: {_code(i.one_line())}" for i in entry.drift.to_return]
    items += [f"warning: {_cell(w)}" for w in entry.warnings]
    return items


def _fit(items: list[str], budget: int) -> str:
    """As many list items as fit in ``budget`` characters, then how many were left out."""
    text, shown = "", 0
    for item in items:
        line = f"- {item}\n"
        if len(text) + len(line) > max(budget - 80, 0):
            break
        text += line
        shown += 1
    left = len(items) - shown
    if left:
        text += f"- _… {left} more not listed, to stay under the comment size limit_\n"
    return text


def _details(entry: EnvironmentReport, budget: int) -> str:
    """One environment's folded details in at most ``budget`` characters."""
    title = f"<details><summary><b>{_cell(entry.environment)}</b>: {entry.outcome}</summary>\n\n"
    close = "\n</details>\n\n"
    room = budget - len(title) - len(close)
    if room <= 0:
        return ""
    items = _items(entry)
    plan_wanted = entry.plan is not None
    if not items and not plan_wanted:
        return ""
    listed = _fit(items, room if not plan_wanted else max(room // 2, room - 20000)) if items else ""
    room -= len(listed)
    body = listed + ("\n" if listed else "")
    if plan_wanted and entry.plan is not None and room >= _MIN_PLAN_BUDGET:
        body += render_plan_markdown(entry.plan, budget=room - 1)
    elif plan_wanted:
        body += "_The plan is not shown, to stay under the comment size limit._\n"
    return title + body + close


def render_markdown(report: Report, budget: int = DEFAULT_MARKDOWN_BUDGET) -> str:
    """The report as Markdown in at most ``budget`` characters: summary table first, details folded."""
    head = _head(report)
    tail = "<sub>Generated by tfkit.</sub>\n"
    if len(head) + len(tail) > budget:
        marker = "\n_… truncated to the comment size limit_\n"
        return head[: max(budget - len(marker), 0)] + marker
    room = budget - len(head) - len(tail)
    parts = []
    remaining = list(report.environments)
    while remaining:
        entry = remaining.pop(0)
        share = room // (len(remaining) + 1)
        block = _details(entry, share)
        room -= len(block)
        parts.append(block)
    return head + "".join(parts) + tail
