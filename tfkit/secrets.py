"""Secret sources: read each sensitive variable from where it lives, hand it to Terraform only as
``TF_VAR_<name>`` in the child's environment, and register it for redaction.

A source is an environment variable, a file (as CI systems mount secrets) or a command (a vault
CLI) whose standard output is the value. Errors name the variable and the source, never the value
(nor a failing command's stderr, which may hold part of it). Every exit code is 2 (configuration).

A secret file that its group or other users may read gets a warning (``SecretFileWarning``); in CI
(``CI`` set, as every CI service sets it) it is an error, unless ``TFKIT_ALLOW_READABLE_SECRETS=1``
says the exposure is accepted (some platforms mount secrets 0644 in a container nobody else uses).
"""

from __future__ import annotations

import os
import stat
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path

from tfkit.config import SecretSource
from tfkit.errors import SecretError
from tfkit.redact import register_secret

__all__ = ["ALLOW_READABLE_ENV", "SecretFileWarning", "read_secret", "secret_environment"]

COMMAND_TIMEOUT_SECONDS = 60
#: Set to 1 to accept, in CI, a secret file that others may read (a warning is still printed).
ALLOW_READABLE_ENV = "TFKIT_ALLOW_READABLE_SECRETS"


class SecretFileWarning(UserWarning):
    """A secret file that other users may read."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _check_private(variable: str, path: Path, where: str) -> None:
    """Warn about (in CI: refuse) a secret file its group or others may read."""
    try:
        info = path.stat()
    except OSError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode) or not mode & 0o044:
        return
    message = f"secret variable '{variable}': {where} is readable by others (mode {mode:04o}); chmod 600 it"
    if _in_ci() and os.environ.get(ALLOW_READABLE_ENV) != "1":
        raise SecretError(
            f"{message}, or set {ALLOW_READABLE_ENV}=1 to accept that in CI", variable=variable, source=where
        )
    warnings.warn(message, SecretFileWarning, stacklevel=4)


def read_secret(variable: str, source: SecretSource, *, base: Path) -> str:
    """The value of ``variable`` from ``source``; relative files are read from ``base``."""
    where = source.describe()
    if source.kind == "env":
        value = os.environ.get(source.env or "")
        if value is None:
            raise SecretError(
                f"secret variable '{variable}': {where} is not set; export it, or change the "
                f"variable's source in tfkit.toml ([secrets.{variable}])",
                variable=variable,
                source=where,
            )
    elif source.kind == "file":
        path = Path(source.file or "").expanduser()
        path = path if path.is_absolute() else base / path
        _check_private(variable, path, where)
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(
                f"secret variable '{variable}': cannot read {where}: {exc.strerror or type(exc).__name__}; "
                "create it or change the variable's source in tfkit.toml",
                variable=variable,
                source=where,
            ) from None
        except UnicodeDecodeError:
            raise SecretError(
                f"secret variable '{variable}': {where} is not UTF-8 text",
                variable=variable,
                source=where,
            ) from None
    else:
        value = _run_command(variable, source, where, base)
    if value == "":
        raise SecretError(f"secret variable '{variable}': {where} is empty", variable=variable, source=where)
    register_secret(value)
    return value


def _run_command(variable: str, source: SecretSource, where: str, base: Path) -> str:
    try:
        done = subprocess.run(
            list(source.command),
            cwd=base,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise SecretError(
            f"secret variable '{variable}': {where} not found; install it or fix the variable's source "
            "in tfkit.toml",
            variable=variable,
            source=where,
        ) from None
    except OSError as exc:
        raise SecretError(
            f"secret variable '{variable}': {where} cannot be run: {exc.strerror or type(exc).__name__}",
            variable=variable,
            source=where,
        ) from None
    except subprocess.TimeoutExpired:
        raise SecretError(
            f"secret variable '{variable}': {where} did not finish in {COMMAND_TIMEOUT_SECONDS}s",
            variable=variable,
            source=where,
        ) from None
    if done.returncode != 0:
        # Its stderr is not shown: a failing secret command may well print part of the secret.
        raise SecretError(
            f"secret variable '{variable}': {where} failed with exit code {done.returncode}; "
            "run it yourself to see why",
            variable=variable,
            source=where,
        )
    return done.stdout.decode("utf-8", errors="replace").rstrip("\r\n")


def secret_environment(sources: Mapping[str, SecretSource], *, base: Path) -> dict[str, str]:
    """``TF_VAR_<name>`` for every configured secret; one already in the environment wins."""
    env: dict[str, str] = {}
    for variable, source in sources.items():
        key = f"TF_VAR_{variable}"
        preset = os.environ.get(key)
        if preset:
            register_secret(preset)
            continue
        env[key] = read_secret(variable, source, base=base)
    return env
