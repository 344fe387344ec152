"""The embedded interactions store: this machine's event log files, parts in the object store.

Each server process appends to its own segments in `<data dir>/eventlog` (group commit, fsync'd
before the acknowledgement; eventlog.py) and follows the other processes' segments there
(tail.py). A worker on this machine compacts sealed segments into Parquet parts, registered in
the manifest (manifest.py), then removes them.

Object keys: `datasets/<dataset id>/bulk/<import job>/part-<n>.parquet` for imports,
`datasets/<dataset id>/events/<segment>.parquet` for compacted events.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import io
import os
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from openpersonalize.settings import Settings
from openpersonalize.store.interactions import Batch
from openpersonalize.store.interactions.eventlog import (
    EventLog,
    list_sealed_segments,
    read_segment,
    remove_sealed_segments,
    replay_directory,
)
from openpersonalize.store.interactions.manifest import EVENTS, Part, PartsManifest
from openpersonalize.store.interactions.tail import LogTailer
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.objects import ObjectStore

# Columns of an event record that serving's live state needs.
LIVE_COLUMNS = ("USER_ID", "ITEM_ID", "_session", "_at")


class LocalInteractions:
    def __init__(
        self, settings: Settings, metadata: SqlMetadataStore, objects: ObjectStore, *, writer: bool = False
    ) -> None:
        self.log_dir = settings.event_log_dir
        self.name = f"eventlog:{socket.gethostname()}:{self.log_dir.resolve()}"
        self.manifest = PartsManifest(metadata)
        self.objects = objects
        self.log = EventLog(self.log_dir) if writer else None
        self._tailer = LogTailer(self.log_dir, self.log.writer_id if self.log is not None else "")
        self._tailer.skip_existing()  # from here on it follows the other processes' new events

    # -- the event log -------------------------------------------------------------------------
    async def append(self, records: list[dict[str, Any]]) -> None:
        if self.log is None:
            raise RuntimeError("this process does not write events (open the store with writer=True)")
        await self.log.append_async(records)

    def seal(self) -> bool:
        return self.log is not None and self.log.seal() is not None

    def follow(self) -> list[dict[str, Any]]:
        return self._tailer.poll()

    def pending(self, dataset_id: str) -> list[dict[str, Any]]:
        if not self.log_dir.exists():
            return []
        return [record for _, record in replay_directory(self.log_dir) if record.get("_ds") == dataset_id]

    def recent(self, since: float) -> Iterator[dict[str, Any]]:
        for dataset_id, part in self.manifest.event_parts_since(since):
            table = self.read_part(part)
            columns = [c for c in LIVE_COLUMNS if c in table.column_names]
            for row in table.select(columns).to_pylist():
                if (row.get("_at") or 0.0) > since:
                    yield {**row, "_ds": dataset_id, "_type": "INTERACTIONS"}
        if self.log_dir.exists():
            yield from (record for _, record in replay_directory(self.log_dir))

    # -- parts -----------------------------------------------------------------------------------
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

    # -- compaction ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def compaction(self) -> Iterator[list[Batch] | None]:
        if not self.log_dir.exists():
            yield []
            return
        fd = os.open(self.log_dir / ".compactor.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None  # another process is compacting this directory
                return
            yield [
                Batch(path.name, functools.partial(_segment_records, path), path)
                for path in list_sealed_segments(self.log_dir)
            ]
        finally:
            os.close(fd)

    def write_event_part(self, dataset_id: str, batch: Batch, table: pa.Table) -> Part:
        key = f"{_prefix(dataset_id)}events/{batch.name}.parquet"
        self._put_table(key, table)
        times = table.column("_at").to_pylist() if "_at" in table.column_names else []
        first = min((t for t in times if t is not None), default=time.time())
        last = max((t for t in times if t is not None), default=first)
        return Part(key, EVENTS, table.num_rows, float(first), float(first), float(last))

    def add_event_parts(self, dataset_id: str, parts: Iterable[Part]) -> None:
        self.manifest.add_event_parts(dataset_id, parts)

    def finish(self, batch: Batch) -> None:
        remove_sealed_segments(self.log_dir, [batch.handle])

    def backlog(self) -> int:
        return len(list_sealed_segments(self.log_dir)) if self.log_dir.exists() else 0

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    def _put_table(self, key: str, table: pa.Table) -> None:
        with tempfile.TemporaryDirectory(prefix="openpersonalize-part-") as tmp:
            path = Path(tmp) / "part.parquet"
            pq.write_table(table, path, compression="zstd")
            self.objects.put_file(key, path)


def _segment_records(path: Path) -> list[dict[str, Any]]:
    return [record for _, record in read_segment(path)]


def _prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/"
