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
  compact), which it parses faster than the plan itself, and with its JSON parser rather than its
  YAML loader (``tfkit.scan._runner._environment``: the path it takes itself for files over 50 MB;
  same results, no line numbers, which tfkit never reports); a plan with a repeated JSON key, which
  Checkov refuses to parse, goes as it is and whole to the CLI's own path (unless its view is
  cached), so it fails as with the CLI.
* **Cache.** Each unit (resource, or the providers) has a key: sha256 of the Checkov version, the check
  settings (checks, skip_checks, the content of every custom check directory), the unit's own inputs
  to Checkov (address, type, planned values, configuration references, actions, changed keys) and the
  digests of every unit in its reference component. Results are stored per key under
  ``.tfkit/cache/checkov`` (one SQLite file for the units, written in one transaction per scan:
  ``tfkit.scan.cache``); a scan sends Checkov only the components with a missing key, and none whose
  resource types no enabled check looks at (known from the check catalog: recorded by the first run,
  or told by Checkov itself at start-up). An unchanged plan therefore starts no Checkov at all, and is
  one look-up: the results of a whole plan are kept too, keyed by the settings and a digest of the
  parts of the plan Checkov reads (``tfkit.scan.units.view_digest``, taken from the bytes undecoded),
  so a re-plan of unchanged infrastructure (a new timestamp, the same resources) reads one file.
* **Start-up.** A first scan (an executable or settings the cache has not seen) starts Checkov before
  tfkit reads the plan (``tfkit.scan._runner.start_checkov``): its start-up, most of a small scan's
  time, overlaps tfkit's preparation (a plan found cached after all stops it at once), and without
  external checks directories it tells the built-in check catalog, so even the first scan leaves out
  what no check looks at (a plan of such resources only is not scanned at all; the providers unit
  counts only for provider checks of the provider names it configures). Checkov then runs its own
  command line on the plan: results as with the CLI. ``[checkov] timeout`` counts from the start.
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

import contextlib
import difflib
import fnmatch
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfkit.bundle import directory_digest
from tfkit.errors import ScanConfigError
from tfkit.findings import Finding, Severity
from tfkit.redact import mask_bytes, mask_json
from tfkit.scan._runner import (
    CheckovRun,
    Executable,
    StartedCheckov,
    executable,
    run_checkov,
    start_checkov,
    version,
)
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
    view_digest,
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
            # Checkov runs a provider check on the providers whose ``name`` it was written for.
            if not unit.providers or "" in unit.providers:
                return any(t.startswith("provider:") for t in self.exact)
            return any(self._has(f"provider:{name}") for name in unit.providers)
        return self._has(unit.type.removeprefix("data."))

    def _has(self, kind: str) -> bool:
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


@dataclass
class _Scan:
    """What one scan collects: the results so far, and the units cached, skipped and still to send."""

    results: list[dict[str, Any]]
    cached: int = 0
    skipped: int = 0
    runs: int = 0
    keys: dict[str, str] = field(default_factory=dict)
    groups: list[frozenset[str]] = field(default_factory=list)
    units: int = 0
    #: False for a plan Checkov got as it is (a repeated key): its results are not kept.
    cacheable: bool = True

    @property
    def sent(self) -> frozenset[str]:
        return frozenset(a for g in self.groups for a in g)


