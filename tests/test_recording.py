"""What a snapshot stores of a plan, and why rollback compares in that same form."""

from __future__ import annotations

import json

from tfkit.plan import load_plan
from tfkit.recording import recorded_plan
from tfkit.redact import MASK, register_secret

SECRET = "recording-test-S3cr3t-91c4"


def _plan(user_data: str) -> bytes:
    change = {"actions": ["create"], "after": {"user_data": user_data, "size": 2}, "after_unknown": {}}
    rc = {"address": "a.b", "mode": "managed", "type": "a", "name": "b", "change": change}
    return json.dumps({"format_version": "1.2", "resource_changes": [rc]}).encode()


def test_a_registered_secret_is_masked_in_the_stored_plan_and_is_no_difference() -> None:
    register_secret(SECRET)
    plan = load_plan(_plan(f"pw={SECRET}"))
    stored = recorded_plan(plan)
    assert SECRET.encode() not in stored and MASK.encode() in stored
    recorded = load_plan(stored)
    # The raw plan differs from its own stored form at the masked value; compared as stored, it does not.
    assert [d.paths for d in plan.compare_planned_values(recorded)] == [("user_data",)]
    assert load_plan(recorded_plan(plan)).compare_planned_values(recorded) == ()
    changed = load_plan(recorded_plan(load_plan(_plan(f"pw={SECRET}").replace(b'"size": 2', b'"size": 3'))))
    assert [d.paths for d in changed.compare_planned_values(recorded)] == [("size",)]
