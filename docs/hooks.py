"""MkDocs hook: tables generated from the code, so the docs cannot drift from it.

``<!-- tfkit:exit-codes -->`` becomes the table of ``tfkit.cli.EXIT_CODES``; ``<!-- tfkit:errors -->``
the table of every ``TfkitError`` subclass with its exit code, linking to its troubleshooting section;
``<!-- tfkit:github-workflow -->`` the repository's ``.github/workflows/infra.yml`` as it is.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "infra.yml"

SKIP = ("tfkit.terraform._embedded", "tfkit.terraform._worker", "tfkit.scan._checkov_main", "tfkit.__main__")


def error_classes() -> list[type]:
    """Every ``TfkitError`` subclass of the tfkit package (its modules imported first)."""
    import tfkit
    from tfkit.errors import TfkitError

    for module in pkgutil.walk_packages(tfkit.__path__, "tfkit."):
        if module.name not in SKIP:
            importlib.import_module(module.name)
    found: dict[str, type] = {}
    pending = [TfkitError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__.startswith("tfkit."):
                found[f"{sub.__module__}.{sub.__name__}"] = sub
            pending.append(sub)
    return sorted(found.values(), key=lambda c: c.__name__)


def _exit_codes() -> str:
    from tfkit.cli import EXIT_CODES

    rows = [f"| {code} | {meaning} |" for code, meaning in sorted(EXIT_CODES.items())]
    return "\n".join(["| code | meaning |", "| ---: | --- |", *rows])


def _errors() -> str:
    rows = []
    for cls in error_classes():
        summary = (cls.__doc__ or "").strip().splitlines()[0].replace("|", "\\|")
        anchor = cls.__name__.lower()
        rows.append(f"| [`{cls.__name__}`](troubleshooting.md#{anchor}) | {cls.exit_code} | {summary} |")
    return "\n".join(["| error | exit code | what it means |", "| --- | ---: | --- |", *rows])


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the markers with the generated tables."""
    if "<!-- tfkit:exit-codes -->" in markdown:
        markdown = markdown.replace("<!-- tfkit:exit-codes -->", _exit_codes())
    if "<!-- tfkit:errors -->" in markdown:
        markdown = markdown.replace("<!-- tfkit:errors -->", _errors())
    if "<!-- tfkit:github-workflow -->" in markdown:
        workflow = WORKFLOW.read_text(encoding="utf-8").rstrip("\n")
        markdown = markdown.replace("<!-- tfkit:github-workflow -->", f"```yaml\n{workflow}\n```")
    return markdown
