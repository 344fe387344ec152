"""Read a dataset as one Arrow table: bulk-imported Parquet parts, then records from the event log.

Exact duplicates are dropped here (spec §12.3): interactions with the same client eventId, or
identical in every column and session, count once; for items, users and actions the newest
record per id replaces older ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openpersonalize.data.fields import ParsedSchema
from openpersonalize.data.schema import arrow_schema, parse_schema
from openpersonalize.data.sessions import SESSION
from openpersonalize.errors import ResourceNotFound
from openpersonalize.store.interactions import BULK, InteractionsStore
from openpersonalize.store.metadata import MetadataStore

ID_COLUMNS = {"ITEMS": "ITEM_ID", "USERS": "USER_ID", "ACTIONS": "ACTION_ID"}
_ROW = "__row"


def read_dataset(
    store: MetadataStore, interactions: InteractionsStore, dataset_arn: str, *, sessions: bool = False
) -> pa.Table:
    """Everything acknowledged for the dataset when the read starts: its parts and the records
    still in the event log; with ``sessions``, each event's sessionId too (`_session`)."""
    dataset = store.get(dataset_arn)
    if dataset is None or dataset.kind != "dataset":
        raise ResourceNotFound(f"Resource Arn {dataset_arn} does not exist.")
    schema_resource = store.get(dataset.attrs["schemaArn"])
    if schema_resource is None:
        raise ResourceNotFound(f"Resource Arn {dataset.attrs['schemaArn']} does not exist.")
    schema = parse_schema(schema_resource.attrs["schema"])
    target = arrow_schema(schema)
    if sessions and dataset.attrs["datasetType"] == "INTERACTIONS":
        target = target.append(pa.field(SESSION, pa.string()))
    dataset_id = dataset.attrs["_id"]
    # The log first, then the parts: a compaction finishing in between then shows its records
    # twice (dropped as duplicates below) rather than not at all.
    live = _live_rows(interactions.pending(dataset_id), schema)
    tables: list[pa.Table] = []
    written: list[np.ndarray] = []  # when each row was written: orders "newest record per id wins"
    event_ids: list[str | None] = []
    for part in interactions.parts(dataset_id):
        stored = interactions.read_part(part)
        tables.append(_conform(stored, target))
        if part.source == BULK:
            written.append(np.full(stored.num_rows, part.written))
            event_ids += [None] * stored.num_rows
        else:
            written.append(stored.column("_at").to_numpy(zero_copy_only=False).astype(np.float64))
            event_ids += stored.column("_event_id").to_pylist()
    if live:
        tables.append(pa.Table.from_pylist(live, schema=target))
        written.append(np.array([float(r["_at"] or 0.0) for r in live]))
        event_ids += [r.get("_event_id") for r in live]
    table = pa.concat_tables(tables) if tables else target.empty_table()
    if table.num_rows:
        # Oldest write first: "first eventId wins" and "newest record per id wins" both rely on it.
        order = np.argsort(np.concatenate(written), kind="stable")
        table = table.take(order)
        event_ids = [event_ids[i] for i in order]
    return _deduplicate(table, dataset.attrs["datasetType"], event_ids)


def _conform(table: pa.Table, target: pa.Schema) -> pa.Table:
    """The target's columns in order; an UpdateDataset may have added nullable columns since."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in target
    ]
    return pa.Table.from_arrays(columns, schema=target)


def _live_rows(records: list[dict[str, Any]], schema: ParsedSchema) -> list[dict[str, Any]]:
    names = schema.names
    out = []
    for record in records:
        row = {name: record.get(name) for name in names}
        row["_event_id"] = record.get("_event_id")
        row[SESSION] = record.get(SESSION)
        row["_at"] = record.get("_at")
        out.append(row)
    return out


def _deduplicate(table: pa.Table, dataset_type: str, event_ids: list[str | None]) -> pa.Table:
    if table.num_rows == 0:
        return table
    indexed = table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))
    id_column = ID_COLUMNS.get(dataset_type)
    if id_column is not None:
        keep = indexed.group_by(id_column).aggregate([(_ROW, "max")]).column(f"{_ROW}_max")
    else:
        # Live events with a client eventId: first one wins. Then exact duplicates across all columns.
        keyed = indexed.append_column("__event", pa.array(event_ids, pa.string()))
        with_id = keyed.filter(pc.is_valid(keyed.column("__event")))
        firsts = with_id.group_by("__event").aggregate([(_ROW, "min")]).column(f"{_ROW}_min")
        no_id = keyed.filter(pc.is_null(keyed.column("__event")))
        candidates = pa.concat_arrays([firsts.combine_chunks(), no_id.column(_ROW).combine_chunks()])
        subset = indexed.take(candidates)
        keep = (
            subset.group_by(table.column_names, use_threads=False)
            .aggregate([(_ROW, "min")])
            .column(f"{_ROW}_min")
        )
    rows = pc.sort_indices(keep)
    return table.take(pc.take(keep, rows))
