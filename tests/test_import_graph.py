"""Imports flow one way: the package's import graph has no cycle, and the core never imports a front end.

The graph is built statically (``ast`` over ``tfkit/**/*.py``, nothing is imported), from every import
statement wherever it is: at module level and inside functions, since a function-level import is still
a dependency (it only moves the cycle to run time). Relative imports are resolved against the module's
package. Two kinds of import are left out, on purpose:

* imports under ``if TYPE_CHECKING:``: they never run, they only name types for annotations;
* the implicit import of parent packages (importing ``tfkit.a.b`` runs ``tfkit/__init__.py`` first):
  every module would otherwise depend on the package front, as every import-graph tool assumes.

``from package import name`` is an edge to the submodule ``package.name`` when there is one, to the
package when its ``__init__`` binds ``name``, and otherwise to nothing: ``name`` is then a compiled
module with no Python source, which imports nothing of tfkit.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tfkit"

#: The front ends: everything else is the core, which must never import them. ``tfkit.__main__`` is
#: ``python -m tfkit``, the CLI's other door, so it counts as the CLI.
FRONT_ENDS = ("tfkit.cli", "tfkit.report", "tfkit.testing", "tfkit.pytest_plugin", "tfkit.__main__")


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement of ``tree`` (in functions too), except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _imports(node)


def _bound_names(body: list[ast.stmt]) -> set[str]:
    """The names statements bind at a module's top level (what ``from module import name`` finds there)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            names |= _bound_names([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])])
    return names


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """``{module: the tfkit modules it imports}`` for every module of ``package``."""
    trees = {
        _module_name(path, package): (path, ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(package.rglob("*.py"))
    }

    def containing(name: str) -> str | None:
        """The module ``name`` is, or is inside (``tfkit.plan.Plan`` -> ``tfkit.plan``)."""
        while name and name not in trees:
            name = name.rpartition(".")[0]
        return name or None

    def imported_from(base: str, name: str) -> str | None:
        """What ``from base import name`` depends on (see the module's docstring)."""
        if f"{base}.{name}" in trees:
            return f"{base}.{name}"
        if base not in trees:
            return containing(base)
        path, tree = trees[base]
        if path.name != "__init__.py" or name in _bound_names(tree.body):
            return base
        return None

    graph: dict[str, set[str]] = {name: set() for name in trees}
    for module, (path, tree) in trees.items():
        package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [containing(alias.name) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package_parts[: len(package_parts) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [imported_from(base, alias.name) for alias in node.names]
            graph[module].update(t for t in targets if t and t.startswith("tfkit") and t != module)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each one or more cycles), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _is_front_end(module: str) -> bool:
    return any(module == front or module.startswith(front + ".") for front in FRONT_ENDS)


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_sees_the_package_and_its_imports(graph: dict[str, set[str]]) -> None:
    assert {"tfkit", "tfkit.errors", "tfkit.report", "tfkit.report.text", "tfkit.cli._app"} <= set(graph)
    assert "tfkit.errors" in graph["tfkit.plan"]  # module level
    assert "tfkit.workflow" in graph["tfkit.multi"]  # function level: from tfkit import workflow
    assert "tfkit.report.text" in graph["tfkit.report.json"]


def test_the_package_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    found = cycles(graph)
    assert not found, "import cycles (strongly connected modules): " + "; ".join(
        " <-> ".join(component) for component in found
    )


def test_the_core_never_imports_a_front_end(graph: dict[str, set[str]]) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if not _is_front_end(module)
        for target in targets
        if _is_front_end(target)
    )
    assert not wrong, "the core imports a front end: " + "; ".join(wrong)


def test_cycles_and_front_end_imports_are_found(tmp_path: Path) -> None:
    """The checks can fail: a planted cycle (one import in a function) and a core module importing report."""
    package = tmp_path / "tfkit"
    (package / "report").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "report" / "__init__.py").write_text("from tfkit.report.text import render\n")
    (package / "report" / "text.py").write_text("from ..errors import Error\ndef render(): ...\n")
    (package / "errors.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tfkit import plan\n"
        "class Error(Exception):\n    def __str__(self):\n        from tfkit.redact import mask\n"
    )
    (package / "redact.py").write_text("from tfkit import plan\n")
    (package / "plan.py").write_text("import tfkit.errors\nfrom tfkit.report import render\n")
    planted = import_graph(package)
    assert planted["tfkit.report.text"] == {"tfkit.errors"}
    assert planted["tfkit.errors"] == {"tfkit.redact"}  # the TYPE_CHECKING import is left out
    members = ["tfkit.errors", "tfkit.plan", "tfkit.redact", "tfkit.report", "tfkit.report.text"]
    assert cycles(planted) == [members]
    assert "tfkit.report" in planted["tfkit.plan"] and not _is_front_end("tfkit.plan")
