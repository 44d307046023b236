"""Render a ``Plan``: compact text for a terminal, Markdown for a pull-request comment, a JSON summary.

Only addresses, actions, reasons, attribute paths and output names are rendered, never attribute or output
values, so no sensitive value can reach a terminal, a CI log or a comment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tfkit.plan import Action, Plan, PlanSummary, ResourceChange, format_path

__all__ = ["DEFAULT_MARKDOWN_BUDGET", "render_markdown", "render_text", "summary_json", "summary_line"]

DEFAULT_MARKDOWN_BUDGET = 65000
"""GitHub refuses comments over 65,536 characters; stay under it with some room."""

_ORDER = (
    Action.CREATE,
    Action.UPDATE,
    Action.DELETE_THEN_CREATE,
    Action.CREATE_THEN_DELETE,
    Action.CREATE_THEN_FORGET,
    Action.DELETE,
    Action.FORGET,
    Action.READ,
    Action.NOOP,
)
_SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE_THEN_CREATE: "-/+",
    Action.CREATE_THEN_DELETE: "+/-",
    Action.CREATE_THEN_FORGET: "+/.",
    Action.DELETE: "-",
    Action.FORGET: ".",
    Action.READ: "<=",
    Action.NOOP: " ",
}
_TITLE = {
    Action.CREATE: "create",
    Action.UPDATE: "update in-place",
    Action.DELETE_THEN_CREATE: "replace (destroy, then create)",
    Action.CREATE_THEN_DELETE: "replace (create, then destroy)",
    Action.CREATE_THEN_FORGET: "replace (create, then forget the old object)",
    Action.DELETE: "destroy",
    Action.FORGET: "forget (removed from state, not destroyed)",
    Action.READ: "read (data sources)",
    Action.NOOP: "move or import only",
}
_REASON = {
    "replace_because_tainted": "tainted",
    "replace_because_cannot_update": "cannot be updated in place",
    "replace_by_request": "replacement requested",
    "replace_by_triggers": "replace_triggered_by",
    "delete_because_no_resource_config": "not in configuration",
    "delete_because_no_module": "its module is not in configuration",
    "delete_because_wrong_repetition": "count/for_each changed",
    "delete_because_count_index": "index out of range for count",
    "delete_because_each_key": "key not in for_each",
    "delete_because_no_move_target": "moved to an address not in configuration",
    "read_because_config_unknown": "config refers to values not yet known",
    "read_because_dependency_pending": "depends on changes pending",
    "read_because_check_nested": "reloaded to verify a check block",
}
_DRIFT = {Action.UPDATE: "has changed", Action.DELETE: "has been deleted"}
_MAX_PATHS = 5
_OPEN_SECTION_ITEMS = 10


# --------------------------------------------------------------------------------------------- shared


def summary_line(summary: PlanSummary) -> str:
    """Terraform's own summary line: ``Plan: [N to import, ]X to add, Y to change, Z to destroy.``"""
    imports = f"{summary.import_} to import, " if summary.import_ else ""
    return f"Plan: {imports}{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."


def _listed(plan: Plan) -> list[ResourceChange]:
    """The changes a reader is shown: no no-op unless it moves or imports, no deleted data source."""
    shown = []
    for rc in plan.resource_changes:
        action = rc.change.action
        if action is Action.NOOP and not (rc.is_moved or rc.change.importing is not None):
            continue
        if action is Action.DELETE and rc.mode != "managed":
            continue
        shown.append(rc)
    return shown


def _notes(rc: ResourceChange) -> list[str]:
    """What to say about a change beyond its address: reason, replace paths, move, import, deposed."""
    notes = []
    if rc.action_reason:
        notes.append(_REASON.get(rc.action_reason, rc.action_reason))
    if rc.change.replace_paths:
        paths = ", ".join(format_path(p) for p in rc.change.replace_paths[:_MAX_PATHS])
        notes.append(f"forces replacement: {paths}")
    if rc.is_moved:
        notes.append(f"moved from {rc.previous_address}")
    if rc.change.importing is not None:
        imported = rc.change.importing.id
        notes.append(f"imported from {imported}" if imported else "imported")
    if rc.deposed:
        notes.append(f"deposed object {rc.deposed}")
    return notes


def _changed_paths(rc: ResourceChange) -> str:
    """For an in-place update, the attribute paths that change (paths only, never values)."""
    if rc.change.action is not Action.UPDATE:
        return ""
    paths = [change.path_str for change in rc.change.attribute_changes()]
    if not paths:
        return ""
    more = f", +{len(paths) - _MAX_PATHS} more" if len(paths) > _MAX_PATHS else ""
    return ", ".join(paths[:_MAX_PATHS]) + more


