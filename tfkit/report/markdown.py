"""Everything tfkit writes as Markdown: a plan, a whole ``Report``, and a change description.

For a pull-request comment or a CI step summary, under 65,000 characters (GitHub refuses comments over
65,536). A plan's long sections are folded with ``<details>`` and cut from the end when the budget runs
out; a report has a per-environment summary table first, then each environment's details folded
(failing findings, drift, and the plan with its share of the budget). Whatever is left out is counted
in a line saying so, so a comment is never refused for its size. ``describe_plans`` writes the change
description ``tfkit describe`` proposes (what changes where, and a why to fill in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tfkit.guard.description import WHY_PLACEHOLDER
from tfkit.plan import Plan, ResourceChange
from tfkit.redact import MASK
from tfkit.report.values import SetPaths, plan_set_paths, value_lines
from tfkit.report.vocabulary import (
    SYMBOL,
    TITLE,
    change_notes,
    changed_outputs,
    changed_paths,
    check_problems,
    drift_text,
    empty_text,
    grouped,
    invocation_text,
    listed_changes,
    one_line,
    summary_line,
)
from tfkit.results import EnvironmentReport, Report

__all__ = ["DEFAULT_MARKDOWN_BUDGET", "describe_plans", "render_markdown", "render_plan_markdown"]

DEFAULT_MARKDOWN_BUDGET = 65000
"""GitHub refuses comments over 65,536 characters; stay under it with some room."""

_OPEN_SECTION_ITEMS = 10
_ICON = {
    "ok": "✅",
    "passed": "✅",
    "failed": "❌",
    "drift": "⚠️",
    "error": "💥",
    "refused": "⛔",
    "skipped": "⏭️",
}
_MIN_PLAN_BUDGET = 400


# ------------------------------------------------------------------------------------------- escaping


def _code(text: str) -> str:
    """A Markdown code span that survives backticks, HTML and newlines in ``text``."""
    text = one_line(text)
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _longest_backtick_run(text: str) -> int:
    """The length of the longest run of backticks in ``text``."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return longest


def _md_text(text: str) -> str:
    """Plain text that Markdown and HTML render literally."""
    text = one_line(text)
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, escaped)
    for char in "\\`*_[]|#":
        text = text.replace(char, "\\" + char)
    return text


# ----------------------------------------------------------------------------------------------- plan


@dataclass
class _Section:
    """One foldable part of the Markdown: a title line and its list items."""

    title: str
    items: list[str]
    open: bool = False
    shown: int = field(default=0)

    def render(self, count: int) -> str:
        """The section with its first ``count`` items, saying how many it leaves out."""
        attr = " open" if self.open else ""
        body = "".join(f"- {item}\n" for item in self.items[:count])
        left = len(self.items) - count
        note = f"- _… and {left} more not listed, to stay under the comment size budget_\n" if left else ""
        return f"<details{attr}><summary>{self.title}</summary>\n\n{body}{note}\n</details>\n\n"


def render_plan_markdown(
    plan: Plan,
    budget: int = DEFAULT_MARKDOWN_BUDGET,
    *,
    values: bool = True,
    set_paths: SetPaths | None = None,
) -> str:
    """Markdown for a pull-request comment, at most ``budget`` characters.

    Long sections are folded with ``<details>``. When the whole would exceed the budget, entries are cut
    from the end of the first section that does not fit on (keeping plan order), and whole sections are
    dropped if even their headings do not fit; every cut says how many entries it leaves out. With
    ``values`` each change lists its changed paths' values (``tfkit.report.values``), else paths only.
    """
    head, tail = _markdown_head(plan), _markdown_tail(plan)
    sections = _markdown_sections(plan, values=values, set_paths=set_paths)
    dropped = 0
    while sections and _markdown_size(head, sections, tail, dropped) > budget:
        dropped += len(sections.pop().items)
    room = budget - _markdown_size(head, sections, tail, dropped)
    for section in sections:
        for item in section.items:
            cost = len(item) + 3
            if cost > room:
                break
            room -= cost
            section.shown += 1
        if section.shown < len(section.items):
            room = -1  # keep plan order: once one section is cut, later ones list nothing more
    text = head + "".join(s.render(s.shown) for s in sections) + _dropped_note(dropped) + tail
    if len(text) > budget:  # a budget too small even for the title: no HTML is open at this point
        marker = "\n_… truncated to the comment size budget_\n"
        text = (text[: max(0, budget - len(marker))] + marker)[:budget]
    return text


def _markdown_size(head: str, sections: list[_Section], tail: str, dropped: int) -> int:
    """The size of the Markdown with every section's heading but none of its entries."""
    return len(head) + len(tail) + sum(len(s.render(0)) for s in sections) + len(_dropped_note(dropped))


