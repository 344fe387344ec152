"""The throwaway PostgreSQL fixture: reachable, configured for tests, isolated databases, clean stop."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.fixtures.pgserver import (
    DEFAULT_DATABASE,
    SERVER_USER,
    PostgresUnavailable,
    drop_database,
    fresh_database,
    start_postgres,
)
from tests.fixtures.requirements import missing

pytestmark = pytest.mark.postgres


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def libpq_dsn(url: str) -> str:
    """The SQLAlchemy URL as a plain libpq URI that psycopg.connect accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_names(url: str) -> set[str]:
    with engine_for(url) as engine, engine.connect() as conn:
        return set(conn.scalars(text("SELECT datname FROM pg_database")))


def test_select_one_through_sqlalchemy(postgres_url: str) -> None:
    assert make_url(postgres_url).drivername == "postgresql+psycopg"
    with engine_for(postgres_url) as engine, engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1
        assert conn.scalar(text("SELECT current_database()")) == DEFAULT_DATABASE


def test_plain_psycopg_connects_over_loopback(postgres_url: str) -> None:
    url = make_url(postgres_url)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as conn:
        row = conn.execute("SELECT inet_server_addr()::text, current_user").fetchone()
    assert row is not None
    assert row[0].startswith("127.0.0.1")
    assert row[1] == SERVER_USER


def test_server_is_tuned_for_throwaway_use(postgres_url: str) -> None:
    with engine_for(postgres_url) as engine, engine.connect() as conn:
        assert conn.scalar(text("SHOW fsync")) == "off"
        assert conn.scalar(text("SHOW listen_addresses")) == "127.0.0.1"
        assert conn.scalar(text("SHOW server_encoding")) == "UTF8"


def test_server_runs_as_the_postgres_os_user_when_we_are_root(postgres_url: str) -> None:
    with engine_for(postgres_url) as engine, engine.connect() as conn:
        datadir = Path(conn.scalar(text("SHOW data_directory")))
    expected_owner = SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    assert datadir.owner() == expected_owner
    assert datadir.parent.name.startswith("openpersonalize-pg-")


def test_fresh_database_is_new_empty_and_isolated(postgres_url: str) -> None:
    first = fresh_database(postgres_url)
    second = fresh_database(postgres_url)
    assert make_url(first).database != make_url(second).database
    assert {make_url(first).database, make_url(second).database} <= database_names(postgres_url)

    with engine_for(first) as engine, engine.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")) == 0
        conn.execute(text("CREATE TABLE only_in_first (id int)"))
    with engine_for(second) as engine, engine.connect() as conn:
        assert conn.scalar(text("SELECT to_regclass('public.only_in_first')")) is None

    drop_database(first)
    drop_database(second)


def test_drop_database_disconnects_leftover_sessions(postgres_url: str) -> None:
    url = fresh_database(postgres_url)
    with psycopg.connect(libpq_dsn(url)) as lingering:
        drop_database(url)
        with pytest.raises(psycopg.OperationalError):
            lingering.execute("SELECT 1")
    assert make_url(url).database not in database_names(postgres_url)


def test_fresh_postgres_url_fixture_gives_its_own_database(fresh_postgres_url: str) -> None:
    assert make_url(fresh_postgres_url).database != DEFAULT_DATABASE
    with engine_for(fresh_postgres_url) as engine, engine.connect() as conn:
        assert conn.scalar(text("SELECT current_database()")) == make_url(fresh_postgres_url).database


@pytest.mark.integration
def test_start_postgres_then_stop_removes_everything() -> None:
    try:
        url, stop = start_postgres(database="standalone_check")
    except PostgresUnavailable as unavailable:
        missing(f"PostgreSQL: {unavailable}")
    try:
        with engine_for(url) as engine, engine.connect() as conn:
            assert conn.scalar(text("SELECT current_database()")) == "standalone_check"
            datadir = Path(conn.scalar(text("SHOW data_directory")))
    finally:
        stop()
    stop()  # idempotent: a second stop is harmless

    assert not datadir.parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(libpq_dsn(url), connect_timeout=5)
