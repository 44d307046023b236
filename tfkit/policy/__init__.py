"""Policies: Python checks of plans, used by the gate, CI scripts and tests alike.

::

    from tfkit.policy import policy, Violation

    @policy(id="ORG001", severity="soft", envs=["staging", "production"])
    def backups_enabled(plan):
        \"\"\"Every service has a backup group in staging and production.\"\"\"
        ...
        yield Violation("no backup group", address=...)

``evaluate(plan, policies, env=...)`` returns a ``PolicyReport``; ``load_policies(project)`` gathers the
built-in pack (``tfkit.policy.builtin``), the repository's ``policies/`` and the ``tfkit.policies``
entry points; ``tfkit.policy.waivers`` reads ``[[waivers]]``.
"""

from __future__ import annotations

from tfkit.errors import PolicyDefinitionError
from tfkit.policy.api import Policy, PolicyContext, SkipPolicy, Violation, policy
from tfkit.policy.evaluate import PolicyReport, PolicyResult, Status, evaluate
from tfkit.policy.loader import ENTRY_POINT_GROUP, load_policies

__all__ = [
    "ENTRY_POINT_GROUP",
    "Policy",
    "PolicyContext",
    "PolicyDefinitionError",
    "PolicyReport",
    "PolicyResult",
    "SkipPolicy",
    "Status",
    "Violation",
    "evaluate",
    "load_policies",
    "policy",
]
