"""Run the Checkov program on one plan file, offline, and read its JSON report.

Offline means: ``BC_SKIP_MAPPING=TRUE`` and ``--skip-download`` (the only network use of a plain
run is the guidelines download from www.bridgecrew.cloud; either stops it), ``--skip-results-upload``,
and no platform credentials passed on (``BC_API_KEY``, ``PRISMA_API_URL``, ``BC_API_URL`` are removed
from its environment). When the executable is Checkov's console script, tfkit runs it through
``_checkov_main.py`` with the same interpreter: the same command line, plus the check catalog.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfkit.errors import ScanError
from tfkit.fsutil import private_temp
from tfkit.scan.cache import ResultCache
from tfkit.scan.settings import CheckovSettings

__all__ = ["CheckovRun", "Executable", "executable", "parse_report", "run_checkov", "version"]

_HELPER = Path(__file__).with_name("_checkov_main.py")
_DROPPED_ENV = ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL", "CKV_API_KEY")
_STATUSES = {"passed_checks": "PASSED", "failed_checks": "FAILED", "skipped_checks": "SKIPPED"}


@dataclass(frozen=True, slots=True)
class Executable:
    """The checkov program: its path, and its Python interpreter if it is Checkov's console script."""

    path: str
    interpreter: tuple[str, ...] | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class CheckovRun:
    """What one Checkov run produced: normalised results, its version, and its check catalog."""

    results: list[dict[str, Any]]
    version: str | None
    catalog: dict[str, Any] | None


