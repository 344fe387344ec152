"""Bring a metadata database to the newest schema with alembic (safe to run from many processes)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with engine.begin() as conn:
        # Serialise concurrent upgrades (server and workers may start together on a new database).
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727211)")
        else:  # SQLite: the write lock up front; the next process then finds the schema current
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        if engine.dialect.name != "postgresql":
            conn.exec_driver_sql("COMMIT")
