"""Metric attribution's time series in the metadata database: every server process adds what its
events contributed; readers sum over processes and machines alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.metadata.tables import attribution_metrics as table


@dataclass(frozen=True)
class Point:
    attribution_arn: str
    metric_name: str
    source: str
    window: int  # start of the 15-minute window, epoch seconds
    event_type: str
    value: float
    samples: int


class AttributionSeries:
    def __init__(self, metadata: SqlMetadataStore) -> None:
        self.metadata = metadata

    def add(self, points: Iterable[Point]) -> None:
        """Add each point's value and samples to its window (created at the first one)."""
        rows = [p.__dict__ for p in points]
        if not rows:
            return
        dialect = sqlite if self.metadata.is_sqlite else postgresql
        insert = dialect.insert(table)
        upsert = insert.on_conflict_do_update(
            index_elements=["attribution_arn", "metric_name", "source", "window"],
            set_={
                "value": table.c.value + insert.excluded.value,
                "samples": table.c.samples + insert.excluded.samples,
            },
        )
        with self.metadata.transaction() as conn:
            conn.execute(upsert, rows)

    def read(self, attribution_arn: str, since: int, metric_name: str | None = None) -> list[Point]:
        query = sa.select(table).where(table.c.attribution_arn == attribution_arn, table.c.window >= since)
        if metric_name is not None:
            query = query.where(table.c.metric_name == metric_name)
        with self.metadata.engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.window)).mappings()
            return [Point(**dict(row)) for row in rows]

    def totals(self, since: int) -> list[Point]:
        """Per (attribution, metric, source): the sum since ``since`` (window -1)."""
        query = (
            sa.select(
                table.c.attribution_arn, table.c.metric_name, table.c.source, table.c.event_type,
                sa.func.sum(table.c.value).label("value"), sa.func.sum(table.c.samples).label("samples"),
            )
            .where(table.c.window >= since)
            .group_by(table.c.attribution_arn, table.c.metric_name, table.c.source, table.c.event_type)
        )  # fmt: skip
        with self.metadata.engine.connect() as conn:
            return [
                Point(
                    r.attribution_arn,
                    r.metric_name,
                    r.source,
                    -1,
                    r.event_type,
                    float(r.value),
                    int(r.samples),
                )
                for r in conn.execute(query)
            ]

    def forget(self, attribution_arn: str | None = None, *, before: int | None = None) -> None:
        """Drop an attribution's series, or every window older than ``before``."""
        where = []
        if attribution_arn is not None:
            where.append(table.c.attribution_arn == attribution_arn)
        if before is not None:
            where.append(table.c.window < before)
        with self.metadata.transaction() as conn:
            conn.execute(table.delete().where(*where))
