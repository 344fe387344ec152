"""The embedded interactions store: this machine's event log files, parts in the object store.

Each server process appends to its own segments in `<data dir>/eventlog` (group commit, fsync'd
before the acknowledgement; eventlog.py) and follows the other processes' segments there
(tail.py). A worker on this machine compacts sealed segments into Parquet parts (parts.py),
registered in the manifest, then removes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpersonalize.settings import Settings
from openpersonalize.store.interactions import Batch
from openpersonalize.store.interactions.eventlog import (
    EventLog,
    list_sealed_segments,
    read_segment,
    remove_sealed_segments,
    replay_directory,
)
from openpersonalize.store.interactions.parts import PartStore
from openpersonalize.store.interactions.tail import LogTailer
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.objects import ObjectStore


class LocalInteractions(PartStore):
    def __init__(
        self, settings: Settings, metadata: SqlMetadataStore, objects: ObjectStore, *, writer: bool = False
    ) -> None:
        super().__init__(metadata, objects)
        self.log_dir = settings.event_log_dir
        self.name = f"eventlog:{socket.gethostname()}:{self.log_dir.resolve()}"
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
        yield from self.recent_parts(since)
        if self.log_dir.exists():
            yield from (record for _, record in replay_directory(self.log_dir))

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

    def finish(self, batch: Batch) -> None:
        remove_sealed_segments(self.log_dir, [batch.handle])

    def backlog(self) -> int:
        return len(list_sealed_segments(self.log_dir)) if self.log_dir.exists() else 0

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


def _segment_records(path: Path) -> list[dict[str, Any]]:
    return [record for _, record in read_segment(path)]
