"""Promotion order: a shared module reaches an environment only after the previous one applied it.

An environment may take a local module at a content digest only if the previous environment's last
successful apply used that digest (or the environment already has it). Modules the previous
environment does not use are not shared and are not checked. An unstable previous environment
blocks promotion past it.
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
    previous = environment.previous
    if previous is None:
        return []
    health = ledger.health(previous.name)
    if not health.stable:
        return [
            PromotionProblem(
                None,
                f"'{previous.name}' is unstable ({health.reason or 'its last apply failed'}); "
                f"roll it back or fix it before promoting to '{environment.name}'",
            )
        ]
    before = ledger.last(previous.name)
    if before is None:
        return [
            PromotionProblem(
                None,
                f"'{previous.name}' has no successful apply yet; apply '{previous.name}' before "
                f"'{environment.name}' (promotion order: {' -> '.join(environment.project.names)})",
            )
        ]
    mine = ledger.last(environment.name)
    problems = []
    for module, digest in sorted(modules.items()):
        if module not in before.modules:
            continue
        if digest == before.modules[module] or (mine is not None and mine.modules.get(module) == digest):
            continue
        problems.append(
            PromotionProblem(
                module,
                f"module {module} has changes that '{previous.name}' has not applied "
                f"(digest {digest[:12]}, '{previous.name}' is at {before.modules[module][:12]}); "
                f"apply '{previous.name}' first",
            )
        )
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


def check_promotion(environment: Environment, modules: Mapping[str, str], ledger: Ledger) -> None:
    """Raise ``PromotionError`` (exit code 4) naming the first problem, if any."""
    refusal = promotion_refusal(environment, modules, ledger)
    if refusal is not None:
        raise PromotionError(refusal)
