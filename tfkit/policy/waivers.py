"""Waivers from ``[[waivers]]`` in tfkit.toml, and applying them to findings.

::

    [[waivers]]
    policy = "TFK001"                          # a policy id or a scanner check id (CKV_AWS_20)
    address = 'module.access.terraform_data.rule["dns-*"]'   # a tfkit.addresses pattern; default "*"
    reason = "planned credential rotation, CHG-1234"
    expires = 2026-10-31                       # a TOML date (or "YYYY-MM-DD")
    environments = ["production"]              # optional: only there

A waiver is valid through its expiry date. An expired waiver that still matches a finding fails the gate
and says so (a stale exception must be renewed or removed, never silently kept); hard findings cannot be
waived, and a waiver that tries is reported too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tfkit.errors import ConfigError
from tfkit.findings import Finding, Severity, Waiver

if TYPE_CHECKING:
    from tfkit.project import Project

__all__ = ["apply_waivers", "load_waivers", "parse_waiver"]


def _date(value: Any, where: str, path: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(
        f"{path}: {where}.expires must be a date such as 2026-12-31, got {type(value).__name__}",
        file=path,
        key=f"{where}.expires",
    )


def parse_waiver(raw: Any, where: str, path: str) -> Waiver:
    """One ``[[waivers]]`` table as a ``Waiver`` (one-line ``ConfigError`` when it is incomplete)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where} must be a table", file=path, key=where)
    for key in ("policy", "reason", "expires"):
        if key not in raw or (isinstance(raw[key], str) and not raw[key].strip()):
            raise ConfigError(f"{path}: {where} needs '{key}'", file=path, key=f"{where}.{key}")
    environments = raw.get("environments", ())
    return Waiver(
        check_id=str(raw["policy"]),
        address=str(raw.get("address", "*")),  # a tfkit.addresses pattern (Waiver.matches)
        reason=str(raw["reason"]).strip(),
        expires=_date(raw["expires"], where, path),
        environments=tuple(str(e) for e in environments),
    )


def load_waivers(project: Project) -> list[Waiver]:
    """Every waiver in the project's tfkit.toml, in file order."""
    raw = project.config.waivers
    path = str(project.config.path)
    waivers = [parse_waiver(item, f"waivers[{i}]", path) for i, item in enumerate(raw)]
    for i, waiver in enumerate(waivers):
        unknown = [e for e in waiver.environments if e not in project.names]
        if unknown:
            raise ConfigError(
                f"{path}: waivers[{i}].environments names unknown environment '{unknown[0]}'; "
                f"known: {', '.join(project.names)}",
                file=path,
                key=f"waivers[{i}].environments",
            )
    return waivers


def apply_waivers(
    findings: Iterable[Finding],
    waivers: Sequence[Waiver],
    *,
    environment: str | None,
    today: dt.date,
) -> tuple[list[Finding], list[str]]:
    """Mark each failed finding with the waiver that covers it; return the findings and the gate errors.

    An unexpired waiver wins over an expired one for the same finding. Errors: an expired waiver that
    matched a finding, and a waiver that matched a hard finding (which stays blocking).
    """
    out: list[Finding] = []
    errors: dict[str, None] = {}
    for finding in findings:
        if finding.passed or not waivers:
            out.append(finding)
            continue
        matching = [w for w in waivers if w.matches(finding, environment)]
        if not matching:
            out.append(finding)
            continue
        waiver = next((w for w in matching if not w.expired(today)), matching[0])
        where = finding.address or "(plan)"
        if finding.severity is Severity.HARD:
            errors[
                f"waiver for {finding.check_id} on {where} cannot apply: {finding.check_id} is a hard policy "
                "and hard findings cannot be waived; fix the change instead"
            ] = None
            out.append(finding)
            continue
        if waiver.expired(today):
            errors[
                f"waiver for {finding.check_id} on {where} expired on {waiver.expires.isoformat()} "
                f"({waiver.reason}); renew it with a new expiry date or remove it from tfkit.toml"
            ] = None
        out.append(finding.with_waiver(waiver, today))
    return out, list(errors)
