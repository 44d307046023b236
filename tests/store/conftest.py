"""Fixtures of the store tests: the same store contract run against the local and the PostgreSQL store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storecase import StoreCase, pg_settings, unique_project

from tfkit.store.local import LocalStore
from tfkit.store.postgres import PostgresStore
from tfkit.store.settings import StoreSettings


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    """A PostgreSQL store on the shared test database, under a project id of its own."""
    with PostgresStore(pg_settings(pg_url)) as store:
        yield store


@pytest.fixture(params=["local", "postgresql"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreCase]:
    """Each contract test runs once on the local store and once on the PostgreSQL store."""
    if request.param == "local":
        settings = StoreSettings(url=None, project=unique_project())
        with LocalStore(tmp_path / ".tfkit", settings) as local:
            yield StoreCase("local", str(tmp_path / ".tfkit"), settings, local)
        return
    url = request.getfixturevalue("pg_url")
    settings = pg_settings(url)
    with PostgresStore(settings) as store:
        yield StoreCase("postgresql", url, settings, store)
