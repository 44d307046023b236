"""What every format says about a plan: which changes are listed, in what order, in which words.

The renderers of this package are organised by format (``text``, ``markdown``, ``json``, ...); a plan is
shown in three of them, so what they must agree on lives here once: the changes a reader is shown, the
order and symbol of each action, the words for Terraform's reasons, and Terraform's own summary line.
Only addresses, actions, reasons, attribute paths and output names: never a value.
"""

from __future__ import annotations

from collections.abc import Iterable

from tfkit.plan import Action, ActionInvocation, Plan, PlanSummary, ResourceChange, format_path

__all__ = [
    "DRIFT",
    "MAX_PATHS",
    "ORDER",
    "REASON",
    "SYMBOL",
    "TITLE",
    "change_notes",
    "changed_outputs",
    "changed_paths",
    "check_problems",
    "drift_text",
    "empty_text",
    "grouped",
    "invocation_text",
    "listed_changes",
    "one_line",
    "summary_line",
]

ORDER = (
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
SYMBOL = {
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
TITLE = {
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
REASON = {
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
DRIFT = {Action.UPDATE: "has changed", Action.DELETE: "has been deleted"}
INVOKE = "!"
"""The symbol of an action invocation (Terraform prints none; tfkit lists them beside changes)."""
MAX_PATHS = 5


def summary_line(summary: PlanSummary) -> str:
    """Terraform's own summary line: ``Plan: [N to import, ]X to add, Y to change, Z to destroy.``

    With action invocations, Terraform (1.14+) adds `` Actions: N to invoke.``
    """
    imports = f"{summary.import_} to import, " if summary.import_ else ""
    actions = f" Actions: {summary.invoke} to invoke." if summary.invoke else ""
    line = f"{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."
    return f"Plan: {imports}{line}{actions}"


def listed_changes(plan: Plan) -> list[ResourceChange]:
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


def change_notes(rc: ResourceChange) -> list[str]:
    """What to say about a change beyond its address: reason, replace paths, move, import, deposed."""
    notes = []
    if rc.action_reason:
        notes.append(REASON.get(rc.action_reason, rc.action_reason))
    if rc.change.replace_paths:
        paths = ", ".join(format_path(p) for p in rc.change.replace_paths[:MAX_PATHS])
        notes.append(f"forces replacement: {paths}")
    if rc.is_moved:
        notes.append(f"moved from {rc.previous_address}")
    if rc.change.importing is not None:
        imported = rc.change.importing.id
        notes.append(f"imported from {imported}" if imported else "imported")
    if rc.deposed:
        notes.append(f"deposed object {rc.deposed}, left over from a partially-failed replacement")
    return notes


def changed_paths(rc: ResourceChange) -> str:
    """For an in-place update, the attribute paths that change (paths only, never values)."""
    if rc.change.action is not Action.UPDATE:
        return ""
    paths = [change.path_str for change in rc.change.attribute_changes()]
    if not paths:
        return ""
    more = f", +{len(paths) - MAX_PATHS} more" if len(paths) > MAX_PATHS else ""
    return ", ".join(paths[:MAX_PATHS]) + more


def grouped(changes: Iterable[ResourceChange]) -> dict[str, dict[Action, list[ResourceChange]]]:
    """Changes by module (``""`` for the root, first) and then by action, in Terraform's action order."""
    by_module: dict[str, dict[Action, list[ResourceChange]]] = {"": {}}
    for rc in changes:
        by_module.setdefault(rc.module_address or "", {}).setdefault(rc.change.action, []).append(rc)
    return {
        module: {action: actions[action] for action in ORDER if action in actions}
        for module, actions in by_module.items()
        if actions
    }


def empty_text(plan: Plan) -> str:
    """Terraform's words for a plan without listed changes, never "matches" when the plan says otherwise."""
    if plan.errored:
        return "Planning failed: Terraform encountered an error while generating this plan."
    if plan.is_refresh_only:
        return _refresh_only_text(plan)
    if plan.deferred_changes or plan.deferred_action_invocations:
        return "No current changes. This plan requires another plan to be applied first."
    if plan.action_invocations:
        return (
            f"No resource changes; applying this plan invokes {len(plan.action_invocations)} action(s). "
            + summary_line(plan.summary())
        )
    if plan.has_changes:
        return "Only outputs change: applying this plan saves their new values and changes no infrastructure."
    if plan.drift:
        return (
            "No changes. Your infrastructure matches the configuration, which already matches the "
            f"{len(plan.drift)} change(s) made outside of Terraform listed above."
        )
    reason = plan.empty_reason
    detail = f" ({reason.value})" if reason is not None else ""
    return f"No changes. Your infrastructure matches the configuration.{detail}"


def _refresh_only_text(plan: Plan) -> str:
    """What applying a refresh-only plan would do, in Terraform's words."""
    if plan.drift:
        return (
            f"Refresh-only plan: {len(plan.drift)} object(s) changed outside of Terraform. Applying it "
            "records their current values in the Terraform state without changing any remote objects."
        )
    if plan.has_changes:
        return (
            "Refresh-only plan: applying it saves the new output values to the Terraform state, "
            "without changing any real infrastructure."
        )
    return "No changes. Your infrastructure still matches the configuration. (refresh-only)"


def drift_text(rc: ResourceChange) -> str:
    """What happened to an object outside of Terraform: changed, deleted, moved (from where)."""
    moved = f"from {rc.previous_address}" if rc.is_moved else ""
    if rc.change.action is Action.NOOP:
        return f"has moved {moved}" if moved else "is unchanged"
    what = DRIFT.get(rc.change.action, rc.change.action.value)
    deposed = f" (deposed object {rc.deposed})" if rc.deposed else ""
    return f"{what}{deposed}{f', moved {moved}' if moved else ''}"


def check_problems(plan: Plan) -> list[tuple[str, str, str]]:
    """Every check instance that did not pass, as every format shows it: status, object, message."""
    return [
        (o.status, one_line(o.address), one_line(o.message or _NO_MESSAGE[o.status == "unknown"]))
        for o in plan.check_outcomes
    ]


_NO_MESSAGE = {False: "(no message)", True: "not known until apply"}


def invocation_text(invocation: ActionInvocation) -> str:
    """An action invocation: its address and what triggers it."""
    return f"{one_line(invocation.address)}  ({one_line(invocation.trigger)})"


def changed_outputs(plan: Plan) -> list[tuple[str, Action, bool]]:
    """The outputs that change: name, action, whether sensitive; sorted by name as Terraform does."""
    return [
        (name, change.action, change.is_sensitive)
        for name, change in sorted(plan.output_changes.items())
        if change.action is not Action.NOOP
    ]


def one_line(text: str) -> str:
    """Text safe to put on one line (for_each keys may hold newlines)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