def scan_plan(plan: Plan, settings: CheckovSettings, *, file: str | None = None) -> ScanReport:
    """Scan ``plan`` with Checkov under ``settings`` (see the module docs); ``file`` names its source."""
    start = time.perf_counter()
    exe: Executable = executable(find_checkov(settings))
    cache = ResultCache(settings.cache_dir)
    # The whole plan's key: what Checkov reads of it, with every registered secret masked in the text
    # (so no secret enters a key; masking the text is a tenth of masking the decoded document).
    masked = mask_bytes(plan.raw)
    view = view_digest(masked)
    with _Checkov(exe, settings) as checkov:
        known = cache.version(exe.fingerprint)
        if known is None:  # this Checkov never ran with this cache: most likely a first scan
            checkov.start()
        checkov_version = known or version(exe, cache)  # a quick question, beside the start-up
        settings_key = _settings_key(settings, checkov_version)
        scan = _cached_view(cache, settings_key, view)  # one file for the whole plan, nothing decoded
        if scan is None:
            # No secret tfkit knows reaches Checkov's input file; a plan holding none goes as it is.
            clear_free = plan.raw if masked == plan.raw else mask_json(plan.raw)
            scan = _scan_units(checkov, cache, settings_key, clear_free)
            if view is not None and scan.cacheable:
                entry = {
                    "results": scan.results,
                    "cached": scan.units - scan.skipped,
                    "skipped": scan.skipped,
                }
                cache.put_plan(_view_key(settings_key, view), entry)
    findings = [_finding(r, settings, file) for r in scan.results]
    findings.sort(key=lambda f: (f.address or "", f.check_id, f.passed))
    findings.extend(deleted_findings(plan.resource_changes, settings.deleted_data))
    return ScanReport(
        tool="checkov",
        version=checkov_version,
        findings=tuple(findings),
        duration=time.perf_counter() - start,
        executable=exe.path,
        sent=tuple(sorted(a for a in scan.sent if a != PROVIDERS)),
        cached=scan.cached,
        skipped=scan.skipped,
        runs=scan.runs,
    )


def _view_key(settings_key: str, view: str) -> str:
    return _sha(["plan", settings_key, view])


def _cached_view(cache: ResultCache, settings_key: str, view: str | None) -> _Scan | None:
    """The results of the whole plan, when a plan with this view was scanned under these settings."""
    entry = None if view is None else cache.plan(_view_key(settings_key, view))
    if entry is None or not isinstance(entry.get("results"), list):
        return None
    skipped = int(entry.get("skipped", 0))
    return _Scan(entry["results"], cached=int(entry.get("cached", 0)), skipped=skipped)


class _Checkov:
    """The Checkov of one scan: started ahead of its input when asked (``start``), else run when needed.

    Started, its start-up (most of a small scan) overlaps tfkit's preparation; without external checks
    directories it also tells the built-in check catalog. Stopped at the end of the block if unused.
    """

    def __init__(self, exe: Executable, settings: CheckovSettings) -> None:
        self.exe = exe
        self.settings = settings
        self._stack = contextlib.ExitStack()
        self._started: StartedCheckov | None = None

    def __enter__(self) -> _Checkov:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def start(self) -> None:
        """Start Checkov now, if it is Checkov's console script and is not started yet.

        It will read the plan with Checkov's JSON parser (``tfkit.scan._runner._environment``): it is
        handed only a reduced plan tfkit wrote; ``run_whole`` does not use it.
        """
        if self._started is None and self.exe.interpreter is not None:
            builtin = not self.settings.external_checks_dirs
            self._started = self._stack.enter_context(
                start_checkov(self.exe, self.settings, catalog=builtin, json_parser=True)
            )

    def builtin_catalog(self) -> dict[str, Any] | None:
        """The catalog a started Checkov told (waits for its start-up); None if not started or not told."""
        return self._started.hello().catalog if self._started is not None else None

    def run(self, payload: bytes, *, catalog: bool) -> CheckovRun:
        """Scan ``payload``, a reduced plan tfkit wrote (with ``catalog``: also the catalog of the
        checks that ran)."""
        if self._started is not None:
            return self._started.scan(payload, catalog=catalog)
        return run_checkov(self.exe, payload, self.settings, catalog=catalog, json_parser=True)

    def run_whole(self, plan_json: bytes) -> CheckovRun:
        """Scan a plan as it is, exactly as Checkov's CLI reads it (a started Checkov is stopped)."""
        if self._started is not None:
            self._started.cancel()
        return run_checkov(self.exe, plan_json, self.settings, catalog=False, json_parser=False)


