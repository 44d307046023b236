"""Promotion order: a shared module reaches an environment only after every one it comes after applied it.

An environment may take a local module at a content digest only if the last successful apply of each
environment it comes after (``after``; by default the one listed before it) used that digest, or the
environment already has it. Modules such an environment does not use are not shared with it and are not
checked. An unstable or never-applied predecessor blocks promotion past it. An environment that reads
another's outputs (``needs``) waits for that one's first successful apply and refuses while it is
unstable; it takes no digests from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tfkit.errors import PromotionError

if TYPE_CHECKING:
    from tfkit.ledger import Ledger
    from tfkit.project import Environment

__all__ = ["PromotionProblem", "check_promotion", "promotion_problems", "promotion_refusal"]


@dataclass(frozen=True, slots=True)
class PromotionProblem:
    """One reason an environment may not take this configuration yet."""

    module: str | None
    message: str


def promotion_problems(
    environment: Environment, modules: Mapping[str, str], ledger: Ledger
) -> list[PromotionProblem]:
    """Why ``environment`` may not apply ``modules`` (``{path: digest}``) yet; empty when it may."""
    problems: list[PromotionProblem] = []
    mine = None
    for name in environment.after:
        health = ledger.health(name)
        if not health.stable:
            problems.append(_unstable(environment, name, health.reason))
            continue
        before = ledger.last(name)
        if before is None:
            problems.append(_never_applied(environment, name, "comes after"))
            continue
        if mine is None:
            mine = ledger.last(environment.name)
        for module, digest in sorted(modules.items()):
            if module not in before.modules:
                continue
            if digest == before.modules[module] or (mine is not None and mine.modules.get(module) == digest):
                continue
            problems.append(
                PromotionProblem(
                    module,
                    f"module {module} has changes that '{name}' has not applied "
                    f"(digest {digest[:12]}, '{name}' is at {before.modules[module][:12]}); "
                    f"apply '{name}' first",
                )
            )
    for name in environment.needs:
        if name in environment.after:
            continue
        health = ledger.health(name)
        if not health.stable:
            problems.append(_unstable(environment, name, health.reason))
        elif ledger.last(name) is None:
            problems.append(_never_applied(environment, name, "needs the outputs of"))
    return problems


def promotion_refusal(environment: Environment, modules: Mapping[str, str], ledger: Ledger) -> str | None:
    """The one-line refusal naming the first problem (``tfkit plan`` states it), or ``None``."""
    problems = promotion_problems(environment, modules, ledger)
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f"refusing to apply '{environment.name}': {problems[0].message}{more}; "
        "override with --skip-promotion-check --reason '...'"
    )


def _unstable(environment: Environment, name: str, reason: str) -> PromotionProblem:
    return PromotionProblem(
        None,
        f"'{name}' is unstable ({reason or 'its last apply failed'}); "
        f"roll it back or fix it before applying '{environment.name}'",
    )


def _never_applied(environment: Environment, name: str, relation: str) -> PromotionProblem:
    return PromotionProblem(
        None,
        f"'{name}' has no successful apply yet; apply '{name}' before '{environment.name}' "
        f"('{environment.name}' {relation} '{name}')",
    )


def check_promotion(environment: Environment, modules: Mapping[str, str], ledger: Ledger) -> None:
    """Raise ``PromotionError`` (exit code 4) naming the first problem, if any."""
    refusal = promotion_refusal(environment, modules, ledger)
    if refusal is not None:
        raise PromotionError(refusal)
