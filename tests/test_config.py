"""tfkit.toml: reading, validation and one-line errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfkit.config import load_config
from tfkit.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tfkit.toml"
    path.write_text(text)
    return path


def test_example_repository_config_loads_in_promotion_order() -> None:
    cfg = load_config(REPO / "tfkit.toml")
    assert [e.name for e in cfg.environments] == ["dev", "staging", "production"]
    prod = cfg.environments[2]
    assert prod.protected is True and prod.dir == "envs/production"
    assert prod.var_files == ("production.tfvars",)
    assert cfg.engine.kind == "embedded"
    assert cfg.secrets["db_password"].kind == "file"


def test_defaults_fill_in(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[environments.qa]\n"))
    (qa,) = cfg.environments
    assert (qa.dir, qa.var_files, qa.protected, dict(qa.backend)) == ("envs/qa", (), False, {})
    assert (cfg.engine.kind, cfg.engine.binary) == ("embedded", "terraform")


def test_backend_values_become_strings(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, '[environments.qa.backend]\npath = "s.tfstate"\nretries = 3\nskip = true\n')
    )
    assert dict(cfg.environments[0].backend) == {"path": "s.tfstate", "retries": "3", "skip": "true"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[environments.dev\n", "invalid TOML"),
        (
            "[environments.dev]\nprotected = 'yes'\n",
            "key 'environments.dev.protected' must be a boolean, got str 'yes'",
        ),
        (
            "[environments.dev]\nvar_file = ['a.tfvars']\n",
            "unknown key 'environments.dev.var_file' (did you mean 'var_files'?)",
        ),
        (
            "[engine]\nkind = 'docker'\n[environments.dev]\n",
            "key 'engine.kind' must be one of 'embedded', 'binary', got 'docker'",
        ),
        ("[enviroments.dev]\n", "unknown key 'enviroments' (did you mean 'environments'?)"),
        ("[engine]\nkind = 'binary'\n", "missing required key 'environments'"),
        ("[environments.Dev]\n", "invalid name 'Dev'"),
        (
            "[environments.dev]\n[secrets.pw]\nenv = 'A'\nfile = 'b'\n",
            "must set exactly one of env, file or command",
        ),
    ],
)
def test_invalid_config_is_one_line_naming_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert expected in message
    assert message.startswith(str(path))
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "tfkit.toml")
