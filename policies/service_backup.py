"""The example repository's own rules, written with tfkit's policy API (loaded from ``policies/``)."""

from __future__ import annotations

from collections.abc import Iterator

from tfkit.plan import Plan
from tfkit.policy import Violation, policy


@policy(id="REPO001", severity="soft", envs=["staging", "production"])
def service_has_backup(plan: Plan) -> Iterator[Violation]:
    """Every service keeps a backup (failover) group in staging and production.

    A service without its failover group is one host failure away from an outage; dev may skip it.
    """
    for primary in plan.by_type("terraform_data"):
        if primary.name != "primary" or primary.change.action.is_destructive or primary.change.after is None:
            continue
        prefix = f"{primary.module_address}." if primary.module_address else ""
        backup = plan.resource(f"{prefix}terraform_data.backup[0]")
        if backup is None or backup.change.action.is_destructive:
            yield Violation("service has no backup group; set backup_enabled = true", address=primary.address)
