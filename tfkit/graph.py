"""Environments as a graph: what each one comes after (promotion) and whose outputs it needs (order).

An edge ``a -> b`` means ``b`` runs only after ``a``: ``b`` comes after ``a`` (a module digest reaches ``b``
only once ``a`` applied it) or ``b`` needs ``a``'s outputs. The graph is plain data (names only), so the
config checks it, the CLI draws it, and the runners walk it; ordering uses the standard library's
``graphlib``. Errors are ``GraphError`` with one line; ``tfkit.config`` turns them into ``ConfigError``.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["EnvironmentGraph", "GraphError", "render_dot", "render_mermaid", "render_text"]


class GraphError(ValueError):
    """The environments do not form a graph tfkit can walk: a cycle, an unknown name, a self-reference."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, slots=True)
class EnvironmentGraph:
    """Environment names in listing order, with each one's ``after`` and ``needs`` (validated)."""

    names: tuple[str, ...]
    after: Mapping[str, tuple[str, ...]]
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = set(self.names)
        for name in self.names:
            for kind, targets in (("after", self.after.get(name, ())), ("needs", self.needs.get(name, ()))):
                key = f"environments.{name}.{kind}"
                for target in targets:
                    if target == name:
                        raise GraphError(f"{key}: '{name}' cannot name itself", key=key)
                    if target not in known:
                        raise GraphError(
                            f"{key}: unknown environment '{target}'; known: {', '.join(self.names)}", key=key
                        )
        cycle = self._cycle()
        if cycle:
            key = f"environments.{cycle[0]}.after"
            raise GraphError(f"environments form a cycle: {' -> '.join(cycle)}; remove one edge", key=key)

    def _cycle(self) -> list[str]:
        try:
            graphlib.TopologicalSorter(self._predecessor_map()).prepare()
        except graphlib.CycleError as exc:
            # graphlib reports [n1, n2, ..., n1], each an immediate predecessor of the next: run order
            return list(exc.args[1])
        return []

    def _predecessor_map(self) -> dict[str, tuple[str, ...]]:
        return {name: self.predecessors(name) for name in self.names}

    def predecessors(self, name: str) -> tuple[str, ...]:
        """What ``name`` waits for: the environments it comes after, then those it needs (no repeats)."""
        return tuple(dict.fromkeys((*self.after.get(name, ()), *self.needs.get(name, ()))))

    def successors(self, name: str) -> tuple[str, ...]:
        """The environments that wait for ``name``, in listing order."""
        return tuple(n for n in self.names if name in self.predecessors(n))

    def downstream(self, names: Iterable[str]) -> set[str]:
        """Every environment that waits, directly or transitively, for one of ``names`` (not themselves)."""
        found: set[str] = set()
        todo = list(names)
        while todo:
            for child in self.successors(todo.pop()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def dependents(self, names: Iterable[str]) -> set[str]:
        """Every environment that reads, directly or transitively, the outputs of one of ``names``."""
        readers: dict[str, list[str]] = {}
        for child in self.names:
            for read in self.needs.get(child, ()):
                readers.setdefault(read, []).append(child)
        found: set[str] = set()
        todo = list(names)
        while todo:
            for child in readers.get(todo.pop(), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return found

    def levels(self, only: Iterable[str] | None = None) -> list[list[str]]:
        """The environments in graph levels: each level waits only for earlier ones (listing order inside).

        With ``only``, the levels of that subset, ordered by the whole graph's edges between its members
        (an environment left out is taken as done).
        """
        chosen = set(self.names if only is None else only)
        level: dict[str, int] = {}
        for name in self.order():
            ups = [level[p] + 1 for p in self._within(name, chosen)]
            level[name] = max(ups, default=0)
        result: list[list[str]] = []
        for name in self.names:
            if name in chosen:
                while len(result) <= level[name]:
                    result.append([])
                result[level[name]].append(name)
        return [lvl for lvl in result if lvl]

    def _within(self, name: str, chosen: set[str]) -> Iterator[str]:
        """The predecessors of ``name`` inside ``chosen``, looking through left-out environments."""
        seen: set[str] = set()
        todo = list(self.predecessors(name))
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            if current in chosen:
                yield current
            else:
                todo.extend(self.predecessors(current))

    def order(self) -> list[str]:
        """Every environment in an order that respects the graph (listing order among ready ones)."""
        sorter = graphlib.TopologicalSorter(self._predecessor_map())
        sorter.prepare()
        rank = {n: i for i, n in enumerate(self.names)}
        done: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=rank.__getitem__)
            done.extend(ready)
            sorter.done(*ready)
        return done

    def restricted(self, names: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """``{name: its predecessors among names}`` (looking through the others), for a partial run."""
        chosen = set(names)
        return {n: tuple(sorted(set(self._within(n, chosen)))) for n in names}


def _edges(graph: EnvironmentGraph) -> Iterator[tuple[str, str, str]]:
    for name in graph.names:
        for before in graph.after.get(name, ()):
            yield before, name, "after"
        for before in graph.needs.get(name, ()):
            yield before, name, "needs"


def render_text(graph: EnvironmentGraph) -> str:
    """One line per environment in graph levels: ``name  after: a, b  needs: c``."""
    lines: list[str] = []
    for number, level in enumerate(graph.levels()):
        lines.append(f"level {number}:")
        for name in level:
            parts = [f"  {name}"]
            if graph.after.get(name):
                parts.append(f"after: {', '.join(graph.after[name])}")
            if graph.needs.get(name):
                parts.append(f"needs: {', '.join(graph.needs[name])}")
            lines.append("  ".join(parts))
    return "\n".join(lines)


def _node_id(name: str) -> str:
    return "n_" + name.replace("-", "_")


def render_mermaid(graph: EnvironmentGraph) -> str:
    """A Mermaid flowchart: solid arrows for ``after`` (promotion), dotted ones for ``needs`` (outputs)."""
    lines = ["flowchart LR"]
    lines += [f'  {_node_id(n)}["{n}"]' for n in graph.names]
    for before, name, kind in _edges(graph):
        arrow = "-->" if kind == "after" else "-. needs .->"
        lines.append(f"  {_node_id(before)} {arrow} {_node_id(name)}")
    return "\n".join(lines)


def render_dot(graph: EnvironmentGraph) -> str:
    """A Graphviz digraph: solid edges for ``after``, dashed ones labelled ``needs``."""
    lines = ["digraph environments {", "  rankdir=LR;"]
    lines += [f'  "{n}";' for n in graph.names]
    for before, name, kind in _edges(graph):
        style = "" if kind == "after" else ' [style=dashed, label="needs"]'
        lines.append(f'  "{before}" -> "{name}"{style};')
    lines.append("}")
    return "\n".join(lines)
