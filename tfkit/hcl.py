"""Static reading of Terraform configurations with python-hcl2: blocks with file and line, variables, modules.

``load_module(dir)`` reads every ``*.tf`` file of one module directory; ``module_graph(dir)`` follows local
module sources (``./x``, ``../../modules/y``) through nested modules. Nothing is evaluated: expressions stay
text (``"${var.x}"``), which is enough for configuration policies and for ``tfkit.testing.strategies``.

Each block also lists the strings written literally in it, at any depth, with their lines
(``Block.literals``); ``credentials(block)`` picks those under a secret name (``tfkit.secret_names``). This
is the one reader of credentials written in Terraform files: policy TFK102 and the guard's rules use it.

python-hcl2 8.x has no line numbers in ``hcl2.load``, so blocks are read from the ``hcl2.parses`` tree
(its nodes' ``_meta.line``). ``hcl2`` is imported lazily so that ``import tfkit`` stays light.

Parsing is the slow part (lark, tens of milliseconds a file), so ``parse_file`` can keep what it read in a
cache directory (``Project.cache_dir / "hcl"``): JSON keyed by the file's SHA-256, this reader's code and
python-hcl2's version, so an edit or an upgrade reads the file again, and a gate on an unchanged repository
parses nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from tfkit.content_cache import ContentCache, code_digest, content_key, installed_version
from tfkit.errors import HclSyntaxError, TfkitError
from tfkit.secret_names import is_secret_name

__all__ = [
    "MISSING",
    "Block",
    "Literal",
    "Module",
    "ModuleCallDecl",
    "ModuleGraph",
    "TypeSpec",
    "Validation",
    "VariableDecl",
    "credentials",
    "is_literal",
    "load_module",
    "local_sources",
    "module_graph",
    "parse_file",
    "parse_text",
    "parse_type",
    "parse_var_file",
]

MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()
"""The default of a variable that declares none (so ``None``, HCL's ``null``, stays a real default)."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A non-blank string written literally (no ``${...}`` or ``%{...}``) somewhere in a block.

    ``path`` is dotted from the block's body (``assume_role.session_token``, nested blocks by type and
    labels, list items without an index), ``key`` its last name, ``line`` the line of its ``key = ...``.
    """

    path: str
    key: str
    value: str = field(repr=False)
    line: int


@dataclass(frozen=True, slots=True)
class Block:
    """One block: kind (``resource``), labels without quotes, body as plain data, and where it is."""

    kind: str
    labels: tuple[str, ...]
    body: Mapping[str, Any]
    file: Path
    line: int
    end_line: int
    attribute_lines: Mapping[str, int] = field(default_factory=dict)
    literals: tuple[Literal, ...] = ()

    def attribute_line(self, name: str) -> int:
        """The line of the attribute ``name`` in this block (the block's line if it is not there)."""
        return self.attribute_lines.get(name, self.line)


@dataclass(frozen=True, slots=True)
class Validation:
    """One ``validation`` block of a variable: its condition (HCL text) and error message."""

    condition: str
    error_message: str


@dataclass(frozen=True, slots=True)
class VariableDecl:
    """A ``variable`` block: type (HCL text or ``None``), description, default, sensitivity, validations."""

    name: str
    type: str | None
    description: str | None
    default: Any
    sensitive: bool
    nullable: bool
    validations: tuple[Validation, ...]
    block: Block

    @property
    def required(self) -> bool:
        """The variable has no default, so every caller must set it."""
        return self.default is MISSING

    def type_spec(self) -> TypeSpec:
        """The parsed type constraint (``any`` when the variable declares no type)."""
        return parse_type(self.type or "any")


@dataclass(frozen=True, slots=True)
class ModuleCallDecl:
    """A ``module`` block: its source and version, and the directory of a local source."""

    name: str
    source: str
    version: str | None
    block: Block
    directory: Path | None

    @property
    def is_local(self) -> bool:
        """The source is a local path (``./`` or ``../``), resolved to ``directory``."""
        return self.source.startswith(("./", "../"))


@dataclass(frozen=True, slots=True)
class Module:
    """Every block of one module directory, by kind; each keeps its file and line."""

    directory: Path
    blocks: tuple[Block, ...]

    def of_kind(self, kind: str) -> tuple[Block, ...]:
        """The blocks of one kind (``resource``, ``provider``, ``terraform``, ...), in file order."""
        return tuple(b for b in self.blocks if b.kind == kind)

    @property
    def variables(self) -> dict[str, VariableDecl]:
        """The declared variables by name."""
        return {v.name: v for v in (_variable(b) for b in self.of_kind("variable"))}

    @property
    def outputs(self) -> dict[str, Block]:
        """The declared outputs by name."""
        return {b.labels[0]: b for b in self.of_kind("output") if b.labels}

    @property
    def resources(self) -> tuple[Block, ...]:
        """``resource`` and ``data`` blocks (labels: type, name)."""
        return tuple(b for b in self.blocks if b.kind in ("resource", "data"))

    @property
    def providers(self) -> tuple[Block, ...]:
        """``provider`` blocks."""
        return self.of_kind("provider")

    @property
    def backends(self) -> tuple[Block, ...]:
        """The ``backend`` (and ``cloud``) blocks inside ``terraform`` blocks, with their own lines."""
        return tuple(b for b in self.blocks if b.kind in ("backend", "cloud"))

    @property
    def module_calls(self) -> tuple[ModuleCallDecl, ...]:
        """``module`` blocks with their sources resolved when local."""
        calls = []
        for b in self.of_kind("module"):
            source = str(b.body.get("source", ""))
            version = b.body.get("version")
            local = source.startswith(("./", "../"))
            directory = (self.directory / source).resolve() if local else None
            calls.append(ModuleCallDecl(b.labels[0] if b.labels else "", source, _str(version), b, directory))
        return tuple(calls)


@dataclass(frozen=True, slots=True)
class ModuleGraph:
    """A root module and every local module it reaches, with the calls between them."""

    root: Path
    modules: Mapping[Path, Module]
    calls: tuple[tuple[Path, ModuleCallDecl], ...]

    def walk(self) -> Iterator[Module]:
        """Every module of the graph, the root first."""
        yield from self.modules.values()


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _variable(block: Block) -> VariableDecl:
    body = block.body
    validations = body.get("validation", [])
    return VariableDecl(
        name=block.labels[0] if block.labels else "",
        type=_type_text(body.get("type")),
        description=_str(body.get("description")),
        default=body.get("default", MISSING),
        sensitive=body.get("sensitive") is True,
        nullable=body.get("nullable") is not False,
        validations=tuple(
            Validation(_expr_text(v.get("condition", "")), str(v.get("error_message", "")))
            for v in validations
        ),
        block=block,
    )


def _type_text(value: Any) -> str | None:
    return None if value is None else _expr_text(value)


def _expr_text(value: Any) -> str:
    """An expression as HCL text: ``"${x}"`` unwrapped; literals as they are."""
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


def is_literal(value: Any) -> bool:
    """The value is written literally (a string with no interpolation, a number or a bool)."""
    if isinstance(value, str):
        return "${" not in value
    return isinstance(value, int | float | bool)


def credentials(block: Block) -> tuple[Literal, ...]:
    """The literal strings of ``block`` under a secret name (``password = "..."``, ``token = "..."``)."""
    return tuple(literal for literal in block.literals if is_secret_name(literal.key))


# ----------------------------------------------------------------------------------------- reading


def _options() -> Any:
    import hcl2

    return hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def _syntax_error(exc: Exception, file: Path) -> HclSyntaxError:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    where = f"{file}:{line}:{column}" if line is not None else str(file)
    token = getattr(getattr(exc, "token", None), "type", None)
    what = f"unexpected {token}" if token else "invalid syntax"
    return HclSyntaxError(
        f"{where}: HCL syntax error ({what}); fix the file and run again", file=file, line=line, column=column
    )


def _literal_options() -> Any:
    import hcl2

    return hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False, preserve_heredocs=False
    )