def executable(path: str) -> Executable:
    """Describe ``path``: a fingerprint (real path, size, mtime) and the interpreter of a console script."""
    real = Path(path).resolve()
    stat = real.stat()
    fingerprint = hashlib.sha256(f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    interpreter: tuple[str, ...] | None = None
    try:
        with real.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        head = ""
    first, _, rest = head.partition("\n")
    if first.startswith("#!") and "python" in first and "from checkov.main import" in rest:
        interpreter = tuple(shlex.split(first[2:].strip()))
    return Executable(str(real), interpreter, fingerprint)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["BC_SKIP_MAPPING"] = "TRUE"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _tail(text: str, lines: int = 3) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    joined = " | ".join(kept)
    return joined[-400:]


def version(exe: Executable, cache: ResultCache, timeout: float = 120.0) -> str:
    """Checkov's version, remembered per executable fingerprint (asking costs a second or more)."""
    known = cache.version(exe.fingerprint)
    if known:
        return known
    if exe.interpreter is not None:
        argv = [*exe.interpreter, "-c", "from checkov.version import version; print(version)"]
    else:
        argv = [exe.path, "--version"]
    proc = _run(argv, timeout, what="checkov --version")
    text = proc.stdout.strip().splitlines()[-1].strip() if proc.stdout.strip() else ""
    if proc.returncode != 0 or not text:
        raise ScanError(
            f"checkov --version failed (exit {proc.returncode}): {_tail(proc.stderr) or 'no output'}",
            stderr=proc.stderr[-4000:],
            returncode=proc.returncode,
        )
    cache.put_version(exe.fingerprint, text)
    return text


def _run(argv: Sequence[str], timeout: float, *, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=_environment(),
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise ScanError(
            f"{what} did not finish within {timeout:g}s: {_tail(err)}", stderr=err[-4000:]
        ) from None
    except OSError as exc:
        raise ScanError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None


def _arguments(plan_file: Path, settings: CheckovSettings) -> list[str]:
    args = ["-f", str(plan_file), "--framework", "terraform_plan", "-o", "json"]
    # --compact: no code blocks in the report (tfkit keeps none): less JSON to write and to read.
    args += ["--skip-download", "--skip-results-upload", "--soft-fail", "--compact"]
    if settings.checks:
        args += ["--check", ",".join(settings.checks)]
    if settings.skip_checks:
        args += ["--skip-check", ",".join(settings.skip_checks)]
    for directory in settings.external_checks_dirs:
        args += ["--external-checks-dir", str(directory)]
    return args


def run_checkov(exe: Executable, plan_json: bytes, settings: CheckovSettings) -> CheckovRun:
    """Run Checkov on ``plan_json``; a ``ScanError`` if it crashes or prints no report."""
    with private_temp("checkov-") as tmp:
        plan_file = Path(tmp) / "plan.json"
        plan_file.touch(mode=0o600)  # owner-only, in an owner-only directory: it may hold sensitive values
        plan_file.write_bytes(plan_json)
        catalog_file = Path(tmp) / "catalog.json"
        args = _arguments(plan_file, settings)
        if exe.interpreter is not None:
            # A copy beside the plan: run from tfkit/scan/, ``import checkov`` would find checkov.py here.
            helper = Path(tmp) / "tfkit_checkov_main.py"
            helper.write_bytes(_HELPER.read_bytes())
            argv = [*exe.interpreter, str(helper), str(catalog_file), *args]
        else:
            argv = [exe.path, *args]
        proc = _run(argv, settings.timeout, what="checkov")
        if proc.returncode != 0:
            raise ScanError(
                f"checkov crashed (exit {proc.returncode}): {_tail(proc.stderr) or 'no error output'}",
                stderr=proc.stderr[-4000:],
                returncode=proc.returncode,
            )
        results, found_version = parse_report(proc.stdout, stderr=proc.stderr)
        catalog = None
        if catalog_file.is_file():
            try:
                loaded = json.loads(catalog_file.read_bytes())
            except ValueError:
                loaded = None
            if isinstance(loaded, dict) and "checks" in loaded:
                catalog = loaded
        return CheckovRun(results, found_version or (catalog or {}).get("version"), catalog)


def parse_report(stdout: str, *, stderr: str = "") -> tuple[list[dict[str, Any]], str | None]:
    """Checkov's ``-o json`` output as normalised results; a ``ScanError`` if it is not a report."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        first = next((line.strip() for line in stdout.splitlines() if line.strip()), "")
        detail = f"it printed {first[:120]!r}" if first else "it printed nothing"
        raise ScanError(
            f"checkov produced no JSON report ({detail}): {_tail(stderr) or 'no error output'}",
            stderr=stderr[-4000:],
        ) from None
    reports = doc if isinstance(doc, list) else [doc]
    results: list[dict[str, Any]] = []
    found: str | None = None
    for report in reports:
        if not isinstance(report, dict):
            raise ScanError(f"checkov printed JSON that is not a report: {str(report)[:120]!r}")
        summary = report.get("summary", report)
        if not isinstance(summary, dict) or "passed" not in summary or "failed" not in summary:
            raise ScanError(
                f"checkov printed JSON that is not a report (keys: {', '.join(sorted(report))[:120]})"
            )
        found = found or summary.get("checkov_version")
        if summary.get("parsing_errors"):
            raise ScanError(
                f"checkov could not parse the plan ({summary['parsing_errors']} parsing error(s)): "
                f"{_tail(stderr, 1) or 'no error output'}",
                stderr=stderr[-4000:],
            )
        for key, status in _STATUSES.items():
            for entry in (report.get("results") or {}).get(key, ()) or ():
                results.append(_normalise(entry, status))
    return results, found


def _normalise(entry: dict[str, Any], status: str) -> dict[str, Any]:
    """The fields of one Checkov result that tfkit keeps (no code block, no line numbers)."""
    return {
        "check_id": str(entry.get("check_id") or ""),
        "check_name": str(entry.get("check_name") or ""),
        "result": status,
        "resource": str(entry.get("resource_address") or entry.get("resource") or ""),
        "severity": entry.get("severity"),
        "guideline": entry.get("guideline"),
        "evaluated_keys": list((entry.get("check_result") or {}).get("evaluated_keys") or []),
        "suppress_comment": (entry.get("check_result") or {}).get("suppress_comment"),
    }
