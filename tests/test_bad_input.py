"""The bad-input corpus: each case is a bad input and the one line, exit code and untouched files it gives.

Every case runs ``tfkit`` in-process (``invoke_tfkit``) in a small repository of its own and asserts what the
documentation promises for user errors (docs/exit-codes.md): exactly one line on stderr besides the progress
lines of an engine command ("tfkit: dev: init..."), starting with ``error:`` and naming the problem, the
documented exit code, no traceback, no secret (``absent``), and nothing written or changed in the
repository (no half-written store, lock or report; symlinks compared as links). Cases run the real engine
where Terraform is the one to find the problem (HCL, var files, state). Add a case for every bad input found.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
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
    """One bad input: the files written over the base repository, the command, and what it must say.

    ``setup`` makes what text files cannot be (a directory, a symlink, a mode) after the files are
    written; ``env`` is added to the command's environment; ``absent`` must appear in no output (a secret).
    """

    id: str
    argv: tuple[str, ...]
    code: int
    fragment: str
    files: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], object] | None = None
    env: dict[str, str] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


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


# ------------------------------------------------------------------------------ issue 19, the rest
# Snapshots recorded as tfkit records them (manifest, files, a ledger entry holding the manifest's digest),
# then attacked as issue 19 found possible. Each refusal comes before Terraform runs: nothing changes.

KEY = "a-signing-key-of-32-characters!!"
_LOCKS = {".tfkit/locks/dev.lock": "", ".tfkit/locks/production.lock": ""}  # a rollback takes its lock
_SNAPSHOT_FILES = {
    "bundle/envs/dev/main.tf": "",
    "variables.json": "{}",
    "plan.json": "{}",
    "gate.json": '{"evaluated": false}',
}


def _recorded(
    env: str = "dev",
    *,
    files: dict[str, str] | None = None,
    forge: dict[str, str] | None = None,
    stored_as: str | None = None,
    key: str | None = None,
    signature: str | None = None,
    ledger: bool = True,
) -> dict[str, str]:
    """The local store's files of snapshot ``SNAPSHOT_ID`` of ``env``, recorded, then ``forge``d: those files
    rewritten together with their digests in the manifest. ``stored_as`` puts it in another environment's
    place (its ledger entry too)."""
    from tfkit.integrity import sign
    from tfkit.ledger import new_entry
    from tfkit.snapshots import manifest_digest, seal

    contents = {**_SNAPSHOT_FILES, **(files or {})}
    raw = {name: text.encode() for name, text in contents.items()}
    base = replace(make_manifest(env), id=SNAPSHOT_ID, sensitive_variables=("db_password",))
    sealed = seal(base, raw)
    digest = manifest_digest(sealed.to_json())
    place = stored_as or env
    if key is not None:
        signature = sign(key.encode(), place, SNAPSHOT_ID, digest)
    entry = new_entry(
        place,
        kind="apply",
        snapshot=SNAPSHOT_ID,
        modules={},
        git_commit=None,
        manifest_digest=digest,
        signature=signature,
    )
    if forge:
        contents.update(forge)
        sealed = seal(sealed, {name: text.encode() for name, text in contents.items()})
    folder = f".tfkit/snapshots/{place}/{SNAPSHOT_ID}"
    out = {f"{folder}/{name}": text for name, text in contents.items()}
    out[f"{folder}/manifest.json"] = sealed.to_json().decode()
    if ledger:
        out[f".tfkit/ledger/{place}/{SNAPSHOT_ID}.json"] = json.dumps(_entry_json(entry))
    return {**out, **_LOCKS}


def _entry_json(entry: object) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(entry)  # type: ignore[call-overload]


def _rollback(env: str = "dev", *extra: str) -> tuple[str, ...]:
    return ("rollback", "--env", env, "--auto-approve", *extra)


def _mkdir(*names: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        for name in names:
            (root / name).mkdir(parents=True, exist_ok=True)

    return make


def _symlink(name: str, target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)

    return make


def _chmod(name: str, mode: int) -> Callable[[Path], None]:
    return lambda root: (root / name).chmod(mode)


_TAMPERED = "is not the one the ledger recorded when it was applied"
_ENGIN = BASE_FILES["tfkit.toml"] + "[engin]\nkind = 'embedded'\n"
_DENY = {
    "tfkit.toml": _ENGIN,
    "policies/deny.py": (
        "from tfkit.policy import Violation, policy\n\n\n"
        '@policy(id="ORG999", severity="hard")\n'
        "def deny(plan):\n"
        '    """Deny everything."""\n'
        '    return [Violation("denied")]\n'
    ),
}
_SECRET = "s3cr3t-canary-value-19"
_SECRET_TOML = _toml('[secrets.db_password]\nfile = ".secrets/db_password"\n')
_PG_URL = "postgresql://tfkit:pg-canary-password-19@127.0.0.1:1/tfkit?connect_timeout=2"

CASES += [
    # Tamper-evident snapshots (rollback, drift, snapshots show).
    Case(
        "tamper-planted-variables",
        _rollback(),
        2,
        _TAMPERED,
        _recorded(forge={"variables.json": '{"size": "huge"}'}),
    ),
    Case(
        "tamper-planted-local-exec",
        _rollback(),
        2,
        _TAMPERED,
        _recorded(forge={"bundle/envs/dev/exec.tf": 'resource "terraform_data" "x" {}\n'}),
    ),
    Case(
        "tamper-planted-backend-override",
        _rollback(),
        2,
        _TAMPERED,
        _recorded(forge={"bundle/envs/dev/zz_override.tf": 'terraform {\n  backend "local" {}\n}\n'}),
    ),
    Case(
        "tamper-drift-refuses-too",
        ("drift", "--env", "dev"),
        2,
        _TAMPERED,
        _recorded(forge={"variables.json": '{"size": "huge"}'}),
    ),
    Case(
        "tamper-truncated-newest-manifest",
        _rollback(),
        2,
        f"the newest snapshot of 'dev', {SNAPSHOT_ID}, cannot be used",
        {**_recorded(), f".tfkit/snapshots/dev/{SNAPSHOT_ID}/manifest.json": '{"id": "2026'},
    ),
    Case(
        "tamper-dev-manifest-in-production-folder",
        _rollback("production"),
        2,
        f"describes snapshot {SNAPSHOT_ID} of 'dev' but is stored as {SNAPSHOT_ID} of 'production'",
        _recorded(stored_as="production"),
    ),
    Case(
        "tamper-misplaced-manifest-show",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "(moved or tampered with)",
        _recorded(stored_as="production"),
    ),
    Case(
        "rollback-to-another-environments-snapshot",
        _rollback("production", "--to", SNAPSHOT_ID),
        2,
        "belongs to 'dev', not 'production'",
        _recorded(),
    ),
    Case(
        "rollback-to-an-unrecorded-snapshot",
        _rollback("dev", "--to", SNAPSHOT_ID),
        2,
        "the ledger has no record of it",
        _recorded(ledger=False),
    ),
    Case(
        "rollback-unrecorded-only",
        _rollback(),
        2,
        "no snapshot of 'dev' to roll back to",
        _recorded(ledger=False),
    ),
    Case(
        "tamper-unsigned-entry-with-a-key",
        _rollback(),
        2,
        "ledger entry is not signed",
        _recorded(),
        env={"TFKIT_SNAPSHOT_KEY": KEY},
        absent=(KEY,),
    ),
    Case(
        "tamper-forged-signature",
        _rollback(),
        2,
        "signature does not verify with TFKIT_SNAPSHOT_KEY",
        _recorded(signature="0" * 64),
        env={"TFKIT_SNAPSHOT_KEY": KEY},
        absent=(KEY,),
    ),
    Case(
        "tamper-signed-with-another-key",
        _rollback(),
        2,
        "signature does not verify",
        _recorded(key="another-key-of-32-characters!!!!"),
        env={"TFKIT_SNAPSHOT_KEY": KEY},
        absent=(KEY,),
    ),
    Case(
        "signing-key-too-short",
        _rollback(),
        2,
        "TFKIT_SNAPSHOT_KEY is too short",
        _recorded(key=KEY),
        env={"TFKIT_SNAPSHOT_KEY": "short-key"},
        absent=("short-key",),
    ),
    Case(
        "snapshot-holds-a-backend-override",
        _rollback(),
        2,
        "zz_override.tf is an override file that declares a backend",
        _recorded(files={"bundle/envs/dev/zz_override.tf": 'terraform {\n  backend "local" {}\n}\n'}),
    ),
    Case(
        "snapshot-holds-a-state-file",
        _rollback(),
        2,
        "terraform.tfstate is local data",
        _recorded(files={"bundle/envs/dev/terraform.tfstate": "{}"}),
    ),
    Case(
        "snapshot-holds-files-outside-the-environment",
        _rollback(),
        2,
        "envs/production/main.tf is in neither the environment's directory nor a recorded module",
        _recorded(files={"bundle/envs/production/main.tf": ""}),
    ),
    Case(
        "snapshot-holds-a-sensitive-value",
        _rollback(),
        2,
        "value for sensitive variable 'db_password'",
        _recorded(files={"variables.json": '{"db_password": "planted"}'}),
    ),
    Case(
        "snapshot-manifest-is-a-directory",
        ("snapshots", "show", SNAPSHOT_ID),
        2,
        "no readable manifest",
        setup=_mkdir(f".tfkit/snapshots/dev/{SNAPSHOT_ID}/manifest.json"),
    ),
    Case(
        "ledger-digest-a-number",
        ("status",),
        2,
        "corrupted ledger entry",
        {_LEDGER: _ledger_entry(manifest_digest=5)},
    ),
    # An invalid tfkit.toml never disables the repository's policies (issue 19's bypass).
    Case("invalid-config-check-is-not-no-repository", ("check", str(PLAN)), 2, "unknown key 'engin'", _DENY),
    Case("invalid-config-policies", ("policies",), 2, "unknown key 'engin'", _DENY),
    Case("invalid-config-scan", ("scan", str(PLAN)), 2, "unknown key 'engin'", _DENY),
    Case(
        "config-is-a-directory",
        ("check", str(PLAN)),
        2,
        "tfkit.toml: cannot read",
        setup=lambda root: ((root / "tfkit.toml").unlink(), (root / "tfkit.toml").mkdir()),
    ),
    Case(
        "config-dangling-symlink",
        ("policies",),
        2,
        "a symlink to a missing file",
        setup=lambda root: ((root / "tfkit.toml").unlink(), (root / "tfkit.toml").symlink_to("gone.toml")),
    ),
    Case(
        "config-not-utf8",
        ("envs",),
        2,
        "cannot read",
        setup=lambda r: (r / "tfkit.toml").write_bytes(b"\xff\xfe"),
    ),
    Case(
        "config-unknown-env-key",
        ("envs",),
        2,
        "unknown key 'environments.dev2.protect' (did you mean 'protected'?)",
        _toml("[environments.dev2]\nprotect = true\n"),
    ),
    Case(
        "config-protected-string",
        ("envs",),
        2,
        "protected",
        _toml('[environments.dev2]\nprotected = "yes"\n'),
    ),
    Case("config-engine-kind", ("envs",), 2, "engine.kind", _toml('[engine]\nkind = "docker"\n')),
    Case("config-snapshots-keep-negative", ("envs",), 2, "snapshots.keep", _toml("[snapshots]\nkeep = -1\n")),
    Case(
        "config-var-file-outside",
        ("plan", "--env", "dev"),
        2,
        "var file",
        _toml("") | {"tfkit.toml": '[environments.dev]\nvar_files = ["../../etc/passwd"]\n'},
    ),
    # Scanner and store settings: finite numbers only (TOML allows inf and nan).
    Case(
        "checkov-timeout-inf",
        ("policies",),
        2,
        "'checkov.timeout' must be a finite number",
        _toml("[checkov]\ntimeout = inf\n"),
    ),
    Case(
        "checkov-timeout-nan",
        ("check", str(PLAN)),
        2,
        "'checkov.timeout' must be a finite number",
        _toml("[checkov]\ntimeout = nan\n"),
    ),
    Case(
        "store-connect-timeout-inf",
        ("status",),
        2,
        "'store.connect_timeout' must be a finite number",
        _toml("[store]\nconnect_timeout = inf\n"),
    ),
    # Outputs and locks: one line, nothing replaced, nothing left behind.
    Case(
        "output-to-a-directory",
        ("check", str(PLAN), "-o", "json=out"),
        2,
        "it is a directory",
        setup=_mkdir("out"),
    ),
    Case("output-to-proc", ("check", str(PLAN), "-o", "json=/proc/tfkit-x"), 2, "cannot write /proc/tfkit-x"),
    Case(
        "output-in-a-missing-read-only-place",
        ("check", str(PLAN), "-o", "sarif=/proc/self/tfkit/x.sarif"),
        2,
        "cannot write /proc/self/tfkit/x.sarif",
    ),
    Case(
        "lock-file-is-a-directory",
        ("apply", "--env", "dev", "--auto-approve"),
        2,
        "cannot open the lock file of 'dev'",
        setup=_mkdir(".tfkit/locks/dev.lock"),
    ),
    Case(
        "locks-dir-is-a-file",
        ("rollback", "--env", "dev", "--auto-approve"),
        2,
        "cannot open the lock file of 'dev'",
        {".tfkit/locks": ""},
    ),
    Case(
        "lock-file-is-a-symlink",
        ("destroy", "--env", "dev", "--auto-approve"),
        2,
        "a symlink, which tfkit does not follow",
        {"precious.txt": "keep me"},
        setup=_symlink(".tfkit/locks/dev.lock", "../../precious.txt"),
    ),
    Case(
        "lock-file-dangling-symlink",
        ("apply", "--env", "dev", "--auto-approve"),
        2,
        "a symlink, which tfkit does not follow",
        setup=_symlink(".tfkit/locks/dev.lock", "/nonexistent/tfkit.lock"),
    ),
    # Secrets: never in output; a file others may read is an error in CI.
    Case(
        "secret-file-readable-in-ci",
        ("plan", "--env", "dev"),
        2,
        "is readable by others (mode 0644)",
        {**_SECRET_TOML, ".secrets/db_password": _SECRET},
        setup=_chmod(".secrets/db_password", 0o644),
        env={"CI": "true"},
        absent=(_SECRET,),
    ),
    Case(
        "secret-file-missing",
        ("plan", "--env", "dev"),
        2,
        "cannot read file .secrets/db_password",
        _SECRET_TOML,
    ),
    Case(
        "secret-file-empty",
        ("plan", "--env", "dev"),
        2,
        "is empty",
        {**_SECRET_TOML, ".secrets/db_password": ""},
        setup=_chmod(".secrets/db_password", 0o600),
    ),
    Case(
        "secret-file-is-a-directory",
        ("plan", "--env", "dev"),
        2,
        "secret variable 'db_password': cannot read",
        _SECRET_TOML,
        setup=_mkdir(".secrets/db_password"),
    ),
    Case(
        "secret-env-unset",
        ("plan", "--env", "dev"),
        2,
        "TFKIT_TEST_UNSET_SECRET is not set",
        _toml('[secrets.db_password]\nenv = "TFKIT_TEST_UNSET_SECRET"\n'),
    ),
    Case(
        "secret-command-fails",
        ("plan", "--env", "dev"),
        2,
        "secret variable 'db_password'",
        _toml(f'[secrets.db_password]\ncommand = ["sh", "-c", "echo {_SECRET} >&2; exit 3"]\n'),
        absent=(_SECRET,),
    ),
    # The store: its password never shown.
    Case(
        "store-unreachable-password-masked",
        ("status",),
        5,
        "127.0.0.1",
        env={"TFKIT_STORE_URL": _PG_URL},
        absent=("pg-canary-password-19",),
    ),
    Case(
        "store-url-not-postgresql",
        ("status",),
        2,
        "TFKIT_STORE_URL",
        env={"TFKIT_STORE_URL": "mysql://u:pg-canary-password-19@h/db"},
        absent=("pg-canary-password-19",),
    ),
    # CLI arguments.
    Case("unknown-environment", ("plan", "--env", "nope"), 2, "nope"),
    Case(
        "env-directory-missing",
        ("plan", "--env", "dev"),
        2,
        "envs/dev",
        setup=lambda r: (r / "envs/dev/main.tf").unlink() or (r / "envs/dev").rmdir(),
    ),
    Case("unknown-report-format", ("check", str(PLAN), "-o", "yaml=x.yaml"), 2, "yaml"),
    Case("rollback-to-unknown-id", _rollback("dev", "--to", "nope"), 2, "no snapshot with id 'nope'", _LOCKS),
    Case(
        "promote-first-environment",
        ("promote", "--to", "dev", "--auto-approve"),
        4,
        "is the first environment",
    ),
    # Plan JSON that is not a usable plan.
    Case(
        "show-empty-file",
        ("show", "empty.json"),
        2,
        "plan is not valid JSON: input data was truncated",
        {"empty.json": ""},
    ),
    Case(
        "show-not-json",
        ("show", "bad.json"),
        2,
        "plan is not valid JSON at line 1, column 2",
        {"bad.json": "{not json"},
    ),
    Case(
        "show-json-array",
        ("show", "list.json"),
        2,
        "malformed plan JSON at $: expected `object`, got `array`",
        {"list.json": "[]"},
    ),
    Case(
        "show-wrong-format-version",
        ("show", "v9.json"),
        2,
        "format_version",
        {"v9.json": '{"format_version": "9.0"}'},
    ),
    Case(
        "check-binary-garbage",
        ("check", "bin.json"),
        2,
        "plan is not valid JSON at line 1, column 1",
        setup=lambda r: (r / "bin.json").write_bytes(b"\x00\x01\xff" * 100),
    ),
    Case(
        "show-deeply-nested",
        ("show", "deep.json"),
        2,
        "nested too deeply",
        {
            "deep.json": '{"format_version": "1.2", "variables": '
            + '{"a": ' * 100_000
            + "1"
            + "}" * 100_000
            + "}"
        },
    ),
    # HCL and var files, planned by the real engine: configuration errors are exit 2.
    Case(
        "hcl-undeclared-variable",
        ("plan", "--env", "dev"),
        2,
        "Reference to undeclared input variable",
        {"envs/dev/main.tf": 'output "x" {\n  value = var.nope\n}\n'},
    ),
    Case(
        "hcl-missing-module-directory",
        ("plan", "--env", "dev"),
        2,
        "Unreadable module directory",
        {"envs/dev/main.tf": 'module "m" {\n  source = "../../modules/missing"\n}\n'},
    ),
    Case(
        "hcl-empty-environment",
        ("plan", "--env", "dev"),
        2,
        "No configuration files",
        setup=lambda r: (r / "envs/dev/main.tf").unlink(),
    ),
    Case(
        "hcl-syntax-error",
        ("validate", "--env", "dev"),
        2,
        "main.tf",
        {"envs/dev/main.tf": 'resource "x" {\n'},
    ),
    Case(
        "tfvars-syntax-error",
        ("plan", "--env", "dev"),
        2,
        "dev.tfvars:1: Invalid expression",
        {
            "tfkit.toml": '[environments.dev]\nvar_files = ["dev.tfvars"]\n',
            "envs/dev/main.tf": 'variable "a" {}\noutput "x" {\n  value = var.a\n}\n',
            "envs/dev/dev.tfvars": "a = = 1\n",
        },
    ),
    Case(
        "tfvars-missing",
        ("plan", "--env", "dev"),
        2,
        "dev.tfvars",
        {"tfkit.toml": '[environments.dev]\nvar_files = ["dev.tfvars"]\n'},
    ),
    # State.
    Case(
        "state-not-json",
        ("plan", "--env", "dev"),
        1,
        "Unsupported state file format: The state file could not be parsed as JSON",
        {"envs/dev/main.tf": 'output "x" {\n  value = 1\n}\n', "envs/dev/terraform.tfstate": "{not json"},
    ),
]


_PROGRESS = re.compile(r"tfkit: [^:]+: [a-z-]+(?: \(cached\))?\.\.\.")


def _tree(root: Path) -> dict[str, bytes | str | None]:
    """Every path under ``root`` with its content (None for a directory, the target for a symlink)."""
    return {
        p.relative_to(root).as_posix(): (
            f"-> {p.readlink()}" if p.is_symlink() else None if p.is_dir() else p.read_bytes()
        )
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_its_exit_code(case: Case, tmp_path: Path) -> None:
    for name, text in {**BASE_FILES, **case.files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if case.setup is not None:
        case.setup(tmp_path)
    before = _tree(tmp_path)

    result = invoke_tfkit(*case.argv, cwd=tmp_path, env=case.env)

    # progress lines ("tfkit: dev: init...") are not the error; the error is one line after them
    lines = [line for line in result.stderr.splitlines() if not _PROGRESS.fullmatch(line)]
    assert "Traceback" not in result.stderr + result.stdout
    for secret in case.absent:
        assert secret not in result.stderr + result.stdout
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert case.fragment in lines[0], result.stderr
    assert result.returncode == case.code, result.stderr
    assert _tree(tmp_path) == before, "the failed command wrote or changed files"


def test_the_corpus_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


# ------------------------------------------------------------------- file systems that refuse writes
# A read-only or full file system needs a mount: each case runs tfkit in a private mount namespace
# (``unshare -m``, as root), so the mounts vanish with it and the machine's own are never touched.


@dataclass(frozen=True)
class MountCase:
    """A bad file system: ``mounts`` (shell, ``{root}`` is the repository) made before tfkit runs, and
    ``after`` (shell) that must hold afterwards inside the namespace (nothing left half-written)."""

    id: str
    mounts: str
    argv: tuple[str, ...]
    code: int
    fragment: str
    after: str = "true"
    mountpoints: tuple[str, ...] = (".tfkit",)


_RO = "mount --bind {d} {d} && mount -o remount,bind,ro {d}"
MOUNT_CASES = [
    MountCase(
        "read-only-store",
        _RO.format(d="{root}/.tfkit"),
        ("apply", "--env", "dev", "--auto-approve"),
        2,
        "Read-only file system",
    ),
    MountCase(
        "read-only-repository-is-not-a-held-lock",
        _RO.format(d="{root}"),
        ("rollback", "--env", "dev", "--auto-approve"),
        2,
        "Read-only file system",
    ),
    MountCase(
        "full-disk-report",
        "mount -t tmpfs -o size=16k tmpfs {root}/out && head -c 16384 /dev/zero > {root}/out/fill",
        ("check", str(PLAN), "-o", "json={root}/out/report.json"),
        2,
        "No space left on device",
        after='[ "$(ls -A {root}/out)" = fill ]',
        mountpoints=("out",),
    ),
    MountCase(
        "full-disk-lock",
        "mount -t tmpfs -o size=4k,nr_inodes=2 tmpfs {root}/.tfkit",
        ("apply", "--env", "dev", "--auto-approve"),
        2,
        "cannot open the lock file of 'dev'",
    ),
]
needs_namespaces = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) and root")


def run_in_namespace(
    root: Path, mounts: str, argv: Sequence[str], after: str
) -> subprocess.CompletedProcess[str]:
    """``tfkit argv`` in a private mount namespace after ``mounts``; exit 99 if ``after`` fails."""
    tfkit = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "tfkit", *argv))
    script = "\n".join(
        (
            "set -e",
            mounts,
            f"cd {shlex.quote(str(root))}",
            "set +e",
            tfkit,
            "rc=$?",
            f"{after} || exit 99",
            "exit $rc",
        )
    )
    return subprocess.run(
        [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script.replace("{root}", shlex.quote(str(root))),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@needs_namespaces
@pytest.mark.parametrize("case", MOUNT_CASES, ids=[c.id for c in MOUNT_CASES])
def test_a_file_system_that_refuses_writes_is_one_line(case: MountCase, tmp_path: Path) -> None:
    for name, text in BASE_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    for name in case.mountpoints:
        (tmp_path / name).mkdir()
    before = _tree(tmp_path)
    argv = tuple(a.replace("{root}", str(tmp_path)) for a in case.argv)
    result = run_in_namespace(tmp_path, case.mounts, argv, case.after)
    lines = [line for line in result.stderr.splitlines() if not _PROGRESS.fullmatch(line)]
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == case.code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert case.fragment in lines[0], result.stderr
    assert _tree(tmp_path) == before


@needs_namespaces
def test_outputs_to_devices_leave_the_devices_in_place(tmp_path: Path) -> None:
    """Issue 19's probe as root: ``--out /dev/null`` and ``-o json=/dev/stdout`` on a private /dev."""
    for name, text in BASE_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    mounts = "mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && ln -s /proc/self/fd/1 /dev/stdout"
    devices_kept = (
        '[ -c /dev/null ] && [ -L /dev/stdout ] && [ -z "$(ls -A /dev | grep -v -x -e null -e stdout)" ]'
    )
    checked = run_in_namespace(
        tmp_path,
        mounts,
        ("check", str(PLAN), "-o", "json=/dev/null", "-o", "sarif=/dev/stdout"),
        devices_kept,
    )
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout[checked.stdout.index("{") :].split("\ngate ")[0])["version"] == "2.1.0"
    planned = run_in_namespace(tmp_path, mounts, ("plan", "--env", "dev", "--out", "/dev/null"), devices_kept)
    assert planned.returncode == 0, planned.stderr
    assert "wrote the redacted plan JSON to /dev/null" in planned.stderr