def _line(node: Any, default: int) -> int:
    line = getattr(getattr(node, "_meta", None), "line", None)
    return line if isinstance(line, int) else default


def _body_literals(body: Any, path: tuple[str, ...], options: Any) -> Iterator[Literal]:
    """Every literal string of a block body: its attributes' values and its nested blocks', in file order."""
    from hcl2.rules.base import AttributeRule, BlockRule

    for child in body.children:
        if isinstance(child, AttributeRule):
            name = str(child.identifier.serialize(options))
            yield from _value_literals(child.expression, (*path, name), _line(child, 0), options)
        elif isinstance(child, BlockRule):
            labels = tuple(str(label.serialize(options)) for label in child.labels)
            yield from _body_literals(child.body, (*path, *labels), options)


def _value_literals(node: Any, path: tuple[str, ...], line: int, options: Any) -> Iterator[Literal]:
    """The literal strings of one expression: itself, or the elements of an object or tuple it builds."""
    from hcl2.rules.containers import ObjectRule, TupleRule
    from hcl2.rules.expressions import ExprTermRule

    inner = node
    while isinstance(inner, ExprTermRule) and not inner.parentheses:
        inner = inner.expression
    if isinstance(inner, ObjectRule):
        for element in inner.elements:
            key = str(element.key.serialize(options))
            yield from _value_literals(element.expression, (*path, key), _line(element, line), options)
    elif isinstance(inner, TupleRule):
        for item in inner.elements:
            yield from _value_literals(item, path, _line(item, line), options)
    else:
        value = inner.serialize(options)
        if isinstance(value, str) and value.strip() and "${" not in value and "%{" not in value:
            yield Literal(".".join(path), path[-1] if path else "", value, line)


