"""Whole-plan columns the built-in policies share, computed once per plan rather than once per policy.

On a plan of 50k changes every pass over the resource changes costs milliseconds (the objects are spread
over memory), so each column a policy reads (after values, their sensitivity and unknown masks) is gathered
once (``map`` with ``operator.attrgetter``: no Python loop per change) and kept with the plan
(``Plan.derived``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tfkit.policy._detect import Packed

if TYPE_CHECKING:
    import msgspec

    from tfkit.plan import Plan

__all__ = ["afters", "masks", "packed_afters", "per_plan", "unknowns"]

_T = TypeVar("_T")


def per_plan(plan: Plan, what: str, compute: Callable[[Plan], _T]) -> _T:
    """``compute(plan)``, once per plan for every policy that asks for ``what`` (kept with the plan)."""
    return plan.derived(("tfkit.policy", what), compute)


def _column(path: str) -> Callable[[Plan], list[Any]]:
    get = operator.attrgetter(path)
    return lambda plan: per_plan(plan, path, lambda p: list(map(get, p.resource_changes)))


afters: Callable[[Plan], list[msgspec.Raw]] = _column("change.after_raw")
"""Each resource change's ``after`` JSON text."""
masks: Callable[[Plan], list[msgspec.Raw]] = _column("change.after_sensitive_raw")
"""Each resource change's ``after_sensitive`` JSON text (the sensitivity mask of ``after``)."""
unknowns: Callable[[Plan], list[msgspec.Raw]] = _column("change.after_unknown_raw")
"""Each resource change's ``after_unknown`` JSON text (what ``after`` leaves out, known only after apply)."""


def packed_afters(plan: Plan) -> Packed:
    """The ``after`` values of the plan's resource changes in one buffer, for whole-plan scans."""
    return per_plan(plan, "packed afters", lambda p: Packed(afters(p)))