def _groups(changes: Iterable[ResourceChange]) -> dict[str, dict[Action, list[ResourceChange]]]:
    """Changes by module (``""`` for the root, first) and then by action, in Terraform's action order."""
    by_module: dict[str, dict[Action, list[ResourceChange]]] = {"": {}}
    for rc in changes:
        by_module.setdefault(rc.module_address or "", {}).setdefault(rc.change.action, []).append(rc)
    return {
        module: {action: actions[action] for action in _ORDER if action in actions}
        for module, actions in by_module.items()
        if actions
    }


def _empty_text(plan: Plan) -> str:
    """Terraform's words for a plan without changes, with tfkit's reason when resource_changes is empty."""
    if plan.errored:
        return "Planning failed: Terraform encountered an error while generating this plan."
    if plan.deferred_changes:
        return "No current changes. This plan requires another plan to be applied first."
    if plan.has_changes:
        return "Only outputs change: applying this plan saves their new values and changes no infrastructure."
    reason = plan.empty_reason
    detail = f" ({reason.value})" if reason is not None else ""
    return f"No changes. Your infrastructure matches the configuration.{detail}"


# ----------------------------------------------------------------------------------------------- text


def render_text(plan: Plan) -> str:
    """A compact human summary: drift, changes grouped by module and action with reasons, outputs, totals."""
    lines = [f"Terraform {plan.terraform_version or '(unknown version)'}, plan format {plan.format_version}"]
    if plan.errored:
        lines.append(
            "Warning: the plan is errored (Terraform reported an error while planning); do not apply it."
        )
    lines += _text_drift(plan)
    changes = _listed(plan)
    for module, actions in _groups(changes).items():
        lines += ["", module or "Root module"]
        for action, items in actions.items():
            lines.append(f"  {_SYMBOL[action]} {_TITLE[action]} ({len(items)})")
            lines += [f"      {_text_item(rc)}" for rc in items]
    lines += _text_deferred(plan)
    lines += _text_outputs(plan)
    lines.append("")
    if changes:
        summary = plan.summary()
        lines.append(summary_line(summary))
        extra = [f"{summary.replace} replaced"] if summary.replace else []
        extra += [f"{summary.forget} to forget"] if summary.forget else []
        extra += [f"{summary.move} moved"] if summary.move else []
        extra += [f"{summary.read} to read"] if summary.read else []
        if extra:
            lines.append(f"({', '.join(extra)}.)")
    else:
        lines.append(_empty_text(plan))
    return "\n".join(lines) + "\n"


def _text_item(rc: ResourceChange) -> str:
    """One change: address, then its notes and changed paths in parentheses."""
    notes = _notes(rc)
    paths = _changed_paths(rc)
    if paths:
        notes.append(f"changes {paths}")
    return f"{_one_line(rc.address)}  ({'; '.join(notes)})" if notes else _one_line(rc.address)


def _text_drift(plan: Plan) -> list[str]:
    """Objects changed outside of Terraform."""
    if not plan.drift:
        return []
    lines = ["", f"Objects changed outside of Terraform ({len(plan.drift)}):"]
    for rc in plan.drift:
        what = _DRIFT.get(rc.change.action, rc.change.action.value)
        lines.append(f"  {_SYMBOL[rc.change.action]} {_one_line(rc.address)} {what}")
    return lines


def _text_deferred(plan: Plan) -> list[str]:
    """Changes deferred to a later plan."""
    if not plan.deferred_changes:
        return []
    lines = ["", f"Deferred to a later plan ({len(plan.deferred_changes)}):"]
    for deferred in plan.deferred_changes:
        rc = deferred.resource_change
        lines.append(f"  {_SYMBOL[rc.change.action]} {_one_line(rc.address)}  ({deferred.reason})")
    return lines


def _text_outputs(plan: Plan) -> list[str]:
    """Root module outputs that change (names only; sensitive ones say so)."""
    changed = _changed_outputs(plan)
    if not changed:
        return []
    lines = ["", "Changes to outputs:"]
    for name, action, sensitive in changed:
        lines.append(f"  {_SYMBOL[action]} {_one_line(name)}{' (sensitive)' if sensitive else ''}")
    return lines


def _changed_outputs(plan: Plan) -> list[tuple[str, Action, bool]]:
    """The outputs that change: name, action, whether sensitive; sorted by name as Terraform does."""
    return [
        (name, change.action, change.is_sensitive)
        for name, change in sorted(plan.output_changes.items())
        if change.action is not Action.NOOP
    ]