def parse_file(path: Path, *, cache_dir: Path | None = None) -> tuple[Block, ...]:
    """The top-level blocks of one ``.tf`` file (and ``backend`` blocks inside ``terraform`` blocks).

    With ``cache_dir``, blocks already read from the same content come from there (see the module's note).
    """
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HclSyntaxError(f"{path}: cannot read: {exc}", file=path, line=None, column=None) from None
    if cache_dir is None:
        return parse_text(text, path)
    cache = ContentCache(cache_dir / "hcl")
    key = content_key("tfkit-hcl", code_digest(__name__), installed_version("hcl2", "python-hcl2"), data)
    try:
        return _blocks_from_json(cache.get(key), path)
    except (ValueError, KeyError, TypeError):
        pass  # no entry yet, or one of another shape: parse and write it again
    blocks = parse_text(text, path)
    cache.put(key, _blocks_to_json(blocks))
    return blocks


#: The layout of a cache entry: bump when ``Block``, ``Literal`` or what ``parse_text`` reads changes.
_CACHE_FORMAT = 1


def _blocks_to_json(blocks: tuple[Block, ...]) -> dict[str, Any]:
    return {
        "format": _CACHE_FORMAT,
        "blocks": [
            {
                "kind": b.kind,
                "labels": list(b.labels),
                "body": b.body,
                "line": b.line,
                "end_line": b.end_line,
                "attribute_lines": dict(b.attribute_lines),
                "literals": [[lit.path, lit.key, lit.value, lit.line] for lit in b.literals],
            }
            for b in blocks
        ],
    }


def _blocks_from_json(entry: dict[str, Any], path: Path) -> tuple[Block, ...]:
    """The blocks of a cache entry, placed in ``path`` (the entry is keyed by content, not by name)."""
    if entry["format"] != _CACHE_FORMAT:
        raise ValueError("another cache format")
    return tuple(
        Block(
            kind=b["kind"],
            labels=tuple(b["labels"]),
            body=b["body"],
            file=path,
            line=b["line"],
            end_line=b["end_line"],
            attribute_lines=b["attribute_lines"],
            literals=tuple(Literal(p, k, v, n) for p, k, v, n in b["literals"]),
        )
        for b in entry["blocks"]
    )


