"""The error tree drawn in ``tfkit.errors``' docstring is the real one: each class, its parent, its code.

Every ``TfkitError`` subclass in the package is found statically (``ast`` over ``tfkit/**/*.py``, so a
class in a module nobody imports is found too), then imported and compared with the drawing.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import tfkit.errors
from tfkit.errors import TfkitError

PACKAGE = Path(tfkit.errors.__file__).resolve().parent
_DRAWN = re.compile(r"^(?P<indent>[\s│├└─]*)(?P<name>[A-Z]\w*)(?:\s+(?P<code>\d+)(?=\s|$))?")


@dataclass(frozen=True)
class Drawn:
    """One class as drawn: its parent in the drawing and the exit code it shows (or inherits there)."""

    name: str
    parent: str | None
    exit_code: int


def drawn_tree(doc: str) -> dict[str, Drawn]:
    """The tree of the first ``::`` block of ``doc``: ``{name: Drawn}``; codes inherit down, the root is 1."""
    lines = doc.split("::\n", 1)[1].strip("\n").split("\n\n", 1)[0].splitlines()
    tree: dict[str, Drawn] = {}
    stack: list[tuple[int, Drawn]] = []
    for line in lines:
        match = _DRAWN.match(line)
        assert match, f"not a line of the tree: {line!r}"
        column = len(match["indent"])
        while stack and stack[-1][0] >= column:
            stack.pop()
        parent = stack[-1][1] if stack else None
        inherited = parent.exit_code if parent else 1
        node = Drawn(match["name"], parent.name if parent else None, int(match["code"] or inherited))
        tree[node.name] = node
        stack.append((column, node))
    return tree


def error_classes() -> dict[str, str]:
    """``{class name: module}`` of every class in the package that derives (by name) from TfkitError."""
    bases: dict[str, tuple[str, set[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else ast.unparse(b).split(".")[-1] for b in node.bases
                }
                bases[node.name] = (module, names)
    found = {"TfkitError": "tfkit.errors"}
    grew = True
    while grew:
        new = {name: module for name, (module, parents) in bases.items() if parents & set(found)}
        grew = not new.keys() <= found.keys()
        found |= new
    return found


@pytest.fixture(scope="module")
def tree() -> dict[str, Drawn]:
    assert tfkit.errors.__doc__
    return drawn_tree(tfkit.errors.__doc__)


def test_every_error_class_is_drawn_with_its_parent_and_exit_code(tree: dict[str, Drawn]) -> None:
    classes = error_classes()
    assert {"SecretError", "HclSyntaxError", "ScanConfigError", "GuardError", "ReplayError"} <= set(classes)
    assert sorted(set(classes) - set(tree)) == [], "error classes missing from the drawing"
    assert sorted(set(tree) - set(classes)) == [], "drawn classes that do not exist"
    for name, module in classes.items():
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, TfkitError), name
        assert isinstance(cls.exit_code, int), name
        drawn = tree[name]
        assert drawn.exit_code == cls.exit_code, f"{name}: drawn exit {drawn.exit_code}, is {cls.exit_code}"
        parent = cls.__mro__[1].__name__
        assert drawn.parent == (None if cls is TfkitError else parent), f"{name}: drawn under {drawn.parent}"


def test_errors_moved_here_are_defined_here_once(tree: dict[str, Drawn]) -> None:
    classes = error_classes()
    outside = {name: module for name, module in classes.items() if module != "tfkit.errors"}
    # workflow.py's two are moved by the workflow change; nothing else lives outside errors.py.
    assert set(outside) <= {"LineageMismatchError", "ApplyFailedError"}, outside
    assert set(tfkit.errors.__all__) >= {n for n, m in classes.items() if m == "tfkit.errors"}


def test_the_drawing_names_what_is_not_an_error_and_why() -> None:
    from tfkit.policy import SkipPolicy
    from tfkit.testing._assertions import PlanAssertionError

    doc = tfkit.errors.__doc__ or ""
    assert "SkipPolicy(Exception)" in doc and "PlanAssertionError(AssertionError)" in doc
    assert not issubclass(SkipPolicy, TfkitError) and not issubclass(PlanAssertionError, TfkitError)


def test_a_wrong_drawing_is_caught() -> None:
    """The parser is strict: a code or a parent drawn wrongly changes what it reads."""
    doc = (
        "x\n\n::\n\n    TfkitError      exit 1\n    ├── A           2  a\n"
        "    │   └── B          b\n    └── C          c\n\n    not in the tree\n"
    )
    assert drawn_tree(doc) == {
        "TfkitError": Drawn("TfkitError", None, 1),
        "A": Drawn("A", "TfkitError", 2),
        "B": Drawn("B", "A", 2),
        "C": Drawn("C", "TfkitError", 1),
    }
