"""Plan outputs stay byte for byte what they were when the golden record was taken (``golden_outputs``).

The record was made from the code before the single-decode redaction and the linear review values; any
difference in a redacted document, a registered secret, the review text or Markdown, the attribute changes
or ``mask_json`` shows here, by plan and by output.
"""

from __future__ import annotations

import json

import pytest
from golden_outputs import GOLDEN, inputs, outputs

from tfkit import redact

RECORD: dict[str, dict[str, str]] = json.loads(GOLDEN.read_text())
CASES = list(inputs())


def test_the_record_covers_every_plan() -> None:
    assert sorted(RECORD) == sorted(name for name, _ in CASES)


@pytest.mark.parametrize(("name", "data"), CASES, ids=[name for name, _ in CASES])
def test_outputs_match_the_record(name: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def fresh_registry() -> None:
        monkeypatch.setattr(redact, "_secrets", set())
        monkeypatch.setattr(redact, "_ordered", ())

    assert outputs(data, fresh_registry) == RECORD[name]
