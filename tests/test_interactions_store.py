"""One contract for both interactions stores: embedded (SQLite + this machine's event log files) and
shared (events in PostgreSQL, for every machine)."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from openpersonalize.server import open_context
from openpersonalize.settings import Settings
from openpersonalize.store.interactions import BULK, EVENTS, Part


@pytest.fixture(params=["embedded", pytest.param("shared", marks=pytest.mark.postgres)])
def settings(request, tmp_path):
    if request.param == "shared":
        return Settings(
            data_dir=tmp_path / "data", metadata_url=request.getfixturevalue("fresh_postgres_url")
        )
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def writers(settings):
    """Two server processes' views of the store (as on two machines, or two processes of one)."""
    contexts = [open_context(settings, writer=True), open_context(settings, writer=True)]
    yield [ctx.interactions for ctx in contexts]
    for ctx in contexts:
        ctx.interactions.close()
        ctx.store.close()


def record(dataset: str, item: str, at: float, user: str = "u1") -> dict:
    return {
        "_ds": dataset,
        "_type": "INTERACTIONS",
        "_at": at,
        "USER_ID": user,
        "ITEM_ID": item,
        "_session": "s",
    }


def test_appended_records_are_pending_for_their_dataset_in_order(writers):
    first, second = writers
    asyncio.run(first.append([record("d1", "a", 1.0), record("d2", "x", 1.5)]))
    asyncio.run(second.append([record("d1", "b", 2.0)]))
    assert [r["ITEM_ID"] for r in first.pending("d1")] == ["a", "b"]
    assert [r["ITEM_ID"] for r in second.pending("d2")] == ["x"]


def test_each_writer_follows_the_others_but_not_itself(writers):
    first, second = writers
    asyncio.run(first.append([record("d1", "a", 1.0)]))
    asyncio.run(second.append([record("d1", "b", 2.0)]))
    assert [r["ITEM_ID"] for r in first.follow()] == ["b"]
    assert [r["ITEM_ID"] for r in second.follow()] == ["a"]
    assert first.follow() == [] and second.follow() == []


def test_compaction_moves_records_into_parts_once(writers):
    first, second = writers
    asyncio.run(first.append([record("d1", "a", 1.0), record("d1", "b", 2.0)]))
    first.seal()
    with second.compaction() as batches:
        assert batches is not None and len(batches) == first.backlog() == 1
        [batch] = batches
        loaded = batch.load()
        assert [r["ITEM_ID"] for r in loaded] == ["a", "b"]
        table = pa.Table.from_pylist([{"ITEM_ID": r["ITEM_ID"], "_at": r["_at"]} for r in loaded])
        part = second.write_event_part("d1", batch, table)
        second.add_event_parts("d1", [part])
        second.add_event_parts("d1", [part])  # a rerun after a crash registers it once
        second.finish(batch)
    assert first.backlog() == 0 and first.pending("d1") == []
    [stored] = first.parts("d1")
    assert (stored.source, stored.rows, stored.first_at, stored.last_at) == (EVENTS, 2, 1.0, 2.0)
    assert first.read_part(stored).column("ITEM_ID").to_pylist() == ["a", "b"]
    assert sorted(r["ITEM_ID"] for r in first.recent(since=1.5)) == ["b"]


def test_one_compactor_at_a_time(writers):
    first, second = writers
    with first.compaction() as mine:
        assert mine is not None
        with second.compaction() as theirs:
            assert theirs is None


def test_bulk_parts_are_published_replaced_and_dropped(writers):
    store, _ = writers
    table = pa.table({"USER_ID": ["u1"], "ITEM_ID": ["a"]})
    first = store.write_bulk_part("d1", "job-1", 0, table)
    store.publish_bulk("d1", [Part(first, BULK, 1, 1.0, 1.0, 1.0, "job-1")], replace=True)
    second = store.write_bulk_part("d1", "job-2", 0, table)
    store.publish_bulk("d1", [Part(second, BULK, 1, 2.0, 2.0, 2.0, "job-2")], replace=True)
    assert [p.key for p in store.parts("d1")] == [second] and store.has_bulk("d1")
    asyncio.run(store.append([record("d1", "a", 3.0)]))
    store.drop_dataset("d1")
    assert store.parts("d1") == [] and not store.has_bulk("d1")