def _dropped_note(dropped: int) -> str:
    """What whole sections the budget left out."""
    return (
        f"_… {dropped} more entries not listed, to stay under the comment size budget_\n\n" if dropped else ""
    )


def _markdown_head(plan: Plan) -> str:
    """Title, the counts table and warnings."""
    summary = plan.summary()
    changes = listed_changes(plan)
    title = summary_line(summary) if changes else empty_text(plan)
    lines = [f"### {_md_text(title)}", ""]
    version = plan.terraform_version or "(unknown version)"
    lines += [f"Terraform {_md_text(version)}, plan format {_md_text(plan.format_version or '')}", ""]
    if changes:
        names = ("add", "change", "destroy", "replace", "import", "move", "forget", "read")
        values = (
            summary.add,
            summary.change,
            summary.destroy,
            summary.replace,
            summary.import_,
            summary.move,
            summary.forget,
            summary.read,
        )
        lines += ["| " + " | ".join(names) + " |", "|" + "---:|" * len(names), _counts_row(values), ""]
    if plan.errored:
        lines += ["> [!CAUTION]", "> The plan is errored: Terraform reported an error while planning.", ""]
    elif plan.applyable is False and plan.has_changes:
        lines += ["> [!CAUTION]", "> Terraform marks this plan not applyable (applyable: false).", ""]
    if plan.complete is False and not plan.errored:
        lines += ["> [!WARNING]", "> The plan is incomplete: another plan and apply will be needed.", ""]
    problems = check_problems(plan)
    if problems:
        lines += ["> [!CAUTION]", f"> Checks not passed ({len(problems)}):"]
        lines += [f"> - **{status}** {_code(where)}: {_md_text(msg)}" for status, where, msg in problems[:20]]
        lines += [f"> - _… and {len(problems) - 20} more_"] if len(problems) > 20 else []
        lines.append("")
    destroyed = summary.destroy
    if destroyed:
        lines += [
            "> [!WARNING]",
            f"> {destroyed} object(s) will be destroyed ({summary.replace} replaced).",
            "",
        ]
    return "\n".join(lines) + "\n"


def _counts_row(values: Sequence[int]) -> str:
    """A table row of counts."""
    return "| " + " | ".join(str(v) for v in values) + " |"


def _markdown_sections(plan: Plan, *, values: bool, set_paths: SetPaths | None) -> list[_Section]:
    """Drift, then one section per module and action, then deferred changes and outputs."""
    sections = []
    hidden = plan.sensitive_values if values and plan.resource_changes else frozenset()
    set_paths = plan_set_paths(plan) if set_paths is None and values else set_paths
    if plan.drift:
        items = [f"{_code(rc.address)} {_md_text(drift_text(rc))}" for rc in plan.drift]
        sections.append(_Section(f"Changed outside of Terraform ({len(items)})", items))
    for module, actions in grouped(listed_changes(plan)).items():
        where = f" in {_md_text(module)}" if module else ""
        for action, changes in actions.items():
            items = [_markdown_item(rc, values=values, set_paths=set_paths, hidden=hidden) for rc in changes]
            title = f"<code>{SYMBOL[action]}</code> {TITLE[action].capitalize()}{where} ({len(items)})"
            sections.append(_Section(title, items, open=len(items) <= _OPEN_SECTION_ITEMS))
    if plan.action_invocations:
        items = [_md_text(invocation_text(a)) for a in plan.action_invocations]
        sections.append(_Section(f"Actions to invoke ({len(items)})", items, open=True))
    if plan.deferred_changes or plan.deferred_action_invocations:
        items = [f"{_code(d.resource_change.address)} ({_md_text(d.reason)})" for d in plan.deferred_changes]
        items += [
            f"{_md_text(invocation_text(d.action_invocation))} ({_md_text(d.reason)})"
            for d in plan.deferred_action_invocations
        ]
        sections.append(_Section(f"Deferred to a later plan ({len(items)})", items))
    outputs = changed_outputs(plan)
    if outputs:
        items = [
            f"{_code(name)} {action.value}{f' {MASK}' if sensitive else ''}"
            for name, action, sensitive in outputs
        ]
        sections.append(_Section(f"Changes to outputs ({len(items)})", items))
    return sections


def _markdown_item(
    rc: ResourceChange, *, values: bool, set_paths: SetPaths | None, hidden: frozenset[str]
) -> str:
    """One change as a list item: the address in code, then notes and changed paths (and their values)."""
    notes = [_md_text(note) for note in change_notes(rc)]
    paths = "" if values else changed_paths(rc)  # with values, each path has a line of its own
    if paths:
        notes.append(f"changes {_code(paths)}")
    item = f"{_code(rc.address)} — {'; '.join(notes)}" if notes else _code(rc.address)
    lines = value_lines(rc, set_paths=set_paths, hidden=hidden) if values else []
    return item + "".join(f"\n  - {_code(line)}" for line in lines)