def _scan_units(checkov: _Checkov, cache: ResultCache, settings_key: str, clear_free: bytes) -> _Scan:
    """Look the plan up unit by unit and send Checkov the components that miss.

    When the catalog of the settings is not known yet (a first scan), Checkov is started before the
    plan is read, so that its start-up overlaps tfkit's work; without external checks directories it
    tells the built-in catalog, by which this very scan leaves out what no enabled check looks at.
    """
    settings = checkov.settings
    catalog = cache.catalog(settings_key)
    if catalog is None:
        checkov.start()
    doc, repeated_key = read_plan(clear_free)
    units = parse_units(doc)
    if repeated_key:
        # Checkov's CLI rejects a document with a repeated key (a parsing error), which no reduced
        # plan would show: it gets the plan as it is, whole, and nothing of it is cached.
        run = checkov.run_whole(clear_free)
        return _Scan(run.results, runs=1, groups=[frozenset(units)], units=len(units), cacheable=False)
    parts = components(units)
    if catalog is None:
        catalog = checkov.builtin_catalog()
        if catalog is not None:
            cache.put_catalog(settings_key, catalog)
    scan = _lookup(cache, settings, settings_key, catalog, units, parts)
    if scan.groups:
        payload = build_reduced_plan(doc, scan.sent)  # only what Checkov reads, secrets masked
        run = checkov.run(payload, catalog=catalog is None)
        _record(cache, settings, settings_key, catalog, units, scan, run)
    return scan


def _lookup(
    cache: ResultCache,
    settings: CheckovSettings,
    settings_key: str,
    catalog: Mapping[str, Any] | None,
    units: Mapping[str, Unit],
    parts: list[frozenset[str]],
) -> _Scan:
    """Each component's results from the cache; the components that miss are left to send."""
    types: _Types | None = None
    if catalog is not None:
        _validate_ids(catalog, settings)
        types = _enabled_types(catalog, settings)
    scan = _Scan([], units=len(units))
    wanted: list[frozenset[str]] = []
    for component in parts:
        if types is not None and not any(types.covers(units[a]) for a in component):
            scan.skipped += len(component)
            continue
        component_digest = _sha(sorted(units[a].digest for a in component))
        for address in component:
            scan.keys[address] = _sha([settings_key, units[address].digest, component_digest])
        wanted.append(component)
    hits = cache.results_of(scan.keys.values())  # one look-up for every unit
    for component in wanted:
        if all(scan.keys[a] in hits for a in component):
            scan.cached += len(component)
            scan.results.extend(r for a in component for r in hits[scan.keys[a]])
        else:
            scan.groups.append(component)
    return scan


def _record(
    cache: ResultCache,
    settings: CheckovSettings,
    settings_key: str,
    catalog: Mapping[str, Any] | None,
    units: Mapping[str, Unit],
    scan: _Scan,
    run: CheckovRun,
) -> None:
    """Add a Checkov run's results to ``scan`` and to the cache, and the catalog it brought."""
    scan.runs = 1
    if run.catalog is not None:
        cache.put_catalog(settings_key, run.catalog)  # first, so a bad id fails fast next time
        _validate_ids(run.catalog, settings)
        catalog = catalog or run.catalog
    types = _enabled_types(catalog, settings) if catalog is not None else None
    grouped, orphans = _group(run.results, scan.sent)
    # A component no enabled check looks at is skipped by the next scan before any look-up (the
    # catalog is recorded now), so its empty results are not written: one entry less per resource.
    ignored = {
        a for g in scan.groups if types is not None and not any(types.covers(units[u]) for u in g) for a in g
    }
    cache.put_many_results({scan.keys[a]: found for a, found in grouped.items() if found or a not in ignored})
    scan.results.extend(r for unit_results in grouped.values() for r in unit_results)
    scan.results.extend(orphans)
