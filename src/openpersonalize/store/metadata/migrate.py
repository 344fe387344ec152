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
        if engine.dialect.name == "postgresql":
            # Serialise concurrent upgrades (server and workers start together).
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727211)")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
