"""Access rules open to the internet are HTTPS only (a per-resource policy of the example repository)."""

from __future__ import annotations

from collections.abc import Iterator

from tfkit.plan import ResourceChange
from tfkit.policy import Violation, policy

PUBLIC = ("0.0.0.0/0", "::/0")


@policy(
    id="REPO002",
    severity="soft",
    resources=lambda rc: rc.type == "terraform_data" and rc.name == "rule",
)
def public_ingress_is_https(rc: ResourceChange) -> Iterator[Violation]:
    """An access rule open to the whole internet must be HTTPS (TCP 443).

    Anything else reachable from everywhere (SSH, databases, admin ports) is how breaches start.
    """
    cidr = rc.change.after_value("input.cidr")
    port = rc.change.after_value("input.port")
    if cidr.is_known and cidr.value in PUBLIC and port.is_known and port.value != 443:
        yield Violation(f"rule opens port {port.value} to {cidr.value}; only 443 may be public", path="input")
