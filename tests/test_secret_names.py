"""tfkit.secret_names: the one secret-name rule of the plan's secret policies and the repository guard."""

from __future__ import annotations

import pytest

from tfkit.guard import tfrules
from tfkit.policy import _detect
from tfkit.secret_names import is_secret_name

SECRET = [
    "oidc_id_token",
    "client_id_secret",
    "db_max_password",
    "old_expired_token",
    "service_arn_private_key",
    "password",
    "db_password",
    "DB_PASSWORD",
    "dbPassword",  # the guard flagged camelCase; the policies did not
    "passwd",
    "MYSQL_PWD",  # the policies flagged pwd; the guard did not
    "ssh_passphrase",
    "client_secret",
    "clientSecret",
    "secret_string",
    "api_token",
    "accessToken",
    "sas_token",
    "apiKey",
    "x-api-key",
    "access_key",
    "private_key_pem",
    "auth_key",
    "credentials_json",
    "disable_password_authentication",
]
NOT_SECRET = [
    "token_max_age",
    "token_expires_at",
    "password_min_length",
    "password_length",
    "password_min_length",
    "password_policy",
    "secret_arn",
    "secret_name",
    "secret_id",
    "secret_rotation_days",
    "token_ttl",
    "token_validity",
    "token_endpoint",
    "token_format",
    "api_key_source",
    "access_key_id",
    "private_key_algorithm",
    "kms_key_id",
    "credential_file",
    "description",
    "ſecret",  # ASCII only
]


@pytest.mark.parametrize("name", SECRET)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", NOT_SECRET)
def test_metadata_and_other_names(name: str) -> None:
    assert not is_secret_name(name)


def test_the_policies_and_the_guard_use_the_one_rule() -> None:
    assert _detect.is_secret_key_name is is_secret_name
    assert tfrules.is_secret_name is is_secret_name
