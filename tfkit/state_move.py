"""Move one environment's Terraform state between its local file and the store's database, exactly.

``tfkit store migrate`` calls ``move_state`` for each environment whose state lives elsewhere with the
target store, under tfkit's lock of the environment in both stores. The state keeps its lineage and
serial and arrives byte for byte, so every snapshot taken before the move still rolls back.

Why not Terraform's own migration (``init -migrate-state -force-copy``, or ``state push``): into the pg
backend both give the state a new lineage and serial 1 (measured with Terraform 1.11.4 and the embedded
1.15.5). The pg backend lists ``default`` as existing before its row does, so no row is created first,
and ``remote.State.PersistState`` then re-reads the absent row, which resets the lineage and serial that
``WriteStateForMigration`` had set; into an existing row it keeps the lineage but adds one to the serial.
A new lineage makes every earlier snapshot a ``LineageMismatchError``. So tfkit lets Terraform create
the backend's schema and table (``init`` through the ``Engine``), writes the state document into the
backend's ``<schema>.states`` row itself while holding the advisory lock Terraform's pg backend takes
for that row, and has Terraform read it back (``state pull``) to verify lineage, serial and resources.

Safe to re-run: a state already where it belongs is skipped (a copy left by an interrupted run, equal
to the source, is completed); a target holding a different non-empty state is refused, nothing
overwritten. The source is removed only after the copy is verified: the local ``terraform.tfstate``
and its ``.backup`` (an older state of the same lineage that Terraform would otherwise offer to
migrate again), or the database row.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfkit.errors import RefusedError, SnapshotError
from tfkit.fsutil import atomic_write, private_temp
from tfkit.store.terraform_state import local_state_path, pg_state, state_document, state_row
from tfkit.workflow import RunOptions, Session

if TYPE_CHECKING:
    from tfkit.project import Environment
    from tfkit.store.settings import StoreSettings
    from tfkit.store.terraform_state import PgState

__all__ = ["move_state"]


def move_state(
    environment: Environment, source: StoreSettings, target: StoreSettings, options: RunOptions
) -> str:
    """Move the environment's state from where ``source`` keeps it to where ``target`` does; one line.

    A local file and a store's database are moved between (an environment with its own backend keeps
    it), two databases too. Raises ``RefusedError`` when the target holds a different state,
    ``SnapshotError`` when the copy does not read back the same, ``LockHeldError`` when a Terraform run
    holds the state's lock.
    """
    into = pg_state(target, environment.directory, environment.name)
    out_of = pg_state(source, environment.directory, environment.name)
    if out_of is None and into is not None:
        path = local_state_path(environment)
        line, moved = _into_database(environment, target, into, options, _read(path), str(path))
        if moved:
            _remove_local(path)
            line += f"; local {path.name} removed"
        return line
    if out_of is not None and into is None:
        return _out_of_database(environment, source, out_of, target, options)
    if out_of is not None and into is not None:
        timeout = max(options.lock_timeout, out_of.lock_timeout)
        where = f"schema {out_of.schema} of {source.describe()}"
        with state_row(source, out_of.schema, timeout=timeout) as row:
            if row is not None and (raw := row.read()) is not None:
                line, moved = _into_database(environment, target, into, options, raw, where)
                if moved:
                    row.delete()
                    line += f"; removed from {where}"
                return line
        # No source row: nothing to hold (its creation key would block the target's in one database).
        return _into_database(environment, target, into, options, None, where)[0]
    return "stays where it is"


def _summary(document: dict[str, Any]) -> str:
    return (
        f"lineage {document.get('lineage')}, serial {document.get('serial')}, "
        f"{len(document.get('resources') or [])} resources"
    )


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("lineage", "serial", "resources", "outputs"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _pulled(session: Session, where: str) -> dict[str, Any]:
    """The state as Terraform reads it from ``session``'s backend (``state pull``)."""
    document = session.state()
    if document is None:
        raise SnapshotError(f"Terraform reads no state from {where} after the copy")
    return document


def _check(copy: dict[str, Any], source: dict[str, Any], where: str) -> None:
    if not _same(copy, source):
        raise SnapshotError(
            f"the state Terraform reads from {where} ({_summary(copy)}) differs from the source "
            f"({_summary(source)}); the source is kept"
        )


def _refuse(environment: Environment, where: str, there: dict[str, Any], moving: dict[str, Any]) -> None:
    raise RefusedError(
        f"refusing to move the state of '{environment.name}': {where} already holds a different state "
        f"({_summary(there)}; moving {_summary(moving)}); nothing overwritten"
    )


def _remove_local(path: Path) -> None:
    """Remove the local state file and Terraform's backup of it (after the copy was verified)."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".backup").unlink(missing_ok=True)


def _into_database(
    environment: Environment,
    target: StoreSettings,
    backend: PgState,
    options: RunOptions,
    raw: bytes | None,
    source: str,
) -> tuple[str, bool]:
    """Put the state ``raw`` (read from ``source``) into the target's row; whether the source may go now."""
    moving = state_document(raw, source)
    where = f"schema {backend.schema}"
    timeout = max(options.lock_timeout, backend.lock_timeout)
    with (
        private_temp("state-") as tmp,
        Session(environment, options, workdir=Path(tmp), var_files=(), store=target) as session,
    ):
        session.init()  # Terraform creates the backend's schema and table
        with state_row(target, backend.schema, timeout=timeout) as row:
            assert row is not None, "init creates the states table"
            stored = row.read()
            there = state_document(stored, where)
            if moving is None:
                line = (
                    f"already in the database ({where}, {_summary(there)})" if there else "no state to move"
                )
                return line, False
            assert raw is not None
            if there is not None and not _same(there, moving):
                _refuse(environment, where, there, moving)
            if stored != raw:
                row.write(raw)
            _check(_pulled(session, where), moving, where)
    return f"moved into the database ({where}, {_summary(moving)})", True


def _out_of_database(
    environment: Environment,
    source: StoreSettings,
    backend: PgState,
    target: StoreSettings,
    options: RunOptions,
) -> str:
    path = local_state_path(environment)
    where = f"schema {backend.schema}"
    timeout = max(options.lock_timeout, backend.lock_timeout)
    with state_row(source, backend.schema, timeout=timeout) as row:
        stored = row.read() if row is not None else None
        moving = state_document(stored, where)
        raw = _read(path)
        there = state_document(raw, str(path))
        if moving is None:
            return f"already in {path.name} ({_summary(there)})" if there else "no state to move"
        assert row is not None and stored is not None
        if there is not None and not _same(there, moving):
            _refuse(environment, str(path), there, moving)
        if raw != stored:
            atomic_write(path, stored, mode=0o600)
        with (
            private_temp("state-") as tmp,
            Session(
                environment, options, workdir=Path(tmp), var_files=(), state_of_environment=True, store=target
            ) as session,
        ):
            _check(_pulled(session, str(path)), moving, str(path))
        row.delete()
    return f"moved into {path.name} ({_summary(moving)}); removed from the database ({where})"
