"""The bad-input corpus: each case is a bad input and the one line, exit code and untouched files it gives.

Every case runs ``tfkit`` in-process (``invoke_tfkit``) in a small repository of its own and asserts what the
documentation promises for user errors (docs/exit-codes.md): exactly one line on stderr, starting with
``error:`` and naming the problem, the documented exit code, no traceback, and nothing written or changed
in the repository (no half-written store, lock or report). Add a case for every bad input found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from testsupport import PLANS, invoke_tfkit, make_manifest

#: The repository every case starts from; a case's files are written over it.
BASE_FILES: dict[str, str] = {
    "tfkit.toml": "[environments.dev]\n\n[environments.production]\nprotected = true\n",
    "envs/dev/main.tf": "",
    "envs/production/main.tf": "",
}

SNAPSHOT_ID = "20261207T000000000000Z-abcdef"
PLAN = PLANS / "terraform-json" / "basic-v0.1-modules-data-count.json"


def _toml(extra: str) -> dict[str, str]:
    """``tfkit.toml`` of the base repository plus ``extra``."""
    return {"tfkit.toml": BASE_FILES["tfkit.toml"] + extra}


def _manifest(**changes: object) -> str:
    """A complete, valid-looking manifest of dev's snapshot ``SNAPSHOT_ID`` with ``changes`` applied."""
    manifest = make_manifest("dev")
    data = {**json.loads(manifest.to_json()), "id": SNAPSHOT_ID, **changes}
    return json.dumps(data)


def _ledger_entry(**changes: object) -> str:
    entry = {
        "id": SNAPSHOT_ID,
        "environment": "dev",
        "kind": "apply",
        "snapshot": SNAPSHOT_ID,
        "time": "2026-12-07T00:00:00+00:00",
        "modules": {},
        "git_commit": None,
        "overrides": [],
    }
    return json.dumps({**entry, **changes})


@dataclass(frozen=True)
class Case:
    """One bad input: the files written over the base repository, the command, and what it must say."""

    id: str
    argv: tuple[str, ...]
    code: int
    fragment: str
    files: dict[str, str] = field(default_factory=dict)


def _lock_timeout(value: str) -> Case:
    return Case(
        f"lock-timeout-{value}", ("rollback", "--env", "dev", "--lock-timeout", value), 2, "lock timeout"
    )


_MANIFEST = f".tfkit/snapshots/dev/{SNAPSHOT_ID}/manifest.json"
_LEDGER = f".tfkit/ledger/dev/{SNAPSHOT_ID}.json"
_PARAM = "[environments.production.policies.TFK002]\nmax_destructive = {}\n"

