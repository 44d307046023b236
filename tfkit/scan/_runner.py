"""Run the Checkov program on one plan file, offline, and read its JSON report.

Offline means: ``BC_SKIP_MAPPING=TRUE`` and ``--skip-download`` (the only network use of a plain
run is the guidelines download from www.bridgecrew.cloud; either stops it), ``--skip-results-upload``,
and no platform credentials passed on (``BC_API_KEY``, ``PRISMA_API_URL``, ``BC_API_URL`` are removed
from its environment). When the executable is Checkov's console script, tfkit starts it through
``_checkov_main.py`` with the same interpreter as soon as a scan may be needed (``start_checkov``), so its
start-up overlaps tfkit's preparation; the plan and the same command line follow when ready, and the
check catalog comes back with it; the results come back in a file the helper writes instead of Checkov
printing its report (``_checkov_main.py``). Another executable runs as it is, once the plan is ready.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import shlex
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfkit.errors import ScanError
from tfkit.fsutil import private_temp
from tfkit.scan.cache import ResultCache
from tfkit.scan.settings import CheckovSettings

__all__ = [
    "CheckovRun",
    "Executable",
    "Hello",
    "StartedCheckov",
    "executable",
    "parse_report",
    "run_checkov",
    "start_checkov",
    "version",
]

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


def _environment(*, json_parser: bool = False) -> dict[str, str]:
    """Checkov's environment; ``json_parser``: it reads the plan file with its JSON parser.

    Checkov reads a plan with a pure-Python YAML loader, for line numbers (which tfkit never reports),
    unless the file is larger than ``CHECKOV_MAX_IAC_FILE_SIZE`` (50 MB by default): then with
    ``json.loads``, line numbers 0. At 0, every plan takes that path: 0.8 of 2.2 s CPU of the run on a
    261-resource plan, the results identical on every fixture plan (the parity test). Only for a plan
    tfkit wrote (strict JSON, no repeated key: ``json.loads`` accepts a repeated key that the YAML
    loader rejects as a parsing error, so a plan holding one goes to the CLI's own path).
    """
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env["BC_SKIP_MAPPING"] = "TRUE"
    env["PYTHONUNBUFFERED"] = "1"
    if json_parser:
        env["CHECKOV_MAX_IAC_FILE_SIZE"] = "0"
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


def _run(
    argv: Sequence[str], timeout: float, *, what: str, json_parser: bool = False
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=_environment(json_parser=json_parser),
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


def _crashed(returncode: int, stderr: str) -> ScanError:
    return ScanError(
        f"checkov crashed (exit {returncode}): {_tail(stderr) or 'no error output'}",
        stderr=stderr[-4000:],
        returncode=returncode,
    )


def _catalog_file(path: Path) -> dict[str, Any] | None:
    """The catalog Checkov's run wrote to ``path``, or None (not written, or not a catalog)."""
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) and "checks" in loaded else None


@dataclass(frozen=True, slots=True)
class Hello:
    """What a started Checkov says once its start-up is done: its version, and the built-in catalog."""

    version: str
    catalog: dict[str, Any] | None


