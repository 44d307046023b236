"""A backend added beside a local state: refused with the command that moves the state, never moved silently.

When an environment that kept its state in ``terraform.tfstate`` starts declaring a backend of its own
(s3, ``local`` with another path, ``cloud``...), ``terraform init -input=false`` copies the state to the
new backend without a word and leaves a 0-byte ``terraform.tfstate`` plus a ``.backup``. tfkit refuses
to init such a directory instead (``ConfigError``, exit 2, nothing changed) and names the command that
migrates the state on purpose. This is the own-backend counterpart of
``tfkit.store.terraform_state.check_no_local_state`` (a local state beside the store's pg backend) and
uses the same reading of a state file (``state_document``: missing, 0-byte or empty counts as none).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tfkit.errors import ConfigError
from tfkit.hcl import load_module
from tfkit.store.terraform_state import declares_backend, is_tfkit_override, state_document

if TYPE_CHECKING:
    from tfkit.project import Environment

__all__ = ["DEFAULT_STATE", "check_backend_change", "local_state_file"]

#: Where Terraform keeps a state without a backend, and what it migrates from when one is added.
DEFAULT_STATE = "terraform.tfstate"


def _keeps_default_state(environment: Environment) -> bool:
    """Whether the declared backend is ``local`` storing at ``terraform.tfstate`` (nothing to migrate)."""
    for block in load_module(environment.directory).backends:
        if is_tfkit_override(block.file.name):
            continue
        if block.kind != "backend" or block.labels[:1] != ("local",):
            return False
        path = environment.backend.get("path") or block.body.get("path") or DEFAULT_STATE
        return Path(environment.directory, str(path)).resolve() == environment.directory / DEFAULT_STATE
    return False  # declared in a .tf.json file only: not a local backend tfkit can read


def local_state_file(environment: Environment) -> Path:
    """The state file of an environment keeping a local state, as its own directory declares it.

    Read from the environment's directory (never from a copied configuration's files): rollback and
    promotion point their copy at this file, whatever override the copy holds.
    """
    path: object = environment.backend.get("path")
    if path is None:
        for block in load_module(environment.directory).backends:
            if not is_tfkit_override(block.file.name) and block.labels[:1] == ("local",):
                path = block.body.get("path")
    return Path(environment.directory, str(path or DEFAULT_STATE)).resolve()


def check_backend_change(environment: Environment) -> None:
    """Refuse (``ConfigError``) to init when the environment's own backend would silently take its state."""
    directory = environment.directory
    local = directory / DEFAULT_STATE
    try:
        raw = local.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return
    if not raw.strip() or not declares_backend(directory) or _keeps_default_state(environment):
        return
    if state_document(raw, str(local)) is None:
        return
    shown = Path(os.path.relpath(directory, environment.project.root))
    raise ConfigError(
        f"'{environment.name}' now declares a backend of its own, but its state is still local in "
        f"{shown / DEFAULT_STATE}: move it on purpose with `terraform -chdir={shown} init "
        f"-migrate-state` (or restore the previous backend); tfkit changed nothing"
    )
