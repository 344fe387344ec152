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
    store: MetadataStore,
    interactions: InteractionsStore,
    dataset_arn: str,
    *,
    sessions: bool = False,
    ingestion: str = "ALL",
) -> pa.Table:
    """Everything acknowledged for the dataset when the read starts: its parts and the records
    still in the event log; with ``sessions``, each event's sessionId too (`_session`).
    ``ingestion`` BULK reads only what import jobs brought, PUT only what the events API wrote
    (as dataset export jobs choose)."""
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
    live = _live_rows(interactions.pending(dataset_id), schema) if ingestion != "BULK" else []
    tables: list[pa.Table] = []
    written: list[np.ndarray] = []  # when each row was written: orders "newest record per id wins"
    event_ids: list[pa.Array | pa.ChunkedArray] = []
    for part in interactions.parts(dataset_id):
        if ingestion != "ALL" and (part.source == BULK) != (ingestion == "BULK"):
            continue
        stored = interactions.read_part(part)
        tables.append(_conform(stored, target))
        if part.source == BULK:
            written.append(np.full(stored.num_rows, part.written))
            event_ids.append(pa.nulls(stored.num_rows, pa.string()))
        else:
            written.append(stored.column("_at").to_numpy(zero_copy_only=False).astype(np.float64))
            event_ids.append(stored.column("_event_id").cast(pa.string()))
    if live:
        tables.append(pa.Table.from_pylist(live, schema=target))
        written.append(np.array([float(r["_at"] or 0.0) for r in live]))
        event_ids.append(pa.array([r.get("_event_id") for r in live], pa.string()))
    if not tables:
        return target.empty_table()
    table = pa.concat_tables(tables)
    ids = pa.chunked_array([chunk for array in event_ids for chunk in _chunks(array)], pa.string())
    times = np.concatenate(written)
    # Oldest write first: "first eventId wins" and "newest record per id wins" both rely on it.
    # Parts come oldest first, so a bulk-only dataset is in order already (no copy).
    if len(times) > 1 and not (times[1:] >= times[:-1]).all():
        order = pa.array(np.argsort(times, kind="stable"))
        table, ids = table.take(order), ids.take(order)
    del times, written
    result = _deduplicate(table, dataset.attrs["datasetType"], ids)
    pa.default_memory_pool().release_unused()  # the copies above: give the memory back
    return result


def _chunks(array: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(array.chunks) if isinstance(array, pa.ChunkedArray) else [array]


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


def _deduplicate(table: pa.Table, dataset_type: str, event_ids: pa.ChunkedArray) -> pa.Table:
    if table.num_rows == 0:
        return table
    id_column = ID_COLUMNS.get(dataset_type)
    if id_column is not None:
        indexed = table.append_column(_ROW, pa.array(np.arange(table.num_rows)))
        keep = indexed.group_by(id_column).aggregate([(_ROW, "max")]).column(f"{_ROW}_max")
        return table.take(pc.take(keep, pc.sort_indices(keep)))
    # Live events with a client eventId: first one wins. Then exact duplicates across all columns.
    alive = np.ones(table.num_rows, dtype=bool)
    if event_ids.null_count < len(event_ids):
        codes = _codes(event_ids)
        has_id = np.flatnonzero(~np.asarray(event_ids.is_null().to_numpy(zero_copy_only=False)))
        _, first = np.unique(codes[has_id], return_index=True)
        alive[has_id] = False
        alive[has_id[first]] = True
    alive &= ~_repeated_rows(table, alive)
    return table if alive.all() else table.filter(pa.array(alive))


def _repeated_rows(table: pa.Table, alive: np.ndarray) -> np.ndarray:
    """Rows (among ``alive``) equal in every column, nulls included, to an earlier alive row.

    Rows are hashed column by column in numpy; only rows sharing a hash are compared, so the cost
    is a sort of one integer per row, not a hash table over every column's values.
    """
    hashes = np.zeros(table.num_rows, dtype=np.uint64)
    for column in table.columns:
        hashes = (hashes * np.uint64(0x100000001B3)) ^ _mix(_codes(column))
    rows = np.flatnonzero(alive)
    rows = rows[np.argsort(hashes[rows], kind="stable")]  # equal hashes: ascending row
    sorted_hashes = hashes[rows]
    starts = np.r_[True, sorted_hashes[1:] != sorted_hashes[:-1]]
    repeated = np.zeros(table.num_rows, dtype=bool)
    if starts.all():
        return repeated
    run_first = np.maximum.accumulate(np.where(starts, np.arange(len(rows)), 0))
    later = np.flatnonzero(~starts)
    candidates, firsts = rows[later], rows[run_first[later]]
    picked = table.take(pa.array(np.concatenate([candidates, firsts])))
    same = np.ones(len(later), dtype=bool)
    for column in picked.columns:
        a, b = column.slice(0, len(later)), column.slice(len(later))
        equal = pc.fill_null(pc.equal(a, b), False)
        same &= pc.or_(equal, pc.and_(pc.is_null(a), pc.is_null(b))).to_numpy(zero_copy_only=False)
    repeated[candidates[same]] = True
    # A hash shared by different rows (vanishingly rare): settle those runs value by value.
    run_starts = np.flatnonzero(starts)
    run_ends = np.r_[run_starts[1:], len(rows)]
    for run in np.unique(run_first[later[~same]]).tolist():
        end = int(run_ends[np.searchsorted(run_starts, run)])
        members = rows[run:end]
        seen: set[tuple[object, ...]] = set()
        for row, values in zip(members.tolist(), table.take(pa.array(members)).to_pylist(), strict=True):
            key = tuple(values.values())
            repeated[row] = key in seen
            seen.add(key)
    return repeated


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Per row an int64, equal for equal values within the column (null equal to null); a hash
    input only: a null and a number may share one, and rows are compared exactly after."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        values = pc.fill_null(column.cast(pa.int64()), 0).to_numpy().astype(np.int64)
    elif pa.types.is_floating(kind):
        floats = pc.fill_null(column.cast(pa.float64()), 0.0).to_numpy().astype(np.float64)
        values = (floats + 0.0).view(np.int64)  # + 0.0: -0.0 and 0.0 alike
    else:
        found = pc.index_in(column, value_set=pc.unique(column), skip_nulls=False)
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return values


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads nearby integers (codes, timestamps) over 64 bits."""
    x = values.astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
