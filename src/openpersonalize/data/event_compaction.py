"""Move acknowledged records from the event log into Parquet parts of their datasets.

The event log is the durable write path; Parquet is the read path. A compaction run takes each
batch the interactions store has waiting (a sealed segment), writes one Parquet part per dataset
it touches, registers the parts in the manifest and only then lets the store remove the batch. A
crash in between leaves the records in both places; readers drop such exact duplicates (same
content, same eventId), and a rerun registers the same part keys once.

A batch that cannot be compacted (a corrupt frame, an object store that refuses the part) is
skipped and reported, never allowed to block the batches after it; it stays in the log, where
readers still see its records, and is tried again at the next run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from openpersonalize.data.fields import arrow_schema
from openpersonalize.data.schema import parse_schema
from openpersonalize.store.interactions import Batch, InteractionsStore
from openpersonalize.store.metadata import MetadataStore, Resource, all_resources

log = logging.getLogger(__name__)

# Bookkeeping columns kept next to the schema's columns in event parts.
META_COLUMNS = pa.schema(
    [("_event_id", pa.string()), ("_session", pa.string()), ("_at", pa.float64())]
)  # fmt: skip
# The job row that keeps the outcome of an event log's compactions (see jobs/worker.py).
COMPACTION_JOB = "compact-event-log"


def event_part_schema(schema_fields: pa.Schema) -> pa.Schema:
    """Event parts keep every column nullable: anonymous events (a sessionId, no userId) have no
    USER_ID, and an acknowledged event must never be refused later, when it is compacted."""
    return pa.schema([f.with_nullable(True) for f in schema_fields] + list(META_COLUMNS))


@dataclass
class CompactionReport:
    moved: int = 0  # records moved into Parquet parts
    compacted: int = 0  # batches compacted and removed
    skipped: dict[str, str] = field(default_factory=dict)  # batch name -> why it was skipped


def compact_event_log(store: MetadataStore, interactions: InteractionsStore) -> CompactionReport:
    """Compact every batch waiting in the event log that can be; skip and report the others."""
    report = CompactionReport()
    with interactions.compaction() as batches:
        if batches is None:
            return report  # another process is compacting this log
        datasets = {d.attrs["_id"]: d for d in all_resources(store, "dataset")}
        for batch in batches:
            try:
                report.moved += _compact_batch(store, interactions, datasets, batch)
            except Exception as exc:
                log.warning(
                    "event-log batch %s was not compacted (tried again later)", batch.name, exc_info=True
                )
                report.skipped[batch.name] = f"{type(exc).__name__}: {str(exc)[:300]}"
                continue
            interactions.finish(batch)
            report.compacted += 1
    return report


def _compact_batch(
    store: MetadataStore, interactions: InteractionsStore, datasets: dict[str, Resource], batch: Batch
) -> int:
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in batch.load():
        by_dataset[record.get("_ds", "")].append(record)
    moved = 0
    for dataset_id, records in by_dataset.items():
        dataset = datasets.get(dataset_id)
        if dataset is not None:  # records of deleted datasets are dropped with the batch
            moved += _write_part(store, interactions, dataset, batch, records)
    return moved


def _write_part(
    store: MetadataStore,
    interactions: InteractionsStore,
    dataset: Resource,
    batch: Batch,
    records: list[dict[str, Any]],
) -> int:
    schema_resource = store.get(dataset.attrs["schemaArn"])
    if schema_resource is None:
        return 0
    target = event_part_schema(arrow_schema(parse_schema(schema_resource.attrs["schema"])))
    rows = [{name: r.get(name) for name in target.names} for r in records]
    dataset_id = dataset.attrs["_id"]
    part = interactions.write_event_part(dataset_id, batch, pa.Table.from_pylist(rows, schema=target))
    interactions.add_event_parts(dataset_id, [part])
    if store.get(dataset.arn) is None:  # deleted meanwhile: forget what was just registered
        interactions.drop_dataset(dataset_id)
        return 0
    return len(rows)
