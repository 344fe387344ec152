"""Two `serve` processes on one data directory: events sent to one move recommendations from the other."""

from __future__ import annotations

import time

import pytest

from tests.api.clustered import group_of, item, write_clustered_csv
from tests.api.helpers import make_group, wait_for
from tests.fixtures.process import serve

pytestmark = pytest.mark.integration
UP = "arn:aws:personalize:::recipe/aws-user-personalization"


def test_events_reach_the_other_server(tmp_path):
    data = tmp_path / "shared-data"
    first = serve(data, min_import_interactions=10)
    second = serve(data, workers=0)
    try:
        personalize = first.client("personalize")
        arns = make_group(personalize)
        csv = write_clustered_csv(tmp_path / "c.csv")
        job = personalize.create_dataset_import_job(
            jobName="c", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )["datasetImportJobArn"]
        wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
        tracking = personalize.create_event_tracker(name="t", datasetGroupArn=arns["group"])["trackingId"]
        solution = personalize.create_solution(name="s", datasetGroupArn=arns["group"], recipeArn=UP)[
            "solutionArn"
        ]
        version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 60
        )
        campaign = personalize.create_campaign(name="c", solutionVersionArn=version)["campaignArn"]

        runtime_b = second.client("personalize-runtime")
        before = runtime_b.get_recommendations(campaignArn=campaign, userId="traveller")["itemList"]
        first.client("personalize-events").put_events(
            trackingId=tracking,
            userId="traveller",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": item(3, i), "sentAt": time.time()} for i in range(5)],
        )
        deadline = time.time() + 5
        while True:
            after = runtime_b.get_recommendations(campaignArn=campaign, userId="traveller")["itemList"]
            if after != before or time.time() > deadline:
                break
            time.sleep(0.05)
        assert after != before
        assert [group_of(r["itemId"]) for r in after[:10]].count(3) >= 8
        assert first.proc.pid != second.proc.pid  # two processes, not two threads of one
    finally:
        second.stop()
        first.stop()
