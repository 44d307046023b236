"""tfkit.toml is checked against the schema once per document: a pass is remembered, a failure never is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tfkit import config
from tfkit.config import load_config
from tfkit.errors import ConfigError

VALID = '[environments.dev]\nvar_files = ["dev.tfvars"]\n'
INVALID = "[environments.dev]\nprotected = 'yes'\n"


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """The paths ``config._validate`` (the jsonschema check) ran on, with a private cache directory."""
    monkeypatch.setenv("TFKIT_CACHE_DIR", str(tmp_path / "cache"))
    ran: list[Path] = []
    real: Callable[[Mapping[str, Any], Path], None] = config._validate

    def counting(data: Mapping[str, Any], path: Path) -> None:
        ran.append(path)
        real(data, path)

    monkeypatch.setattr(config, "_validate", counting)
    return ran


def _write(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tfkit.toml"
    path.write_text(text)
    return path


def _marks(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "config").rglob("*.json"))


def test_an_unchanged_document_is_checked_once_and_loads_the_same(checks: list[Path], tmp_path: Path) -> None:
    path = _write(tmp_path / "repo", VALID)
    first = load_config(path)
    second = load_config(path)
    assert checks == [path]
    assert len(_marks(tmp_path)) == 1
    assert first == second
    # another checkout with the same document (a CI cache shared by checkouts) needs no check either
    other = _write(tmp_path / "clone", "# a comment does not change the document\n" + VALID)
    assert load_config(other).environments == first.environments
    assert checks == [path]


def test_a_changed_document_is_checked_again(checks: list[Path], tmp_path: Path) -> None:
    path = _write(tmp_path / "repo", VALID)
    load_config(path)
    path.write_text(VALID.replace("dev.tfvars", "other.tfvars"))
    assert load_config(path).environments[0].var_files == ("other.tfvars",)
    assert checks == [path, path]
    assert len(_marks(tmp_path)) == 2


def test_a_date_is_not_mistaken_for_its_string(checks: list[Path], tmp_path: Path) -> None:
    """A directory named like a date is a string; a TOML date there is a different document, and fails."""
    as_string = '[environments.dev]\ndir = "2099-12-31"\n'
    assert load_config(_write(tmp_path / "a", as_string)).environments[0].dir == "2099-12-31"
    path = _write(tmp_path / "b", as_string.replace('"2099-12-31"', "2099-12-31"))
    with pytest.raises(ConfigError, match=r"key 'environments\.dev\.dir' must be a string, got date"):
        load_config(path)
    assert len(checks) == 2


def test_an_invalid_document_is_never_remembered_and_fails_the_same_each_time(
    checks: list[Path], tmp_path: Path
) -> None:
    path = _write(tmp_path / "repo", INVALID)
    messages = []
    for _ in range(2):
        with pytest.raises(ConfigError) as info:
            load_config(path)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "key 'environments.dev.protected' must be a boolean, got str 'yes'" in messages[0]
    assert checks == [path, path]
    assert _marks(tmp_path) == []


def test_a_mark_is_for_one_schema(
    checks: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "repo", VALID)
    load_config(path)
    monkeypatch.setattr(config, "_schema_digest", lambda: "a schema fragment changed")
    load_config(path)
    assert checks == [path, path]


def test_a_cache_that_cannot_be_written_means_checking_every_time(
    checks: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("TFKIT_CACHE_DIR", str(blocker))
    path = _write(tmp_path / "repo", VALID)
    assert load_config(path) == load_config(path)
    assert checks == [path, path]
