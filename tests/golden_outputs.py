"""What tfkit prints and writes for a plan, as digests: the golden record of ``test_golden_outputs``.

For each recorded plan (the real-plan fixtures, the same with a canary planted at each sensitive value, the
recorded plans, the set and plan-truth fixtures) the digest of each output on a fresh secret registry: the
redacted document, the values registered as secrets, the review text with and without values, the Markdown,
the attribute changes, and ``mask_json`` of the plan and of its redaction (what Checkov and recordings get).
Recorded once from the code before a rewrite (``python tests/golden_outputs.py > FILE``), it proves the
rewrite writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "fixtures" / "golden" / "plan-outputs.json"


def inputs() -> Iterator[tuple[str, bytes]]:
    """(name, plan JSON bytes) of every plan the golden record covers, in a fixed order."""
    sys.path.insert(0, str(HERE))
    from test_plan import planted_with_canaries

    fixtures = HERE / "fixtures"
    for path in sorted((fixtures / "plans").glob("*/*.json")):
        name = f"{path.parent.name}/{path.name}"
        yield name, path.read_bytes()
        yield f"{name}+canaries", planted_with_canaries(path)[0]
    recorded = sorted((fixtures / "recorded").glob("*.json"))
    plans = [p for p in recorded if not p.name.startswith("modules-")]  # modules-*: module manifests
    for path in [*plans, *sorted(fixtures.glob("*/*.plan.json"))]:
        yield f"{path.parent.name}/{path.name}", path.read_bytes()
    for path in sorted((fixtures / "plan_truth").glob("*.json")):
        yield f"plan_truth/{path.name}", path.read_bytes()


def _digest(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:24]


def outputs(data: bytes, fresh_registry: Callable[[], Any]) -> dict[str, str]:
    """The digest of each output of one plan, computed on a fresh secret registry."""
    from tfkit import redact
    from tfkit.plan import load_plan
    from tfkit.report.markdown import render_plan_markdown
    from tfkit.report.text import render_plan_text

    fresh_registry()
    plan = load_plan(data)
    count = redact.register_plan_secrets(plan)
    registered = sorted(redact._secrets)
    changes = [
        [rc.address, [[list(c.path), repr(c.before), repr(c.after)] for c in rc.change.attribute_changes()]]
        for rc in plan.resource_changes
    ]
    return {
        "registered": f"{count}:{_digest(json.dumps(registered))}",
        "sensitive_values": _digest(json.dumps(sorted(plan.sensitive_values))),
        "redacted": _digest(plan.redacted()),
        "text": _digest(render_plan_text(plan)),
        "text_names": _digest(render_plan_text(plan, values=False)),
        "markdown": _digest(render_plan_markdown(plan)),
        "attribute_changes": _digest(json.dumps(changes)),
        "mask_json_raw": _digest(redact.mask_json(plan.raw)),
        "mask_json_redacted": _digest(redact.mask_json(plan.redacted())),
    }


def record(fresh_registry: Callable[[], Any]) -> dict[str, dict[str, str]]:
    """Every plan's outputs (``inputs``)."""
    return {name: outputs(data, fresh_registry) for name, data in inputs()}


def _clear_registry() -> None:
    """Empty the process's secret registry (only for recording, in a process of its own)."""
    from tfkit import redact

    redact._secrets.clear()
    redact._ordered = ()


if __name__ == "__main__":
    print(json.dumps(record(_clear_registry), indent=1, sort_keys=True))
