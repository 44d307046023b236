"""What ``terraform init`` depends on, as one fingerprint: when it is unchanged, init's result is too.

Init installs the modules the configuration calls, the providers it requires, and configures its
backend. So the fingerprint covers, for the root module and every local module it reaches
(``tfkit.hcl.module_graph``, through nested local modules): each ``module`` call's name, source,
version and ``providers``; every ``terraform`` block (``required_providers``, ``backend``, ``cloud``,
``required_version``), with tfkit's backend override file among them; every ``provider`` block; the
resource, data and ephemeral types with their ``provider`` argument (a new type can need a new provider);
and any other block but variables, outputs, locals and ``moved``, whole. Beside them: each module's
``*.tf.json`` files whole (the reader does not read them), ``.terraform.lock.hcl``, the backend settings
passed to init, the engine and its Terraform, the ``TF_*`` settings of the environment that steer init
(CLI configuration and its file, plugin cache, workspace, registry tokens) and the pg backend's
settings. Values are only ever hashed: secrets in them never reach the cache.

What is left out cannot change init's result: a variable, an output, a resource's arguments. An unreadable
configuration has no fingerprint (``None``): init then runs and reports the problem as Terraform does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfkit.content_cache import content_key
from tfkit.errors import TfkitError
from tfkit.hcl import Block, module_graph

__all__ = ["LOCK_FILE", "init_fingerprint"]

LOCK_FILE = ".terraform.lock.hcl"
#: Bump when what the fingerprint covers changes, so older records miss.
_FORMAT = "tfkit-init-1"
#: Blocks init never reads.
_IGNORED = frozenset({"variable", "output", "locals", "moved"})
#: Blocks whose type (first label) and ``provider`` argument are all init reads.
_TYPED = frozenset({"resource", "data", "ephemeral", "list", "action"})
#: Environment variables of Terraform's that never change what init installs or configures.
_NOT_INIT = ("TF_VAR_", "TF_LOG", "TF_DATA_DIR", "TF_IN_AUTOMATION", "TF_INPUT", "TF_CLI_ARGS_plan")


def _block_record(block: Block) -> list[Any]:
    if block.kind in _TYPED:
        return [block.kind, block.labels[:1], block.body.get("provider")]
    if block.kind == "module":
        body = block.body
        return [block.kind, block.labels, body.get("source"), body.get("version"), body.get("providers")]
    return [block.kind, block.labels, block.body]


def _configuration(workdir: Path, cache_dir: Path | None) -> list[Any]:
    graph = module_graph(workdir, cache_dir=cache_dir)
    modules: list[Any] = []
    for module in graph.walk():
        kept = (b for b in module.blocks if b.kind not in _IGNORED)
        # A set: a second resource of a type init knows already changes nothing.
        records = sorted({json.dumps(_block_record(b), sort_keys=True, default=str) for b in kept})
        json_files = {
            p.name: p.read_text(encoding="utf-8") for p in sorted(module.directory.glob("*.tf.json"))
        }
        modules.append([os.path.relpath(module.directory, workdir), records, json_files])
    return modules


def _terraform_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``TF_*`` variables that can steer init, and the CLI configuration file's content."""
    found = {k: v for k, v in environ.items() if k.startswith("TF_") and not k.startswith(_NOT_INIT)}
    cli_config = environ.get("TF_CLI_CONFIG_FILE")
    if cli_config:
        try:
            found["TF_CLI_CONFIG_FILE content"] = Path(cli_config).expanduser().read_text(errors="replace")
        except OSError:
            found["TF_CLI_CONFIG_FILE content"] = "(unreadable)"
    return found


def init_fingerprint(
    workdir: Path,
    *,
    engine: str,
    backend_config: Mapping[str, str],
    environment: Mapping[str, str],
    cache_dir: Path | None = None,
) -> str | None:
    """The fingerprint of what init depends on in ``workdir``, or None when it cannot be told.

    ``engine`` names the engine and its Terraform (``CliEngine.init_identity``); ``environment`` is
    what the engine adds to the process's environment (the pg backend's settings). ``cache_dir`` is
    where parsed HCL is kept (``tfkit.hcl``), shared with the gate's readers.
    """
    workdir = Path(workdir).resolve()
    try:
        configuration = _configuration(workdir, cache_dir)
        lock = (workdir / LOCK_FILE).read_bytes() if (workdir / LOCK_FILE).is_file() else b"(none)"
    except (TfkitError, OSError, UnicodeDecodeError):
        return None
    settings = {**_terraform_settings(os.environ), **{f"engine env {k}": v for k, v in environment.items()}}
    return content_key(
        _FORMAT,
        engine,
        str(workdir),
        json.dumps(configuration, sort_keys=True),
        lock,
        json.dumps(sorted(backend_config.items())),
        json.dumps(sorted(settings.items())),
    )
