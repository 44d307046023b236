"""tfkit's own secret rules for Terraform files, which a generic detector misses or names vaguely.

* ``.tf``: a literal string in a password-, secret-, token- or key-like argument; credentials written in a
  ``provider`` block; a variable that is ``sensitive`` (or named like a secret) with a literal default.
* ``.tfvars`` / ``.tfvars.json``: a secret-like name given a literal value.

The rules read lines (tfkit has no HCL reader of its own yet): comments are skipped, block nesting is
followed by counting braces outside strings. A value with an interpolation (``"${var.x}"``) or a reference
(``var.x``, ``file(...)``) is not a literal and never matches. Each hit is ``(line, kind, value)``; the value
only feeds the fingerprint and is never shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tfkit.secret_names import is_secret_name

__all__ = ["Hit", "scan_terraform"]

_ASSIGN = re.compile(r'^\s*"?([A-Za-z_][A-Za-z0-9_-]*)"?\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?\s*(?:#.*|//.*)?$')
_JSON_PAIR = re.compile(r'"([A-Za-z_][A-Za-z0-9_-]*)"\s*:\s*"((?:[^"\\]|\\.)*)"')
_BLOCK = re.compile(
    r'^\s*(provider|variable|resource|data|module|output|locals|terraform)\b\s*(?:"([^"]*)")?'
)
_SENSITIVE_TRUE = re.compile(r"^\s*sensitive\s*=\s*true\b")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')

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


def _is_literal(value: str) -> bool:
    """A non-empty literal with no interpolation (``${...}`` or ``%{...}``)."""
    return bool(value.strip()) and "${" not in value and "%{" not in value


def scan_terraform(path: str, text: str) -> list[Hit]:
    """The hits of tfkit's rules in one file, chosen by its name; other files give none."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith((".tfvars.json", ".tf.json")):
        return _scan_json(text, KIND_VAR_FILE if name.endswith(".tfvars.json") else KIND_LITERAL_ARGUMENT)
    if name.endswith(".tfvars"):
        return _scan_var_file(text)
    if name.endswith(".tf"):
        return _scan_tf(text)
    return []


def _code_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines without comment-only lines or block comments."""
    out: list[tuple[int, str]] = []
    in_block_comment = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if in_block_comment:
            in_block_comment = "*/" not in stripped
            continue
        if stripped.startswith("/*"):
            in_block_comment = "*/" not in stripped
            continue
        if stripped.startswith(("#", "//")) or not stripped:
            continue
        out.append((number, line))
    return out


def _scan_var_file(text: str) -> list[Hit]:
    hits: list[Hit] = []
    for number, line in _code_lines(text):
        found = _ASSIGN.match(line)
        if found and is_secret_name(found[1]) and _is_literal(found[2]):
            hits.append(Hit(number, KIND_VAR_FILE, found[2]))
    return hits


def _scan_json(text: str, kind: str) -> list[Hit]:
    hits: list[Hit] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for key, value in _JSON_PAIR.findall(line):
            if is_secret_name(key) and _is_literal(value):
                hits.append(Hit(number, kind, value))
    return hits


def _scan_tf(text: str) -> list[Hit]:
    hits: list[Hit] = []
    depth = 0
    block = ""
    variable_name = ""
    variable_sensitive = False
    variable_default: tuple[int, str] | None = None
    for number, line in _code_lines(text):
        if depth == 0:
            opened = _BLOCK.match(line)
            block = opened[1] if opened else ""
            variable_name = (opened[2] or "") if opened else ""
            variable_sensitive, variable_default = False, None
        found = _ASSIGN.match(line)
        if found and _is_literal(found[2]):
            key, value = found[1], found[2]
            if block == "variable" and key == "default" and depth == 1:
                variable_default = (number, value)
            elif is_secret_name(key) and block != "variable":
                kind = KIND_PROVIDER_CREDENTIALS if block == "provider" else KIND_LITERAL_ARGUMENT
                hits.append(Hit(number, kind, value))
        if block == "variable" and _SENSITIVE_TRUE.match(line):
            variable_sensitive = True
        code = _STRING.sub('""', line.split(" #", 1)[0])
        depth = max(depth + code.count("{") - code.count("}"), 0)
        if depth == 0 and block == "variable":
            if variable_default and (variable_sensitive or is_secret_name(variable_name)):
                hits.append(Hit(variable_default[0], KIND_VARIABLE_DEFAULT, variable_default[1]))
            block, variable_default = "", None
    return hits