class StartedCheckov:
    """A Checkov process started ahead of its input (``_checkov_main.py``), in a private directory.

    Its start-up (importing Checkov) runs while tfkit prepares the plan; ``scan`` then hands it the
    plan, ``cancel`` stops it when nothing is left to scan. ``settings.timeout`` counts from the start.
    ``json_parser``: it reads the plan with Checkov's JSON parser (``_environment``), so it is only
    handed a plan tfkit wrote.
    """

    def __init__(
        self, exe: Executable, settings: CheckovSettings, directory: Path, *, catalog: bool, json_parser: bool
    ) -> None:
        if exe.interpreter is None:
            raise ValueError("only Checkov's console script can be started ahead of its input")
        self.settings = settings
        self.directory = directory
        self.json_parser = json_parser
        self._deadline = time.monotonic() + settings.timeout
        # A copy beside the plan: run from tfkit/scan/, ``import checkov`` would find checkov.py there.
        helper = directory / "tfkit_checkov_main.py"
        helper.write_bytes(_HELPER.read_bytes())
        self._stdout = (directory / "stdout").open("w+b")
        self._stderr = (directory / "stderr").open("w+b")
        read_end, write_end = os.pipe()
        argv = [*exe.interpreter, str(helper), str(write_end), *(["--catalog"] if catalog else [])]
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=self._stdout,
                stderr=self._stderr,
                env=_environment(json_parser=json_parser),
                pass_fds=(write_end,),
            )
        except OSError as exc:
            os.close(read_end)
            self._close_files()
            raise ScanError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        finally:
            os.close(write_end)
        self._hello_fd: int | None = read_end
        self._hello: Hello | None = None

    def _remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def _stderr_text(self) -> str:
        self._stderr.flush()
        return (self.directory / "stderr").read_text("utf-8", "replace")

    def _timed_out(self) -> ScanError:
        self.cancel()
        err = self._stderr_text()
        return ScanError(
            f"checkov did not finish within {self.settings.timeout:g}s: {_tail(err)}", stderr=err[-4000:]
        )

    def hello(self) -> Hello:
        """Wait for the start-up to finish; a ``ScanError`` if Checkov died or took too long."""
        if self._hello is not None:
            return self._hello
        assert self._hello_fd is not None
        chunks: list[bytes] = []
        try:
            while True:
                ready, _, _ = select.select([self._hello_fd], [], [], self._remaining())
                if not ready:
                    raise self._timed_out()
                chunk = os.read(self._hello_fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(self._hello_fd)
            self._hello_fd = None
        try:
            doc = json.loads(b"".join(chunks))
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("version"), str):
            try:
                code = self._proc.wait(self._remaining())
            except subprocess.TimeoutExpired:
                raise self._timed_out() from None
            raise _crashed(code, self._stderr_text())
        catalog = doc.get("catalog")
        self._hello = Hello(
            doc["version"], catalog if isinstance(catalog, dict) and "checks" in catalog else None
        )
        return self._hello

    def scan(self, plan_json: bytes, *, catalog: bool) -> CheckovRun:
        """Scan ``plan_json`` (Checkov's CLI on it); with ``catalog``, also the catalog of the checks run."""
        hello = self.hello()  # read it first: Checkov writes it before it reads its input
        plan_file = self.directory / "plan.json"
        plan_file.touch(mode=0o600)  # owner-only, in an owner-only directory: it may hold sensitive values
        plan_file.write_bytes(plan_json)
        catalog_file = self.directory / "catalog.json"
        report_file = self.directory / "report.json"
        request = {
            "argv": _arguments(plan_file, self.settings),
            "catalog": str(catalog_file) if catalog else None,
            "report": str(report_file),  # the results without Checkov's printing (see _checkov_main)
        }
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(request).encode("utf-8"))
            self._proc.stdin.close()
        except OSError:
            pass  # it died: its exit status and stderr say why
        try:
            code = self._proc.wait(self._remaining())
        except subprocess.TimeoutExpired:
            raise self._timed_out() from None
        stderr = self._stderr_text()
        if code != 0:
            raise _crashed(code, stderr)
        try:
            report = report_file.read_bytes()
        except FileNotFoundError:  # the helper could not write it: Checkov's own output, if it printed
            self._stdout.flush()
            report = (self.directory / "stdout").read_bytes()
        results, found_version = parse_report(report, stderr=stderr)
        found_catalog = _catalog_file(catalog_file) if catalog else None
        return CheckovRun(results, found_version or hello.version, found_catalog)

    def cancel(self) -> None:
        """Stop the process if it still runs (nothing to scan, or an error): no input, no scan."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _close_files(self) -> None:
        self._stdout.close()
        self._stderr.close()

    def close(self) -> None:
        """Stop the process if needed and release its pipes and files."""
        self.cancel()
        if self._hello_fd is not None:
            os.close(self._hello_fd)
            self._hello_fd = None
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._close_files()


@contextlib.contextmanager
def start_checkov(
    exe: Executable, settings: CheckovSettings, *, catalog: bool, json_parser: bool
) -> Iterator[StartedCheckov]:
    """Start Checkov now (see ``StartedCheckov``); stopped and cleaned up at the end of the block.

    ``catalog``: its hello also carries the catalog of the built-in checks (no external directory).
    """
    with private_temp("checkov-") as tmp:
        started = StartedCheckov(exe, settings, tmp, catalog=catalog, json_parser=json_parser)
        try:
            yield started
        finally:
            started.close()


def run_checkov(
    exe: Executable,
    plan_json: bytes,
    settings: CheckovSettings,
    *,
    catalog: bool = True,
    json_parser: bool = False,
) -> CheckovRun:
    """Run Checkov on ``plan_json`` (with ``catalog``, also the catalog of its checks, which only
    Checkov's console script can tell; ``json_parser``: see ``_environment``); a ``ScanError`` if it
    crashes or prints no report."""
    if exe.interpreter is not None:
        with start_checkov(exe, settings, catalog=False, json_parser=json_parser) as started:
            return started.scan(plan_json, catalog=catalog)
    with private_temp("checkov-") as tmp:
        plan_file = Path(tmp) / "plan.json"
        plan_file.touch(mode=0o600)  # owner-only, in an owner-only directory: it may hold sensitive values
        plan_file.write_bytes(plan_json)
        proc = _run(
            [exe.path, *_arguments(plan_file, settings)],
            settings.timeout,
            what="checkov",
            json_parser=json_parser,
        )
        if proc.returncode != 0:
            raise _crashed(proc.returncode, proc.stderr)
        results, found_version = parse_report(proc.stdout, stderr=proc.stderr)
        return CheckovRun(results, found_version, None)


def parse_report(stdout: str | bytes, *, stderr: str = "") -> tuple[list[dict[str, Any]], str | None]:
    """Checkov's ``-o json`` output as normalised results; a ``ScanError`` if it is not a report."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else stdout
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
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