def _markdown_tail(plan: Plan) -> str:
    """A closing line pointing at the full output."""
    noops = len(plan.noops) - sum(1 for rc in plan.noops if rc.is_moved or rc.change.importing is not None)
    unchanged = f"{noops} unchanged object(s) not listed. " if noops else ""
    return f"<sub>{unchanged}Generated by tfkit.</sub>\n"


# --------------------------------------------------------------------------------------------- report


def _environment_row(entry: EnvironmentReport) -> str:
    summary = entry.plan.summary() if entry.plan is not None else None
    counts = [str(summary.add), str(summary.change), str(summary.destroy)] if summary else ["", "", ""]
    if entry.gate is None:
        gate = ""
    else:
        gate = "passed" if entry.gate.passed else f"FAILED ({len(entry.gate.failures)} blocking)"
    drift = ""
    if entry.drift is not None:
        drift = f"{len(entry.drift.addresses)} resource(s)" if entry.drift.has_drift else "none"
    cells = [f"{_ICON[entry.outcome]} {_md_text(entry.environment)}", entry.outcome, *counts, gate, drift]
    return "| " + " | ".join(cells) + " |"


def _head(report: Report) -> str:
    verdict = "passed" if report.passed else f"FAILED (exit {report.exit_code})"
    lines = [
        f"## tfkit {_md_text(report.command)}: {verdict}",
        "",
        "| environment | outcome | add | change | destroy | gate | drift |",
        "|---|---|---:|---:|---:|---|---|",
        *(_environment_row(e) for e in report.environments),
        "",
    ]
    for entry in report.environments:
        if entry.error is not None:
            lines.append(f"- **{_md_text(entry.environment)}**: {_code(entry.error)}")
        if entry.drift is not None and entry.drift.fix:
            lines.append(f"- **{_md_text(entry.environment)}**: drift; to return, run `{entry.drift.fix}`")
    return "\n".join(lines).rstrip("\n") + "\n\n"


def _items(entry: EnvironmentReport) -> list[str]:
    """List items about findings and drift, most important first."""
    items: list[str] = [f"⛔ apply would be refused: {_md_text(r)}" for r in entry.refusals]
    if entry.gate is not None:
        for finding in entry.gate.failures:
            items.append(f"❌ {_code(finding.one_line())}")
        items += [f"❌ gate error: {_md_text(e)}" for e in entry.gate.errors]
        for finding in entry.gate.findings:
            if not finding.passed and not finding.blocking:
                items.append(f"ℹ️ {_code(finding.one_line())}")
        items += [f"ℹ️ scanner {_md_text(t)} off: {_md_text(w)}" for t, w in sorted(entry.gate.off.items())]
    if entry.drift is not None:
        items += [f"⚠️ changed outside Terraform: {_code(i.one_line())}" for i in entry.drift.outside]
        items += [f"⚠️ to return: {_code(i.one_line())}" for i in entry.drift.to_return]
    items += [f"warning: {_md_text(w)}" for w in entry.warnings]
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


def _details(entry: EnvironmentReport, budget: int, *, values: bool = True) -> str:
    """One environment's folded details in at most ``budget`` characters."""
    title = f"<details><summary><b>{_md_text(entry.environment)}</b>: {entry.outcome}</summary>\n\n"
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
        body += render_plan_markdown(entry.plan, budget=room - 1, values=values)
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
        block = _details(entry, share, values=report.values)
        room -= len(block)
        parts.append(block)
    return head + "".join(parts) + tail


# ------------------------------------------------------------------------------------ change description


def describe_plans(plans: Mapping[str, Plan]) -> str:
    """A Markdown change description from each environment's plan: what changes where; a why to fill in."""
    changed = [name for name, plan in plans.items() if plan.has_changes]
    where = ", ".join(changed) if changed else "no environment"
    title = f"# Infrastructure change in {where}"
    rows = ["| environment | add | change | destroy | replace |", "|---|---:|---:|---:|---:|"]
    for name, plan in plans.items():
        s = plan.summary()
        rows.append(f"| {name} | {s.add} | {s.change} | {s.destroy} | {s.replace} |")
    parts = [title, "", "## What changes", "", *rows, ""]
    for name, plan in plans.items():
        body = render_plan_markdown(plan).replace("### Plan:", "Plan:", 1)
        parts += [f"### {name}", "", body.strip(), ""]
    parts += ["## Why", "", WHY_PLACEHOLDER, ""]
    return "\n".join(parts)
