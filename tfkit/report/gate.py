"""Render a ``GateResult`` as text grouped by severity: one greppable line per finding, then the verdict.

Only ids, addresses, paths and messages are printed (findings never carry values); the CLI masks the text
once more on its way out.
"""

from __future__ import annotations

from tfkit.findings import Finding, Severity
from tfkit.gate import GateResult

__all__ = ["render_gate_text", "render_text", "verdict_line"]

_HEADINGS = {
    Severity.HARD: "hard (cannot be waived)",
    Severity.SOFT: "soft (fail unless waived)",
    Severity.ADVISORY: "advisory (reported only)",
}


def _location(finding: Finding) -> str:
    if finding.file is None:
        return ""
    return f"  ({finding.file}:{finding.line})" if finding.line is not None else f"  ({finding.file})"


def verdict_line(result: GateResult) -> str:
    """``gate passed|FAILED for <env>: N hard, N soft, N advisory, N waived, N passed``."""
    failed = [f for f in result.findings if not f.passed]
    counts = {s: sum(1 for f in failed if f.severity is s and not f.waived) for s in Severity}
    waived = sum(1 for f in failed if f.waived)
    passed = sum(1 for f in result.findings if f.passed)
    env = f" for {result.environment}" if result.environment else ""
    word = "passed" if result.passed else "FAILED"
    parts = [f"{counts[s]} {s.value}" for s in (Severity.HARD, Severity.SOFT, Severity.ADVISORY)]
    parts += [f"{waived} waived", f"{passed} passed"]
    errors = f", {len(result.errors)} error(s)" if result.errors else ""
    return f"gate {word}{env}: {', '.join(parts)}{errors}"


def render_text(result: GateResult, *, details: bool = False) -> str:
    """The findings grouped by severity (hard first), gate errors, and the verdict line.

    With ``details``, each finding also names its source and the scanners that ran are listed.
    """
    lines: list[str] = []
    for severity in (Severity.HARD, Severity.SOFT, Severity.ADVISORY):
        group = sorted(result.by_severity(severity), key=lambda f: (f.check_id, f.address or ""))
        if not group:
            continue
        lines.append(f"{_HEADINGS[severity]}:")
        source = (lambda f: f" [{f.source}]") if details else (lambda f: "")
        lines.extend(f"  {f.one_line()}{source(f)}{_location(f)}" for f in group)
    if result.errors:
        lines.append("gate errors:")
        lines.extend(f"  {e}" for e in result.errors)
    if details:
        for tool, version in sorted(result.tools.items()):
            took = result.timings.get(tool)
            lines.append(f"scanner: {tool} {version}" + (f" ({took:.2f}s)" if took is not None else ""))
    lines.append(verdict_line(result))
    return "\n".join(lines)


def render_gate_text(result: GateResult) -> str:
    """``render_text`` with each finding's source, then the scanners that ran (name, version, seconds).

    Each finding line reads ``SEVERITY CHECK_ID ADDRESS: message [source]``, so ``grep CKV_AWS_20`` or
    ``grep module.service`` finds it.
    """
    return render_text(result, details=True)
