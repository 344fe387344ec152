"""Three machines over one PostgreSQL and one S3: two `serve` processes and a worker, each on its own
data directory. Every acknowledged event reaches the other server at once and the next training,
even after kill -9 of the server that took it."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from openpersonalize.store.interactions.manifest import EVENTS, PartsManifest
from openpersonalize.store.metadata.sql import SqlMetadataStore
from openpersonalize.store.metadata.tables import events
from tests.api.clustered import item, write_clustered_csv
from tests.api.helpers import make_group, wait_for
from tests.fixtures.process import serve, worker

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.s3]
UP = "arn:aws:personalize:::recipe/aws-user-personalization"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


def _uncompacted(store):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()


def _train(personalize, solution):
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    done = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 120
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return version


def test_events_reach_every_server_and_the_next_training(tmp_path, fresh_postgres_url, s3_server, s3_bucket):
    shared = {
        "metadata_url": fresh_postgres_url,
        "object_url": f"s3://{s3_bucket}/openpersonalize",
        "s3_endpoint_url": s3_server.endpoint_url,
        "s3_region": s3_server.region,
        "s3_access_key_id": s3_server.access_key,
        "s3_secret_access_key": s3_server.secret_key,
    }
    first = serve(tmp_path / "machine-a", workers=0, **shared)
    second = serve(tmp_path / "machine-b", workers=0, **shared)
    trainer = worker(tmp_path / "machine-c", compaction_seconds=1, min_import_interactions=10, **shared)
    try:
        personalize = first.client("personalize")
        arns = make_group(personalize)
        csv = write_clustered_csv(tmp_path / "clustered.csv")
        s3_server.client().upload_file(str(csv), s3_bucket, "input/clustered.csv")
        job = personalize.create_dataset_import_job(
            jobName="clustered",
            datasetArn=arns["dataset"],
            dataSource={"dataLocation": f"s3://{s3_bucket}/input/clustered.csv"},
        )["datasetImportJobArn"]
        imported = wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob"
        )
        assert imported["status"] == "ACTIVE", imported.get("failureReason")
        tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
        solution = personalize.create_solution(name="up", datasetGroupArn=arns["group"], recipeArn=UP)[
            "solutionArn"
        ]
        campaign = personalize.create_campaign(name="up", solutionVersionArn=_train(personalize, solution))[
            "campaignArn"
        ]

        # Events taken by the first server move the second server's answer within a second.
        runtime_b = second.client("personalize-runtime")
        before = runtime_b.get_recommendations(campaignArn=campaign, userId="traveller")["itemList"]
        first.client("personalize-events").put_events(
            trackingId=tracking,
            userId="traveller",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": item(3, i), "sentAt": time.time()} for i in range(5)],
        )
        acknowledged = time.time()
        while runtime_b.get_recommendations(campaignArn=campaign, userId="traveller")["itemList"] == before:
            assert time.time() - acknowledged < 1.0, "the other server did not see the events within 1 s"
            time.sleep(0.02)

        # 300 acknowledged events for a new item, then the server that took them dies.
        events_a = first.client("personalize-events")
        for n in range(30):
            events_a.put_events(
                trackingId=tracking,
                userId=f"fan-{n}",
                sessionId=f"s-{n}",
                eventList=[
                    {"eventType": "click", "itemId": "hot-item", "sentAt": time.time()} for _ in range(10)
                ],
            )
        first.kill()

        # The next training, on the worker's machine, counts every one of them.
        personalize_b = second.client("personalize")
        popular = personalize_b.create_solution(
            name="popular", datasetGroupArn=arns["group"], recipeArn=POPULARITY
        )["solutionArn"]
        version = _train(personalize_b, popular)
        top = personalize_b.create_campaign(name="popular", solutionVersionArn=version)["campaignArn"]
        wait_for(lambda: personalize_b.describe_campaign(campaignArn=top), "campaign")
        answer = runtime_b.get_recommendations(campaignArn=top, userId="anyone", numResults=1)["itemList"]
        assert answer[0]["itemId"] == "hot-item"
        # The worker, on a machine of its own, compacts every server's events into Parquet parts.
        store = SqlMetadataStore(fresh_postgres_url, upgrade=False)
        try:
            deadline = time.time() + 30
            while _uncompacted(store):
                assert time.time() < deadline, "the shared event log was never compacted"
                time.sleep(0.2)
            dataset_id = store.get(arns["dataset"]).attrs["_id"]
            compacted = [p for p in PartsManifest(store).parts(dataset_id) if p.source == EVENTS]
            assert sum(p.rows for p in compacted) == 305
        finally:
            store.close()
    finally:
        trainer.terminate()
        trainer.wait(20)
        second.stop()
        first.stop()