@needs_namespaces
def test_a_store_that_refuses_the_recording_after_terraform_applied_is_one_line(tmp_path: Path) -> None:
    """Issue 19: the snapshot write fails after Terraform applied (a read-only ``.tfkit/snapshots``):
    one line, exit 5, and the journal keeps the apply visible: the next command calls it unfinished."""
    for name, text in BASE_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "envs/dev/main.tf").write_text('resource "terraform_data" "x" {\n  input = 1\n}\n')
    (tmp_path / ".tfkit/snapshots").mkdir(parents=True)
    result = run_in_namespace(
        tmp_path,
        _RO.format(d="{root}/.tfkit/snapshots"),
        ("apply", "--env", "dev", "--auto-approve"),
        "true",
    )
    lines = [line for line in result.stderr.splitlines() if not _PROGRESS.fullmatch(line)]
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode == 5, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "was applied but could not be recorded" in lines[0] and "Read-only file system" in lines[0]
    assert (tmp_path / "terraform.tfstate").exists() or (tmp_path / "envs/dev/terraform.tfstate").exists()
    status = invoke_tfkit("status", cwd=tmp_path)
    assert status.returncode == 4, status.stderr
    assert "unfinished apply" in status.stdout + status.stderr
    assert not any((tmp_path / ".tfkit/snapshots").iterdir()), "no half-written snapshot"
