"""The interactions store: imported data (Parquet parts and their manifest) and the durable event log
behind PutEvents & co, with every read of them. Nothing outside this package knows a file path or
an object-key layout of this data.

`open_interactions` picks the implementation: embedded (`local.py`: this machine's event log
files) with SQLite, shared by every machine (`shared.py`: events in the database) with
PostgreSQL. Both keep parts in the object store, listed by the manifest (`parts.py`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from openpersonalize.settings import Settings
from openpersonalize.store.interactions.manifest import BULK, EVENTS, Part
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.objects import ObjectStore


@dataclass(frozen=True)
class Batch:
    """Acknowledged records that compaction moves into Parquet parts together (a sealed segment)."""

    name: str  # unique and stable: a rerun of the same batch writes the same part keys
    load: Callable[[], list[dict[str, Any]]]  # reads its records
    handle: Any = None  # what the store needs to remove the batch once compacted


class InteractionsStore(Protocol):
    # The event log: personalize-events writes, serving follows, readers see what is not compacted.
    name: str  # names this log in job rows and metrics

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Return once the records are durable (an acknowledged write is never lost)."""
        ...

    def seal(self) -> bool: ...
    def follow(self) -> list[dict[str, Any]]:
        """Records other processes appended since the last call."""
        ...

    def pending(self, dataset_id: str) -> list[dict[str, Any]]:
        """The dataset's records not compacted yet, oldest first."""
        ...

    def recent(self, since: float) -> Iterator[dict[str, Any]]:
        """Interaction records written after ``since`` (serving's live state at start-up)."""
        ...

    # Parts and their manifest.
    def parts(self, dataset_id: str) -> list[Part]: ...
    def has_bulk(self, dataset_id: str) -> bool: ...
    def read_part(self, part: Part) -> pa.Table: ...
    def write_bulk_part(self, dataset_id: str, job_name: str, index: int, table: pa.Table) -> str: ...
    def publish_bulk(self, dataset_id: str, parts: Iterable[Part], *, replace: bool) -> None: ...
    def rewrite_part(self, dataset_id: str, part: Part, table: pa.Table, tag: str) -> bool:
        """Replace a part by a copy with fewer rows (data deletion); False if it was replaced meanwhile."""
        ...

    def discard(self, keys: Iterable[str]) -> None: ...
    def drop_dataset(self, dataset_id: str) -> None: ...

    # Compaction.
    def compaction(self) -> contextlib.AbstractContextManager[list[Batch] | None]:
        """The batches waiting to be compacted, or None while another process compacts."""
        ...

    def write_event_part(self, dataset_id: str, batch: Batch, table: pa.Table) -> Part: ...
    def add_event_parts(self, dataset_id: str, parts: Iterable[Part]) -> None: ...
    def finish(self, batch: Batch) -> None: ...
    def backlog(self) -> int:
        """Batches waiting for compaction."""
        ...

    def close(self) -> None: ...


def open_interactions(
    settings: Settings, metadata: SqlMetadataStore, objects: ObjectStore, *, writer: bool = False
) -> InteractionsStore:
    """The interactions store of these settings; ``writer`` for a process that takes events.

    With PostgreSQL metadata the event log is shared by every machine (shared.py); with SQLite it
    is this machine's files (local.py).
    """
    if not metadata.is_sqlite:
        from openpersonalize.store.interactions.shared import SharedInteractions

        return SharedInteractions(metadata, objects, writer=writer)
    from openpersonalize.store.interactions.local import LocalInteractions

    return LocalInteractions(settings, metadata, objects, writer=writer)


__all__ = ["BULK", "EVENTS", "Batch", "InteractionsStore", "Part", "open_interactions"]