CASES: list[Case] = [
    # --lock-timeout: finite, non-negative, at most 24h (tfkit.locks.MAX_LOCK_TIMEOUT).
    *(
        _lock_timeout(v)
        for v in ("inf", "nan", "1e400s", "99999999999999999999h", "-5s", "abc", "25h", "-inf", "", "s")
        if v  # an empty value means "do not wait": not an error
    ),
    Case(
        "lock-timeout-apply-nan", ("apply", "--env", "dev", "--lock-timeout", "nan"), 2, "lock timeout 'nan'"
    ),
    Case(
        "lock-timeout-promote-inf",
        ("promote", "--to", "production", "--lock-timeout", "inf"),
        2,
        "lock timeout 'inf'",
    ),
    Case(
        "store-terraform-lock-timeout-huge",
        ("envs",),
        2,
        "store.terraform_lock_timeout",
        _toml('[store]\nterraform_lock_timeout = "99999999999999999999h"\n'),
    ),
    Case(
        "store-terraform-lock-timeout-newline",
        ("envs",),
        2,
        "store.terraform_lock_timeout",
        _toml('[store]\nterraform_lock_timeout = "60s\\n"\n'),
    ),
    # Policy parameters: the type of their default, finite, not negative where the default is not.
    Case(
        "param-string-for-int",
        ("policies",),
        2,
        "max_destructive' must be an integer",
        _toml(_PARAM.format('"three"')),
    ),
    Case(
        "param-negative",
        ("policies",),
        2,
        "max_destructive' must not be negative",
        _toml(_PARAM.format("-5")),
    ),
    Case("param-inf", ("policies",), 2, "max_destructive' must be an integer", _toml(_PARAM.format("inf"))),
    Case(
        "param-float-for-int",
        ("policies",),
        2,
        "must be an integer, got float 2.5",
        _toml(_PARAM.format("2.5")),
    ),
    Case(
        "param-bool-for-int", ("policies",), 2, "must be an integer, got bool", _toml(_PARAM.format("true"))
    ),
    Case(
        "param-nan-threshold",
        ("policies",),
        2,
        "TFK005.threshold' must be a finite number",
        _toml("[policies.TFK005]\nthreshold = nan\n"),
    ),
    Case(
        "param-negative-threshold",
        ("policies",),
        2,
        "TFK005.threshold' must not be negative",
        _toml("[policies.TFK005]\nthreshold = -1.5\n"),
    ),
    Case(
        "param-string-for-list",
        ("policies",),
        2,
        "TFK006.keys' must be a list of str",
        _toml('[policies.TFK006]\nkeys = "owner"\n'),
    ),
    Case(
        "param-list-of-ints",
        ("policies",),
        2,
        "TFK006.keys' must be a list of str",
        _toml("[policies.TFK006]\nkeys = [1, 2]\n"),
    ),
    Case(
        "param-string-for-bool",
        ("policies",),
        2,
        "TFK101.exact' must be true or false",
        _toml('[policies.TFK101]\nexact = "yes"\n'),
    ),
    Case(
        "param-of-a-repository-policy",
        ("policies",),
        2,
        "ORG001.share' must be a number, got str '1%'",
        {
            **_toml('[policies.ORG001]\nshare = "1%"\n'),
            "policies/share.py": (
                "from tfkit.policy import policy\n\n\n"
                '@policy(id="ORG001", severity="soft", params={"share": 0.5})\n'
                "def share(plan):\n"
                '    """A repository policy with a float parameter."""\n'
                "    return []\n"
            ),
        },
    ),
    Case(
        "param-checked-by-check-not-a-finding",
        ("check", str(PLAN), "--env", "production"),
        2,
        "max_destructive' must not be negative",
        _toml(_PARAM.format("-5")),
    ),
    # Names: environments and secrets, no control characters, environments at most 63 characters.
    Case(
        "env-name-newline", ("envs",), 2, "invalid name 'dev\\n'", {"tfkit.toml": '[environments."dev\\n"]\n'}
    ),
    Case("env-name-tab", ("envs",), 2, "invalid name 'dev\\t'", {"tfkit.toml": '[environments."dev\\t"]\n'}),
    Case("env-name-256", ("envs",), 2, "(256 characters)", {"tfkit.toml": f"[environments.{'d' * 256}]\n"}),
    Case(
        "env-name-64", ("envs",), 2, "at most 63 characters", {"tfkit.toml": f"[environments.{'d' * 64}]\n"}
    ),
    Case(
        "secret-name-newline",
        ("envs",),
        2,
        "invalid name 'db\\n' under 'secrets'",
        _toml('[secrets."db\\n"]\nenv = "DB"\n'),
    ),
    Case(
        "secret-env-var-newline",
        ("envs",),
        2,
        "secrets.db.env",
        _toml('[secrets.db]\nenv = "DB\\n"\n'),
    ),
    # Snapshot ids that are not ids.
    Case(
        "snapshot-id-empty", ("snapshots", "show", ""), 2, "no snapshot with id ''", {_MANIFEST: _manifest()}
    ),
    Case(
        "snapshot-id-dot", ("snapshots", "show", "."), 2, "no snapshot with id '.'", {_MANIFEST: _manifest()}
    ),
    Case(
        "snapshot-id-nul", ("snapshots", "show", "a\0b"), 2, "no snapshot with id", {_MANIFEST: _manifest()}
    ),
    Case(
        "snapshot-id-parent",
        ("snapshots", "show", ".."),
        2,
        "no snapshot with id '..'",
        {_MANIFEST: _manifest()},
    ),
    # The local store's records: JSON of the wrong shape or with fields of the wrong type.
    Case(
        "manifest-array",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "corrupted snapshot manifest",
        {_MANIFEST: "[]"},
    ),
    Case(
        "manifest-modules-only",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "corrupted snapshot manifest",
        {_MANIFEST: '{"modules": "x"}'},
    ),
    Case(
        "manifest-modules-string",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "corrupted snapshot manifest (Expected `object`, got `str` - at `$.modules`)",
        {_MANIFEST: _manifest(modules="x")},
    ),
    Case(
        "manifest-serial-string",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "at `$.serial`",
        {_MANIFEST: _manifest(serial="three")},
    ),
    Case(
        "manifest-files-list",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "at `$.files`",
        {_MANIFEST: _manifest(files=["a"])},
    ),
    Case("ledger-array", ("status",), 2, "corrupted ledger entry", {_LEDGER: "[]"}),
    Case("ledger-modules-only", ("status",), 2, "corrupted ledger entry", {_LEDGER: '{"modules": "x"}'}),
    Case(
        "ledger-modules-string",
        ("status",),
        2,
        "corrupted ledger entry (Expected `object`, got `str` - at `$.modules`)",
        {_LEDGER: _ledger_entry(modules="x")},
    ),
    Case(
        "ledger-overrides-string",
        ("status",),
        2,
        "corrupted ledger entry",
        {_LEDGER: _ledger_entry(overrides="x")},
    ),
    Case(
        "ledger-overrides-not-objects",
        ("status",),
        2,
        "corrupted ledger entry",
        {_LEDGER: _ledger_entry(overrides=[1])},
    ),
    Case("health-array", ("status",), 2, "dev.json", {".tfkit/health/dev.json": "[]"}),
    Case(
        "health-status-number",
        ("status",),
        2,
        "at `$.status`",
        {".tfkit/health/dev.json": '{"environment": "dev", "status": 1, "since": ""}'},
    ),
    # tfkit.toml that cannot be parsed at all.
    Case(
        "toml-deeply-nested-inline-tables",
        ("envs",),
        2,
        "nested too deeply",
        {"tfkit.toml": "x = " + "{a = " * 10_000 + "1" + "}" * 10_000 + "\n[environments.dev]\n"},
    ),
    Case(
        "toml-deeply-nested-arrays",
        ("envs",),
        2,
        "nested too deeply",
        {"tfkit.toml": "x = " + "[" * 10_000 + "]" * 10_000 + "\n[environments.dev]\n"},
    ),
    # Plan files that are not files.
    Case("show-dev-zero", ("show", "/dev/zero"), 2, "/dev/zero: larger than 1024 MiB"),
    Case("show-directory", ("show", "envs"), 2, "is a directory"),
    Case("show-missing", ("show", "nope.json"), 2, "nope.json"),
]


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its content (None for a directory)."""
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_its_exit_code(case: Case, tmp_path: Path) -> None:
    for name, text in {**BASE_FILES, **case.files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    before = _tree(tmp_path)

    result = invoke_tfkit(*case.argv, cwd=tmp_path)

    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert case.fragment in lines[0], result.stderr
    assert result.returncode == case.code, result.stderr
    assert _tree(tmp_path) == before, "the failed command wrote or changed files"


def test_the_corpus_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
