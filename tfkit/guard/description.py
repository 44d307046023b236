"""A change's description: check that it says what changed and why, and write one from the plans.

The rule ``check_description`` applies (documented for users in the ``check-changes`` help):

* **what**: the first non-blank line (a Markdown heading's ``#`` marks ignored) is a summary of at least
  three words, not a placeholder such as "WIP" or "update";
* **why**: the description gives its motivation, either in a section whose heading names it (Why,
  Motivation, Reason, Rationale, Context, Background) holding at least three words of text, or a line
  ``Why: ...``, or a sentence with "because", "so that", "in order to" or "to prevent/allow/fix/support".

HTML comments (``<!-- ... -->``) do not count, so the template ``tfkit.report.markdown.describe_plans``
writes fails the check until a person has written the why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["WHY_PLACEHOLDER", "DescriptionCheck", "check_description"]

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s+(?P<h>.+?)\s*#*\s*$|\*\*(?P<b>[^*]+)\*\*:?\s*$|(?P<c>[A-Z][\w /]{1,40}):\s*$)"
)
_WHY_WORD = re.compile(r"\b(why|motivation|reason|reasons|rationale|context|background)\b", re.IGNORECASE)
_WHY_LINE = re.compile(
    r"^\s*(?:[-*]\s*)?\**(why|motivation|reason|rationale)\**\s*:\**\s*(?P<text>\S.*)$", re.IGNORECASE
)
_BECAUSE = re.compile(
    r"\b(because|so that|in order to|to (?:prevent|allow|fix|support|enable|avoid|reduce))\b", re.IGNORECASE
)
_PLACEHOLDERS = frozenset(
    {
        "wip",
        "fix",
        "fixes",
        "update",
        "updates",
        "change",
        "changes",
        "misc",
        "stuff",
        "tbd",
        "todo",
        "test",
        "tmp",
    }
)
WHY_PLACEHOLDER = (
    "<!-- tfkit: say why this change is needed (the motivation, the ticket), then remove this comment -->"
)


@dataclass(frozen=True, slots=True)
class DescriptionCheck:
    """What a description lacks; empty when it says what changed and why."""

    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """The description says what changed and why."""
        return not self.problems


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def _summary(lines: list[str]) -> str:
    first = next((line.strip() for line in lines if line.strip()), "")
    return first.lstrip("#").strip()


def _has_why(lines: list[str]) -> bool:
    section: list[str] | None = None
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            title = heading["h"] or heading["b"] or heading["c"] or ""
            if section is not None and _words(" ".join(section)) >= 3:
                return True
            section = [] if _WHY_WORD.search(title) else None
            continue
        why = _WHY_LINE.match(line)
        if (why and _words(why["text"]) >= 3) or _BECAUSE.search(line):
            return True
        if section is not None:
            section.append(line)
    return section is not None and _words(" ".join(section)) >= 3


def check_description(text: str) -> DescriptionCheck:
    """The problems of a change description (see the module's docstring for the rule)."""
    lines = _COMMENT.sub("", text).splitlines()
    problems: list[str] = []
    summary = _summary(lines)
    if not summary:
        problems.append("the description is empty: start with a one-line summary of what changes")
    elif _words(summary) < 3 or summary.lower().rstrip(".!") in _PLACEHOLDERS:
        problems.append(
            f"the summary line '{summary[:60]}' does not say what changes: write at least three words"
        )
    body = lines[next((i for i, line in enumerate(lines) if line.strip()), 0) + 1 :]
    if not _has_why(body):
        problems.append(
            "the description does not say why: add a 'Why' section (or a 'Why: ...' line, or a sentence "
            "with 'because' / 'so that') giving the motivation"
        )
    return DescriptionCheck(tuple(problems))
