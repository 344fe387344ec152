"""A running server seals its event log and its worker compacts it, anonymous events included, with
the outcome visible in /metrics and `openpersonalize jobs`. Against a real `serve` process."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from openpersonalize.settings import Settings
from openpersonalize.store.interactions.manifest import EVENTS, PartsManifest
from openpersonalize.store.metadata.sql import SqlMetadataStore
from tests.api.helpers import make_group
from tests.fixtures.process import child_env, serve

pytestmark = pytest.mark.integration


def _gauge(url: str, name: str) -> float | None:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_events_are_sealed_and_compacted_without_help(tmp_path):
    """Regression guard: a server that never seals, or workers that never compact, lose nothing at
    once but pile up segments that every start replays."""
    data_dir = tmp_path / "data"
    server = serve(data_dir, event_log_seal_seconds=0.3, compaction_seconds=0.3)
    try:
        personalize, events = server.client("personalize"), server.client("personalize-events")
        arns = make_group(personalize)
        tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
        now = time.time()
        events.put_events(  # anonymous: a session, no user (regression: this stopped compaction for good)
            trackingId=tracking,
            sessionId="guest",
            eventList=[{"eventType": "click", "itemId": "x", "sentAt": now}],
        )
        events.put_events(
            trackingId=tracking,
            userId="u1",
            sessionId="s1",
            eventList=[{"eventType": "click", "itemId": "y", "sentAt": now}],
        )
        manifest = PartsManifest(
            SqlMetadataStore(Settings(data_dir=data_dir).resolved_metadata_url, upgrade=False)
        )
        dataset_id = personalize.describe_dataset(datasetArn=arns["dataset"])["dataset"]["datasetArn"]
        dataset_id = manifest.metadata.get(dataset_id).attrs["_id"]
        deadline = time.time() + 30
        while True:
            parts = [p for p in manifest.parts(dataset_id) if p.source == EVENTS]
            if (
                sum(p.rows for p in parts) == 2
                and _gauge(server.url, "openpersonalize_eventlog_sealed_segments") == 0
            ):
                break
            assert time.time() < deadline, "the events were never compacted"
            time.sleep(0.2)
        assert _gauge(server.url, "openpersonalize_eventlog_segments_not_compacted") == 0
        assert _gauge(server.url, "openpersonalize_eventlog_last_compaction_timestamp_seconds") >= now - 1
        jobs = subprocess.run(
            [sys.executable, "-m", "openpersonalize", "jobs", "--data-dir", str(data_dir)],
            env={**child_env(), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "compact-event-log" in jobs and "done" in jobs
        manifest.metadata.close()
    finally:
        server.stop()