def parse_text(text: str, path: Path) -> tuple[Block, ...]:
    """``parse_file`` on text already read (a blob from git history), named ``path`` in blocks and errors."""
    from hcl2.rules.base import AttributeRule, BlockRule

    with _errors_named(path):
        tree = _parse(text)
        options = _options()
        literal_options = _literal_options()
        blocks: list[Block] = []

        def block_of(node: Any) -> Block:
            labels = [str(label.serialize(options)) for label in node.labels]
            lines = {
                str(child.identifier.serialize(options)): child._meta.line
                for child in node.body.children
                if isinstance(child, AttributeRule)
            }
            return Block(
                kind=labels[0],
                labels=tuple(labels[1:]),
                body=node.body.serialize(options),
                file=path,
                line=node._meta.line,
                end_line=node._meta.end_line,
                attribute_lines=lines,
                literals=tuple(_body_literals(node.body, (), literal_options)),
            )

        for node in tree.body.children:
            if not isinstance(node, BlockRule):
                continue
            blocks.append(block_of(node))
            if blocks[-1].kind == "terraform":
                blocks.extend(
                    block_of(child)
                    for child in node.body.children
                    if isinstance(child, BlockRule)
                    and str(child.labels[0].serialize(options)) in ("backend", "cloud")
                )
    return tuple(blocks)


def parse_var_file(text: str, path: Path) -> tuple[Literal, ...]:
    """The literal strings of a ``.tfvars`` file (its top-level attributes and what they hold)."""
    with _errors_named(path):
        return tuple(_body_literals(_parse(text).body, (), _literal_options()))


def _parse(text: str) -> Any:
    import hcl2

    return hcl2.parses(text, discard_comments=True)


@contextmanager
def _errors_named(path: Path) -> Iterator[None]:
    """python-hcl2's and lark's errors as one-line ``HclSyntaxError`` naming ``path``."""
    from lark.exceptions import LarkError

    try:
        yield
    except LarkError as exc:
        raise _syntax_error(exc, path) from None
    except RuntimeError as exc:  # python-hcl2: "Attribute x is already defined."
        raise HclSyntaxError(f"{path}: {exc}", file=path, line=None, column=None) from None


@lru_cache(maxsize=256)
def _load_cached(directory: Path, stamp: tuple[tuple[str, int, int], ...], cache_dir: Path | None) -> Module:
    blocks: list[Block] = []
    for name, _, _ in stamp:
        blocks.extend(parse_file(directory / name, cache_dir=cache_dir))
    return Module(directory, tuple(blocks))


def load_module(directory: Path | str, *, cache_dir: Path | None = None) -> Module:
    """Read every ``*.tf`` file of one module directory (cached while the files are unchanged).

    ``cache_dir``: also keep each file's blocks there, by content, for the next process (``parse_file``).
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise TfkitError(f"{directory}: no such module directory")
    files = sorted(directory.glob("*.tf"))
    stamp = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _load_cached(directory, stamp, cache_dir)


def module_graph(root: Path | str, *, cache_dir: Path | None = None) -> ModuleGraph:
    """The root module and every module reachable through local sources, each read once (``load_module``)."""
    root = Path(root).resolve()
    modules: dict[Path, Module] = {}
    calls: list[tuple[Path, ModuleCallDecl]] = []
    pending = [root]
    while pending:
        directory = pending.pop(0)
        if directory in modules:
            continue
        module = load_module(directory, cache_dir=cache_dir)
        modules[directory] = module
        for call in module.module_calls:
            calls.append((directory, call))
            if call.directory is not None and call.directory.is_dir() and call.directory not in modules:
                pending.append(call.directory)
    return ModuleGraph(root, modules, tuple(calls))


#: A ``source = "./x"`` or ``"../x"`` attribute, as Terraform requires a module source: a literal string.
_LOCAL_SOURCE = re.compile(rb'\bsource\s*=\s*"(\.\.?/[^"$]*)"')


def local_sources(root: Path | str, known: dict[Path, tuple[Path, ...]] | None = None) -> set[Path]:
    """Every local module directory ``root`` reaches, read lexically: a superset of ``module_graph``'s.

    ``tfkit affected`` reads hundreds of root modules on each pull request; parsing them all takes
    seconds, while a local module source is always a literal string that this reads in microseconds. A
    ``source = "../x"`` outside a ``module`` block (or in a comment) is counted too, so an environment may
    be reported affected that is not; none that is can be missed. ``known`` keeps each directory's own
    sources between calls over one unchanged tree, so modules shared by many root modules are read once.
    """
    start = Path(root).resolve()
    direct = {} if known is None else known
    found: set[Path] = set()
    pending = [start]
    while pending:
        directory = pending.pop()
        targets = direct.get(directory)
        if targets is None:
            targets = direct[directory] = _direct_sources(directory)
        for target in targets:
            if target not in found and target != start:
                found.add(target)
                pending.append(target)
    return found


def _direct_sources(directory: Path) -> tuple[Path, ...]:
    """The existing directories the ``*.tf`` files of ``directory`` name as local sources."""
    targets: dict[Path, None] = {}
    for file in sorted(directory.glob("*.tf")):
        try:
            text = file.read_bytes()
        except OSError:
            continue
        for match in _LOCAL_SOURCE.finditer(text):
            # normpath, as Terraform joins a local source (no symlink resolution: it is much cheaper)
            target = Path(os.path.normpath(directory / match.group(1).decode("utf-8", "replace")))
            if target not in targets and target.is_dir():
                targets[target] = None
    return tuple(targets)


# ----------------------------------------------------------------------------------- type constraints


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A parsed type constraint: ``kind`` is string, number, bool, any, list, set, map, object or tuple.

    ``element`` is the element type of list/set/map; ``attributes`` the object's attribute types;
    ``optional`` the optional attributes with their defaults (``MISSING`` when none); ``elements`` a
    tuple's element types.
    """

    kind: str
    element: TypeSpec | None = None
    attributes: Mapping[str, TypeSpec] = field(default_factory=dict)
    optional: Mapping[str, Any] = field(default_factory=dict)
    elements: tuple[TypeSpec, ...] = ()


