"""Checkov on a plan: run as a separate program, offline, cached by content, typed as ``Finding``\\ s.

* **Isolation.** Checkov pins its own ``hcl2`` fork, so it never runs in tfkit's environment: the
  executable is ``[checkov] command``, else ``TFKIT_CHECKOV``, else ``checkov`` on PATH
  (``tfkit.scan.settings.find_checkov``); see ``tfkit.scan._runner`` for how it is kept offline.
* **Input.** The plan's own bytes, or, when they hold a secret tfkit read from a source, the plan with
  each such secret masked (``mask_json``: strings only, so the document keeps its shape). Other values
  Terraform marks sensitive stay: some checks read them (CKV_GCP_38 fails on a redacted
  ``disk_encryption_key_raw``), so the file Checkov reads is owner-only
  in tfkit's private run directory (``tfkit.fsutil.run_directory``), removed after the scan and swept
  by the next run if tfkit is killed. Checkov gets a reduced plan JSON holding exactly the entries of
  the units to scan and only the parts of the plan it reads (``tfkit.scan.units``; no ``prior_state``,
  compact), which it parses faster than the plan itself; a plan with a repeated JSON key, which
  Checkov refuses to parse, goes as it is when it is scanned whole, so it fails as with the CLI.
* **Cache.** Each unit (resource, or the providers) has a key: sha256 of the Checkov version, the check
  settings (checks, skip_checks, the content of every custom check directory), the unit's own inputs
  to Checkov (address, type, planned values, configuration references, actions, changed keys) and the
  digests of every unit in its reference component. Results are stored per key under
  ``.tfkit/cache/checkov``; a scan sends Checkov only the components with a missing key, and none whose
  resource types no enabled check looks at (known from the check catalog recorded by the first run).
  An unchanged plan therefore starts no Checkov at all.
* **Deleted resources.** Checkov skips pure deletes (its issue #5587); ``tfkit.scan.deleted`` reports
  each one: ``TFKIT_DEL_1`` for data-holding resources (soft by default: fails the gate unless
  waived), ``TFKIT_DEL_2`` (advisory) for the others.
* **Severity.** A failed check is SOFT when its Checkov severity (``UNKNOWN`` when it has none, as
  every built-in check offline) is in ``[checkov] fail_on`` (default: all), ADVISORY otherwise.
* **Errors.** Checkov missing, a bad custom check directory, an unknown check id: ``ScanConfigError``
  (exit 2). Checkov crashing, timing out or printing no report: ``ScanError`` (exit 1) with the tail of
  its stderr. No result is dropped: one that names no resource of the plan is still a finding.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tfkit.bundle import directory_digest
from tfkit.errors import ScanConfigError
from tfkit.findings import Finding, Severity
from tfkit.redact import mask_bytes, mask_json
from tfkit.scan._runner import Executable, executable, run_checkov, version
from tfkit.scan.cache import ResultCache
from tfkit.scan.deleted import deleted_findings
from tfkit.scan.report import ScanReport
from tfkit.scan.settings import CheckovSettings, find_checkov
from tfkit.scan.units import (
    PROVIDERS,
    Unit,
    build_reduced_plan,
    components,
    parse_units,
    read_plan,
)

if TYPE_CHECKING:
    from tfkit.plan import Plan

__all__ = ["scan_plan"]


def _sha(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _settings_key(settings: CheckovSettings, checkov_version: str) -> str:
    return _sha(
        {
            "version": checkov_version,
            "settings": settings.check_key(),
            "dirs": [directory_digest(d) for d in settings.external_checks_dirs],
        }
    )


def _validate_ids(catalog: Mapping[str, Any], settings: CheckovSettings) -> None:
    """Every id (or glob) in ``checks`` and ``skip_checks`` must name a check Checkov knows."""
    known = sorted(catalog.get("checks", {}))
    for key, ids in (("checks", settings.checks), ("skip_checks", settings.skip_checks)):
        for check_id in ids:
            if not any(fnmatch.fnmatchcase(k, check_id) for k in known):
                close = difflib.get_close_matches(check_id, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ScanConfigError(
                    f"checkov.{key}: unknown check id '{check_id}'{hint}; `checkov --list` shows the ids",
                    key=f"checkov.{key}",
                )


@dataclass(frozen=True, slots=True)
class _Types:
    """The resource types at least one enabled check looks at: exact names, and globs."""

    exact: frozenset[str]
    globs: tuple[str, ...]

    def covers(self, unit: Unit) -> bool:
        if unit.address == PROVIDERS:
            return any(t.startswith("provider:") for t in self.exact)
        kind = unit.type.removeprefix("data.")
        return kind in self.exact or any(fnmatch.fnmatchcase(kind, g) for g in self.globs)


def _enabled_types(catalog: Mapping[str, Any], settings: CheckovSettings) -> _Types:
    """What the enabled checks (``checks`` minus ``skip_checks``) of the catalog look at."""
    types: set[str] = set()
    for check_id, entry in catalog.get("checks", {}).items():
        if settings.checks and not any(fnmatch.fnmatchcase(check_id, c) for c in settings.checks):
            continue
        if any(fnmatch.fnmatchcase(check_id, c) for c in settings.skip_checks):
            continue
        types.update(entry.get("types", ()))
    globs = tuple(sorted(t for t in types if any(c in t for c in "*?[")))
    return _Types(frozenset(types) - set(globs), globs)


def _finding(result: Mapping[str, Any], settings: CheckovSettings, file: str | None) -> Finding:
    status = result["result"]
    severity_name = result.get("severity")
    name = result.get("check_name") or result["check_id"]
    message = f"{name} [{severity_name}]" if severity_name else name
    severity = settings.severity_of(severity_name)
    if status == "SKIPPED":
        severity = Severity.ADVISORY
        message = f"skipped by Checkov: {result.get('suppress_comment') or name}"
    return Finding(
        source="checkov",
        check_id=result["check_id"],
        severity=severity,
        message=message,
        address=result.get("resource") or None,
        name=name,
        file=file,
        guideline=result.get("guideline") or None,
        passed=status == "PASSED",
    )


def _group(results: Iterable[dict[str, Any]], sent: frozenset[str]) -> tuple[dict[str, list[Any]], list[Any]]:
    """Results by sent unit; results naming no resource go to the providers unit, else are orphans."""
    grouped: dict[str, list[Any]] = {a: [] for a in sent}
    orphans: list[Any] = []
    for result in results:
        address = result.get("resource", "")
        if address in grouped and address != PROVIDERS:
            grouped[address].append(result)
        elif PROVIDERS in grouped:
            grouped[PROVIDERS].append(result)
        else:
            orphans.append(result)
    return grouped, orphans


def scan_plan(plan: Plan, settings: CheckovSettings, *, file: str | None = None) -> ScanReport:
    """Scan ``plan`` with Checkov under ``settings`` (see the module docs); ``file`` names its source."""
    start = time.perf_counter()
    exe: Executable = executable(find_checkov(settings))
    cache = ResultCache(settings.cache_dir)
    checkov_version = version(exe, cache)
    settings_key = _settings_key(settings, checkov_version)
    # No secret tfkit read from a source reaches Checkov's input file; a plan holding none goes as it is.
    clear_free = plan.raw if mask_bytes(plan.raw) == plan.raw else mask_json(plan.raw)
    doc, repeated_key = read_plan(clear_free)
    units = parse_units(doc)
    catalog = cache.catalog(settings_key)
    types: _Types | None = None
    if catalog is not None:
        _validate_ids(catalog, settings)
        types = _enabled_types(catalog, settings)

    keys: dict[str, str] = {}
    results: list[dict[str, Any]] = []
    groups: list[frozenset[str]] = []
    cached = skipped = 0
    for component in components(units):
        if types is not None and not any(types.covers(units[a]) for a in component):
            skipped += len(component)
            continue
        component_digest = _sha(sorted(units[a].digest for a in component))
        hits: list[list[dict[str, Any]] | None] = []
        for address in component:
            keys[address] = _sha([settings_key, units[address].digest, component_digest])
            hits.append(cache.results(keys[address]))
        if all(h is not None for h in hits):
            cached += len(component)
            results.extend(r for h in hits for r in h or ())
        else:
            groups.append(component)

    sent = frozenset(a for g in groups for a in g)
    runs = 0
    if sent:
        # Checkov gets only what it reads (secrets masked); a document with a repeated key goes as it
        # is when it is sent whole, so that Checkov rejects it as its own CLI does.
        whole = sent == frozenset(units) and not skipped
        run = run_checkov(
            exe, clear_free if whole and repeated_key else build_reduced_plan(doc, sent), settings
        )
        runs = 1
        if run.catalog is not None:
            cache.put_catalog(settings_key, run.catalog)  # first, so a bad id fails fast next time
            _validate_ids(run.catalog, settings)
            types = types or _enabled_types(run.catalog, settings)
        grouped, orphans = _group(run.results, sent)
        # A component no enabled check looks at is skipped by the next scan before any look-up (the
        # catalog is recorded now), so its empty results are not written: one file less per resource.
        ignored = {
            a for g in groups if types is not None and not any(types.covers(units[u]) for u in g) for a in g
        }
        cache.put_many_results({keys[a]: found for a, found in grouped.items() if found or a not in ignored})
        results.extend(r for unit_results in grouped.values() for r in unit_results)
        results.extend(orphans)

    findings = [_finding(r, settings, file) for r in results]
    findings.sort(key=lambda f: (f.address or "", f.check_id, f.passed))
    findings.extend(deleted_findings(plan.resource_changes, settings.deleted_data))
    return ScanReport(
        tool="checkov",
        version=checkov_version,
        findings=tuple(findings),
        duration=time.perf_counter() - start,
        executable=exe.path,
        sent=tuple(sorted(a for a in sent if a != PROVIDERS)),
        cached=cached,
        skipped=skipped,
        runs=runs,
    )
