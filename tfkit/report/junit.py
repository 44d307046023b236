"""The JUnit XML report: one test suite per environment, one test case per check and resource.

A gate finding becomes ``<testcase classname="<env>.<check>" name="<address>">``: a ``<failure>``
when it fails the gate, ``<skipped>`` when a waiver covers it, passing otherwise (an advisory finding
passes and says so in ``<system-out>``). Drift gives one failing case per drifted resource, an error
that stopped an environment an ``<error>`` case, and an environment with nothing else to report one
case for the operation itself. The shape follows the Jenkins/Surefire ``junit-10.xsd``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from tfkit.findings import Finding
from tfkit.results import EnvironmentReport, Report

__all__ = ["render_junit"]

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters from keys or messages)."""
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True, slots=True)
class _Case:
    classname: str
    name: str
    outcome: str = "passed"  # passed, failure, error, skipped
    message: str = ""
    body: str = ""
    out: str = ""


def _finding_case(env: str, finding: Finding) -> _Case:
    name = finding.address or "(plan)"
    if finding.path:
        name = f"{name}.{finding.path}"
    classname = f"{env}.{finding.check_id}"
    if finding.passed:
        return _Case(classname, name)
    line = finding.one_line()
    if finding.blocking:
        return _Case(classname, name, "failure", finding.message, line)
    if finding.waived:
        return _Case(classname, name, "skipped", f"waived: {finding.waiver.reason if finding.waiver else ''}")
    return _Case(classname, name, out=line)


def _cases(entry: EnvironmentReport) -> list[_Case]:
    env = entry.environment
    cases: list[_Case] = []
    if entry.skipped is not None:
        cases.append(_Case(f"{env}.{entry.operation}", entry.operation, "skipped", entry.skipped))
    if entry.error is not None:
        cases.append(_Case(f"{env}.{entry.operation}", entry.operation, "error", entry.error, entry.error))
    if entry.gate is not None:
        cases += [_finding_case(env, f) for f in entry.gate.findings]
        cases += [_Case(f"{env}.gate", "gate", "error", e, e) for e in entry.gate.errors]
        cases += [_Case(f"{env}.{t}", t, "skipped", f"off: {w}") for t, w in sorted(entry.gate.off.items())]
    cases += [_Case(f"{env}.apply", "refused", "failure", r, r) for r in entry.refusals]
    cases += [_Case(f"{env}.terraform", "warning", out=w) for w in entry.warnings]
    if entry.drift is not None:
        result = entry.drift
        items = {i.address: i for i in (*result.to_return, *result.outside)}
        cases += [
            _Case(
                f"{env}.drift",
                address,
                "failure",
                f"differs from snapshot {result.snapshot}",
                item.one_line(),
            )
            for address, item in sorted(items.items())
        ]
        if not items:
            cases.append(_Case(f"{env}.drift", "no drift", out=result.summary()))
    if not cases:
        summary = entry.plan.summary() if entry.plan is not None else None
        note = (
            f"{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy"
            if summary
            else ""
        )
        cases.append(_Case(f"{env}.{entry.operation}", entry.operation, out=note))
    return cases


def _suite(parent: ET.Element, entry: EnvironmentReport) -> None:
    cases = _cases(entry)
    suite = ET.SubElement(
        parent,
        "testsuite",
        {
            "name": _clean(entry.environment),
            "tests": str(len(cases)),
            "failures": str(sum(c.outcome == "failure" for c in cases)),
            "errors": str(sum(c.outcome == "error" for c in cases)),
            "skipped": str(sum(c.outcome == "skipped" for c in cases)),
            "time": f"{entry.duration or 0:.3f}",
        },
    )
    for case in cases:
        attrs = {"classname": _clean(case.classname), "name": _clean(case.name), "time": "0"}
        element = ET.SubElement(suite, "testcase", attrs)
        if case.outcome != "passed":
            child = ET.SubElement(
                element, case.outcome, {"message": _clean(case.message), "type": case.outcome}
            )
            child.text = _clean(case.body) or None
        if case.out:
            ET.SubElement(element, "system-out").text = _clean(case.out)


def render_junit(report: Report) -> str:
    """The report as JUnit XML (``<testsuites>`` with one ``<testsuite>`` per environment)."""
    root = ET.Element("testsuites", {"name": f"tfkit {report.command}"})
    for entry in report.environments:
        _suite(root, entry)
    suites = root.findall("testsuite")
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
