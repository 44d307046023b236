"""``tfkit status``: health, last apply, and an exit code a CI step can stop on."""

from __future__ import annotations

from pathlib import Path

from testsupport import invoke_tfkit

from tfkit.ledger import LocalLedger, new_health


def test_status_exits_4_while_an_environment_is_unstable(example_repo: Path) -> None:
    fine = invoke_tfkit("status", cwd=example_repo)
    assert fine.returncode == 0 and "staging: stable; never applied" in fine.stdout

    ledger = LocalLedger(example_repo / ".tfkit")
    ledger.set_health(new_health("staging", stable=False, reason="apply failed: boom"))
    paused = invoke_tfkit("status", cwd=example_repo)
    assert paused.returncode == 4
    assert "staging: unstable: apply failed: boom" in paused.stdout
    as_json = invoke_tfkit("status", "--json", cwd=example_repo)
    assert as_json.returncode == 4 and '"unstable"' in as_json.stdout

    ledger.set_health(new_health("staging", stable=True, reason="rollback succeeded"))
    assert invoke_tfkit("status", cwd=example_repo).returncode == 0