_TOKEN = re.compile(
    r'\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<punct>[(){}\[\],=:]))'
)


class _TypeParser:
    """A recursive-descent parser of Terraform type constraint expressions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None:
                raise ValueError(f"cannot read type constraint {text!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match[kind]))
            pos = match.end()
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise ValueError(f"unexpected end of type constraint {self.text!r}")
        token = self.tokens[self.i]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r} in type constraint {self.text!r}")
        self.i += 1
        return token

    def type(self) -> TypeSpec:
        _, name = self.take()
        if name in ("string", "number", "bool", "any"):
            return TypeSpec(name)
        if name in ("list", "set", "map"):
            self.take("(")
            element = self.type()
            self.take(")")
            return TypeSpec(name, element=element)
        if name == "tuple":
            self.take("(")
            self.take("[")
            elements = []
            while self.peek() != "]":
                elements.append(self.type())
                if self.peek() == ",":
                    self.take(",")
            self.take("]")
            self.take(")")
            return TypeSpec("tuple", elements=tuple(elements))
        if name == "object":
            return self.object()
        raise ValueError(f"unknown type {name!r} in type constraint {self.text!r}")

    def object(self) -> TypeSpec:
        self.take("(")
        self.take("{")
        attributes: dict[str, TypeSpec] = {}
        optional: dict[str, Any] = {}
        while self.peek() != "}":
            kind, key = self.take()
            key = key.strip('"') if kind == "str" else key
            self.take("=" if self.peek() == "=" else ":")
            if self.peek() == "optional":
                self.take()
                self.take("(")
                attributes[key] = self.type()
                default: Any = MISSING
                if self.peek() == ",":
                    self.take(",")
                    default = self.literal()
                optional[key] = default
                self.take(")")
            else:
                attributes[key] = self.type()
            if self.peek() == ",":
                self.take(",")
        self.take("}")
        self.take(")")
        return TypeSpec("object", attributes=attributes, optional=optional)

    def literal(self) -> Any:
        import json

        kind, value = self.take()
        if kind == "str":
            return json.loads(value)
        if kind == "num":
            return float(value) if "." in value else int(value)
        if value in ("true", "false"):
            return value == "true"
        if value == "null":
            return None
        if value in ("[", "{"):  # empty collection defaults
            closing = "]" if value == "[" else "}"
            self.take(closing)
            return [] if value == "[" else {}
        raise ValueError(f"unsupported default {value!r} in type constraint {self.text!r}")


def parse_type(text: str) -> TypeSpec:
    """Parse a type constraint such as ``list(object({a = string, b = optional(number, 1)}))``."""
    parser = _TypeParser(_expr_text(text))
    spec = parser.type()
    if parser.i != len(parser.tokens):
        raise ValueError(f"unexpected text after the type in {text!r}")
    return spec
