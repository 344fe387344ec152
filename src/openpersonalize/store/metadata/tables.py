"""Table definitions (the alembic migrations create exactly these)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("arn", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("name", sa.String(256)),
    sa.Column("name_key", sa.String(1024)),
    sa.Column("parent_arn", sa.String(512)),
    sa.Column("dataset_group_arn", sa.String(512)),
    sa.Column("alt_key", sa.String(512)),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("attrs", sa.Text, nullable=False),
    sa.UniqueConstraint("kind", "name_key", name="uq_resources_kind_name"),
    sa.UniqueConstraint("kind", "alt_key", name="uq_resources_kind_alt"),
    sa.Index("ix_resources_kind_created", "kind", "created"),
    sa.Index("ix_resources_parent", "parent_arn"),
    sa.Index("ix_resources_dataset_group", "dataset_group_arn"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("arn", sa.String(512), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("resource_arn", sa.String(512), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("worker_id", sa.String(128)),
    sa.Column("heartbeat", sa.Float),
    sa.Column("progress", sa.Float),
    sa.Column("not_before", sa.Float, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("error", sa.Text),
    # Highest resident memory (bytes) of the worker while it ran the job: tells an OOM kill apart.
    sa.Column("memory_peak", sa.BigInteger),
    sa.Column("memory_limit", sa.BigInteger),
    sa.Index("ix_jobs_status", "status", "not_before"),
    sa.Index("ix_jobs_resource", "resource_arn"),
)

# A dataset's Parquet parts (store/interactions/manifest.py): bulk imports and compacted events.
dataset_parts = sa.Table(
    "dataset_parts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # bulk | events
    sa.Column("key", sa.String(1024), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    # When the part's records were written: orders "newest record per id wins" across parts.
    sa.Column("written", sa.Float, nullable=False),
    sa.Column("first_at", sa.Float, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("job", sa.String(512)),  # the import job of a bulk part
    sa.UniqueConstraint("key", name="uq_dataset_parts_key"),
    sa.Index("ix_dataset_parts_dataset", "dataset_id", "source"),
)

# Acknowledged records of the shared event log (store/interactions/shared.py, PostgreSQL only).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("writer", sa.String(128), nullable=False),  # the server process that took it
    sa.Column("payload", sa.LargeBinary, nullable=False),  # the record, as JSON
    sa.Index("ix_events_dataset", "dataset_id", "id"),
)

# Metric attribution (serving/attribution.py): the sum of a metric's values per event attribution
# source and 15-minute window (its start, epoch seconds) — our stand-in for CloudWatch.
attribution_metrics = sa.Table(
    "attribution_metrics",
    metadata,
    sa.Column("attribution_arn", sa.String(512), primary_key=True),
    sa.Column("metric_name", sa.String(256), primary_key=True),
    sa.Column("source", sa.String(512), primary_key=True),
    sa.Column("window", sa.BigInteger, primary_key=True),
    sa.Column("event_type", sa.String(256), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("samples", sa.BigInteger, nullable=False),
)
