"""Helpers of the store tests: manifests, records, a unique project id, and a child process holding a lock."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from testsupport import make_manifest

from tfkit.ledger import LedgerEntry, new_entry
from tfkit.snapshots import SnapshotManifest
from tfkit.store import Store
from tfkit.store.local import LocalStore
from tfkit.store.postgres import PostgresStore
from tfkit.store.settings import StoreSettings

REPO = Path(__file__).resolve().parents[2]


@dataclass
class StoreCase:
    """A store under test, and how a child process opens the same one (``kind``, ``where``, project)."""

    kind: str
    where: str
    settings: StoreSettings
    store: Store

    def reopen(self) -> Store:
        """A second, independent handle on the same store (another runner)."""
        if self.kind == "local":
            return LocalStore(Path(self.where), self.settings)
        return PostgresStore(self.settings)


FILES = {
    "bundle/envs/staging/main.tf": b'resource "terraform_data" "x" {}\n',
    "plan.json": b"{}",
    "gate.json": b'{"evaluated": false}',
}


def unique_project(prefix: str = "t") -> str:
    """A project id no other test uses, so tests can share one database."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"


def pg_settings(url: str, project: str | None = None) -> StoreSettings:
    return StoreSettings(url=url, project=project or unique_project())


manifest = make_manifest


def entry(m: SnapshotManifest) -> LedgerEntry:
    modules = {"modules/app": "d1"}
    return new_entry(m.environment, kind=m.kind, snapshot=m.id, modules=modules, git_commit="c0ffee")


#: A child that opens a store and holds an environment's lock (argv: kind where project env operation
#: timeout); prints ``held <pid>`` (or ``locked <message>``), then holds until its stdin closes.
HOLD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tfkit.errors import LockHeldError
    from tfkit.store.settings import StoreSettings
    kind, where, project, env, operation, timeout = sys.argv[1:7]
    if kind == "local":
        from tfkit.store.local import LocalStore
        store = LocalStore(Path(where), StoreSettings(url=None, project=project))
    else:
        from tfkit.store.postgres import PostgresStore
        store = PostgresStore(StoreSettings(url=where, project=project))
    with store:
        store.ledger.environments()  # connected (schema ensured) before the start signal
        print("ready", flush=True)
        sys.stdin.readline()  # the start signal
        try:
            with store.locks.hold(env, operation, timeout=float(timeout)) as me:
                print(f"held {me.pid}", flush=True)
                sys.stdin.read()
        except LockHeldError as exc:
            print(f"locked {exc}", flush=True)
    """
)


def start_holder(
    kind: str, where: str, project: str, env: str = "staging", operation: str = "apply", timeout: float = 0
) -> subprocess.Popen[str]:
    """A child ready to take the lock once a line is written to its stdin (it has printed ``ready``)."""
    env_vars = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, kind, where, project, env, operation, str(timeout)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env_vars,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def go(proc: subprocess.Popen[str]) -> None:
    """Send the start signal."""
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def outcome(proc: subprocess.Popen[str]) -> str:
    """The child's next line: ``held <pid>`` or ``locked <message>``."""
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def release(proc: subprocess.Popen[str]) -> int:
    """Close the child's stdin (it leaves its ``with`` block) and wait for it."""
    assert proc.stdin is not None
    proc.stdin.close()
    return proc.wait(timeout=60)
