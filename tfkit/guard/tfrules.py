"""tfkit's own secret rules for Terraform files, which a generic detector misses or names vaguely.

* ``.tf``: a literal string under a secret-like name (``tfkit.secret_names``) in any block but a variable;
  credentials written in a ``provider`` block; a variable that is ``sensitive`` (or named like a secret)
  with a literal default. Read with ``tfkit.hcl`` (python-hcl2), the reader policy TFK102 uses too: a value
  with an interpolation (``"${var.x}"``) or a reference (``var.x``, ``file(...)``) is not a literal and never
  matches, comments are never read. A file python-hcl2 cannot read gets no hit here (detect-secrets still
  reads it).
* ``.tfvars`` (HCL, the same reader) and ``.tfvars.json`` / ``.tf.json`` (line by line): a secret-like name
  given a literal value.

Each hit is ``(line, kind, value)``; the value only feeds the fingerprint and is never shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tfkit.errors import TfkitError
from tfkit.hcl import Block, credentials, parse_text, parse_var_file
from tfkit.secret_names import is_secret_name

__all__ = ["Hit", "scan_terraform"]

_JSON_PAIR = re.compile(r'"([A-Za-z_][A-Za-z0-9_-]*)"\s*:\s*"((?:[^"\\]|\\.)*)"')

KIND_LITERAL_ARGUMENT = "hard-coded secret in a secret-like argument"
KIND_PROVIDER_CREDENTIALS = "credentials written in a provider block"
KIND_VARIABLE_DEFAULT = "sensitive variable with a hard-coded default"
KIND_VAR_FILE = "secret-looking value in a var file"


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule hit: 1-based line, kind, and the value (for the fingerprint only)."""

    line: int
    kind: str
    value: str = field(repr=False)


def scan_terraform(path: str, text: str) -> list[Hit]:
    """The hits of tfkit's rules in one file, chosen by its name; other files give none."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".tfvars.json", ".tf.json")):
        return _scan_json(text, KIND_VAR_FILE if name.endswith(".tfvars.json") else KIND_LITERAL_ARGUMENT)
    if name.endswith(".tfvars"):
        return _scan_var_file(path, text)
    if name.endswith(".tf"):
        return _scan_tf(path, text)
    return []


def _scan_var_file(path: str, text: str) -> list[Hit]:
    try:
        literals = parse_var_file(text, Path(path))
    except TfkitError:  # not valid HCL: left to detect-secrets
        return []
    return [Hit(lit.line, KIND_VAR_FILE, lit.value) for lit in literals if is_secret_name(lit.key)]


def _scan_json(text: str, kind: str) -> list[Hit]:
    hits: list[Hit] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for key, value in _JSON_PAIR.findall(line):
            if is_secret_name(key) and value.strip() and "${" not in value and "%{" not in value:
                hits.append(Hit(number, kind, value))
    return hits


def _blocks(path: str, text: str) -> tuple[Block, ...]:
    try:
        return parse_text(text, Path(path))
    except TfkitError:  # not valid HCL: left to detect-secrets
        return ()


def _scan_tf(path: str, text: str) -> list[Hit]:
    hits: list[Hit] = []
    for block in _blocks(path, text):
        if block.kind == "variable":
            hits += _variable_default(block)
        elif block.kind not in ("backend", "cloud"):  # read inside their terraform block
            kind = KIND_PROVIDER_CREDENTIALS if block.kind == "provider" else KIND_LITERAL_ARGUMENT
            hits += [Hit(lit.line, kind, lit.value) for lit in credentials(block)]
    return sorted(hits, key=lambda h: h.line)


def _variable_default(block: Block) -> list[Hit]:
    """A literal string default of a variable that is sensitive or named like a secret."""
    name = block.labels[0] if block.labels else ""
    if block.body.get("sensitive") is not True and not is_secret_name(name):
        return []
    return [
        Hit(lit.line, KIND_VARIABLE_DEFAULT, lit.value) for lit in block.literals if lit.path == "default"
    ]
