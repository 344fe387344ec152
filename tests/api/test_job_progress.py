"""GET /jobs/progress: the percent done of the work behind a resource (the CLI's progress bars)."""

from __future__ import annotations

import time

import boto3
import httpx
import pytest

from openpersonalize import cli_client
from tests.api.helpers import make_group, write_interactions_csv
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration


def test_progress_of_a_queued_then_running_import(tmp_path, monkeypatch):
    live = start_server(tmp_path / "data", with_worker=False, credentials="AKIDJOBS:jobs-secret")
    try:
        personalize = boto3.client("personalize", endpoint_url=live.url, region_name="us-east-1",
                                   aws_access_key_id="AKIDJOBS", aws_secret_access_key="jobs-secret")  # fmt: skip
        arns = make_group(personalize)
        csv = write_interactions_csv(tmp_path / "i.csv")
        job = personalize.create_dataset_import_job(
            jobName="slow", datasetArn=arns["dataset"], dataSource={"dataLocation": csv.as_uri()}
        )["datasetImportJobArn"]
        url, keys = f"{live.url}/jobs/progress", ("AKIDJOBS", "jobs-secret")
        assert httpx.get(url, params={"arn": job}).status_code == 401  # --credentials hold here too
        queued = httpx.get(url, params={"arn": job}, auth=keys).json()
        assert queued == {"arn": job, "status": "CREATE PENDING", "percentDone": 0.0}
        # The CLI signs its asks with SigV4, as boto3 does: the secret never travels.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDJOBS")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "jobs-secret")
        assert cli_client._percent_done(live.url, job, "us-east-1") == 0.0
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        assert cli_client._percent_done(live.url, job, "us-east-1") is None
        store = live.services.ctx.store
        claimed = store.claim_job("a-worker", time.time(), resource_arn=job)
        assert claimed is not None
        store.heartbeat(claimed.id, "a-worker", time.time(), 0.42)
        assert httpx.get(url, params={"arn": job}, auth=keys).json()["percentDone"] == pytest.approx(42.0)
        store.finish_job(claimed.id)
        assert httpx.get(url, params={"arn": job}, auth=keys).json()["percentDone"] is None
        missing = httpx.get(url, params={"arn": job + "-gone"}, auth=keys)
        assert missing.status_code == 404 and "does not exist" in missing.json()["message"]
        assert httpx.get(url, auth=keys).status_code == 400
    finally:
        live.stop()
