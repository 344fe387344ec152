"""Sealed event-log segments become Parquet parts of their datasets without losing or doubling a record."""

from __future__ import annotations

import json

from openpersonalize.data.dataset_reader import read_dataset
from openpersonalize.data.event_compaction import compact_event_log
from openpersonalize.store.interactions import EVENTS, open_interactions
from openpersonalize.store.interactions.eventlog import list_sealed_segments, read_segment
from tests.api.helpers import ITEMS_SCHEMA, make_group


def _rows(server, arn):
    s = server.services
    return read_dataset(s.ctx.store, s.ctx.interactions, arn).to_pylist()


def _event_parts(ctx, arn):
    dataset_id = ctx.store.get(arn).attrs["_id"]
    return [p for p in ctx.interactions.parts(dataset_id) if p.source == EVENTS]


def _seal(server):
    """Seal the server's event-log segment; returns its path."""
    return server.services.ctx.interactions.log.seal()


def _put(events, tracking, user, items, start=1_700_000_000, **extra):
    event_list = [
        {"eventType": "click", "itemId": i, "sentAt": start + n, **extra} for n, i in enumerate(items)
    ]
    events.put_events(trackingId=tracking, userId=user, sessionId="s", eventList=event_list)


def test_compaction_moves_records_to_parquet(server, personalize, events):
    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    _put(events, tracking, "u1", ["a", "b", "c"])
    _put(events, tracking, "u2", ["d"], eventId="e-1")
    before = _rows(server, arns["dataset"])
    log_dir = server.settings.event_log_dir
    assert server.services.ctx.interactions.seal()
    ctx = server.services.ctx
    assert compact_event_log(ctx.store, ctx.interactions).moved == 4
    assert list_sealed_segments(log_dir) == []
    parts = _event_parts(ctx, arns["dataset"])
    assert len(parts) == 1 and parts[0].rows == 4
    assert _rows(server, arns["dataset"]) == before
    # A duplicate of a compacted event (same eventId) still counts once; new events add up.
    _put(events, tracking, "u2", ["d"], eventId="e-1")
    _put(events, tracking, "u3", ["e"])
    after = _rows(server, arns["dataset"])
    assert [r["ITEM_ID"] for r in after] == ["a", "b", "c", "d", "e"]
    assert compact_event_log(ctx.store, ctx.interactions).moved == 0  # the active segment is not sealed yet


def test_crash_between_part_and_segment_removal_doubles_nothing(server, personalize, events):
    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    _put(events, tracking, "u1", ["a", "b"])
    segment = _seal(server)
    saved = segment.read_bytes()
    ctx = server.services.ctx
    compact_event_log(ctx.store, ctx.interactions)
    segment.write_bytes(saved)  # as if the process died before deleting the segment
    assert [r["ITEM_ID"] for r in _rows(server, arns["dataset"])] == ["a", "b"]
    assert len(list(read_segment(segment))) == 2
    compact_event_log(ctx.store, ctx.interactions)  # the rerun registers the same part once
    assert len(_event_parts(ctx, arns["dataset"])) == 1
    assert [r["ITEM_ID"] for r in _rows(server, arns["dataset"])] == ["a", "b"]


def test_newest_item_record_wins_across_compaction(server, personalize, events):
    arns = make_group(personalize)
    schema = personalize.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
    items = personalize.create_dataset(
        name="items", schemaArn=schema, datasetGroupArn=arns["group"], datasetType="Items"
    )
    items_arn = items["datasetArn"]
    events.put_items(datasetArn=items_arn, items=[{"itemId": "i1", "properties": json.dumps({"price": 5})}])
    server.services.ctx.interactions.seal()
    ctx = server.services.ctx
    compact_event_log(ctx.store, ctx.interactions)
    events.put_items(datasetArn=items_arn, items=[{"itemId": "i1", "properties": json.dumps({"price": 7})}])
    assert [r["PRICE"] for r in _rows(server, items_arn)] == [7.0]


