"""The parts manifest: which Parquet parts make up each dataset (a table of the metadata database).

A dataset's data is its bulk parts (one per file of each import job; a FULL import replaces the
earlier ones, an INCREMENTAL one adds to them) plus its event parts (compacted from the event
log). Every process reads the same manifest, wherever it runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.metadata.tables import dataset_parts

BULK = "bulk"
EVENTS = "events"


@dataclass(frozen=True)
class Part:
    key: str  # object-store key of the Parquet file
    source: str  # BULK or EVENTS
    rows: int
    written: float  # when its records were written (bulk: the import's end)
    first_at: float  # event parts: the span of their records' write times
    last_at: float
    job: str | None = None  # bulk: the import job that wrote it


class PartsManifest:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self.metadata = metadata

    def parts(self, dataset_id: str) -> list[Part]:
        """The dataset's parts, oldest first (bulk and events alike)."""
        query = (
            sa.select(dataset_parts)
            .where(dataset_parts.c.dataset_id == dataset_id)
            .order_by(dataset_parts.c.written, dataset_parts.c.id)
        )
        with self.metadata.engine.connect() as conn:
            return [_part(row) for row in conn.execute(query).mappings()]

    def has_bulk(self, dataset_id: str) -> bool:
        query = sa.select(dataset_parts.c.id).where(
            dataset_parts.c.dataset_id == dataset_id, dataset_parts.c.source == BULK
        )
        with self.metadata.engine.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def publish_bulk(self, dataset_id: str, parts: Iterable[Part], *, replace: bool) -> list[str]:
        """Add an import's parts; with ``replace`` (FULL) they replace the earlier bulk parts, whose
        keys are returned so their files can be deleted. Readers see the old set or the new one."""
        with self.metadata.transaction() as conn:
            replaced: list[str] = []
            if replace:
                old = dataset_parts.c.dataset_id == dataset_id, dataset_parts.c.source == BULK
                replaced = list(conn.execute(sa.select(dataset_parts.c.key).where(*old)).scalars())
                conn.execute(dataset_parts.delete().where(*old))
            rows = [_row(dataset_id, part) for part in parts]
            if rows:
                conn.execute(dataset_parts.insert(), rows)
        return replaced

    def add_event_parts(self, dataset_id: str, parts: Iterable[Part]) -> None:
        """Register compacted event parts; a part already registered (a rerun) is left as it is."""
        with self.metadata.transaction() as conn:
            for part in parts:
                known = conn.execute(
                    sa.select(dataset_parts.c.id).where(dataset_parts.c.key == part.key)
                ).first()
                if known is None:
                    conn.execute(dataset_parts.insert().values(**_row(dataset_id, part)))

    def replace_part(self, dataset_id: str, old_key: str, new: Part | None) -> bool:
        """Swap one part for its rewritten copy (None: drop it) in one transaction; False when the
        old part is no longer listed (a FULL import replaced it meanwhile): nothing changes."""
        with self.metadata.transaction() as conn:
            where = dataset_parts.c.dataset_id == dataset_id, dataset_parts.c.key == old_key
            if conn.execute(dataset_parts.delete().where(*where)).rowcount == 0:
                return False
            if new is not None:
                conn.execute(dataset_parts.insert().values(**_row(dataset_id, new)))
        return True

    def event_parts_since(self, since: float) -> list[tuple[str, Part]]:
        """(dataset id, part) for every event part holding records written after ``since``."""
        query = sa.select(dataset_parts).where(
            dataset_parts.c.source == EVENTS, dataset_parts.c.last_at > since
        )
        with self.metadata.engine.connect() as conn:
            return [(row["dataset_id"], _part(row)) for row in conn.execute(query).mappings()]

    def drop(self, dataset_id: str) -> list[str]:
        """Forget every part of a dataset; returns their keys."""
        with self.metadata.transaction() as conn:
            where = dataset_parts.c.dataset_id == dataset_id
            keys = list(conn.execute(sa.select(dataset_parts.c.key).where(where)).scalars())
            conn.execute(dataset_parts.delete().where(where))
        return keys


def _row(dataset_id: str, part: Part) -> dict[str, object]:
    return {
        "dataset_id": dataset_id,
        "source": part.source,
        "key": part.key,
        "rows": part.rows,
        "written": part.written,
        "first_at": part.first_at,
        "last_at": part.last_at,
        "job": part.job,
    }


def _part(row: sa.RowMapping) -> Part:
    return Part(
        key=row["key"],
        source=row["source"],
        rows=int(row["rows"]),
        written=float(row["written"]),
        first_at=float(row["first_at"]),
        last_at=float(row["last_at"]),
        job=row["job"],
    )
