"""Drift: does an environment still match its last known stable state?

``drift(environment)`` plans the last passing snapshot's configuration and inputs against the
environment's current state, with refresh (``workflow.snapshot_session``). What Terraform found
changed outside of it is the plan's ``resource_drift``; what it would take to return to the snapshot
is the plan's changes. A resource removed from the state shows only as a change (Terraform no longer
knows it), a changed input only as a change too (``terraform_data`` has no remote object to refresh),
so both parts count. Attribute values are shown only when neither side is sensitive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfkit.errors import SnapshotError
from tfkit.plan import Action

if TYPE_CHECKING:
    from tfkit.plan import Plan, ResourceChange
    from tfkit.project import Environment
    from tfkit.workflow import RunOptions

__all__ = ["DriftItem", "DriftResult", "drift"]

_MAX_VALUE = 80


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One resource that differs: its address, the action, and the changed attribute lines."""

    address: str
    action: str
    changes: tuple[str, ...] = ()

    def one_line(self) -> str:
        """``address (action): path: before -> after; ...`` with sensitive values masked."""
        detail = f": {'; '.join(self.changes)}" if self.changes else ""
        return f"{self.address} ({self.action}){detail}"


@dataclass(frozen=True, slots=True)
class DriftResult:
    """What changed outside of Terraform since the last passing snapshot, and the way back."""

    environment: str
    snapshot: str
    plan: Plan
    outside: tuple[DriftItem, ...]
    to_return: tuple[DriftItem, ...]

    @property
    def has_drift(self) -> bool:
        """Anything changed outside Terraform, or anything to change to return to the snapshot."""
        return bool(self.outside or self.to_return)

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every drifted resource's address, sorted, each once."""
        return tuple(sorted({i.address for i in self.outside} | {i.address for i in self.to_return}))

    @property
    def fix(self) -> str | None:
        """The command that returns the environment to the snapshot, when there is drift."""
        return f"tfkit rollback --env {self.environment}" if self.has_drift else None

    def summary(self) -> str:
        """One line: the verdict, with the count and the fix when there is drift."""
        if not self.has_drift:
            return f"{self.environment}: no drift; it matches snapshot {self.snapshot}"
        return (
            f"{self.environment}: DRIFT on {len(self.addresses)} resource(s) since snapshot {self.snapshot}; "
            f"to return to it, run `{self.fix}`"
        )


def _shown(value: Any) -> str:
    """An attribute value as short text (already ``(sensitive)`` where Terraform marks it)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _item(rc: ResourceChange) -> DriftItem:
    changes: tuple[str, ...] = ()
    if rc.change.action in (Action.UPDATE, Action.DELETE_THEN_CREATE, Action.CREATE_THEN_DELETE):
        changes = tuple(
            f"{c.path_str}: {_shown(c.before)} -> {_shown(c.after)}" for c in rc.change.attribute_changes()
        )
    return DriftItem(rc.address, rc.change.action.value, changes)


def _changes(plan: Plan) -> tuple[ResourceChange, ...]:
    """The managed resources the plan changes (no no-op, no data source read)."""
    return tuple(
        rc
        for rc in plan.resource_changes
        if rc.mode == "managed" and rc.change.action not in (Action.NOOP, Action.READ)
    )


def drift(environment: Environment, options: RunOptions | None = None) -> DriftResult:
    """Plan the last passing snapshot against the current state (with refresh) and report drift.

    Raises ``SnapshotError`` (exit 2) when the environment has no snapshot yet.
    """
    from tfkit.store import open_store
    from tfkit.workflow import RunOptions, recorded_snapshot, snapshot_session

    options = options or RunOptions()
    with open_store(environment.project) as store:
        if not store.ledger.entries(environment.name):
            raise SnapshotError(
                f"no snapshot of '{environment.name}' to compare with; drift is measured against the last "
                f"successful apply: run `tfkit apply --env {environment.name}` first"
            )
        snapshot = recorded_snapshot(environment, store)
    with snapshot_session(environment, snapshot, options) as session:
        planned = session.plan()
    plan = planned.plan
    outside = tuple(_item(rc) for rc in plan.drift if rc.mode == "managed")
    to_return = tuple(_item(rc) for rc in _changes(plan))
    return DriftResult(environment.name, snapshot.id, plan, outside, to_return)