def test_records_of_a_deleted_dataset_are_dropped(server, personalize, events):
    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    _put(events, tracking, "u1", ["a"])
    server.services.ctx.interactions.seal()
    personalize.delete_event_tracker(
        eventTrackerArn=personalize.list_event_trackers()["eventTrackers"][0]["eventTrackerArn"]
    )
    personalize.delete_dataset(datasetArn=arns["dataset"])
    ctx = server.services.ctx
    assert compact_event_log(ctx.store, ctx.interactions).moved == 0
    assert list_sealed_segments(server.settings.event_log_dir) == []


def test_recent_compacted_events_feed_the_live_state(server, personalize, events):
    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    _put(events, tracking, "u1", ["a", "b"])
    server.services.ctx.interactions.seal()
    ctx = server.services.ctx
    compact_event_log(ctx.store, ctx.interactions)
    records = list(ctx.interactions.recent(since=0.0))
    assert sorted((r["USER_ID"], r["ITEM_ID"]) for r in records) == [("u1", "a"), ("u1", "b")]
    assert list(ctx.interactions.recent(since=records[-1]["_at"] + 1)) == []


def test_session_only_events_are_stored_and_compacted(server, personalize, events):
    """Regression: one PutEvents without userId stopped compaction for good (non-nullable USER_ID)."""
    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    events.put_events(
        trackingId=tracking,
        sessionId="anonymous-1",
        eventList=[{"eventType": "click", "itemId": "x", "sentAt": 1_700_000_000}],
    )
    log_dir = server.settings.event_log_dir
    server.services.ctx.interactions.seal()
    _put(events, tracking, "u1", ["a"])
    server.services.ctx.interactions.seal()
    ctx = server.services.ctx
    assert compact_event_log(ctx.store, ctx.interactions).moved == 2
    assert list_sealed_segments(log_dir) == []
    rows = _rows(server, arns["dataset"])
    assert [(r["USER_ID"], r["ITEM_ID"]) for r in rows] == [(None, "x"), ("u1", "a")]


class _FlakyObjects:
    """An object store that refuses the first event part it is given, as an outage would."""

    def __init__(self, objects):
        self._objects = objects
        self.refused = 0

    def put_file(self, key, path):
        if "/events/" in key and not self.refused:
            self.refused += 1
            raise ConnectionError("object store unavailable")
        return self._objects.put_file(key, path)

    def __getattr__(self, name):
        return getattr(self._objects, name)


def test_a_segment_that_fails_is_skipped_reported_and_retried(server, personalize, events):
    from openpersonalize.jobs.worker import Worker

    arns = make_group(personalize)
    tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
    for user in ("u1", "u2"):  # two sealed segments
        _put(events, tracking, user, ["a"])
        server.services.ctx.interactions.seal()
    ctx = server.services.ctx
    flaky = open_interactions(ctx.settings, ctx.store, _FlakyObjects(ctx.objects))
    worker = Worker(type(ctx)(ctx.settings, ctx.store, ctx.objects, flaky, ctx.series), "w")
    report = worker.compact()
    assert report.compacted == 1 and len(report.skipped) == 1  # the next segment was not blocked
    [skipped] = report.skipped
    assert "object store unavailable" in report.skipped[skipped]
    assert [s.name for s in list_sealed_segments(server.settings.event_log_dir)] == [skipped]
    [row] = [j for j in ctx.store.recent_jobs() if j.kind == "compact-event-log"]
    assert row.status == "failed" and skipped in row.error
    assert [r["USER_ID"] for r in _rows(server, arns["dataset"])] == ["u1", "u2"]  # nothing lost meanwhile
    assert worker.compact().compacted == 1  # the outage is over: the skipped segment goes too
    [row] = [j for j in ctx.store.recent_jobs() if j.kind == "compact-event-log"]
    assert row.status == "done" and row.error is None
    assert list_sealed_segments(server.settings.event_log_dir) == []