def _one_line(text: str) -> str:
    """Text safe to put on one line (for_each keys may hold newlines)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


# ------------------------------------------------------------------------------------------- markdown


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


def render_markdown(plan: Plan, budget: int = DEFAULT_MARKDOWN_BUDGET) -> str:
    """Markdown for a pull-request comment, at most ``budget`` characters.

    Long sections are folded with ``<details>``. When the whole would exceed the budget, entries are cut
    from the end of the first section that does not fit on (keeping plan order), and whole sections are
    dropped if even their headings do not fit; every cut says how many entries it leaves out.
    """
    head, sections, tail = _markdown_head(plan), _markdown_sections(plan), _markdown_tail(plan)
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
    changes = _listed(plan)
    title = summary_line(summary) if changes else _empty_text(plan)
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
        lines += ["| " + " | ".join(names) + " |", "|" + "---:|" * len(names), _row(values), ""]
    if plan.errored:
        lines += ["> [!CAUTION]", "> The plan is errored: Terraform reported an error while planning.", ""]
    destroyed = summary.destroy
    if destroyed:
        lines += [
            "> [!WARNING]",
            f"> {destroyed} object(s) will be destroyed ({summary.replace} replaced).",
            "",
        ]
    return "\n".join(lines) + "\n"


def _row(values: Sequence[int]) -> str:
    """A table row of counts."""
    return "| " + " | ".join(str(v) for v in values) + " |"


def _markdown_sections(plan: Plan) -> list[_Section]:
    """Drift, then one section per module and action, then deferred changes and outputs."""
    sections = []
    if plan.drift:
        items = [
            f"{_code(rc.address)} {_DRIFT.get(rc.change.action, rc.change.action.value)}" for rc in plan.drift
        ]
        sections.append(_Section(f"Changed outside of Terraform ({len(items)})", items))
    for module, actions in _groups(_listed(plan)).items():
        where = f" in {_md_text(module)}" if module else ""
        for action, changes in actions.items():
            items = [_markdown_item(rc) for rc in changes]
            title = f"<code>{_SYMBOL[action]}</code> {_TITLE[action].capitalize()}{where} ({len(items)})"
            sections.append(_Section(title, items, open=len(items) <= _OPEN_SECTION_ITEMS))
    if plan.deferred_changes:
        items = [f"{_code(d.resource_change.address)} ({_md_text(d.reason)})" for d in plan.deferred_changes]
        sections.append(_Section(f"Deferred to a later plan ({len(items)})", items))
    outputs = _changed_outputs(plan)
    if outputs:
        items = [
            f"{_code(name)} {action.value}{' (sensitive)' if sensitive else ''}"
            for name, action, sensitive in outputs
        ]
        sections.append(_Section(f"Changes to outputs ({len(items)})", items))
    return sections


def _markdown_item(rc: ResourceChange) -> str:
    """One change as a list item: the address in code, then notes and changed paths."""
    notes = [_md_text(note) for note in _notes(rc)]
    paths = _changed_paths(rc)
    if paths:
        notes.append(f"changes {_code(paths)}")
    return f"{_code(rc.address)} — {'; '.join(notes)}" if notes else _code(rc.address)


def _markdown_tail(plan: Plan) -> str:
    """A closing line pointing at the full output."""
    noops = len(plan.noops) - sum(1 for rc in plan.noops if rc.is_moved or rc.change.importing is not None)
    unchanged = f"{noops} unchanged object(s) not listed. " if noops else ""
    return f"<sub>{unchanged}Generated by tfkit.</sub>\n"


def _code(text: str) -> str:
    """A Markdown code span that survives backticks, HTML and newlines in ``text``."""
    text = _one_line(text)
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
    text = _one_line(text)
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, escaped)
    for char in "\\`*_[]|#":
        text = text.replace(char, "\\" + char)
    return text


# ----------------------------------------------------------------------------------------------- json


def summary_json(plan: Plan) -> dict[str, Any]:
    """A machine-readable summary (JSON-ready builtins): versions, counts, changes, drift and outputs."""
    summary = plan.summary()
    return {
        "format_version": plan.format_version,
        "terraform_version": plan.terraform_version,
        "timestamp": plan.timestamp,
        "applyable": plan.applyable,
        "complete": plan.complete,
        "errored": plan.errored,
        "has_changes": plan.has_changes,
        "empty_reason": plan.empty_reason.value if plan.empty_reason else None,
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
            "replace": summary.replace,
            "import": summary.import_,
            "forget": summary.forget,
            "move": summary.move,
            "read": summary.read,
            "noop": summary.noop,
        },
        "line": summary_line(summary),
        "resource_changes": [_change_json(rc) for rc in _listed(plan)],
        "drift": [{"address": rc.address, "action": rc.change.action.value} for rc in plan.drift],
        "deferred": [
            {
                "address": d.resource_change.address,
                "action": d.resource_change.action.value,
                "reason": d.reason,
            }
            for d in plan.deferred_changes
        ],
        "outputs": [
            {"name": name, "action": action.value, "sensitive": sensitive}
            for name, action, sensitive in _changed_outputs(plan)
        ],
    }


def _change_json(rc: ResourceChange) -> dict[str, Any]:
    """One listed change, without values."""
    return {
        "address": rc.address,
        "action": rc.change.action.value,
        "module_address": rc.module_address,
        "mode": rc.mode,
        "type": rc.type,
        "name": rc.name,
        "index": rc.index,
        "deposed": rc.deposed,
        "action_reason": rc.action_reason,
        "previous_address": rc.previous_address,
        "importing": rc.change.importing is not None,
        "replace_paths": [list(path) for path in rc.change.replace_paths],
    }
