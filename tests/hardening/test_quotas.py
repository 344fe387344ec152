"""Quotas hold under real concurrency, on SQLite and on PostgreSQL (spec §19: 5 import jobs and 20
solution versions PENDING or IN_PROGRESS per account and region)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.clustered import write_clustered_csv
from tests.api.helpers import import_csv, make_group
from tests.fixtures.process import serve
from tests.fixtures.server import start_server

pytestmark = pytest.mark.integration


def _race(calls: list[Callable[[], Any]]) -> list[str]:
    """Run every call at the same instant from its own thread; 'ok' or the error code of each."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            call()
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _concurrent_imports(personalize: Any, dataset: str, location: str) -> list[str]:
    return _race(
        [
            lambda i=i: personalize.create_dataset_import_job(
                jobName=f"race-{i}", datasetArn=dataset, dataSource={"dataLocation": location}
            )
            for i in range(20)
        ]
    )


def test_import_job_quota_holds_on_sqlite(tmp_path):
    """Regression: 20 concurrent CreateDatasetImportJob calls started 14-17 jobs against a limit of 5."""
    server = serve(tmp_path / "data", workers=0)  # no worker: every job stays PENDING
    try:
        personalize = server.client("personalize")
        arns = make_group(personalize)
        csv = write_clustered_csv(tmp_path / "c.csv")
        outcomes = _concurrent_imports(personalize, arns["dataset"], csv.as_uri())
        assert outcomes.count("ok") == 5 and outcomes.count("LimitExceededException") == 15
        jobs = personalize.list_dataset_import_jobs(datasetArn=arns["dataset"])["datasetImportJobs"]
        assert len(jobs) == 5
    finally:
        server.stop()


@pytest.mark.postgres
def test_quotas_hold_on_postgres(tmp_path, fresh_postgres_url):
    live = start_server(tmp_path / "data", metadata_url=fresh_postgres_url, min_import_interactions=10)
    try:
        personalize = live.client("personalize")
        arns = make_group(personalize)
        csv = write_clustered_csv(tmp_path / "c.csv")
        assert import_csv(personalize, arns["dataset"], csv, "first")["status"] == "ACTIVE"
        live.stop()  # no worker from here on: what is created stays PENDING
        live = start_server(tmp_path / "data", with_worker=False, metadata_url=fresh_postgres_url)
        personalize = live.client("personalize")
        outcomes = _concurrent_imports(personalize, arns["dataset"], csv.as_uri())
        assert outcomes.count("ok") == 5 and outcomes.count("LimitExceededException") == 15
        solution = personalize.create_solution(
            name="s", datasetGroupArn=arns["group"], recipeArn="arn:aws:personalize:::recipe/aws-sims"
        )["solutionArn"]
        outcomes = _race([lambda: personalize.create_solution_version(solutionArn=solution)] * 30)
        assert outcomes.count("ok") == 20 and outcomes.count("LimitExceededException") == 10
    finally:
        live.stop()
