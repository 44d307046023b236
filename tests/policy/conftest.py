"""Fixtures of the policy tests: the built-in pack's hot loops run in C or in Python, and both are tested."""

from __future__ import annotations

import pytest

from tfkit.policy import _native

BUILD_HINT = "build it with `make setup` (a C compiler is needed) or `pip install -e .`"


@pytest.fixture(params=["C", "Python"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the C scanner (``tfkit.policy._scan``), then again with its Python form."""
    if request.param == "C":
        if _native.scanner is None:
            pytest.fail(f"tfkit.policy._scan (the C scanner) is not built: {BUILD_HINT}")
    else:
        monkeypatch.setattr(_native, "scanner", None)
    return request.param
