"""GET /metrics: request counts and latency per operation and per campaign, events taken, model memory."""

from __future__ import annotations

import time

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.test_training import UP, deploy, loaded, train  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def test_request_and_event_metrics(server, personalize, runtime, events, loaded):  # noqa: F811
    personalize.list_dataset_groups()
    with pytest.raises(ClientError):
        personalize.describe_dataset_group(
            datasetGroupArn="arn:aws:personalize:us-east-1:123456789012:dataset-group/none"
        )
    events.put_events(trackingId=loaded["tracking"], userId="u", sessionId="s",
                      eventList=[{"eventType": "click", "itemId": f"i{n}", "sentAt": time.time()} for n in range(3)])  # fmt: skip
    _, version = train(personalize, loaded["group"], UP, "up")
    campaign = deploy(personalize, version, "up")
    for _ in range(2):
        runtime.get_recommendations(campaignArn=campaign, userId="u")
    scraped = httpx.get(f"{server.url}/metrics").text
    assert 'openpersonalize_request_seconds_count{operation="ListDatasetGroups",outcome="ok"} 1.0' in scraped
    assert (
        'openpersonalize_request_seconds_count{operation="DescribeDatasetGroup",outcome="ResourceNotFoundException"} 1.0'
        in scraped
    )
    assert f'openpersonalize_recommendation_seconds_count{{source="{campaign}"}} 2.0' in scraped
    assert 'openpersonalize_events_total{dataset_type="INTERACTIONS"} 3.0' in scraped
    memory = next(
        line for line in scraped.splitlines() if line.startswith("openpersonalize_loaded_model_bytes ")
    )
    assert float(memory.split()[1]) > 0
    assert 'openpersonalize_jobs{kind="train",status="done"} 1.0' in scraped
    assert 'openpersonalize_job_last_duration_seconds{kind="dataset-import"}' in scraped
