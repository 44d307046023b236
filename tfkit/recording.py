"""What a successful apply records: the snapshot's contents, its encryption, the ledger and retention.

``record_success`` is called by the operations in ``tfkit.workflow`` once Terraform has applied. It
decides what goes into a snapshot (the configuration bundle, the non-sensitive variable values, the
redacted plan, the gate result, and the full state only when it can be encrypted), and hands the
snapshot, its ledger entry (with the manifest's digest, signed when a signing key is set: see
``tfkit.integrity``) and the stable health to the store together (one transaction in PostgreSQL),
then prunes old snapshots (a failed pruning is a warning: the apply is recorded).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tfkit.bundle import files_digest
from tfkit.errors import ConfigError, StoreError
from tfkit.git import head_commit
from tfkit.integrity import sign, signing_key
from tfkit.ledger import Override, new_entry, new_health
from tfkit.redact import mask, mask_json
from tfkit.snapshots import Snapshot, SnapshotManifest, manifest_digest, new_snapshot_id, seal

if TYPE_CHECKING:
    from tfkit.gate import GateResult
    from tfkit.plan import Plan
    from tfkit.project import Environment, Project
    from tfkit.store import Store

__all__ = ["encryption_key", "gate_json", "record_success", "recorded_plan"]

_KEY_HINT = (
    "generate one with: python -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def encryption_key(project: Project) -> bytes | None:
    """The snapshot encryption key from the variable named in ``[snapshots] encryption_key_env``.

    Checked before anything is applied: a configured variable that is unset or holds no valid
    Fernet key is a one-line ``ConfigError``, never a failure after Terraform has applied.
    """
    name = project.config.snapshots.encryption_key_env
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(
            f"{project.config.path}: snapshots.encryption_key_env names {name}, which is not set; "
            f"set it ({_KEY_HINT})",
            file=str(project.config.path),
            key="snapshots.encryption_key_env",
        )
    from cryptography.fernet import Fernet

    try:
        Fernet(value.encode())
    except ValueError:
        raise ConfigError(
            f"{name} does not hold a valid Fernet key (32 url-safe base64 bytes); {_KEY_HINT}",
            file=str(project.config.path),
            key="snapshots.encryption_key_env",
        ) from None
    return value.encode()


def _sensitive_variables(plan: Plan, environment: Environment) -> set[str]:
    """Variables never stored: declared sensitive, fed from a secret source, or holding a known secret."""
    names = set(environment.secrets)
    config = plan.configuration
    if config is not None:
        names |= {n for n, v in config.root_module.variables.items() if v.sensitive}
    names |= {n for n, v in plan.variables.items() if mask(json.dumps(v.value)) != json.dumps(v.value)}
    return names


def recorded_plan(plan: Plan) -> bytes:
    """The plan as a snapshot stores it: redacted, and every registered secret masked.

    Rollback compares a new plan with a snapshot's in this form too, so a masked value is never taken
    for a change.
    """
    return mask_json(plan.redacted())


def gate_json(result: GateResult | None) -> bytes:
    """The gate result as stored in a snapshot (masked), or ``{"evaluated": false}`` without a gate."""
    if result is None:
        return b'{"evaluated": false}'
    doc = {
        "evaluated": True,
        "environment": result.environment,
        "passed": result.passed,
        "errors": list(result.errors),
        "tools": dict(result.tools),
        "findings": [asdict(f) for f in result.findings],
    }
    return mask_json(json.dumps(doc, default=str))


def record_success(
    environment: Environment,
    plan: Plan,
    gate_result: GateResult | None,
    *,
    store: Store,
    state: Mapping[str, Any],
    engine: str,
    kind: str,
    bundle: Mapping[str, bytes],
    modules: Mapping[str, str],
    overrides: Sequence[Override] = (),
    restored_from: str | None = None,
) -> Snapshot:
    """Record a successful ``kind`` apply in ``store``: snapshot, ledger entry and stable health.

    ``state`` is the state after the apply (only its lineage and serial are kept in the clear; the
    whole of it only encrypted); ``plan`` is the plan that was applied.
    """
    project = environment.project
    key = encryption_key(project)
    sensitive = _sensitive_variables(plan, environment)
    variables = {n: v.value for n, v in plan.variables.items() if n not in sensitive}
    files: dict[str, bytes] = {f"bundle/{rel}": data for rel, data in sorted(bundle.items())}
    files["variables.json"] = json.dumps(variables, indent=2, sort_keys=True).encode()
    files["plan.json"] = recorded_plan(plan)
    files["gate.json"] = gate_json(gate_result)
    if key is not None:
        from cryptography.fernet import Fernet

        files["state.enc"] = Fernet(key).encrypt(json.dumps(dict(state)).encode())
    from tfkit._version import __version__

    commit = head_commit(project.root)
    manifest = SnapshotManifest(
        id=new_snapshot_id(),
        environment=environment.name,
        kind=kind,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        tfkit_version=__version__,
        terraform_version=plan.terraform_version or "",
        engine=engine,
        lineage=state.get("lineage"),
        serial=state.get("serial"),
        git_commit=commit,
        modules=dict(modules),
        config_digest=files_digest(bundle),
        sensitive_variables=tuple(sorted(sensitive)),
        state_encrypted=key is not None,
        restored_from=restored_from,
    )
    manifest = seal(manifest, files)
    digest = manifest_digest(manifest.to_json())
    signing = signing_key()
    entry = new_entry(
        environment.name,
        kind=kind,
        snapshot=manifest.id,
        modules=modules,
        git_commit=commit,
        overrides=overrides,
        manifest_digest=digest,
        signature=sign(signing, environment.name, manifest.id, digest) if signing else None,
    )
    health = new_health(environment.name, stable=True, reason=f"{kind} succeeded", snapshot=manifest.id)
    snapshot = store.record_apply(manifest, files, entry, health)
    try:
        store.snapshots.prune(environment.name, project.config.snapshots.keep)
    except StoreError as exc:  # the apply is recorded: old snapshots wait for the next apply's pruning
        warnings.warn(
            f"snapshot {manifest.id} of '{environment.name}' is recorded, but older snapshots could not be "
            f"pruned ({exc.reason}); the next apply prunes them",
            stacklevel=2,
        )
    return snapshot
