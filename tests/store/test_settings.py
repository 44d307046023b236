"""Store settings: which store, the project id, and URLs that never show their password."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from pg_server import PgServer

from tfkit.config import load_config
from tfkit.errors import ConfigError
from tfkit.redact import mask
from tfkit.store.settings import SERVER_KEEPALIVES, StoreSettings, display_url, project_id, store_settings


def _settings(url: str) -> StoreSettings:
    return StoreSettings(url=url, project="p")


def test_display_url_hides_the_password_in_both_places() -> None:
    shown = display_url("postgresql://tfkit:s3cr3t-pw@db:5432/tfkit?password=other-pw&sslmode=require")
    assert "s3cr3t-pw" not in shown and "other-pw" not in shown
    assert shown.startswith("postgresql://tfkit:***@db:5432/tfkit?") and "sslmode=require" in shown


def test_terraform_gets_only_the_parameters_its_driver_understands() -> None:
    url = "postgresql://u@/tfkit?host=/run/pg&keepalives=1&target_session_attrs=any&sslmode=disable"
    query = parse_qs(urlsplit(_settings(url).terraform_conn_str()).query)
    assert set(query) == {"host", "sslmode", "connect_timeout", *SERVER_KEEPALIVES}
    conninfo = parse_qs(urlsplit(_settings(url).conninfo()).query)
    assert conninfo["keepalives_idle"] == ["30"] and conninfo["target_session_attrs"] == ["any"]


def test_the_environment_variable_wins_and_its_password_is_masked(tmp_path: Path) -> None:
    (tmp_path / "tfkit.toml").write_text(
        '[environments.dev]\n[store]\nurl = "postgresql://tfkit@db/tfkit"\nproject = "infra"\n'
    )
    config = load_config(tmp_path / "tfkit.toml")
    assert store_settings(config, tmp_path, {}).url == "postgresql://tfkit@db/tfkit"
    env = {"TFKIT_STORE_URL": "postgres://tfkit:Pw-from-CI-9f2@db2/tfkit"}
    settings = store_settings(config, tmp_path, env)
    assert settings.url == env["TFKIT_STORE_URL"] and settings.project == "infra"
    assert "Pw-from-CI-9f2" not in settings.describe()
    assert mask("connect failed for Pw-from-CI-9f2") == "connect failed for (sensitive)"
    with pytest.raises(ConfigError, match="TFKIT_STORE_URL must be a postgresql:// URL"):
        store_settings(config, tmp_path, {"TFKIT_STORE_URL": "mysql://x:Pw-2@db/x"})


def test_no_setting_means_the_local_store(tmp_path: Path) -> None:
    (tmp_path / "tfkit.toml").write_text("[environments.dev]\n")
    settings = store_settings(load_config(tmp_path / "tfkit.toml"), tmp_path, {})
    assert settings.kind == "local" and settings.describe() == "local .tfkit/"


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://x-access-token:ghs_abc@github.com/acme/infra.git", "github.com-acme-infra"),
        ("git@github.com:acme/infra.git", "github.com-acme-infra"),
        ("ssh://git@gitlab.example.com:2222/platform/Infra", "gitlab.example.com-platform-infra"),
    ],
)
def test_project_id_from_the_origin_remote(tmp_path: Path, remote: str, expected: str) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    assert project_id(tmp_path, None) == expected
    assert project_id(tmp_path, "set-by-hand") == "set-by-hand"


def test_project_id_without_a_remote_is_the_directory_name(tmp_path: Path) -> None:
    repo = tmp_path / "Platform Infra"
    repo.mkdir()
    assert project_id(repo, None) == "platform-infra"


def test_the_server_drops_a_vanished_runners_session_within_a_minute(pg_server: PgServer) -> None:
    """tfkit asks the server for TCP keepalives on its sessions (its default follows the OS: hours)."""
    settings = StoreSettings(url=pg_server.tcp_url, project="p")
    with psycopg.connect(settings.conninfo()) as conn:
        shown = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
        }
    assert shown == {
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
    }
    given = StoreSettings(url=pg_server.tcp_url + "&options=-c%20statement_timeout%3D5000", project="p")
    with psycopg.connect(given.conninfo()) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "5s"  # type: ignore[index]
        assert conn.execute("SHOW tcp_keepalives_idle").fetchone()[0] == "30"  # type: ignore[index]
    query = parse_qs(urlsplit(settings.terraform_conn_str()).query)
    assert query["tcp_keepalives_idle"] == ["30"]  # lib/pq passes it to the server as a start-up setting
