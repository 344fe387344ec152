"""Move sealed event-log segments into Parquet parts of their datasets (per event batch).

The event log is the durable write path; Parquet is the read path. A compaction run reads each
sealed segment, writes one Parquet part per dataset it touches to the object store
(`datasets/<id>/events/<segment>.parquet`), records the part in the dataset's `_events` list and
only then deletes the segment. A crash in between leaves the records in both places; readers
drop such exact duplicates (same content, same eventId), so a rerun is harmless.

A segment that cannot be compacted (a corrupt frame, an object store that refuses the part) is
skipped and reported, never allowed to block the segments after it; it stays in the log, where
readers still see its records, and is tried again at the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import socket
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from openpersonalize.data.fields import arrow_schema
from openpersonalize.data.schema import parse_schema
from openpersonalize.settings import Settings
from openpersonalize.store.interactions.eventlog import (
    list_sealed_segments,
    read_segment,
    remove_sealed_segments,
)
from openpersonalize.store.metadata import MetadataStore, Resource, all_resources
from openpersonalize.store.objects import ObjectStore

log = logging.getLogger(__name__)

# Bookkeeping columns kept next to the schema's columns in event parts.
META_COLUMNS = pa.schema(
    [("_event_id", pa.string()), ("_session", pa.string()), ("_at", pa.float64())]
)  # fmt: skip


def event_part_schema(schema_fields: pa.Schema) -> pa.Schema:
    """Event parts keep every column nullable: anonymous events (a sessionId, no userId) have no
    USER_ID, and an acknowledged event must never be refused later, when it is compacted."""
    return pa.schema([f.with_nullable(True) for f in schema_fields] + list(META_COLUMNS))


# The job row that keeps the outcome of a log directory's compactions (see jobs/worker.py).
COMPACTION_JOB = "compact-event-log"


def compaction_key(settings: Settings) -> str:
    """Names one machine's event-log directory in the job table."""
    return f"eventlog:{socket.gethostname()}:{settings.event_log_dir.resolve()}"


@dataclass
class CompactionReport:
    moved: int = 0  # records moved into Parquet parts
    compacted: int = 0  # segments compacted and removed
    skipped: dict[str, str] = field(default_factory=dict)  # segment name -> why it was skipped


def compact_event_log(store: MetadataStore, objects: ObjectStore, log_dir: Path) -> CompactionReport:
    """Compact every sealed segment in ``log_dir`` that can be; skip and report the others."""
    report = CompactionReport()
    if not log_dir.exists():
        return report
    with _compactor_lock(log_dir) as locked:
        if not locked:
            return report  # another process is compacting this directory
        datasets = {d.attrs["_id"]: d for d in all_resources(store, "dataset")}
        for segment in list_sealed_segments(log_dir):
            try:
                report.moved += _compact_segment(store, objects, datasets, segment)
            except Exception as exc:
                log.warning(
                    "event-log segment %s was not compacted (tried again later)", segment, exc_info=True
                )
                report.skipped[segment.name] = f"{type(exc).__name__}: {str(exc)[:300]}"
                continue
            remove_sealed_segments(log_dir, [segment])
            report.compacted += 1
        return report


def _compact_segment(
    store: MetadataStore, objects: ObjectStore, datasets: dict[str, Resource], segment: Path
) -> int:
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, record in read_segment(segment):
        by_dataset[record.get("_ds", "")].append(record)
    moved = 0
    for dataset_id, records in by_dataset.items():
        dataset = datasets.get(dataset_id)
        if dataset is not None:  # records of deleted datasets are dropped with the segment
            moved += _write_part(store, objects, dataset, segment.name, records)
    return moved


def _write_part(
    store: MetadataStore,
    objects: ObjectStore,
    dataset: Resource,
    segment_name: str,
    records: list[dict[str, Any]],
) -> int:
    schema_resource = store.get(dataset.attrs["schemaArn"])
    if schema_resource is None:
        return 0
    target = event_part_schema(arrow_schema(parse_schema(schema_resource.attrs["schema"])))
    rows = [{name: r.get(name) for name in target.names} for r in records]
    table = pa.Table.from_pylist(rows, schema=target)
    key = f"datasets/{dataset.attrs['_id']}/events/{segment_name}.parquet"
    with tempfile.TemporaryDirectory(prefix="openpersonalize-compact-") as tmp:
        path = Path(tmp) / "part.parquet"
        pq.write_table(table, path, compression="zstd")
        objects.put_file(key, path)
    times = [float(r.get("_at") or 0.0) for r in records]
    entry = {"key": key, "rows": len(rows), "first": min(times), "last": max(times)}

    def register(current: Resource) -> None:
        parts = list(current.attrs.get("_events") or [])
        if all(p["key"] != key for p in parts):
            current.attrs["_events"] = [*parts, entry]

    if store.update(dataset.arn, modify=register) is None:
        objects.delete(key)  # the dataset was deleted meanwhile
        return 0
    return len(rows)


def read_parquet_part(objects: ObjectStore, key: str) -> pa.Table:
    """A Parquet file of the object store (bulk-import or event part), read locally when possible."""
    local = objects.local_path(key)
    return pq.read_table(local) if local is not None else pq.read_table(io.BytesIO(objects.get_bytes(key)))


def recent_event_records(
    store: MetadataStore, objects: ObjectStore, since: float
) -> Iterator[dict[str, Any]]:
    """Compacted interaction records written after ``since`` (for serving's live state at start-up)."""
    for dataset in all_resources(store, "dataset"):
        if dataset.attrs.get("datasetType") != "INTERACTIONS":
            continue
        for part in dataset.attrs.get("_events") or []:
            if part["last"] <= since:
                continue
            table = read_parquet_part(objects, part["key"])
            columns = [c for c in ("USER_ID", "ITEM_ID", "_session", "_at") if c in table.column_names]
            for row in table.select(columns).to_pylist():
                if (row.get("_at") or 0.0) > since:
                    yield {**row, "_ds": dataset.attrs["_id"], "_type": "INTERACTIONS"}


@contextlib.contextmanager
def _compactor_lock(log_dir: Path) -> Iterator[bool]:
    fd = os.open(log_dir / ".compactor.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
