"""A dataset's Parquet parts in the object store, listed by the manifest: what every interactions
store shares, whatever keeps its event log.

Object keys: `datasets/<dataset id>/bulk/<import job>/part-<n>.parquet` for imports,
`datasets/<dataset id>/events/<batch>.parquet` for compacted events.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from openpersonalize.store.interactions import Batch
from openpersonalize.store.interactions.manifest import EVENTS, Part, PartsManifest
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.objects import ObjectStore

# Columns of an event record that serving's live state needs.
LIVE_COLUMNS = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "_session", "_at")


class PartStore:
    def __init__(self, metadata: SqlMetadataStore, objects: ObjectStore) -> None:
        self.metadata = metadata
        self.manifest = PartsManifest(metadata)
        self.objects = objects

    def parts(self, dataset_id: str) -> list[Part]:
        return self.manifest.parts(dataset_id)

    def has_bulk(self, dataset_id: str) -> bool:
        return self.manifest.has_bulk(dataset_id)

    def read_part(self, part: Part) -> pa.Table:
        local = self.objects.local_path(part.key)
        if local is not None:
            return pq.read_table(local)
        return pq.read_table(io.BytesIO(self.objects.get_bytes(part.key)))

    def write_bulk_part(self, dataset_id: str, job_name: str, index: int, table: pa.Table) -> str:
        key = f"{_prefix(dataset_id)}bulk/{job_name}/part-{index:05d}.parquet"
        self._put_table(key, table)
        return key

    def publish_bulk(self, dataset_id: str, parts: Iterable[Part], *, replace: bool) -> None:
        self.discard(self.manifest.publish_bulk(dataset_id, parts, replace=replace))

    def discard(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.objects.delete(key)

    def drop_dataset(self, dataset_id: str) -> None:
        self.manifest.drop(dataset_id)
        self.objects.delete_prefix(_prefix(dataset_id))

    def write_event_part(self, dataset_id: str, batch: Batch, table: pa.Table) -> Part:
        key = f"{_prefix(dataset_id)}events/{batch.name}.parquet"
        self._put_table(key, table)
        times = table.column("_at").to_pylist() if "_at" in table.column_names else []
        first = min((t for t in times if t is not None), default=time.time())
        last = max((t for t in times if t is not None), default=first)
        return Part(key, EVENTS, table.num_rows, float(first), float(first), float(last))

    def add_event_parts(self, dataset_id: str, parts: Iterable[Part]) -> None:
        self.manifest.add_event_parts(dataset_id, parts)

    def rewrite_part(self, dataset_id: str, part: Part, table: pa.Table, tag: str) -> bool:
        """Replace a part by ``table`` (its rows minus some), under a new key ending in ``tag``;
        the old file is deleted. False (and nothing changed) if the part was replaced meanwhile."""
        new = None
        if table.num_rows:
            stem = part.key.removesuffix(".parquet")
            new = dataclasses.replace(part, key=f"{stem}.{tag}.parquet", rows=table.num_rows)
            self._put_table(new.key, table)
        if not self.manifest.replace_part(dataset_id, part.key, new):
            if new is not None:
                self.objects.delete(new.key)
            return False
        self.objects.delete(part.key)
        return True

    def recent_parts(self, since: float) -> Iterator[dict[str, Any]]:
        """Interaction records of event parts written after ``since``."""
        for dataset_id, part in self.manifest.event_parts_since(since):
            table = self.read_part(part)
            columns = [c for c in LIVE_COLUMNS if c in table.column_names]
            for row in table.select(columns).to_pylist():
                if (row.get("_at") or 0.0) > since:
                    yield {**row, "_ds": dataset_id, "_type": "INTERACTIONS"}

    def _put_table(self, key: str, table: pa.Table) -> None:
        with tempfile.TemporaryDirectory(prefix="openpersonalize-part-") as tmp:
            path = Path(tmp) / "part.parquet"
            pq.write_table(table, path, compression="zstd")
            self.objects.put_file(key, path)


def _prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/"
